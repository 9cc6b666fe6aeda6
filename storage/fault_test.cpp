// I/O faults under the store: a failing operation at every point of a workload, once and
// for good, and a full disk. Every case must end in a clean error or a true success, never
// a false success, and the database must be intact once the fault clears.
//
// The Store is pointed at the fault VFS through Store::Options::vfs. The maintenance
// functions open files by name with the default VFS, so their tests make the fault VFS
// the default while they run (fault_vfs::AsDefault).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fault_vfs.h"
#include "test_support.h"
#include "tipline/storage/maintenance.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;

// One write of the workload: a blob of three chunk rows and a source row.
struct Tip {
  std::vector<std::byte> content;
  std::vector<std::byte> login_hash;
  std::string recipient;
  std::int64_t day = 0;
};

// Where a write put its tip.
struct Stored {
  BlobId blob = 0;
  std::int64_t source = 0;
};

// Blobs of two chunk rows, for the store's workload; the maintenance tests copy whole files
// and need only a little data to copy.
constexpr std::size_t kWorkloadBlobBytes = kChunkBytes + kChunkBytes / 2;
constexpr std::size_t kSmallBlobBytes = 1000;

Tip make_tip(int number, std::size_t blob_bytes) {
  return Tip{.content = test::pattern(blob_bytes, static_cast<std::uint64_t>(number)),
             .login_hash = std::vector<std::byte>(32, static_cast<std::byte>(number)),
             .recipient = "age1tip" + std::to_string(number),
             .day = 19000 + number};
}

std::vector<Tip> make_tips(int count, std::size_t blob_bytes) {
  std::vector<Tip> tips;
  tips.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) tips.push_back(make_tip(i, blob_bytes));
  return tips;
}

tl::expected<Stored, Error> store_tip(Database& db, const Tip& tip) {
  auto blob = test::put_blob(db, tip.content);
  if (!blob) return tl::unexpected(blob.error());
  auto insert = db.prepare(
      "INSERT INTO sources (login_hash, recipient, created_day, last_seen_day) "
      "VALUES (?, ?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  const std::span<const std::byte> hash(tip.login_hash);
  if (auto ran = insert->bind(hash, tip.recipient, tip.day, tip.day).run(); !ran) {
    return tl::unexpected(ran.error());
  }
  return Stored{.blob = *blob, .source = db.last_insert_id()};
}

// "" when `stored` holds exactly `tip`, otherwise what differs; an Error when the
// database could not be read.
tl::expected<std::string, Error> difference(Database& db, const Tip& tip, const Stored& stored) {
  auto info = blob_info(db, stored.blob);
  if (!info && info.error().code == Errc::not_found) return "the blob is missing";
  if (!info) return tl::unexpected(info.error());
  if (!info->complete || info->size != tip.content.size()) return "the blob is incomplete";
  auto content = test::read_whole(db, stored.blob);
  if (!content) return tl::unexpected(content.error());
  if (*content != tip.content) return "the blob's content differs";
  auto query = db.prepare("SELECT login_hash, recipient, created_day FROM sources WHERE id = ?;");
  if (!query) return tl::unexpected(query.error());
  auto row = query->bind(stored.source).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return "the source row is missing";
  const auto hash = query->bytes(0);
  if (!std::equal(hash.begin(), hash.end(), tip.login_hash.begin(), tip.login_hash.end()) ||
      query->text(1) != tip.recipient || query->integer(2) != tip.day) {
    return "the source row differs";
  }
  return std::string();
}

// "" when the database passes the integrity check and holds every stored tip; otherwise
// what is wrong.
std::string problems_in(Database& db, const std::vector<Tip>& tips,
                        const std::vector<std::optional<Stored>>& stored) {
  if (auto checked = db.check_integrity(); !checked) return checked.error().message;
  std::string problems;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (!stored[i]) continue;
    auto found = difference(db, tips[i], *stored[i]);
    if (!found) {
      problems += "tip " + std::to_string(i) + " cannot be read: " + found.error().message + "; ";
    } else if (!found->empty()) {
      problems += "tip " + std::to_string(i) + " was stored but " + *found + "; ";
    }
  }
  return problems;
}

// The same for a closed database file, opened with `key` through the default VFS.
std::string problems_in(const fs::path& file, const crypto::Secret& key,
                        const std::vector<Tip>& tips,
                        const std::vector<std::optional<Stored>>& stored) {
  auto db = Database::open(file, key, Database::Mode::open_existing);
  if (!db) return "cannot open: " + db.error().message;
  return problems_in(*db, tips, stored);
}

