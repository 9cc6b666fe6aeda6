// Crash test: a writer process (storage/testing/crash_writer.cpp) is killed with SIGKILL
// at random moments, over and over, on one database. After every kill the database must
// pass the integrity check and hold every write the writer acknowledged, intact, and
// every write it committed must be whole (a source row with its blob, or neither).
//
// The kill schedule comes from a seed printed at the start; TIPLINE_CRASH_SEED=N runs the
// same schedule again (the writer's own timing still varies).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "testing/crash_content.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/database.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using crash::blob_bytes;
using crash::blob_size;
using crash::digest;
using crash::has_blob;
using std::chrono::milliseconds;

constexpr int kMaxRounds = 40;
// New rounds start only within this budget, so the test ends in about a minute even under
// AddressSanitizer on two cores.
constexpr auto kBudget = std::chrono::seconds(50);
constexpr int kWriterThreads = 16;
// The writer stops after this many writes (kMaxWrites there), so runs spaced this far
// apart never reuse an id, not even one committed but never acknowledged.
constexpr std::int64_t kIdStride = 1'000'000;
constexpr std::size_t kMinAcks = 2000;

struct Ack {
  std::int64_t id = 0;
  std::optional<BlobId> blob;
  std::size_t size = 0;
};

// "ack ID BLOB_ID SIZE" or "ack ID - 0".
std::optional<Ack> parse_ack(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  std::string blob;
  Ack ack;
  if (!(in >> word >> ack.id >> blob >> ack.size) || word != "ack" || !(in >> std::ws).eof()) {
    return std::nullopt;
  }
  if (blob != "-") {
    BlobId value = 0;
    const auto [end, error] = std::from_chars(blob.data(), blob.data() + blob.size(), value);
    if (error != std::errc() || end != blob.data() + blob.size()) return std::nullopt;
    ack.blob = value;
  }
  return ack;
}

