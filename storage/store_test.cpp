#include "tipline/storage/store.h"

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace tipline::storage {
namespace {

using test::count_rows;

// Inserts a source whose login hash is 32 copies of `tag`.
tl::expected<void, Error> insert_source(Database& db, int tag) {
  const std::vector<std::byte> hash(32, static_cast<std::byte>(tag));
  auto insert = db.prepare(
      "INSERT INTO sources (login_hash, recipient, created_day, last_seen_day) "
      "VALUES (?, ?, 20000, 20000);");
  if (!insert) return tl::unexpected(insert.error());
  return insert->bind(std::span<const std::byte>(hash), "age1source" + std::to_string(tag)).run();
}

tl::expected<std::int64_t, Error> count_sources(Database& db) {
  return count_rows(db, "SELECT count(*) FROM sources;");
}

class StoreTest : public test::StorageTest {};

TEST_F(StoreTest, AWriteIsVisibleOnceItsFutureResolves) {
  auto store = create_store();
  ASSERT_TRUE(store);
  ASSERT_OK(store->write([](Database& db) { return insert_source(db, 1); }).get());
  const auto sources = store->read(count_sources);
  ASSERT_OK(sources);
  EXPECT_EQ(*sources, 1);
}

TEST_F(StoreTest, AWriteReturnsItsValue) {
  auto store = create_store();
  ASSERT_TRUE(store);
  auto id = store
                ->write([](Database& db) -> tl::expected<std::int64_t, Error> {
                  if (auto inserted = insert_source(db, 7); !inserted) {
                    return tl::unexpected(inserted.error());
                  }
                  return db.last_insert_id();
                })
                .get();
  ASSERT_OK(id);
  EXPECT_GT(*id, 0);
}

TEST_F(StoreTest, WriteThenCallsBackAfterTheCommitWithTheResult) {
  auto store = create_store();
  ASSERT_TRUE(store);
  std::promise<tl::expected<std::int64_t, Error>> called;
  store->write_then(
      [](Database& db) -> tl::expected<std::int64_t, Error> {
        if (auto inserted = insert_source(db, 3); !inserted)
          return tl::unexpected(inserted.error());
        return db.last_insert_id();
      },
      [&](tl::expected<std::int64_t, Error> result) { called.set_value(std::move(result)); });
  const auto id = called.get_future().get();
  ASSERT_OK(id);
  // Committed by the time the callback ran: a reader sees it.
  const auto sources = store->read(count_sources);
  ASSERT_OK(sources);
  EXPECT_EQ(*sources, 1);
  std::promise<tl::expected<void, Error>> failed;
  store->write_then([](Database& db) { return insert_source(db, 3); },
                    [&](tl::expected<void, Error> result) { failed.set_value(std::move(result)); });
  const auto duplicate = failed.get_future().get();
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code, Errc::constraint);
}

TEST_F(StoreTest, AFailedWriteIsRolledBackAloneAndOthersInItsBatchCommit) {
  auto store = create_store();
  ASSERT_TRUE(store);
  // Queued together, so they share one transaction. The middle one inserts a row and then
  // breaks a unique constraint: its first row must go, its neighbours' rows must stay.
  std::vector<std::future<tl::expected<void, Error>>> writes;
  writes.push_back(store->write([](Database& db) { return insert_source(db, 1); }));
  writes.push_back(store->write([](Database& db) -> tl::expected<void, Error> {
    if (auto inserted = insert_source(db, 2); !inserted) return inserted;
    return insert_source(db, 1);
  }));
  writes.push_back(store->write([](Database& db) { return insert_source(db, 3); }));
  EXPECT_TRUE(writes[0].get().has_value());
  const auto failed = writes[1].get();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, Errc::constraint);
  EXPECT_TRUE(writes[2].get().has_value());
  const auto sources = store->read(count_sources);
  ASSERT_OK(sources);
  EXPECT_EQ(*sources, 2);
  const auto second = store->read([](Database& db) {
    return count_rows(db, "SELECT count(*) FROM sources WHERE recipient = 'age1source2';");
  });
  ASSERT_OK(second);
  EXPECT_EQ(*second, 0);
}

TEST_F(StoreTest, AnExceptionFailsOnlyItsOwnWrite) {
  auto store = create_store();
  ASSERT_TRUE(store);
  auto throwing = store->write(
      [](Database&) -> tl::expected<void, Error> { throw std::runtime_error("boom"); });
  auto fine = store->write([](Database& db) { return insert_source(db, 4); });
  const auto thrown = throwing.get();
  ASSERT_FALSE(thrown.has_value());
  EXPECT_NE(thrown.error().message.find("boom"), std::string::npos);
  EXPECT_TRUE(fine.get().has_value());
}