// What the workload saw through the fault VFS.
struct Workload {
  std::optional<Error> open_error;
  std::vector<std::optional<Stored>> stored;  // per tip; nullopt when the write reported failure
  std::vector<Error> write_errors;
  std::vector<std::string> false_reads;  // reads that succeeded with the wrong data
  // Whether the last write ran after a fault had struck, and whether it succeeded.
  bool last_write_after_fault = false;
  bool last_write_succeeded = false;
};

// Creates a database, writes the tips one commit at a time, reads each back after its
// write succeeds, and closes the store: all of it through the fault VFS.
// `before_last_write` runs just before the last tip is written.
Workload run_workload(
    const fs::path& file, const crypto::Secret& key, const std::vector<Tip>& tips,
    const std::function<void()>& before_last_write = [] {}) {
  Workload run;
  auto store = Store::open(file, key, Database::Mode::create_new,
                           {.readers = 1, .max_batch = 8, .vfs = fault_vfs::name()});
  if (!store) {
    run.open_error = store.error();
    return run;
  }
  for (const Tip& tip : tips) {
    run.last_write_after_fault = fault_vfs::injected() > 0;
    if (&tip == &tips.back()) before_last_write();
    auto written = (*store)->write([&tip](Database& db) { return store_tip(db, tip); }).get();
    run.last_write_succeeded = written.has_value();
    if (!written) {
      run.write_errors.push_back(written.error());
      run.stored.emplace_back();
      continue;
    }
    run.stored.emplace_back(*written);
    auto read = (*store)->read([&](Database& db) { return difference(db, tip, *written); });
    if (read && !read->empty()) run.false_reads.push_back("a read found that " + *read);
  }
  return run;
}

// Once the fault has cleared: a fresh store (default VFS) opens the database, finds it
// intact and holding every write that reported success, and takes new writes. "" when so,
// otherwise what is wrong.
std::string problems_after_fault(const Workload& run, const fs::path& file,
                                 const crypto::Secret& key, const std::vector<Tip>& tips) {
  std::string problems;
  for (const std::string& read : run.false_reads) problems += read + "; ";
  if (!fs::exists(file)) return problems + "the database file is gone";
  auto store = Store::open(file, key, Database::Mode::open_existing,
                           {.readers = 1, .max_batch = 8, .vfs = {}});
  if (!store) return problems + "a fresh store cannot open: " + store.error().message;
  auto found = (*store)->read([&](Database& db) -> tl::expected<std::string, Error> {
    return problems_in(db, tips, run.stored);
  });
  problems += found ? *found : "cannot read: " + found.error().message;
  const Tip fresh = make_tip(100, kSmallBlobBytes);
  auto written = (*store)->write([&](Database& db) { return store_tip(db, fresh); }).get();
  if (!written) return problems + "a fresh store takes no write: " + written.error().message;
  auto fresh_found = (*store)->read([&](Database& db) { return difference(db, fresh, *written); });
  if (!fresh_found || !fresh_found->empty()) problems += "a fresh store lost its write";
  return problems;
}

// Writes the tips into a new database through the default VFS and closes it (which
// checkpoints the WAL into the file and removes it).
std::vector<std::optional<Stored>> fill(const fs::path& file, const crypto::Secret& key,
                                        const std::vector<Tip>& tips) {
  std::vector<std::optional<Stored>> stored;
  auto store = Store::open(file, key, Database::Mode::create_new);
  if (!store) return stored;
  for (const Tip& tip : tips) {
    auto written = (*store)->write([&tip](Database& db) { return store_tip(db, tip); }).get();
    if (written) stored.emplace_back(*written);
  }
  return stored;
}

// The files in `dir` whose names show an unfinished copy.
std::vector<std::string> partial_files(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".partial-") != std::string::npos) found.push_back(name);
  }
  return found;
}

// A few lines of a long list, so that one bug does not flood the output.
std::string first_lines(const std::vector<std::string>& lines) {
  constexpr std::size_t kShown = 8;
  std::string text = std::to_string(lines.size()) + " runs went wrong:";
  for (std::size_t i = 0; i < lines.size() && i < kShown; ++i) text += "\n  " + lines[i];
  if (lines.size() > kShown) text += "\n  ...";
  return text;
}

enum class Mode { once, persistent };

const char* name_of(Mode mode) { return mode == Mode::once ? "once" : "persistent"; }