// The writer, with its stdout on a pipe that this process reads as it goes, so the
// writer never blocks on a full pipe.
class Writer {
 public:
  Writer(const std::vector<std::string>& argv, const fs::path& stderr_file) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    out_ = fds[0];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(out_);
      throw std::runtime_error("cannot start " + argv[0]);
    }
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() {
    if (pid_ > 0) (void)kill_and_wait();
    ::close(out_);
  }

  // Reads until the deadline, or until `lines` complete lines have arrived, or EOF.
  void read_until(Clock::time_point deadline, std::size_t lines = SIZE_MAX) {
    while (!eof_ && complete_lines() < lines) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return;
      pollfd ready{out_, POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
      drain_once();
    }
  }

  // SIGKILL (harmless if it has exited: it is not reaped yet), reap, read the rest.
  // Returns the wait status.
  int kill_and_wait() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    while (!eof_) drain_once();  // the pipe's writer is gone: this ends promptly
    return status;
  }

  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  [[nodiscard]] std::size_t complete_lines() const {
    return static_cast<std::size_t>(std::count(output_.begin(), output_.end(), '\n'));
  }
  void drain_once() {
    std::array<char, 65536> buffer{};
    const ssize_t n = ::read(out_, buffer.data(), buffer.size());
    if (n > 0) {
      output_.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      eof_ = true;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool eof_ = false;
  std::string output_;
};

struct Figures {
  int rounds = 0;
  int killed_before_first_ack = 0;
  std::size_t blob_reads = 0;      // blobs read back and compared, over all rounds
  std::size_t unacknowledged = 0;  // durable writes the writer died before acknowledging
};

// Reads the blob in windows that straddle chunk rows and compares every byte.
void expect_blob(Database& db, BlobId blob, std::int64_t id) {
  const auto expected = blob_bytes(id);
  std::vector<std::byte> window(std::size_t{48} * 1024);
  std::uint64_t offset = 0;
  while (offset < expected.size()) {
    auto n = read_blob(db, blob, offset, window);
    ASSERT_TRUE(n.has_value()) << n.error().message;
    const std::size_t want = std::min(window.size(), expected.size() - offset);
    ASSERT_EQ(*n, want) << "blob " << blob << " of write " << id << " is short at " << offset;
    ASSERT_TRUE(std::equal(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(want),
                           expected.begin() + static_cast<std::ptrdiff_t>(offset)))
        << "blob " << blob << " of write " << id << " differs in bytes from " << offset;
    offset += want;
  }
  auto past = read_blob(db, blob, offset, window);
  ASSERT_TRUE(past.has_value()) << past.error().message;
  EXPECT_EQ(*past, 0u) << "blob " << blob << " of write " << id << " is too long";
}

// Checks every committed write for wholeness and every acknowledged one for presence.
void verify(const fs::path& file, const crypto::Secret& key, const std::vector<Ack>& acks,
            Figures& figures) {
  auto db = Database::open(file, key, Database::Mode::open_existing);
  ASSERT_TRUE(db.has_value()) << db.error().message;
  auto integrity = db->check_integrity();
  ASSERT_TRUE(integrity.has_value()) << integrity.error().message;

  // Every source row, acknowledged or not, holds exactly what its write put there.
  std::map<std::int64_t, std::optional<BlobId>> committed;
  auto sources = db->prepare("SELECT id, login_hash, recipient FROM sources;");
  ASSERT_TRUE(sources.has_value()) << sources.error().message;
  for (;;) {
    auto row = sources->step();
    ASSERT_TRUE(row.has_value()) << row.error().message;
    if (!*row) break;
    const std::int64_t id = sources->integer(0);
    const auto hash = digest("crash-source-" + std::to_string(id));
    const auto stored = sources->bytes(1);
    ASSERT_TRUE(std::equal(stored.begin(), stored.end(), hash.begin(), hash.end()))
        << "login_hash of write " << id;
    ASSERT_EQ(sources->text(2), "age1" + std::to_string(id));
    committed.emplace(id, std::nullopt);
  }

  // Every submission belongs to a write that has one, and its blob is complete and intact.
  auto submissions = db->prepare(
      "SELECT s.source_id, s.public_id, s.report_blob_id, b.size, b.complete, "
      "(SELECT total(length(data)) FROM blob_chunks WHERE blob_id = b.id) "
      "FROM submissions s JOIN blobs b ON b.id = s.report_blob_id;");
  ASSERT_TRUE(submissions.has_value()) << submissions.error().message;
  std::size_t submission_count = 0;
  for (;;) {
    auto row = submissions->step();
    ASSERT_TRUE(row.has_value()) << row.error().message;
    if (!*row) break;
    ++submission_count;
    const std::int64_t id = submissions->integer(0);
    const BlobId blob = submissions->integer(2);
    const auto size = static_cast<std::size_t>(submissions->integer(3));
    ASSERT_TRUE(committed.contains(id)) << "submission without its source " << id;
    ASSERT_TRUE(has_blob(id)) << "write " << id << " has a submission it never wrote";
    ASSERT_EQ(submissions->text(1), "crash-" + std::to_string(id));
    ASSERT_EQ(submissions->integer(4), 1) << "blob " << blob << " of write " << id;
    ASSERT_EQ(size, blob_size(id)) << "blob " << blob << " of write " << id;
    ASSERT_EQ(submissions->integer(5), static_cast<std::int64_t>(size))
        << "chunk rows of blob " << blob << " of write " << id;
    ASSERT_NO_FATAL_FAILURE(expect_blob(*db, blob, id));
    ++figures.blob_reads;
    committed[id] = blob;
  }
  auto blobs = db->prepare("SELECT count(*) FROM blobs;");
  ASSERT_TRUE(blobs.has_value()) << blobs.error().message;
  ASSERT_TRUE(blobs->step().value_or(false));
  EXPECT_EQ(blobs->integer(0), static_cast<std::int64_t>(submission_count))
      << "a blob without its submission: a transaction was torn";

  for (const auto& [id, blob] : committed) {
    ASSERT_EQ(blob.has_value(), has_blob(id)) << "write " << id << " lost its submission";
  }
  for (const Ack& ack : acks) {
    const auto found = committed.find(ack.id);
    ASSERT_TRUE(found != committed.end()) << "acknowledged write " << ack.id << " is missing";
    EXPECT_EQ(ack.blob, found->second) << "write " << ack.id;
    EXPECT_EQ(ack.size, has_blob(ack.id) ? blob_size(ack.id) : 0) << "write " << ack.id;
  }
  figures.unacknowledged = committed.size() - acks.size();
}

std::uint64_t seed_from_environment() {
  if (const char* text = std::getenv("TIPLINE_CRASH_SEED")) return std::stoull(text);
  return std::random_device{}();
}

TEST(StoreCrash, AcknowledgedWritesSurviveSigkill) {
  const testing::TempDir temp;
  const fs::path database = temp.path() / "tipline.db";
  const fs::path key_file = temp.path() / "database.key";
  const fs::path stderr_file = temp.path() / "writer.stderr";
  ASSERT_TRUE(create_key_file(key_file).has_value());
  auto key = read_key_file(key_file);
  ASSERT_TRUE(key.has_value()) << key.error().message;
  {
    auto db = Database::open(database, *key, Database::Mode::create_new);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    auto migrated = db->migrate();
    ASSERT_TRUE(migrated.has_value()) << migrated.error().message;
  }

  const std::uint64_t seed = seed_from_environment();
  std::cout << "crash test seed " << seed << " (TIPLINE_CRASH_SEED=" << seed << " repeats it)\n";
  std::mt19937_64 random(seed);
  const auto uniform = [&](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(random);
  };

  const auto start = Clock::now();
  std::vector<Ack> acks;
  Figures figures;
  while (figures.rounds < kMaxRounds && Clock::now() - start < kBudget) {
    const int round = figures.rounds++;
    const std::vector<std::string> argv = {
        TIPLINE_CRASH_WRITER, database.string(), key_file.string(),
        std::to_string((round + 1) * kIdStride), std::to_string(kWriterThreads)};
    int status = 0;
    std::string output;
    {
      Writer writer(argv, stderr_file);
      if (uniform(0, 7) == 0) {
        // Within its start-up: opening, locking, migrating.
        writer.read_until(Clock::now() + milliseconds(uniform(0, 30)));
      } else {
        // While writing: a random moment after the first acknowledgement.
        writer.read_until(Clock::now() + std::chrono::seconds(10), 1);
        writer.read_until(Clock::now() + milliseconds(uniform(20, 300)));
      }
      status = writer.kill_and_wait();
      output = writer.output();
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended by itself (status " << status << ") in round " << round << ":\n"
        << testing::read_file(stderr_file);

    // Only complete lines count; a line cut short by the kill was never fully reported.
    const std::size_t before = acks.size();
    std::istringstream lines(output.substr(0, output.rfind('\n') + 1));
    for (std::string line; std::getline(lines, line);) {
      auto ack = parse_ack(line);
      ASSERT_TRUE(ack.has_value()) << "unexpected writer output: " << line;
      acks.push_back(*ack);
    }
    if (acks.size() == before) ++figures.killed_before_first_ack;
    ASSERT_NO_FATAL_FAILURE(verify(database, *key, acks, figures))
        << "after round " << round << " (seed " << seed << ")";
  }

  const auto acked_blobs =
      std::count_if(acks.begin(), acks.end(), [](const Ack& ack) { return ack.blob.has_value(); });
  const auto seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "crash test: " << figures.rounds << " rounds (" << figures.killed_before_first_ack
            << " killed before any acknowledgement), " << acks.size() << " acknowledged writes ("
            << acked_blobs << " with a blob), " << figures.blob_reads << " blob reads verified, "
            << figures.unacknowledged << " durable but unacknowledged writes, " << seconds
            << " s\n";
  RecordProperty("seed", std::to_string(seed));
  RecordProperty("rounds", figures.rounds);
  RecordProperty("acknowledged_writes", static_cast<int>(acks.size()));
  RecordProperty("acknowledged_blobs", static_cast<int>(acked_blobs));
  RecordProperty("blob_reads_verified", static_cast<int>(figures.blob_reads));
  EXPECT_GE(acks.size(), kMinAcks);
}

}  // namespace
}  // namespace tipline::storage

int main(int argc, char** argv) {
  tipline::crypto::initialize();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
