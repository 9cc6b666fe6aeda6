#include "database_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "tipline/crypto/secret.h"
#include "tipline/storage/database.h"
#include "tipline/storage/maintenance.h"

namespace tipline::server::db {
namespace {

namespace fs = std::filesystem;

tl::unexpected<Error> failure(std::string message) {
  return tl::unexpected(Error{Errc::database, std::move(message)});
}

bool present(const fs::path& file) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(file, ec));
}

std::int64_t size_of(const fs::path& file) {
  std::error_code ec;
  const auto bytes = fs::file_size(file, ec);
  return ec ? 0 : static_cast<std::int64_t>(bytes);
}

// The shell command that moves `from` to `to`, for messages that tell the operator how.
std::string move_command(const fs::path& from, const fs::path& to) {
  return "`mv " + from.string() + " " + to.string() + "`";
}

tl::expected<crypto::Secret, Error> read_key(const fs::path& file) {
  auto key = storage::read_key_file(file);
  if (!key) return failure(key.error().message);
  return std::move(*key);
}

// A rename is durable only once the folder holding it is synced.
tl::expected<void, Error> sync_folder_of(const fs::path& file) {
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return failure(folder.string() + ": " + std::strerror(errno));
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0) return failure(folder.string() + ": fsync: " + std::strerror(error));
  return {};
}

bool opens_with(const fs::path& database, const crypto::Secret& key) {
  return storage::Database::open(database, key, storage::Database::Mode::open_existing,
                                 {.vfs = {}, .read_only = true})
      .has_value();
}

// The key for a backup file: read from key_file, or a fresh one written to it when it
// does not exist yet (`created` then says so, so that a failed backup can remove it).
tl::expected<crypto::Secret, Error> backup_key(const fs::path& key_file, bool& created) {
  if (!present(key_file)) {
    if (auto made = storage::create_key_file(key_file); !made) return failure(made.error().message);
    created = true;
  }
  return read_key(key_file);
}

}  // namespace

tl::expected<void, Error> check(const config::Config& config, std::ostream& out) {
  auto key = read_key(config.database_key_file);
  if (!key) return tl::unexpected(key.error());
  auto report = storage::check(config.database_file, *key);
  if (!report) return failure(report.error().message);
  out << config.database_file.string() << ": integrity and foreign key checks passed\n"
      << "  schema version: " << report->schema_version << '\n'
      << "  submissions: " << report->submissions << '\n'
      << "  blobs: " << report->blobs << '\n'
      << "  file size: " << report->bytes << " bytes\n";
  return {};
}

tl::expected<void, Error> backup(const config::Config& config, const fs::path& output,
                                 const std::optional<fs::path>& key_file, std::ostream& out) {
  // Checked before a key file is made for it; storage::backup checks again.
  if (present(output)) {
    return failure(output.string() + ": already exists; backup never overwrites a file");
  }
  auto key = read_key(config.database_key_file);
  if (!key) return tl::unexpected(key.error());
  bool created = false;
  std::optional<crypto::Secret> own_key;
  if (key_file) {
    auto read = backup_key(*key_file, created);
    if (!read) return tl::unexpected(read.error());
    own_key = std::move(*read);
  }
  if (auto copied = storage::backup(config.database_file, *key, output, own_key ? *own_key : *key);
      !copied) {
    // A key that encrypts nothing would only mislead whoever finds it later.
    if (created) ::unlink(key_file->c_str());
    return failure(copied.error().message);
  }
  if (!key_file) {
    out << "Wrote the backup " << output.string()
        << ", encrypted with this instance's own database key ("
        << config.database_key_file.string()
        << ").\nRestoring it needs that key: keep a copy of the key file in a safe place, apart "
           "from the backup.\n";
    return {};
  }
  if (created) {
    out << "Created a new backup key file " << key_file->string() << " (mode 0600).\n";
  }
  out << "Wrote the backup " << output.string() << ", encrypted with the key in "
      << key_file->string() << ".\n";
  if (created) {
    out << "Keep " << key_file->string()
        << " apart from the backup: restoring needs it, and anyone who holds both can open "
           "the backup.\n";
  }
  return {};
}

tl::expected<void, Error> restore(const config::Config& config, const fs::path& input,
                                  const std::optional<fs::path>& key_file, std::ostream& out) {
  if (!present(input)) return failure(input.string() + ": backup file does not exist");
  const fs::path& database = config.database_file;
  const fs::path wal = database.string() + "-wal";
  // SQLite would replay a write-ahead log left by a database moved away into the restored
  // one. While a server runs the database exists, so storage::restore reports that first.
  if (!present(database) && present(wal)) {
    return failure(wal.string() + ": a write-ahead log is left without its database; move it " +
                   "aside with the database it belongs to (and its -shm file, if any), then " +
                   "run restore again");
  }
  auto key = read_key(config.database_key_file);
  if (!key) return tl::unexpected(key.error());
  std::optional<crypto::Secret> own_key;
  if (key_file) {
    auto read = read_key(*key_file);
    if (!read) return tl::unexpected(read.error());
    own_key = std::move(*read);
  }
  if (auto restored = storage::restore(input, own_key ? *own_key : *key, database, *key);
      !restored) {
    std::string message = restored.error().message;
    if (restored.error().code == storage::Errc::exists) {
      message += "\nrestore never overwrites a database: move it aside first, for example " +
                 move_command(database, database.string() + ".old") +
                 " (with its -wal and -shm files, if any), then run restore again";
    } else if (restored.error().code == storage::Errc::key_mismatch) {
      message += key_file ? " (is " + key_file->string() + " the key this backup was made with?)"
                          : " (a backup made with --key-file needs the same --key-file)";
    }
    return failure(std::move(message));
  }
  out << "Restored " << input.string() << " as " << database.string()
      << ", encrypted with this instance's database key (" << config.database_key_file.string()
      << ").\nCheck it with: tipline-server db check --config " << config.file.string() << '\n';
  return {};
}