void arm(Mode mode, std::uint64_t nth) {
  if (mode == Mode::once) {
    fault_vfs::fail_once(nth);
  } else {
    fault_vfs::fail_from(nth);
  }
}

// The long sweeps fail every operation once, but start a persistent fault only at every
// fourth: neighbouring starting points differ by a single failed operation, and the runs
// are slow (each one fsyncs).
bool swept(Mode mode, std::uint64_t nth) {
  constexpr std::uint64_t kPersistentStride = 4;
  return mode == Mode::once || nth % kPersistentStride == 1;
}

class FaultTest : public ::testing::Test {
 protected:
  void TearDown() override { fault_vfs::clear(); }

  // A fresh, empty folder for one run.
  [[nodiscard]] fs::path run_dir(const std::string& name) const {
    fs::path dir = temp_.path() / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
  }

  const testing::TempDir temp_;
  const crypto::Secret key_ = crypto::Secret::random(kKeyBytes);
};

// A failing operation anywhere in the store's life (creating the database, migrating,
// opening readers, writing, committing, reading, checkpointing on close), at the points
// swept() picks.
TEST_F(FaultTest, AFailingOperationNeverGivesAFalseSuccessOrADamagedDatabase) {
  const std::vector<Tip> tips = make_tips(3, kWorkloadBlobBytes);
  fault_vfs::clear();
  const fs::path clean = run_dir("clean") / "tipline.db";
  const Workload baseline = run_workload(clean, key_, tips);
  const std::uint64_t total = fault_vfs::operations();
  ASSERT_FALSE(baseline.open_error) << baseline.open_error->message;
  ASSERT_TRUE(baseline.write_errors.empty()) << baseline.write_errors.front().message;
  ASSERT_EQ(problems_after_fault(baseline, clean, key_, tips), "");
  ASSERT_GT(total, 100u);

  std::vector<std::string> problems;
  int runs = 0;
  int runs_without_fault = 0;
  int failed_writes = 0;
  for (std::uint64_t nth = 1; nth <= total; ++nth) {
    for (const Mode mode : {Mode::once, Mode::persistent}) {
      if (!swept(mode, nth)) continue;
      const std::string name = std::string(name_of(mode)) + "-" + std::to_string(nth);
      const fs::path file = run_dir(name) / "tipline.db";
      arm(mode, nth);
      const Workload run = run_workload(file, key_, tips);
      const bool faulted = fault_vfs::injected() > 0;
      fault_vfs::clear();
      ++runs;
      runs_without_fault += faulted ? 0 : 1;
      failed_writes += static_cast<int>(run.write_errors.size());
      std::string found = problems_after_fault(run, file, key_, tips);
      // A fault that has passed must not leave the store refusing writes.
      if (mode == Mode::once && run.last_write_after_fault && !run.last_write_succeeded) {
        found += "the store took no write after a fault that had passed; ";
      }
      if (!found.empty()) problems.push_back(name + ": " + found);
      fs::remove_all(file.parent_path());
    }
  }
  RecordProperty("operations", static_cast<int>(total));
  RecordProperty("runs", runs);
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
  // The workload is deterministic, so every armed fault must have struck.
  EXPECT_EQ(runs_without_fault, 0);
  EXPECT_GT(failed_writes, 0);
}

// SQLCipher reads the database's salt when the key is set and, if that read fails, makes
// up a random salt, so the first page does not decrypt: a passing read error would be
// reported as a wrong key, and an operator sent to look for another key file.
TEST_F(FaultTest, AReadErrorWhileOpeningIsNotReportedAsAWrongKey) {
  const fs::path file = temp_.path() / "tipline.db";
  ASSERT_FALSE(fill(file, key_, make_tips(1, kSmallBlobBytes)).empty());
  fault_vfs::clear();
  ASSERT_TRUE(Database::open(file, key_, Database::Mode::open_existing,
                             {.vfs = fault_vfs::name(), .read_only = false}));
  const std::uint64_t total = fault_vfs::operations();
  std::vector<std::string> problems;
  for (std::uint64_t nth = 1; nth <= total; ++nth) {
    for (const Mode mode : {Mode::once, Mode::persistent}) {
      arm(mode, nth);
      const auto db = Database::open(file, key_, Database::Mode::open_existing,
                                     {.vfs = fault_vfs::name(), .read_only = false});
      fault_vfs::clear();
      if (!db && db.error().code == Errc::key_mismatch) {
        problems.push_back(std::string(name_of(mode)) + "-" + std::to_string(nth) + ": " +
                           db.error().message);
      }
    }
  }
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
}

