#include "tipline/storage/maintenance.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "tipline/storage/store.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

tl::expected<void, Error> fsync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return failure(Errc::io, path.string() + ": " + std::strerror(errno));
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0) return failure(Errc::io, path.string() + ": fsync: " + std::strerror(error));
  return {};
}

fs::path directory_of(const fs::path& file) {
  return file.has_parent_path() ? file.parent_path() : fs::path(".");
}

// The guard against the backup API's plaintext output: a keyed SQLCipher file never
// starts with SQLite's plaintext header.
tl::expected<void, Error> ensure_encrypted(const fs::path& file) {
  constexpr std::string_view kPlainHeader("SQLite format 3\0", 16);
  std::array<char, 16> head{};
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failure(Errc::io, file.string() + ": " + std::strerror(errno));
  const ssize_t n = ::read(fd, head.data(), head.size());
  ::close(fd);
  if (n == static_cast<ssize_t>(head.size()) &&
      std::string_view(head.data(), head.size()) == kPlainHeader) {
    return failure(Errc::io, file.string() + ": the copy is not encrypted; refusing to keep it");
  }
  return {};
}

tl::expected<void, Error> truncate_wal(Database& db) {
  auto checkpoint = db.prepare("PRAGMA wal_checkpoint(TRUNCATE);");
  if (!checkpoint) return tl::unexpected(checkpoint.error());
  auto row = checkpoint->step();
  if (!row) return tl::unexpected(row.error());
  if (*row && checkpoint->integer(0) != 0) {
    return failure(Errc::in_use,
                   "the write-ahead log could not be truncated because another connection "
                   "was reading; run the command again");
  }
  return {};
}

// Copies `source` into a new file next to `destination`, encrypted with `key`, checks it,
// and returns the temporary file's name for the caller to move into place.
tl::expected<fs::path, Error> copy_beside(Database& source, const fs::path& destination,
                                          const crypto::Secret& key) {
  const fs::path temporary =
      destination.string() + ".partial-" + std::to_string(static_cast<long>(::getpid()));
  const auto discard = [&](Error error) {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(temporary.string() + suffix, ignored);
    }
    return tl::unexpected(std::move(error));
  };
  {
    auto copy = Database::open(temporary, key, Database::Mode::create_new);
    if (!copy) {
      // Errc::exists: the file is not ours to remove.
      return copy.error().code == Errc::exists ? tl::unexpected(copy.error())
                                               : discard(copy.error());
    }
    if (auto copied = source.copy_to(*copy); !copied) return discard(copied.error());
    if (auto checked = copy->check_integrity(); !checked) return discard(checked.error());
    // Closing would fold the WAL into the file too, but silently: a full disk must show.
    if (auto folded = truncate_wal(*copy); !folded) return discard(folded.error());
  }
  if (auto encrypted = ensure_encrypted(temporary); !encrypted) return discard(encrypted.error());
  {
    auto reopened = Database::open(temporary, key, Database::Mode::open_existing);
    if (!reopened) return discard(reopened.error());
    if (auto checked = reopened->check_integrity(); !checked) return discard(checked.error());
  }
  if (auto synced = fsync_path(temporary, O_RDONLY); !synced) return discard(synced.error());
  return temporary;
}

// Moves a finished copy to `destination`, which must not exist (link refuses to replace).
tl::expected<void, Error> place_new(const fs::path& temporary, const fs::path& destination) {
  if (::link(temporary.c_str(), destination.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return failure(error == EEXIST ? Errc::exists : Errc::io,
                   destination.string() + ": " + std::strerror(error));
  }
  ::unlink(temporary.c_str());
  return fsync_path(directory_of(destination), O_RDONLY | O_DIRECTORY);
}

tl::expected<void, Error> refuse_existing(const fs::path& file) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(file, ec))) {
    return failure(Errc::exists, file.string() + ": already exists; refusing to overwrite it");
  }
  return {};
}

tl::expected<std::int64_t, Error> count(Database& db, std::string_view sql) {
  auto query = db.prepare(sql);
  if (!query) return tl::unexpected(query.error());
  auto row = query->step();
  if (!row) return tl::unexpected(row.error());
  return *row ? query->integer(0) : 0;
}

// Blobs that nothing owns, finished (1) or not (0).
constexpr const char* kUnownedBlobs =
    "DELETE FROM blobs WHERE complete = ? AND id NOT IN ("
    "SELECT report_blob_id FROM submissions UNION ALL SELECT blob_id FROM attachments "
    "UNION ALL SELECT blob_id FROM uploads UNION ALL SELECT blob_id FROM notes "
    "UNION ALL SELECT blob_id FROM replies);";

