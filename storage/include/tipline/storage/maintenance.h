// Operations on a whole database file: backup, restore, rekey, retention purge, vacuum,
// check. Each opens its own connection from the file name and key.
//
// backup, check, purge and vacuum run while a server is serving (SQLite's own locks keep
// them consistent). restore and rekey replace the file, so they take DatabaseLock and
// refuse to run while a server holds it.
//
// Copies never leave plaintext: the SQLite backup API writes plaintext into an unkeyed
// destination without complaint, so every destination here is created keyed by
// Database::open, checked to be encrypted, and opened again with its key before it is put
// in place. A copy is written beside its destination and moved there only when complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <tl/expected.hpp>

#include "tipline/crypto/secret.h"
#include "tipline/storage/database.h"

namespace tipline::storage {

// Writes a consistent copy of `database` to `destination` (which must not exist),
// encrypted with `destination_key`.
[[nodiscard]] tl::expected<void, Error> backup(const std::filesystem::path& database,
                                               const crypto::Secret& key,
                                               const std::filesystem::path& destination,
                                               const crypto::Secret& destination_key);

// Checks a backup and writes it as `database` (which must not exist), encrypted with `key`.
[[nodiscard]] tl::expected<void, Error> restore(const std::filesystem::path& backup_file,
                                                const crypto::Secret& backup_key,
                                                const std::filesystem::path& database,
                                                const crypto::Secret& key);

// Re-encrypts `database` with `new_key`, replacing the file atomically: at every moment
// the file opens with exactly one of the two keys.
[[nodiscard]] tl::expected<void, Error> rekey(const std::filesystem::path& database,
                                              const crypto::Secret& key,
                                              const crypto::Secret& new_key);

struct RetentionPolicy {
  // Submissions received this many days ago or earlier go; nullopt keeps them all.
  std::optional<int> older_than_days;
  // Now, in seconds since 1970-01-01 UTC (a parameter so tests can move time).
  std::int64_t now = 0;
};

struct PurgeCounts {
  std::int64_t submissions = 0;  // with their attachments, triage, notes and replies
  std::int64_t drafts = 0;       // expired, with their unfinished uploads
  std::int64_t uploads = 0;      // expired uploads of drafts still open
  std::int64_t sources = 0;      // with nothing left and not seen within the retention
  std::int64_t blobs = 0;        // finished, left by an owner that no longer exists
  std::int64_t nonces = 0;       // request-signature nonces past their expiry
};

struct ExpiredCounts {
  std::int64_t drafts = 0;   // with their unfinished uploads
  std::int64_t uploads = 0;  // of drafts still open
  std::int64_t nonces = 0;   // request-signature nonces past their expiry
};

// Inside a write on a live store (the server runs it every ten minutes): drops the drafts
// and uploads whose expiry hour has come, and the request-signature nonces whose expiry
// time has come (a request that old is refused as stale anyway). `now` in seconds since
// 1970-01-01 UTC.
[[nodiscard]] tl::expected<ExpiredCounts, Error> drop_expired(Database& db, std::int64_t now);

// Inside a write, before anything else writes (the server runs it at start): drops blobs
// that were never finished and that nothing owns, left by a form post the server was
// receiving when it stopped. purge() leaves those alone, since it runs beside a live server.
[[nodiscard]] tl::expected<std::int64_t, Error> drop_abandoned_blobs(Database& db);

// Deletes what the policy says is due, then checkpoints and truncates the WAL, so the
// deleted bytes are gone from the database and WAL files (secure_delete zeroes them in
// the pages). Errc::in_use if a reader held the WAL: the rows are gone, run it again to
// truncate.
[[nodiscard]] tl::expected<PurgeCounts, Error> purge(const std::filesystem::path& database,
                                                     const crypto::Secret& key,
                                                     const RetentionPolicy& policy);

// Rebuilds the file without free pages, then truncates the WAL.
[[nodiscard]] tl::expected<void, Error> vacuum(const std::filesystem::path& database,
                                               const crypto::Secret& key);

struct CheckReport {
  int schema_version = 0;
  std::int64_t submissions = 0;
  std::int64_t blobs = 0;
  std::int64_t bytes = 0;  // the database file's size
};

// Integrity and foreign key checks over every page; counts for the operator.
[[nodiscard]] tl::expected<CheckReport, Error> check(const std::filesystem::path& database,
                                                     const crypto::Secret& key);

}  // namespace tipline::storage
