// The child process of storage/crash_test.cpp: writes through a Store from many threads
// until it is killed, and acknowledges each write on stdout only once it is durable.
//
// Usage: tipline_storage_crash_writer DATABASE KEY_FILE FIRST_ID THREADS
//
// Write `id` (FIRST_ID, FIRST_ID + 1, ...) is one transaction that inserts the sources
// row `id`, and for every fourth id also a blob and the submission that owns it; every
// value is derived from `id` alone so the test can check it without trusting this
// process. After the commit is durable it prints "ack ID BLOB_ID SIZE" ("ack ID - 0"
// without a blob) as one write(2), so a kill leaves at most a truncated last line.
// It stops by itself after kMaxWrites writes or kMaxRuntime, whichever comes first;
// ids stay below FIRST_ID + kMaxWrites, so the test spaces runs that far apart.
#include <sodium.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "crash_content.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/database.h"
#include "tipline/storage/store.h"

namespace tipline::storage {
namespace {

using crash::blob_bytes;
using crash::digest;
using crash::has_blob;

constexpr std::int64_t kMaxWrites = 1'000'000;
constexpr auto kMaxRuntime = std::chrono::seconds(120);

struct Written {
  std::optional<BlobId> blob;
  std::size_t size = 0;
};

tl::expected<Written, Error> write_one(Database& db, std::int64_t id) {
  auto source = db.prepare(
      "INSERT INTO sources (id, login_hash, recipient, created_day, last_seen_day) "
      "VALUES (?, ?, ?, 0, 0);");
  if (!source) return tl::unexpected(source.error());
  const auto login_hash = digest("crash-source-" + std::to_string(id));
  const std::string recipient = "age1" + std::to_string(id);
  if (auto ran = source->bind(id, std::span<const std::byte>(login_hash), recipient).run(); !ran) {
    return tl::unexpected(ran.error());
  }
  if (!has_blob(id)) return Written{};

  auto blob = create_blob(db, std::nullopt);
  if (!blob) return tl::unexpected(blob.error());
  // Two appends split off the chunk grid, as uploads arrive in pieces of any size.
  const auto bytes = blob_bytes(id);
  const std::span<const std::byte> all(bytes);
  const std::size_t split = all.size() / 3;
  for (const auto part : {all.first(split), all.subspan(split)}) {
    if (part.empty()) continue;
    if (auto appended = append_blob(db, *blob, part); !appended) {
      return tl::unexpected(appended.error());
    }
  }
  if (auto finished = finish_blob(db, *blob); !finished) return tl::unexpected(finished.error());
  auto submission = db.prepare(
      "INSERT INTO submissions (public_id, source_id, report_blob_id, received_day, change_seq) "
      "VALUES (?, ?, ?, 0, ?);");
  if (!submission) return tl::unexpected(submission.error());
  const std::string public_id = "crash-" + std::to_string(id);
  if (auto ran = submission->bind(public_id, id, *blob, id).run(); !ran) {
    return tl::unexpected(ran.error());
  }
  return Written{*blob, bytes.size()};
}

// One line per write(2) call, under a lock, so lines never interleave.
class AckLog {
 public:
  bool print(const std::string& line) {
    const std::lock_guard guard(mutex_);
    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  std::mutex mutex_;
};

int run(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DATABASE KEY_FILE FIRST_ID THREADS\n", argv[0]);
    return 2;
  }
  const std::string database = argv[1];
  const std::int64_t first_id = std::stoll(argv[3]);
  const int threads = std::stoi(argv[4]);
  if (threads < 1) return 2;

  auto key = read_key_file(argv[2]);
  if (!key) {
    std::fprintf(stderr, "crash_writer: %s\n", key.error().message.c_str());
    return 1;
  }
  Store::Options options;
  options.readers = 1;  // nothing here reads
  auto store = Store::open(database, *key, Database::Mode::open_existing, options);
  if (!store) {
    std::fprintf(stderr, "crash_writer: %s\n", store.error().message.c_str());
    return 1;
  }

  const auto deadline = std::chrono::steady_clock::now() + kMaxRuntime;
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> failed{false};
  AckLog acks;
  const auto writer = [&] {
    while (!failed && std::chrono::steady_clock::now() < deadline) {
      const std::int64_t offset = next++;
      if (offset >= kMaxWrites) return;
      const std::int64_t id = first_id + offset;
      auto written = (*store)->write([id](Database& db) { return write_one(db, id); }).get();
      if (!written) {
        std::fprintf(stderr, "crash_writer: write %lld failed: %s\n", static_cast<long long>(id),
                     written.error().message.c_str());
        failed = true;
        return;
      }
      const std::string line = "ack " + std::to_string(id) + " " +
                               (written->blob ? std::to_string(*written->blob) : std::string("-")) +
                               " " + std::to_string(written->size) + "\n";
      if (!acks.print(line)) failed = true;
    }
  };
  std::vector<std::jthread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) pool.emplace_back(writer);
  pool.clear();  // joins
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace tipline::storage

int main(int argc, char** argv) {
  tipline::crypto::initialize();
  try {
    return tipline::storage::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "crash_writer: %s\n", error.what());
    return 1;
  }
}
