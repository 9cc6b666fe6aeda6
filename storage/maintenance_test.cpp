#include "tipline/storage/maintenance.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;
using test::count_rows;

constexpr std::int64_t kToday = 20000;
constexpr std::int64_t kSecondsPerDay = 86400;

class MaintenanceTest : public test::StorageTest {
 protected:
  void SetUp() override {
    auto store = create_store();
    ASSERT_TRUE(store);
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK(store
                    ->write([&](Database& db) {
                      std::string public_id = "s";
                      public_id += std::to_string(i);
                      return test::add_submission(db, public_id, kToday - std::int64_t{i} * 10,
                                                  test::pattern(70000 + i, i));
                    })
                    .get());
    }
  }

  // Opens `file` with `key` and returns its submissions' report bytes, joined.
  static tl::expected<std::vector<std::byte>, Error> reports_in(const fs::path& file,
                                                                const crypto::Secret& key) {
    auto db = Database::open(file, key, Database::Mode::open_existing);
    if (!db) return tl::unexpected(db.error());
    if (auto checked = db->check_integrity(); !checked) return tl::unexpected(checked.error());
    auto query = db->prepare("SELECT report_blob_id FROM submissions ORDER BY id;");
    if (!query) return tl::unexpected(query.error());
    std::vector<std::byte> all;
    while (true) {
      auto row = query->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return all;
      auto blob = test::read_whole(*db, query->integer(0));
      if (!blob) return tl::unexpected(blob.error());
      all.insert(all.end(), blob->begin(), blob->end());
    }
  }

  static std::vector<std::byte> expected_reports() {
    std::vector<std::byte> all;
    for (int i = 0; i < 5; ++i) {
      const auto report = test::pattern(70000 + i, i);
      all.insert(all.end(), report.begin(), report.end());
    }
    return all;
  }
};

TEST_F(MaintenanceTest, BackupIsEncryptedWithItsOwnKeyAndComplete) {
  const fs::path copy = dir_ / "backup.db";
  const auto backup_key = crypto::Secret::random(kKeyBytes);
  ASSERT_OK(backup(database_, key_, copy, backup_key));
  EXPECT_NE(testing::read_file(copy).rfind("SQLite format 3", 0), 0u);
  const auto reports = reports_in(copy, backup_key);
  ASSERT_OK(reports);
  EXPECT_EQ(*reports, expected_reports());
  const auto wrong = reports_in(copy, key_);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Errc::key_mismatch);
  // Nothing but the copy is left beside it.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".partial-"), std::string::npos) << entry.path();
  }
}

TEST_F(MaintenanceTest, BackupRunsWhileTheStoreIsOpenAndWriting) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto writing = store->write([](Database& db) {
    return test::add_submission(db, "during", kToday, test::pattern(10, 99));
  });
  ASSERT_OK(backup(database_, key_, dir_ / "backup.db", key_));
  ASSERT_OK(writing.get());
  const auto reports = reports_in(dir_ / "backup.db", key_);
  ASSERT_OK(reports);
}

TEST_F(MaintenanceTest, BackupNeverOverwrites) {
  const fs::path copy = dir_ / "backup.db";
  testing::write_file(copy, "precious");
  const auto made = backup(database_, key_, copy, key_);
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error().code, Errc::exists);
  EXPECT_EQ(testing::read_file(copy), "precious");
}

TEST_F(MaintenanceTest, RestoreWritesANewDatabaseUnderTheInstanceKey) {
  const auto backup_key = crypto::Secret::random(kKeyBytes);
  ASSERT_OK(backup(database_, key_, dir_ / "backup.db", backup_key));
  const fs::path restored = dir_ / "restored.db";
  const auto new_key = crypto::Secret::random(kKeyBytes);
  ASSERT_OK(restore(dir_ / "backup.db", backup_key, restored, new_key));
  const auto reports = reports_in(restored, new_key);
  ASSERT_OK(reports);
  EXPECT_EQ(*reports, expected_reports());
}