// Database::open switches a new database to WAL mode, and the switch is a write that can
// fail like any other: a database that opens must be in WAL mode (readers run beside the
// writer, and the WAL is what purge and rekey truncate), shown by a write going to the WAL.
TEST_F(FaultTest, ANewDatabaseThatOpensIsInWalMode) {
  fault_vfs::clear();
  ASSERT_TRUE(Database::open(run_dir("clean") / "tipline.db", key_, Database::Mode::create_new,
                             {.vfs = fault_vfs::name(), .read_only = false}));
  const std::uint64_t total = fault_vfs::operations();
  std::vector<std::string> problems;
  for (std::uint64_t nth = 1; nth <= total; ++nth) {
    for (const Mode mode : {Mode::once, Mode::persistent}) {
      const std::string name = std::string(name_of(mode)) + "-" + std::to_string(nth);
      const fs::path file = run_dir(name) / "tipline.db";
      arm(mode, nth);
      auto db = Database::open(file, key_, Database::Mode::create_new,
                               {.vfs = fault_vfs::name(), .read_only = false});
      fault_vfs::clear();
      if (!db) continue;
      if (auto written = db->exec("PRAGMA user_version = 0;"); !written) {
        problems.push_back(name + ": no write after the fault: " + written.error().message);
      } else if (!fs::exists(file.string() + "-wal")) {
        problems.push_back(name + ": the database opened but is not in WAL mode");
      }
    }
  }
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
}

// Budgets from nothing up to almost what the workload needs, so the disk fills at every
// stage: while creating the database, mid-write and while checkpointing on close.
TEST_F(FaultTest, AFullDiskGivesErrorsThatSaySoAndLosesNothing) {
  const std::vector<Tip> tips = make_tips(3, kWorkloadBlobBytes);
  fault_vfs::clear();
  const fs::path clean = run_dir("clean") / "tipline.db";
  ASSERT_TRUE(run_workload(clean, key_, tips).write_errors.empty());
  const std::uint64_t needed = fault_vfs::growth();
  ASSERT_GT(needed, tips.size() * kWorkloadBlobBytes);

  constexpr std::uint64_t kSteps = 12;
  std::vector<std::string> problems;
  int partly_written = 0;
  int recovered = 0;  // stores that failed writes, then took one once there was space
  for (std::uint64_t step = 0; step < kSteps; ++step) {
    // Space comes back either after the store has closed or while it is still open.
    for (const bool space_returns_before_last_write : {false, true}) {
      const std::uint64_t budget = needed * step / kSteps;
      const std::string name =
          "budget-" + std::to_string(budget) + (space_returns_before_last_write ? "-freed" : "");
      const fs::path file = run_dir(name) / "tipline.db";
      fault_vfs::limit_growth(budget);
      const Workload run = space_returns_before_last_write
                               ? run_workload(file, key_, tips, [] { fault_vfs::clear(); })
                               : run_workload(file, key_, tips);
      fault_vfs::clear();
      std::string found = problems_after_fault(run, file, key_, tips);
      if (run.open_error && run.open_error->code != Errc::full) {
        found += "opening failed with " + run.open_error->message + "; ";
      }
      for (const Error& error : run.write_errors) {
        if (error.code != Errc::full) found += "a write failed with " + error.message + "; ";
      }
      if (space_returns_before_last_write && !run.open_error && !run.last_write_succeeded) {
        found += "the store took no write once there was space again; ";
      }
      if (!run.write_errors.empty() && run.write_errors.size() < tips.size()) ++partly_written;
      if (space_returns_before_last_write && !run.write_errors.empty() &&
          run.last_write_succeeded) {
        ++recovered;
      }
      if (!found.empty()) problems.push_back(name + ": " + found);
    }
  }
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
  EXPECT_GT(partly_written, 0);
  EXPECT_GT(recovered, 0);
}

// One fault for the maintenance tests: its name in reports, and how to arm it.
struct FaultPoint {
  std::string name;
  std::function<void()> arm;
};