tl::expected<void, Error> rekey(const config::Config& config,
                                const std::optional<fs::path>& new_key_file, std::ostream& out) {
  const fs::path& database = config.database_file;
  const fs::path& key_file = config.database_key_file;
  auto key = read_key(key_file);
  if (!key) return tl::unexpected(key.error());
  const fs::path target = new_key_file ? *new_key_file : fs::path(key_file.string() + ".new");
  if (auto made = storage::create_key_file(target); !made) {
    if (!new_key_file && made.error().code == storage::Errc::exists) {
      return failure(target.string() + " already exists: an earlier rekey was interrupted. If " +
                     key_file.string() + " no longer opens the database (db check says the " +
                     "key does not match), " + target.string() +
                     " holds its key: " + move_command(target, key_file) + ". Otherwise delete " +
                     target.string() + ". Then run rekey again.");
    }
    return failure(made.error().message);
  }
  auto new_key = read_key(target);
  if (!new_key) {
    ::unlink(target.c_str());
    return tl::unexpected(new_key.error());
  }
  if (auto rekeyed = storage::rekey(database, *key, *new_key); !rekeyed) {
    // rekey can fail after the new file is in place (syncing its folder): then only the
    // new key opens the database, and deleting it would lose everything.
    if (!opens_with(database, *new_key)) {
      ::unlink(target.c_str());
      return failure(rekeyed.error().message);
    }
    return failure(rekeyed.error().message + "\nThe database is nevertheless encrypted with the " +
                   "new key in " + target.string() +
                   (new_key_file ? "; set database.key_file to it"
                                 : "; put it in place with " + move_command(target, key_file)));
  }
  if (new_key_file) {
    const fs::path absolute = fs::absolute(*new_key_file);
    out << "Re-encrypted " << database.string() << " with a new random key, written to "
        << absolute.string() << " (mode 0600).\nNow set database.key_file in "
        << config.file.string() << " to " << absolute.string() << " ([database] key_file = \""
        << absolute.string() << "\"): the old key file " << key_file.string()
        << " no longer opens the database, and the server will not start until you do.\n";
    return {};
  }
  if (::rename(target.c_str(), key_file.c_str()) != 0) {
    return failure(key_file.string() + ": " + std::strerror(errno) + "\nThe database is " +
                   "encrypted with the new key in " + target.string() + "; put it in place with " +
                   move_command(target, key_file));
  }
  if (auto synced = sync_folder_of(key_file); !synced) return synced;
  out << "Re-encrypted " << database.string() << " with a new random key, now in "
      << key_file.string() << ".\nThe old key no longer opens the database; backups made "
      << "with it still need it.\n";
  return {};
}

tl::expected<void, Error> purge(const config::Config& config, std::optional<int> older_than_days,
                                std::ostream& out) {
  auto key = read_key(config.database_key_file);
  if (!key) return tl::unexpected(key.error());
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  auto counts =
      storage::purge(config.database_file, *key, {.older_than_days = older_than_days, .now = now});
  if (!counts) return failure(counts.error().message);
  out << "Purged " << config.database_file.string() << ":\n  submissions: " << counts->submissions;
  if (older_than_days) {
    out << " (received " << *older_than_days << " days ago or earlier)\n";
  } else {
    out << " (all kept: no --older-than)\n";
  }
  out << "  drafts: " << counts->drafts << " (expired)\n"
      << "  uploads: " << counts->uploads << " (expired)\n"
      << "  sources: " << counts->sources << '\n'
      << "  blobs: " << counts->blobs << " (orphaned)\n"
      << "  nonces: " << counts->nonces << " (expired)\n"
      << "The write-ahead log was truncated: nothing deleted is left in it.\n";
  return {};
}

tl::expected<void, Error> vacuum(const config::Config& config, std::ostream& out) {
  auto key = read_key(config.database_key_file);
  if (!key) return tl::unexpected(key.error());
  const std::int64_t before = size_of(config.database_file);
  if (auto vacuumed = storage::vacuum(config.database_file, *key); !vacuumed) {
    return failure(vacuumed.error().message);
  }
  out << "Vacuumed " << config.database_file.string() << ": " << before << " bytes before, "
      << size_of(config.database_file) << " bytes after; the write-ahead log was truncated.\n";
  return {};
}

}  // namespace tipline::server::db