TEST_F(MaintenanceTest, RestoreRefusesAnExistingDatabaseAndAWrongBackupKey) {
  ASSERT_OK(backup(database_, key_, dir_ / "backup.db", key_));
  const auto over = restore(dir_ / "backup.db", key_, database_, key_);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, Errc::exists);
  const auto wrong =
      restore(dir_ / "backup.db", crypto::Secret::random(kKeyBytes), dir_ / "new.db", key_);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Errc::key_mismatch);
  EXPECT_FALSE(fs::exists(dir_ / "new.db"));
  // A WAL left behind by a database moved away would be replayed into the restored one.
  testing::write_file(dir_ / "new.db-wal", "stale");
  const auto stale = restore(dir_ / "backup.db", key_, dir_ / "new.db", key_);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Errc::exists);
  EXPECT_NE(stale.error().message.find("write-ahead log"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "new.db"));
}

TEST_F(MaintenanceTest, RekeyReplacesTheKeyAndKeepsEverything) {
  const auto new_key = crypto::Secret::random(kKeyBytes);
  ASSERT_OK(rekey(database_, key_, new_key));
  const auto reports = reports_in(database_, new_key);
  ASSERT_OK(reports);
  EXPECT_EQ(*reports, expected_reports());
  const auto old = Database::open(database_, key_, Database::Mode::open_existing);
  ASSERT_FALSE(old.has_value());
  EXPECT_EQ(old.error().code, Errc::key_mismatch);
  // The store opens with the new key and writes.
  auto store = Store::open(database_, new_key, Database::Mode::open_existing);
  ASSERT_OK(store);
  ASSERT_OK((*store)
                ->write([](Database& db) {
                  return test::add_submission(db, "after", kToday, test::pattern(10, 7));
                })
                .get());
}

TEST_F(MaintenanceTest, RestoreAndRekeyAreRefusedWhileAStoreHoldsTheDatabase) {
  ASSERT_OK(backup(database_, key_, dir_ / "backup.db", key_));
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto rekeyed = rekey(database_, key_, crypto::Secret::random(kKeyBytes));
  ASSERT_FALSE(rekeyed.has_value());
  EXPECT_EQ(rekeyed.error().code, Errc::in_use);
  fs::remove(database_);  // even a missing file is not restored under a running store
  const auto restored = restore(dir_ / "backup.db", key_, database_, key_);
  ASSERT_FALSE(restored.has_value());
  EXPECT_EQ(restored.error().code, Errc::in_use);
}

