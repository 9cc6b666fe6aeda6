// Migrations: every earlier schema version, holding data, migrates to the newest one with
// its data intact and ends with exactly the schema of a fresh database.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "test_support.h"
#include "tipline/storage/database.h"

namespace tipline::storage {
namespace {

using test::count_rows;

// Rows each migration's tables can hold, inserted at that version.
const std::map<int, std::string>& data_for_version() {
  static const std::map<int, std::string> data = {
      {1, R"sql(
INSERT INTO sources (id, login_hash, recipient, created_day, last_seen_day)
  VALUES (1, x'0101010101010101010101010101010101010101010101010101010101010101', 'age1abc', 20000, 20001);
INSERT INTO blobs (id, size, complete) VALUES (1, 3, 1), (2, 2, 1), (3, 1, 0);
INSERT INTO blob_chunks (blob_id, start, data) VALUES (1, 0, x'616263'), (2, 0, x'6465'), (3, 0, x'66');
INSERT INTO drafts (id, token_hash, source_id, expires_hour)
  VALUES (1, x'0202020202020202020202020202020202020202020202020202020202020202', 1, 480000);
INSERT INTO uploads (id, public_id, draft_id, blob_id, length, expires_hour) VALUES (1, 'u1', 1, 3, 10, 480000);
INSERT INTO submissions (id, public_id, source_id, report_blob_id, received_day, change_seq)
  VALUES (1, 's1', 1, 1, 20000, 1);
INSERT INTO attachments (submission_id, position, blob_id) VALUES (1, 0, 2);
UPDATE counters SET value = 1 WHERE name = 'change_seq';
)sql"},
      {2, R"sql(
INSERT INTO reviewers (id, signing_key, role, disabled, added_at)
  VALUES ('alice', x'0303030303030303030303030303030303030303030303030303030303030303', 'admin', 0, 1700000000);
INSERT INTO triage (submission_id, status, assignee, updated_at) VALUES (1, 'in_review', 'alice', 1700000001);
INSERT INTO labels (submission_id, label) VALUES (1, 'family');
INSERT INTO blobs (id, size, complete) VALUES (4, 1, 1), (5, 1, 1);
INSERT INTO notes (id, submission_id, reviewer_id, blob_id, created_at) VALUES (1, 1, 'alice', 4, 1700000002);
INSERT INTO replies (id, submission_id, reviewer_id, blob_id, created_day) VALUES (1, 1, 'alice', 5, 20001);
INSERT INTO audit_log (id, at, reviewer_id, action, submission_public_id, detail)
  VALUES (1, 1700000003, 'alice', 'status', 's1', 'in_review');
INSERT INTO signature_nonces (reviewer_id, nonce, expires_at) VALUES ('alice', 'n1', 1700000300);
)sql"},
      {3, R"sql(
INSERT INTO bundles (version, bytes, signature, installed_at) VALUES (1, x'7b7d', 'sig', 1700000004);
UPDATE blobs SET sealed_to_bundle = 1 WHERE id IN (1, 2, 3, 4);
)sql"},
      {4, R"sql(
INSERT INTO deletions (change_seq, public_id) VALUES (2, 's0');
UPDATE counters SET value = 2 WHERE name = 'change_seq';
)sql"},
  };
  return data;
}

tl::expected<std::vector<std::string>, Error> column_names(Database& db, const std::string& table) {
  auto info = db.prepare("PRAGMA table_info(" + table + ");");
  if (!info) return tl::unexpected(info.error());
  std::vector<std::string> names;
  while (true) {
    auto row = info->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return names;
    names.push_back(info->text(1));
  }
}

tl::expected<std::vector<std::string>, Error> table_names(Database& db) {
  auto query = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
      "ORDER BY name;");
  if (!query) return tl::unexpected(query.error());
  std::vector<std::string> names;
  while (true) {
    auto row = query->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return names;
    names.push_back(query->text(0));
  }
}

// Every row of the named columns, quoted, in rowid order.
tl::expected<std::string, Error> dump(Database& db, const std::string& table,
                                      const std::vector<std::string>& columns) {
  std::string select = "SELECT ''";
  for (const auto& column : columns) select += " || quote(" + column + ") || '|'";
  auto query = db.prepare(select + " FROM " + table + " ORDER BY rowid;");
  if (!query) return tl::unexpected(query.error());
  std::string rows;
  while (true) {
    auto row = query->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return rows;
    rows += query->text(0) + "\n";
  }
}

tl::expected<std::string, Error> schema_of(Database& db) {
  auto query = db.prepare(
      "SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), '\n') FROM "
      "(SELECT * FROM sqlite_master ORDER BY type, name);");
  if (!query) return tl::unexpected(query.error());
  auto row = query->step();
  if (!row) return tl::unexpected(row.error());
  return query->text(0);
}

class SchemaTest : public test::StorageTest {
 protected:
  Database create(const std::string& name) {
    auto db = Database::open(dir_ / name, key_, Database::Mode::create_new);
    EXPECT_TRUE(db.has_value()) << db.error().message;
    return std::move(*db);
  }
};

TEST_F(SchemaTest, EveryEarlierVersionMigratesToTheNewestWithItsData) {
  Database fresh = create("fresh.db");
  ASSERT_OK(fresh.migrate());
  const auto newest = fresh.schema_version();
  ASSERT_OK(newest);
  ASSERT_EQ(*newest, static_cast<int>(data_for_version().size()));
  const auto fresh_schema = schema_of(fresh);
  ASSERT_OK(fresh_schema);

  for (int start = 0; start < *newest; ++start) {
    SCOPED_TRACE("from version " + std::to_string(start));
    Database db = create("from-" + std::to_string(start) + ".db");
    ASSERT_OK(db.migrate(start));
    const auto version = db.schema_version();
    ASSERT_OK(version);
    ASSERT_EQ(*version, start);
    for (int v = 1; v <= start; ++v) ASSERT_OK(db.exec(data_for_version().at(v)));

    std::map<std::string, std::pair<std::vector<std::string>, std::string>> before;
    const auto tables = table_names(db);
    ASSERT_OK(tables);
    for (const auto& table : *tables) {
      const auto columns = column_names(db, table);
      ASSERT_OK(columns);
      const auto rows = dump(db, table, *columns);
      ASSERT_OK(rows);
      before[table] = {*columns, *rows};
    }

    ASSERT_OK(db.migrate());
    const auto migrated = db.schema_version();
    ASSERT_OK(migrated);
    EXPECT_EQ(*migrated, *newest);
    ASSERT_OK(db.check_integrity());
    const auto schema = schema_of(db);
    ASSERT_OK(schema);
    EXPECT_EQ(*schema, *fresh_schema);
    for (const auto& [table, columns_and_rows] : before) {
      const auto rows = dump(db, table, columns_and_rows.first);
      ASSERT_OK(rows);
      EXPECT_EQ(*rows, columns_and_rows.second) << table;
    }
    // The tables of later versions work on the migrated database.
    for (int v = start + 1; v <= *newest; ++v) ASSERT_OK(db.exec(data_for_version().at(v)));
    ASSERT_OK(db.check_integrity());
  }
}

TEST_F(SchemaTest, MigratingTwiceChangesNothing) {
  Database db = create("twice.db");
  ASSERT_OK(db.migrate());
  const auto first = schema_of(db);
  ASSERT_OK(first);
  ASSERT_OK(db.migrate());
  const auto second = schema_of(db);
  ASSERT_OK(second);
  EXPECT_EQ(*first, *second);
}

TEST_F(SchemaTest, ADatabaseFromANewerTiplineIsRefused) {
  Database db = create("newer.db");
  ASSERT_OK(db.migrate());
  const auto newest = db.schema_version();
  ASSERT_OK(newest);
  ASSERT_OK(db.exec("PRAGMA user_version = " + std::to_string(*newest + 1) + ";"));
  const auto migrated = db.migrate();
  ASSERT_FALSE(migrated.has_value());
  EXPECT_EQ(migrated.error().code, Errc::schema_too_new);
  EXPECT_NE(migrated.error().message.find("upgrade Tipline"), std::string::npos);
}

// The privacy rule of the schema: nothing identifies a source or times it exactly.
TEST_F(SchemaTest, NoColumnCanHoldAnAddressAUserAgentOrAnExactSourceTime) {
  Database db = create("privacy.db");
  ASSERT_OK(db.migrate());
  const std::vector<std::string> source_side = {"attachments", "blob_chunks", "blobs",  "drafts",
                                                "sources",     "submissions", "uploads"};
  const auto tables = table_names(db);
  ASSERT_OK(tables);
  for (const auto& table : *tables) {
    const auto columns = column_names(db, table);
    ASSERT_OK(columns);
    const bool is_source_side =
        std::find(source_side.begin(), source_side.end(), table) != source_side.end();
    for (const auto& column : *columns) {
      const std::string where = table + "." + column;
      for (const char* forbidden : {"address", "agent", "forwarded", "host", "referer"}) {
        EXPECT_EQ(column.find(forbidden), std::string::npos) << where;
      }
      EXPECT_FALSE(column == "ip" || column.starts_with("ip_") || column.ends_with("_ip")) << where;
      if (is_source_side) {
        EXPECT_FALSE(column.ends_with("_at") || column.find("time") != std::string::npos)
            << where << ": source-side times are whole days or hours";
      }
    }
  }
  // A new source-side table must be classified here, not slip past the rule.
  for (const auto& table : source_side) {
    EXPECT_NE(std::find(tables->begin(), tables->end(), table), tables->end()) << table;
  }
  const auto all_tables = count_rows(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%';");
  ASSERT_OK(all_tables);
  // The other tables are reviewer-side (reviewers, triage, labels, notes, replies,
  // audit_log, signature_nonces, deletions) or bookkeeping (counters, bundles).
  EXPECT_EQ(*all_tables, 17) << "a table was added: classify it in this test";
}

}  // namespace
}  // namespace tipline::storage
