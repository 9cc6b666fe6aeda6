#include "reviewers_command.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstddef>
#include <ctime>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "identifiers.h"
#include "reviewer_api.h"
#include "tipline/crypto/request_signature.h"
#include "tipline/storage/database.h"

namespace tipline::server::reviewers {
namespace {

namespace signing = crypto::request_signature;

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

tl::unexpected<Error> database_failure(const storage::Error& error) {
  return failure(Errc::database, error.message);
}

// The same characters as a request signature's keyid, which names the reviewer.
tl::expected<storage::Database, Error> open_database(const config::Config& config, bool read_only) {
  auto key = storage::read_key_file(config.database_key_file);
  if (!key) return database_failure(key.error());
  auto db =
      storage::Database::open(config.database_file, *key, storage::Database::Mode::open_existing,
                              {.vfs = {}, .read_only = read_only});
  if (!db) return database_failure(db.error());
  // As `db purge` does: a database from before the reviewer tables gets them.
  if (!read_only) {
    if (auto migrated = db->migrate(); !migrated) return database_failure(migrated.error());
  }
  return std::move(*db);
}

// Runs `work` in one write transaction, committed only if it succeeds.
template <typename Work>
tl::expected<void, Error> in_transaction(storage::Database& db, Work work) {
  if (auto begun = db.exec("BEGIN IMMEDIATE;"); !begun) return database_failure(begun.error());
  tl::expected<void, Error> done = work();
  if (done) {
    if (auto committed = db.exec("COMMIT;"); !committed) done = database_failure(committed.error());
  }
  if (!done && db.in_transaction()) (void)db.exec("ROLLBACK;");
  return done;
}

// The reviewer's id whose key is `key`, or nullopt.
tl::expected<std::optional<std::string>, Error> owner_of(storage::Database& db,
                                                         const signing::PublicKey& key) {
  auto query = db.prepare("SELECT id FROM reviewers WHERE signing_key = ?;");
  if (!query) return database_failure(query.error());
  auto row = query->bind(std::as_bytes(std::span(key))).step();
  if (!row) return database_failure(row.error());
  if (!*row) return std::nullopt;
  return query->text(0);
}

// nullopt: no such reviewer; otherwise whether they are disabled.
tl::expected<std::optional<bool>, Error> disabled_state(storage::Database& db,
                                                        const std::string& id) {
  auto query = db.prepare("SELECT disabled FROM reviewers WHERE id = ?;");
  if (!query) return database_failure(query.error());
  auto row = query->bind(id).step();
  if (!row) return database_failure(row.error());
  if (!*row) return std::nullopt;
  return query->integer(0) != 0;
}

std::string utc_time(std::int64_t seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  std::array<char, 32> text{};
  const std::size_t length = std::strftime(text.data(), text.size(), "%Y-%m-%d %H:%M:%S", &parts);
  return {text.data(), length};
}

struct Row {
  std::string id;
  std::string role;
  bool disabled = false;
  std::int64_t added_at = 0;
  std::string key;
};

void print_table(const std::vector<Row>& rows, std::ostream& out) {
  const std::array<std::string, 5> headings = {"ID", "ROLE", "STATE", "ADDED (UTC)", "KEY"};
  std::vector<std::array<std::string, 5>> cells;
  cells.push_back(headings);
  for (const Row& row : rows) {
    cells.push_back(
        {row.id, row.role, row.disabled ? "disabled" : "enabled", utc_time(row.added_at), row.key});
  }
  std::array<std::size_t, 5> widths{};
  for (const auto& line : cells) {
    for (std::size_t column = 0; column < widths.size(); ++column) {
      widths.at(column) = std::max(widths.at(column), line.at(column).size());
    }
  }
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t column = 0; column < widths.size(); ++column) {
      text += line.at(column);
      if (column + 1 < widths.size()) {
        text += std::string(widths.at(column) - line.at(column).size() + 2, ' ');
      }
    }
    out << text << '\n';
  }
}

}  // namespace

