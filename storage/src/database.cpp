#include "tipline/storage/database.h"

#include <fcntl.h>
#include <sqlcipher/sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int error) { return std::strerror(error); }

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Runs one statement and returns the first column of its first row ("" when no row).
tl::expected<std::string, Error> query_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &statement, nullptr);
  std::string value;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) {
      if (const auto* text = sqlite3_column_text(statement, 0)) {
        value = reinterpret_cast<const char*>(text);
      }
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(statement);
  if (rc == SQLITE_NOTADB) {
    return failure(Errc::key_mismatch, "database key does not match this database");
  }
  if (rc != SQLITE_OK) {
    return failure(Errc::io, std::string(sql) + ": " + sqlite3_errmsg(db));
  }
  return value;
}

// Sets the raw key. The statement text holds the key, so it is built in secret memory.
tl::expected<void, Error> apply_key(sqlite3* db, const crypto::Secret& key) {
  constexpr std::string_view kPrefix = "PRAGMA key = \"x'";
  constexpr std::string_view kSuffix = "'\";";
  const crypto::Secret hex = key.to_hex();
  crypto::Secret statement(kPrefix.size() + hex.size() + kSuffix.size() + 1);  // + NUL
  auto out = statement.expose().begin();
  out = std::copy(kPrefix.begin(), kPrefix.end(), out);
  out = std::copy(hex.expose().begin(), hex.expose().end(), out);
  std::copy(kSuffix.begin(), kSuffix.end(), out);
  const int rc = sqlite3_exec(db, reinterpret_cast<const char*>(statement.expose().data()), nullptr,
                              nullptr, nullptr);
  if (rc != SQLITE_OK)
    return failure(Errc::io, std::string("cannot set key: ") + sqlite3_errmsg(db));
  return {};
}

tl::expected<void, Error> configure(sqlite3* db, const crypto::Secret& key) {
  if (auto keyed = apply_key(db, key); !keyed) return keyed;
  // Must follow the key and precede the first read of a page.
  if (auto page = query_text(db, "PRAGMA cipher_page_size = 4096;"); !page) {
    return tl::unexpected(page.error());
  }
  auto version = query_text(db, "PRAGMA cipher_version;");
  if (!version) return tl::unexpected(version.error());
  if (version->empty()) {
    return failure(Errc::not_sqlcipher,
                   "the linked SQLite library has no encryption (PRAGMA cipher_version is empty); "
                   "refusing to store anything");
  }
  // The first read of page 1 is where a wrong key shows.
  if (auto read = query_text(db, "SELECT count(*) FROM sqlite_master;"); !read) {
    return tl::unexpected(read.error());
  }
  auto journal = query_text(db, "PRAGMA journal_mode = WAL;");
  if (!journal) return tl::unexpected(journal.error());
  if (*journal != "wal") return failure(Errc::io, "cannot switch the database to WAL mode");
  for (const char* pragma :
       {"PRAGMA synchronous = FULL;", "PRAGMA secure_delete = ON;", "PRAGMA foreign_keys = ON;"}) {
    if (auto set = query_text(db, pragma); !set) return tl::unexpected(set.error());
  }
  return {};
}

}  // namespace

tl::expected<crypto::Secret, Error> read_key_file(const fs::path& file) {
  const FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    return failure(Errc::key_file, file.string() + ": cannot read key file: " + errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return failure(Errc::key_file, file.string() + ": key file is not a regular file");
  }
  if ((info.st_mode & 077) != 0) {
    return failure(Errc::key_file, file.string() +
                                       ": key file is accessible by group or others; "
                                       "run chmod 600 on it");
  }
  // Room for the digits plus a little whitespace; anything longer is not a key file.
  crypto::Secret text(kKeyBytes * 2 + 16);
  std::size_t length = 0;
  while (length < text.size()) {
    const ssize_t n = ::read(fd.get(), text.expose().data() + length, text.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(Errc::key_file, file.string() + ": " + errno_text(errno));
    if (n == 0) break;
    length += static_cast<std::size_t>(n);
  }
  const std::string_view digits(reinterpret_cast<const char*>(text.expose().data()), length);
  auto key = crypto::Secret::from_hex(digits);
  if (length == text.size() || !key || key->size() != kKeyBytes) {
    return failure(Errc::key_file,
                   file.string() + ": a database key file holds exactly 64 hex digits");
  }
  return std::move(*key);
}

tl::expected<void, Error> create_key_file(const fs::path& file) {
  const FileDescriptor fd(
      ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    return failure(errno == EEXIST ? Errc::exists : Errc::key_file,
                   file.string() + ": cannot create key file: " + errno_text(errno));
  }
  crypto::Secret hex = crypto::Secret::random(kKeyBytes).to_hex();
  const auto bytes = hex.expose();
  if (::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
      ::write(fd.get(), "\n", 1) != 1 || ::fsync(fd.get()) != 0) {
    const std::string reason = errno_text(errno);
    ::unlink(file.c_str());
    return failure(Errc::key_file, file.string() + ": cannot write key file: " + reason);
  }
  return {};
}

tl::expected<Database, Error> Database::open(const fs::path& file, const crypto::Secret& key,
                                             Mode mode) {
  if (key.size() != kKeyBytes) {
    return failure(Errc::key_file, "a database key is exactly 32 bytes");
  }
  if (mode == Mode::create_new) {
    // Create the empty file first: O_EXCL refuses to overwrite, and the mode is 0600 from
    // the start rather than after a window in which the file was readable.
    const FileDescriptor fd(
        ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) {
      return failure(errno == EEXIST ? Errc::exists : Errc::io,
                     file.string() + ": cannot create database: " + errno_text(errno));
    }
  } else if (std::error_code ec; !fs::is_regular_file(file, ec)) {
    return failure(Errc::not_found, file.string() +
                                        ": database file does not exist (create an instance "
                                        "with `tipline-server init`)");
  }

  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database database(raw);  // closes the handle on every path, even when open failed
  if (rc != SQLITE_OK) {
    return failure(Errc::io, file.string() + ": cannot open database: " +
                                 (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  if (auto configured = configure(raw, key); !configured) {
    Error error = configured.error();
    error.message = file.string() + ": " + error.message;
    return tl::unexpected(std::move(error));
  }
  return database;
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Database::~Database() { sqlite3_close_v2(db_); }

tl::expected<void, Error> Database::check_integrity() {
  auto result = query_text(db_, "PRAGMA integrity_check;");
  if (!result) return tl::unexpected(result.error());
  if (*result != "ok") return failure(Errc::io, "integrity check failed: " + *result);
  return {};
}

}  // namespace tipline::storage