TEST_F(StoreTest, ManyConcurrentWritersAllCommit) {
  auto store = create_store();
  ASSERT_TRUE(store);
  constexpr int kThreads = 16;
  constexpr int kWritesPerThread = 12;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const int tag = t * kWritesPerThread + i;
        if (!store->write([tag](Database& db) { return insert_source(db, tag); }).get()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const auto sources = store->read(count_sources);
  ASSERT_OK(sources);
  EXPECT_EQ(*sources, kThreads * kWritesPerThread);
}

TEST_F(StoreTest, ReadersRunWhileAWriteIsInProgress) {
  auto store = create_store();
  ASSERT_TRUE(store);
  ASSERT_OK(store->write([](Database& db) { return insert_source(db, 1); }).get());
  std::promise<void> writing;
  std::promise<void> release;
  auto held = release.get_future().share();
  auto slow = store->write([&](Database& db) -> tl::expected<void, Error> {
    if (auto inserted = insert_source(db, 2); !inserted) return inserted;
    writing.set_value();
    held.wait();
    return {};
  });
  writing.get_future().wait();
  // The write transaction is open and uncommitted: a reader sees the state before it.
  const auto during = store->read(count_sources);
  release.set_value();
  ASSERT_OK(slow.get());
  ASSERT_OK(during);
  EXPECT_EQ(*during, 1);
  const auto after = store->read(count_sources);
  ASSERT_OK(after);
  EXPECT_EQ(*after, 2);
}

TEST_F(StoreTest, ReadersCannotWrite) {
  auto store = create_store();
  ASSERT_TRUE(store);
  const auto written = store->read([](Database& db) { return insert_source(db, 1); });
  ASSERT_FALSE(written.has_value());
}

TEST_F(StoreTest, DestroyingTheStoreFinishesQueuedWrites) {
  std::vector<std::future<tl::expected<void, Error>>> writes;
  {
    auto store = create_store();
    ASSERT_TRUE(store);
    for (int tag = 0; tag < 50; ++tag) {
      writes.push_back(store->write([tag](Database& db) { return insert_source(db, tag); }));
    }
  }
  for (auto& write : writes) EXPECT_TRUE(write.get().has_value());
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto sources = store->read(count_sources);
  ASSERT_OK(sources);
  EXPECT_EQ(*sources, 50);
}

TEST_F(StoreTest, ASecondStoreOnTheSameFileIsRefused) {
  auto store = create_store();
  ASSERT_TRUE(store);
  const auto second = Store::open(database_, key_, Database::Mode::open_existing);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errc::in_use);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);
}

TEST_F(StoreTest, CheckpointTruncatesTheWal) {
  auto store = create_store();
  ASSERT_TRUE(store);
  ASSERT_OK(store->write([](Database& db) { return insert_source(db, 1); }).get());
  const std::filesystem::path wal = database_.string() + "-wal";
  EXPECT_GT(std::filesystem::file_size(wal), 0u);
  ASSERT_OK(store->checkpoint());
  EXPECT_EQ(std::filesystem::file_size(wal), 0u);
}

// The authorizer: nothing reaches outside the database file or changes its schema.
TEST_F(StoreTest, TheAuthorizerRefusesDangerousStatements) {
  auto store = create_store();
  ASSERT_TRUE(store);
  for (const std::string& sql : std::vector<std::string>{
           "CREATE TABLE extra (a);",
           "DROP TABLE audit_log;",
           "ALTER TABLE sources ADD COLUMN address TEXT;",
           "CREATE INDEX extra ON sources(created_day);",
           "CREATE TEMP TABLE scratch (a);",
           "CREATE TRIGGER t AFTER INSERT ON sources BEGIN DELETE FROM sources; END;",
           "CREATE VIEW v AS SELECT 1;",
           "ATTACH DATABASE '" + (dir_ / "other.db").string() + "' AS other;",
           "SELECT load_extension('/tmp/x.so');",
           "CREATE VIRTUAL TABLE v USING fts4(a);",
           "PRAGMA writable_schema = ON;",
           "PRAGMA rekey = 'x';",
           "DELETE FROM sqlite_master;",
       }) {
    const auto ran = store->write([&](Database& db) { return db.exec(sql); }).get();
    EXPECT_FALSE(ran.has_value()) << sql;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "other.db"));
  const auto tables = store->read([](Database& db) {
    return count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('extra', 'v');");
  });
  ASSERT_OK(tables);
  EXPECT_EQ(*tables, 0);
  // Ordinary statements still run.
  ASSERT_OK(store->write([](Database& db) { return insert_source(db, 1); }).get());
}

}  // namespace
}  // namespace tipline::storage