tl::expected<void, Error> add(const config::Config& config, const std::string& id,
                              const std::string& public_key, const std::string& role,
                              std::ostream& out) {
  if (!signing::is_token(id)) {
    return failure(Errc::input,
                   "a reviewer id is 1 to 64 of A-Z a-z 0-9 . _ -, not \"" + id + "\"");
  }
  if (role != "reviewer" && role != "admin") {
    return failure(Errc::input, "the role is reviewer or admin, not \"" + role + "\"");
  }
  auto key = signing::parse_public_key(public_key);
  if (!key) return failure(Errc::input, "--key: " + key.error().message);
  auto db = open_database(config, false);
  if (!db) return tl::unexpected(db.error());
  auto added = in_transaction(*db, [&]() -> tl::expected<void, Error> {
    auto existing = disabled_state(*db, id);
    if (!existing) return tl::unexpected(existing.error());
    if (*existing) {
      return failure(Errc::input, "a reviewer " + id + " already exists" +
                                      (**existing ? " (disabled)" : "") +
                                      "; ids are never reused: choose another");
    }
    auto owner = owner_of(*db, *key);
    if (!owner) return tl::unexpected(owner.error());
    if (*owner) {
      return failure(Errc::input,
                     "this key is already registered, for reviewer " + **owner +
                         "; every reviewer has their own key (tipline-review init makes one)");
    }
    const std::int64_t now = seconds_now();
    auto insert = db->prepare(
        "INSERT INTO reviewers (id, signing_key, role, disabled, added_at) VALUES (?, ?, ?, 0, "
        "?);");
    if (!insert) return database_failure(insert.error());
    if (auto ran = insert->bind(id, std::as_bytes(std::span(*key)), role, now).run(); !ran) {
      return database_failure(ran.error());
    }
    if (auto audited = reviewer_api::record_audit(*db, now, reviewer_api::kServerAdmin,
                                                  "reviewer-add", std::nullopt, id + " as " + role);
        !audited) {
      return database_failure(audited.error());
    }
    return {};
  });
  if (!added) return added;
  out << "Added " << role << " " << id << " with signing key " << signing::encode_public_key(*key)
      << ".\n";
  return {};
}

tl::expected<void, Error> list(const config::Config& config, bool json, std::ostream& out) {
  auto db = open_database(config, true);
  if (!db) return tl::unexpected(db.error());
  auto query =
      db->prepare("SELECT id, role, disabled, added_at, signing_key FROM reviewers ORDER BY id;");
  if (!query) return database_failure(query.error());
  std::vector<Row> rows;
  while (true) {
    auto row = query->step();
    if (!row) return database_failure(row.error());
    if (!*row) break;
    signing::PublicKey key{};
    const auto bytes = query->bytes(4);
    std::transform(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(key.size()),
                   key.begin(), [](std::byte b) { return static_cast<std::uint8_t>(b); });
    rows.push_back({query->text(0), query->text(1), query->integer(2) != 0, query->integer(3),
                    signing::encode_public_key(key)});
  }
  if (json) {
    boost::json::array list;
    for (const Row& row : rows) {
      list.emplace_back(boost::json::object{{"id", row.id},
                                            {"role", row.role},
                                            {"disabled", row.disabled},
                                            {"added_at", row.added_at},
                                            {"key", row.key}});
    }
    out << boost::json::serialize(boost::json::object{{"reviewers", std::move(list)}}) << '\n';
    return {};
  }
  if (rows.empty()) {
    out << "No reviewers yet. Register one with: tipline-server reviewers add ID --key "
           "PUBLIC_KEY --config "
        << config.file.string() << '\n';
    return {};
  }
  print_table(rows, out);
  return {};
}

tl::expected<void, Error> disable(const config::Config& config, const std::string& id,
                                  std::ostream& out) {
  auto db = open_database(config, false);
  if (!db) return tl::unexpected(db.error());
  bool already = false;
  auto disabled = in_transaction(*db, [&]() -> tl::expected<void, Error> {
    auto state = disabled_state(*db, id);
    if (!state) return tl::unexpected(state.error());
    if (!*state) {
      return failure(Errc::input,
                     "no reviewer " + id + "; `tipline-server reviewers list` shows them");
    }
    already = **state;
    if (already) return {};
    auto update = db->prepare("UPDATE reviewers SET disabled = 1 WHERE id = ?;");
    if (!update) return database_failure(update.error());
    if (auto ran = update->bind(id).run(); !ran) return database_failure(ran.error());
    if (auto audited = reviewer_api::record_audit(*db, seconds_now(), reviewer_api::kServerAdmin,
                                                  "reviewer-disable", std::nullopt, id);
        !audited) {
      return database_failure(audited.error());
    }
    return {};
  });
  if (!disabled) return disabled;
  if (already) {
    out << id << " was already disabled; nothing changed.\n";
  } else {
    out << "Disabled " << id << ": the reviewer API refuses their requests from now on.\n";
  }
  return {};
}

}  // namespace tipline::server::reviewers