// Every operation failing once, persistent faults at the points swept() picks, and a full
// disk at budgets from nothing up to what the clean run needed (`total` operations,
// `growth` bytes).
std::vector<FaultPoint> fault_points(std::uint64_t total, std::uint64_t growth) {
  std::vector<FaultPoint> points;
  for (std::uint64_t nth = 1; nth <= total; ++nth) {
    for (const Mode mode : {Mode::once, Mode::persistent}) {
      if (!swept(mode, nth)) continue;
      points.push_back({std::string(name_of(mode)) + "-" + std::to_string(nth),
                        [mode, nth] { arm(mode, nth); }});
    }
  }
  constexpr std::uint64_t kBudgets = 16;
  for (std::uint64_t step = 0; step < kBudgets; ++step) {
    const std::uint64_t budget = growth * step / kBudgets;
    points.push_back(
        {"budget-" + std::to_string(budget), [budget] { fault_vfs::limit_growth(budget); }});
  }
  return points;
}

// A backup under each of fault_points(): it fails leaving nothing behind, or reports
// success and the copy is whole.
TEST_F(FaultTest, ABackupUnderAFaultFailsCleanlyOrMakesAWholeCopy) {
  const std::vector<Tip> tips = make_tips(1, kSmallBlobBytes);
  const fs::path source = temp_.path() / "tipline.db";
  const auto stored = fill(source, key_, tips);
  ASSERT_EQ(stored.size(), tips.size());
  const crypto::Secret backup_key = crypto::Secret::random(kKeyBytes);
  const fault_vfs::AsDefault fault_vfs_by_default;
  fault_vfs::clear();
  ASSERT_TRUE(backup(source, key_, run_dir("clean") / "copy.db", backup_key));
  const auto points = fault_points(fault_vfs::operations(), fault_vfs::growth());

  std::vector<std::string> problems;
  int failed = 0;
  for (const FaultPoint& point : points) {
    const fs::path dir = run_dir(point.name);
    const fs::path copy = dir / "copy.db";
    point.arm();
    const auto copied = backup(source, key_, copy, backup_key);
    fault_vfs::clear();
    std::string found;
    if (!copied) {
      ++failed;
      for (const char* suffix : {"", "-wal", "-shm"}) {
        if (fs::exists(copy.string() + suffix)) found += copy.string() + suffix + " exists; ";
      }
    } else if (std::string copy_problems = problems_in(copy, backup_key, tips, stored);
               !copy_problems.empty()) {
      found += "reported success, but " + copy_problems + "; ";
    }
    for (const std::string& partial : partial_files(dir)) found += partial + " is left; ";
    if (!found.empty()) problems.push_back(point.name + ": " + found);
    fs::remove_all(dir);
  }
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
  EXPECT_GT(failed, 0);
  EXPECT_EQ(problems_in(source, key_, tips, stored), "");
}

// A rekey under each of fault_points(): the database must then open with exactly one of
// the two keys (the new one only if rekey reported success) and hold everything.
TEST_F(FaultTest, ARekeyUnderAFaultLeavesTheDatabaseWholeUnderOneKey) {
  const std::vector<Tip> tips = make_tips(1, kSmallBlobBytes);
  const fs::path pristine = temp_.path() / "pristine.db";
  const auto stored = fill(pristine, key_, tips);
  ASSERT_EQ(stored.size(), tips.size());
  ASSERT_FALSE(fs::exists(pristine.string() + "-wal"));
  const crypto::Secret new_key = crypto::Secret::random(kKeyBytes);
  const fault_vfs::AsDefault fault_vfs_by_default;
  const auto copy_of_pristine = [&](const std::string& name) {
    fs::path file = run_dir(name) / "tipline.db";
    fs::copy_file(pristine, file);
    return file;
  };
  fault_vfs::clear();
  ASSERT_TRUE(rekey(copy_of_pristine("clean"), key_, new_key));
  const auto points = fault_points(fault_vfs::operations(), fault_vfs::growth());

  std::vector<std::string> problems;
  int failed = 0;
  for (const FaultPoint& point : points) {
    const fs::path file = copy_of_pristine(point.name);
    point.arm();
    const auto rekeyed = rekey(file, key_, new_key);
    fault_vfs::clear();
    failed += rekeyed ? 0 : 1;
    std::string found = problems_in(file, rekeyed ? new_key : key_, tips, stored);
    if (rekeyed && !found.empty()) found = "reported success, but " + found + "; ";
    for (const std::string& partial : partial_files(file.parent_path())) {
      found += partial + " is left; ";
    }
    if (!found.empty()) problems.push_back(point.name + ": " + found);
    fs::remove_all(file.parent_path());
  }
  EXPECT_TRUE(problems.empty()) << first_lines(problems);
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace tipline::storage