constexpr const char* kExpiredDrafts = "DELETE FROM drafts WHERE expires_hour <= ?;";
constexpr const char* kExpiredUploads = "DELETE FROM uploads WHERE expires_hour <= ?;";
constexpr const char* kExpiredNonces = "DELETE FROM signature_nonces WHERE expires_at <= ?;";

}  // namespace

tl::expected<void, Error> backup(const fs::path& database, const crypto::Secret& key,
                                 const fs::path& destination,
                                 const crypto::Secret& destination_key) {
  if (auto absent = refuse_existing(destination); !absent) return absent;
  auto source =
      Database::open(database, key, Database::Mode::open_existing, {.vfs = {}, .read_only = true});
  if (!source) return tl::unexpected(source.error());
  auto copy = copy_beside(*source, destination, destination_key);
  if (!copy) return tl::unexpected(copy.error());
  return place_new(*copy, destination);
}

tl::expected<void, Error> restore(const fs::path& backup_file, const crypto::Secret& backup_key,
                                  const fs::path& database, const crypto::Secret& key) {
  auto lock = DatabaseLock::acquire(database);
  if (!lock) return tl::unexpected(lock.error());
  if (auto absent = refuse_existing(database); !absent) return absent;
  // SQLite would replay a WAL left by the old database into the restored one.
  if (auto absent = refuse_existing(database.string() + "-wal"); !absent) {
    return failure(Errc::exists, absent.error().message +
                                     " (the write-ahead log of an old database: move it aside "
                                     "together with that database)");
  }
  auto source = Database::open(backup_file, backup_key, Database::Mode::open_existing,
                               {.vfs = {}, .read_only = true});
  if (!source) return tl::unexpected(source.error());
  if (auto checked = source->check_integrity(); !checked) {
    return failure(checked.error().code,
                   backup_file.string() + ": the backup is damaged: " + checked.error().message);
  }
  auto copy = copy_beside(*source, database, key);
  if (!copy) return tl::unexpected(copy.error());
  return place_new(*copy, database);
}

tl::expected<void, Error> rekey(const fs::path& database, const crypto::Secret& key,
                                const crypto::Secret& new_key) {
  auto lock = DatabaseLock::acquire(database);
  if (!lock) return tl::unexpected(lock.error());
  tl::expected<fs::path, Error> copy = fs::path();
  {
    auto source = Database::open(database, key, Database::Mode::open_existing);
    if (!source) return tl::unexpected(source.error());
    if (auto truncated = truncate_wal(*source); !truncated) return truncated;
    copy = copy_beside(*source, database, new_key);
    if (!copy) return tl::unexpected(copy.error());
  }
  // The old connection is closed and its WAL empty: nothing in the old key survives
  // beside the new file, and SQLite will not replay old frames into it.
  std::error_code ec;
  const fs::path wal = database.string() + "-wal";
  if (fs::exists(wal, ec) && fs::file_size(wal, ec) != 0) {
    ::unlink(copy->c_str());
    return failure(Errc::in_use, wal.string() +
                                     " is not empty; is another process using the "
                                     "database? Nothing was changed");
  }
  fs::remove(wal, ec);
  fs::remove(database.string() + "-shm", ec);
  if (::rename(copy->c_str(), database.c_str()) != 0) {
    const int error = errno;
    ::unlink(copy->c_str());
    return failure(Errc::io, database.string() + ": " + std::strerror(error));
  }
  return fsync_path(directory_of(database), O_RDONLY | O_DIRECTORY);
}

tl::expected<ExpiredCounts, Error> drop_expired(Database& db, std::int64_t now) {
  constexpr std::int64_t kSecondsPerHour = 3600;
  ExpiredCounts counts;
  struct Step {
    std::int64_t ExpiredCounts::*counter = nullptr;
    const char* sql = nullptr;
    std::int64_t parameter = 0;
  };
  for (const Step& step : {Step{&ExpiredCounts::drafts, kExpiredDrafts, now / kSecondsPerHour},
                           Step{&ExpiredCounts::uploads, kExpiredUploads, now / kSecondsPerHour},
                           Step{&ExpiredCounts::nonces, kExpiredNonces, now}}) {
    auto statement = db.prepare(step.sql);
    if (!statement) return tl::unexpected(statement.error());
    if (auto ran = statement->bind(step.parameter).run(); !ran) return tl::unexpected(ran.error());
    counts.*step.counter = db.changes();
  }
  return counts;
}