TEST_F(MaintenanceTest, PurgeDeletesWhatThePolicySaysAndCounts) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_OK(
        store
            ->write([](Database& db) -> tl::expected<void, Error> {
              // An expired draft with an upload, a live draft with an expired upload, a live
              // upload, an orphaned blob, a stale nonce and a fresh one, a source with nothing.
              const std::int64_t hour = kToday * 24;
              auto blobs = db.exec(
                  "INSERT INTO blobs (id, size, complete) VALUES (100, 0, 0), (101, 0, 0), "
                  "(102, 0, 0), (103, 0, 1), (104, 0, 0);");
              if (!blobs) return blobs;
              auto drafts = db.prepare(
                  "INSERT INTO drafts (id, token_hash, expires_hour) VALUES "
                  "(1, randomblob(32), ?1 - 1), (2, randomblob(32), ?1 + 5);");
              if (!drafts) return tl::unexpected(drafts.error());
              if (auto ran = drafts->bind(hour).run(); !ran) return ran;
              auto uploads = db.prepare(
                  "INSERT INTO uploads (public_id, draft_id, blob_id, length, expires_hour) VALUES "
                  "('a', 1, 100, 5, ?1 + 5), ('b', 2, 101, 5, ?1 - 2), ('c', 2, 102, 5, ?1 + 5);");
              if (!uploads) return tl::unexpected(uploads.error());
              if (auto ran = uploads->bind(hour).run(); !ran) return ran;
              auto rest = db.prepare(
                  "INSERT INTO signature_nonces VALUES ('r', 'old', ?1 - 1), ('r', 'new', ?1 + "
                  "300);");
              if (!rest) return tl::unexpected(rest.error());
              if (auto ran = rest->bind(kToday * kSecondsPerDay).run(); !ran) return ran;
              return db.exec(
                  "INSERT INTO sources (login_hash, recipient, created_day, last_seen_day) VALUES "
                  "(randomblob(32), 'age1x', 100, 100);");
            })
            .get());
  }
  RetentionPolicy policy;
  policy.older_than_days = 20;  // submissions of days kToday-20, -30, -40 go
  policy.now = kToday * kSecondsPerDay;
  const auto counts = purge(database_, key_, policy);
  ASSERT_OK(counts);
  EXPECT_EQ(counts->submissions, 3);
  EXPECT_EQ(counts->drafts, 1);
  EXPECT_EQ(counts->uploads, 1);
  EXPECT_EQ(counts->sources, 1);
  EXPECT_EQ(counts->blobs, 1);  // blob 103 was finished and had no owner
  EXPECT_EQ(counts->nonces, 1);

  auto db = Database::open(database_, key_, Database::Mode::open_existing);
  ASSERT_OK(db);
  ASSERT_OK(db->check_integrity());
  const auto uploads = count_rows(*db, "SELECT count(*) FROM uploads WHERE public_id = 'c';");
  ASSERT_OK(uploads);
  EXPECT_EQ(*uploads, 1);
  const auto all_uploads = count_rows(*db, "SELECT count(*) FROM uploads;");
  ASSERT_OK(all_uploads);
  EXPECT_EQ(*all_uploads, 1);
  const auto left = count_rows(*db, "SELECT count(*) FROM blobs;");
  ASSERT_OK(left);
  // Two remaining reports, upload c's blob, and 104: unfinished, maybe still being written.
  EXPECT_EQ(*left, 2 + 1 + 1);
  EXPECT_EQ(fs::file_size(database_.string() + "-wal"), 0u);

  // Without a retention, reports stay.
  RetentionPolicy keep_all;
  keep_all.now = policy.now;
  const auto again = purge(database_, key_, keep_all);
  ASSERT_OK(again);
  EXPECT_EQ(again->submissions, 0);
}

// A reviewer's sync learns of a purged submission as of one deleted through the API.
TEST_F(MaintenanceTest, PurgedSubmissionsLeaveDeletionEntriesWithNewChangeNumbers) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_OK(store
                  ->write([](Database& db) {
                    return db.exec("UPDATE counters SET value = 7 WHERE name = 'change_seq';");
                  })
                  .get());
  }
  RetentionPolicy policy;
  policy.older_than_days = 20;  // s2, s3 and s4 go
  policy.now = kToday * kSecondsPerDay;
  const auto counts = purge(database_, key_, policy);
  ASSERT_OK(counts);
  EXPECT_EQ(counts->submissions, 3);

  auto db = Database::open(database_, key_, Database::Mode::open_existing);
  ASSERT_OK(db);
  auto deleted = db->prepare(
      "SELECT group_concat(public_id, ' ') FROM (SELECT public_id FROM deletions "
      "ORDER BY public_id);");
  ASSERT_OK(deleted);
  const auto row = deleted->step();
  ASSERT_OK(row);
  ASSERT_TRUE(*row);
  EXPECT_EQ(deleted->is_null(0) ? std::string() : deleted->text(0), "s2 s3 s4");
  // One new number each, above every number given before.
  const auto numbered =
      count_rows(*db, "SELECT count(DISTINCT change_seq) FROM deletions WHERE change_seq > 7;");
  ASSERT_OK(numbered);
  EXPECT_EQ(*numbered, 3);
  const auto counter = count_rows(*db, "SELECT value FROM counters WHERE name = 'change_seq';");
  ASSERT_OK(counter);
  EXPECT_EQ(*counter, 10);
}