tl::expected<std::int64_t, Error> drop_abandoned_blobs(Database& db) {
  auto statement = db.prepare(kUnownedBlobs);
  if (!statement) return tl::unexpected(statement.error());
  if (auto ran = statement->bind(0).run(); !ran) return tl::unexpected(ran.error());
  return db.changes();
}

tl::expected<PurgeCounts, Error> purge(const fs::path& database, const crypto::Secret& key,
                                       const RetentionPolicy& policy) {
  auto db = Database::open(database, key, Database::Mode::open_existing);
  if (!db) return tl::unexpected(db.error());
  if (auto migrated = db->migrate(); !migrated) return tl::unexpected(migrated.error());

  constexpr std::int64_t kSecondsPerDay = 86400;
  constexpr std::int64_t kSecondsPerHour = 3600;
  const std::int64_t today = policy.now / kSecondsPerDay;
  const std::int64_t this_hour = policy.now / kSecondsPerHour;
  // Nothing is older than day -1 when retention is unlimited.
  const std::int64_t last_day_to_drop =
      policy.older_than_days ? today - *policy.older_than_days : -1;

  struct Step {
    std::int64_t PurgeCounts::*counter = nullptr;
    const char* sql = nullptr;
    std::optional<std::int64_t> parameter;
  };
  const std::array steps = {
      Step{&PurgeCounts::submissions, "DELETE FROM submissions WHERE received_day <= ?;",
           last_day_to_drop},
      Step{&PurgeCounts::drafts, kExpiredDrafts, this_hour},
      Step{&PurgeCounts::uploads, kExpiredUploads, this_hour},
      Step{&PurgeCounts::sources,
           "DELETE FROM sources WHERE last_seen_day <= ? "
           "AND id NOT IN (SELECT source_id FROM submissions WHERE source_id IS NOT NULL) "
           "AND id NOT IN (SELECT source_id FROM drafts WHERE source_id IS NOT NULL);",
           last_day_to_drop},
      // Only finished blobs: an unfinished one without an owner may be a form post that a
      // live server is still receiving (drop_abandoned_blobs takes those at server start).
      Step{&PurgeCounts::blobs, kUnownedBlobs, 1},
      Step{&PurgeCounts::nonces, kExpiredNonces, policy.now},
  };

  PurgeCounts counts;
  if (auto begun = db->exec("BEGIN IMMEDIATE;"); !begun) return tl::unexpected(begun.error());
  for (const Step& step : steps) {
    auto statement = db->prepare(step.sql);
    if (statement && step.parameter) statement->bind_at(1, *step.parameter);
    tl::expected<void, Error> ran =
        statement ? statement->run() : tl::expected<void, Error>(tl::unexpected(statement.error()));
    if (!ran) {
      if (db->in_transaction()) (void)db->exec("ROLLBACK;");
      return tl::unexpected(ran.error());
    }
    counts.*step.counter = db->changes();
  }
  if (auto committed = db->exec("COMMIT;"); !committed) {
    if (db->in_transaction()) (void)db->exec("ROLLBACK;");
    return tl::unexpected(committed.error());
  }
  if (auto truncated = truncate_wal(*db); !truncated) return tl::unexpected(truncated.error());
  return counts;
}

tl::expected<void, Error> vacuum(const fs::path& database, const crypto::Secret& key) {
  auto db = Database::open(database, key, Database::Mode::open_existing);
  if (!db) return tl::unexpected(db.error());
  if (auto vacuumed = db->vacuum(); !vacuumed) return vacuumed;
  return truncate_wal(*db);
}

tl::expected<CheckReport, Error> check(const fs::path& database, const crypto::Secret& key) {
  auto db =
      Database::open(database, key, Database::Mode::open_existing, {.vfs = {}, .read_only = true});
  if (!db) return tl::unexpected(db.error());
  if (auto checked = db->check_integrity(); !checked) return tl::unexpected(checked.error());
  CheckReport report;
  auto version = db->schema_version();
  if (!version) return tl::unexpected(version.error());
  report.schema_version = *version;
  if (*version > 0) {
    auto submissions = count(*db, "SELECT count(*) FROM submissions;");
    if (!submissions) return tl::unexpected(submissions.error());
    auto blobs = count(*db, "SELECT count(*) FROM blobs;");
    if (!blobs) return tl::unexpected(blobs.error());
    report.submissions = *submissions;
    report.blobs = *blobs;
  }
  std::error_code ec;
  report.bytes = static_cast<std::int64_t>(fs::file_size(database, ec));
  return report;
}

}  // namespace tipline::storage