TEST_F(MaintenanceTest, ALiveStoreDropsExpiredDraftsUploadsAndNoncesAndAtStartAbandonedBlobs) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const std::int64_t hour = kToday * 24;
  const std::int64_t now = kToday * kSecondsPerDay;
  ASSERT_OK(store
                ->write([hour, now](Database& db) -> tl::expected<void, Error> {
                  auto nonces = db.prepare(
                      "INSERT INTO signature_nonces (reviewer_id, nonce, expires_at) VALUES "
                      "('r', 'due', ?1), ('r', 'past', ?1 - 600), ('r', 'live', ?1 + 1);");
                  if (!nonces) return tl::unexpected(nonces.error());
                  if (auto ran = nonces->bind(now).run(); !ran) return ran;
                  auto blobs = db.exec(
                      "INSERT INTO blobs (id, size, complete) VALUES (200, 0, 0), (201, 0, 0), "
                      "(202, 0, 0), (203, 0, 1);");
                  if (!blobs) return blobs;
                  auto drafts = db.prepare(
                      "INSERT INTO drafts (id, token_hash, expires_hour) VALUES "
                      "(7, randomblob(32), ?1), (8, randomblob(32), ?1 + 1);");
                  if (!drafts) return tl::unexpected(drafts.error());
                  if (auto ran = drafts->bind(hour).run(); !ran) return ran;
                  auto uploads = db.prepare(
                      "INSERT INTO uploads (public_id, draft_id, blob_id, length, expires_hour) "
                      "VALUES ('x', 7, 200, 5, ?1 + 5), ('y', 8, 201, 5, ?1);");
                  if (!uploads) return tl::unexpected(uploads.error());
                  return uploads->bind(hour).run();
                })
                .get());
  const auto expired = store->write([now](Database& db) { return drop_expired(db, now); }).get();
  ASSERT_OK(expired);
  EXPECT_EQ(expired->drafts, 1);   // draft 7, and upload x with it
  EXPECT_EQ(expired->uploads, 1);  // upload y of the live draft 8
  EXPECT_EQ(expired->nonces, 2);   // 'due' and 'past'; 'live' expires a second later
  const auto nonces_left = store->read([](Database& db) {
    return count_rows(db, "SELECT count(*) FROM signature_nonces WHERE nonce = 'live';");
  });
  ASSERT_OK(nonces_left);
  EXPECT_EQ(*nonces_left, 1);
  const auto abandoned = store->write([](Database& db) { return drop_abandoned_blobs(db); }).get();
  ASSERT_OK(abandoned);
  EXPECT_EQ(*abandoned, 1);  // blob 202; 203 is finished and left to purge
  const auto left = store->read(
      [](Database& db) { return count_rows(db, "SELECT count(*) FROM blobs WHERE id >= 200;"); });
  ASSERT_OK(left);
  EXPECT_EQ(*left, 1);
}

TEST_F(MaintenanceTest, VacuumShrinksTheFileAfterADelete) {
  RetentionPolicy policy;
  policy.older_than_days = 0;
  policy.now = kToday * kSecondsPerDay;
  ASSERT_OK(purge(database_, key_, policy));
  const auto before = fs::file_size(database_);
  ASSERT_OK(vacuum(database_, key_));
  EXPECT_LT(fs::file_size(database_), before);
  const auto report = check(database_, key_);
  ASSERT_OK(report);
  EXPECT_EQ(report->submissions, 0);
}

TEST_F(MaintenanceTest, CheckCountsAndNamesTheSchemaVersion) {
  const auto report = check(database_, key_);
  ASSERT_OK(report);
  EXPECT_EQ(report->submissions, 5);
  EXPECT_EQ(report->blobs, 5);
  EXPECT_GT(report->schema_version, 0);
  EXPECT_EQ(report->bytes, static_cast<std::int64_t>(fs::file_size(database_)));
}

}  // namespace
}  // namespace tipline::storage
