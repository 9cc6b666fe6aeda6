#include "tipline/storage/database.h"

#include <fcntl.h>
#include <sqlcipher/sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_map>
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

Errc errc_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return Errc::key_mismatch;
    case SQLITE_FULL:
      return Errc::full;
    case SQLITE_CONSTRAINT:
      return Errc::constraint;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Errc::in_use;
    default:
      return Errc::io;
  }
}

tl::unexpected<Error> sqlite_failure(sqlite3* db, int rc, std::string_view what) {
  if ((rc & 0xff) == SQLITE_NOTADB) {
    return failure(Errc::key_mismatch, "database key does not match this database");
  }
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if ((rc & 0xff) == SQLITE_FULL) message += " (the disk is full)";
  return failure(errc_of(rc), std::move(message));
}

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
      // Step to the end: a pragma's effect (and its failure) can come after its row.
      while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      }
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(statement);
  if (rc != SQLITE_OK) return sqlite_failure(db, rc, sql);
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
  // temp_store = MEMORY: sorts and VACUUM never spill to an unencrypted temporary file.
  for (const char* pragma : {"PRAGMA synchronous = FULL;", "PRAGMA secure_delete = ON;",
                             "PRAGMA foreign_keys = ON;", "PRAGMA temp_store = MEMORY;"}) {
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

tl::expected<Database, Error> Database::connect(const fs::path& file, const crypto::Secret& key,
                                                const Options& options) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                 options.vfs.empty() ? nullptr : options.vfs.c_str());
  Database database(raw);  // closes the handle on every path, even when open failed
  if (rc != SQLITE_OK) {
    return failure(Errc::io, std::string("cannot open database: ") +
                                 (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  if (auto configured = configure(raw, key); !configured) {
    return tl::unexpected(configured.error());
  }
  return database;
}

tl::expected<Database, Error> Database::open(const fs::path& file, const crypto::Secret& key,
                                             Mode mode, const Options& options) {
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

  auto database = connect(file, key, options);
  // A failed read of the salt looks exactly like a wrong key (SQLCipher makes up a salt),
  // so a wrong key is reported only when a second attempt agrees.
  if (!database && database.error().code == Errc::key_mismatch) {
    database = connect(file, key, options);
  }
  if (!database) {
    Error error = database.error();
    error.message = file.string() + ": " + error.message;
    return tl::unexpected(std::move(error));
  }
  sqlite3* raw = database->db_;
  // A busy wait only matters for another process (tipline-server db backup, check).
  sqlite3_busy_timeout(raw, 5000);
  if (options.read_only) {
    if (auto set = query_text(raw, "PRAGMA query_only = ON;"); !set) {
      return tl::unexpected(set.error());
    }
  }
  database->install_authorizer();
  return database;
}

// Idle compiled statements by SQL text. Bounded: past the bound, returned statements are
// finalized instead of kept.
struct Statement::Cache {
  static constexpr std::size_t kMaxIdle = 64;
  std::unordered_multimap<std::string, sqlite3_stmt*> idle;

  ~Cache() {
    for (auto& [sql, statement] : idle) sqlite3_finalize(statement);
  }
  void give_back(sqlite3_stmt* statement) {
    if (idle.size() >= kMaxIdle) {
      sqlite3_finalize(statement);
      return;
    }
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    idle.emplace(sqlite3_sql(statement), statement);
  }
  sqlite3_stmt* take(std::string_view sql) {
    const auto found = idle.find(std::string(sql));
    if (found == idle.end()) return nullptr;
    sqlite3_stmt* statement = found->second;
    idle.erase(found);
    return statement;
  }
};

Database::Database(sqlite3* db) : db_(db), cache_(std::make_unique<Statement::Cache>()) {}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      cache_(std::move(other.cache_)),
      schema_changes_allowed_(other.schema_changes_allowed_) {
  if (db_ != nullptr) install_authorizer();
}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    cache_.reset();
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
    schema_changes_allowed_ = other.schema_changes_allowed_;
    if (db_ != nullptr) install_authorizer();
  }
  return *this;
}

Database::~Database() {
  cache_.reset();  // finalizes the idle statements, so the close below is complete
  sqlite3_close_v2(db_);
}

// The authorizer is registered with `this`, so a move registers it again.
void Database::install_authorizer() { sqlite3_set_authorizer(db_, &Database::authorize, this); }

int Database::authorize(void* self, int action, const char* arg1, const char* arg2,
                        const char* /*database*/, const char* /*trigger*/) {
  const auto* database = static_cast<const Database*>(self);
  const auto named = [](const char* arg, std::string_view name) {
    return arg != nullptr && std::string_view(arg) == name;
  };
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      return SQLITE_DENY;
    case SQLITE_FUNCTION:
      return named(arg2, "load_extension") ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_PRAGMA:
      // writable_schema bypasses the checks below; rekey goes through copy_to instead.
      return named(arg1, "writable_schema") || named(arg1, "rekey") ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_ALTER_TABLE:
      return database->schema_changes_allowed_ ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      if (named(arg1, "sqlite_master") || named(arg1, "sqlite_temp_master")) {
        return database->schema_changes_allowed_ ? SQLITE_OK : SQLITE_DENY;
      }
      return SQLITE_OK;
    default:
      return SQLITE_OK;
  }
}

tl::expected<Statement, Error> Database::prepare(std::string_view sql) {
  if (sqlite3_stmt* cached = cache_->take(sql)) return Statement(cached, db_, cache_.get());
  sqlite3_stmt* statement = nullptr;
  const int rc =
      sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
  if (rc != SQLITE_OK) return sqlite_failure(db_, rc, sql);
  return Statement(statement, db_, cache_.get());
}

tl::expected<void, Error> Database::exec(const std::string& sql) {
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_failure(db_, rc, sql);
  return {};
}

std::int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
std::int64_t Database::changes() const { return sqlite3_changes(db_); }
bool Database::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

tl::expected<int, Error> Database::schema_version() {
  auto version = query_text(db_, "PRAGMA user_version;");
  if (!version) return tl::unexpected(version.error());
  return std::stoi(*version);
}

tl::expected<void, Error> Database::check_integrity() {
  auto result = query_text(db_, "PRAGMA integrity_check;");
  if (!result) return tl::unexpected(result.error());
  if (*result != "ok") return failure(Errc::io, "integrity check failed: " + *result);
  auto orphan = query_text(db_, "PRAGMA foreign_key_check;");
  if (!orphan) return tl::unexpected(orphan.error());
  if (!orphan->empty()) {
    return failure(Errc::io, "foreign key check failed: a row in table " + *orphan +
                                 " refers to a row that does not exist");
  }
  return {};
}

tl::expected<void, Error> Database::vacuum() {
  // VACUUM attaches and fills a scratch database internally; it takes no user input.
  sqlite3_set_authorizer(db_, nullptr, nullptr);
  auto vacuumed = exec("VACUUM;");
  install_authorizer();
  return vacuumed;
}

tl::expected<void, Error> Database::copy_to(Database& destination) {
  sqlite3_backup* backup = sqlite3_backup_init(destination.db_, "main", db_, "main");
  if (backup == nullptr) {
    return sqlite_failure(destination.db_, sqlite3_errcode(destination.db_), "cannot copy");
  }
  // One step over every page: the copy is a single consistent snapshot of the source.
  const int step = sqlite3_backup_step(backup, -1);
  const int finish = sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) return sqlite_failure(destination.db_, step, "copy failed");
  if (finish != SQLITE_OK) return sqlite_failure(destination.db_, finish, "copy failed");
  return {};
}

Statement::Statement(Statement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)), db_(other.db_), cache_(other.cache_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    statement_ = std::exchange(other.statement_, nullptr);
    db_ = other.db_;
    cache_ = other.cache_;
  }
  return *this;
}

Statement::~Statement() { release(); }

void Statement::release() {
  if (statement_ == nullptr) return;
  if (cache_ != nullptr) {
    cache_->give_back(std::exchange(statement_, nullptr));
  } else {
    sqlite3_finalize(std::exchange(statement_, nullptr));
  }
}

Statement& Statement::bind_at(int index, std::int64_t value) {
  [[maybe_unused]] const int rc = sqlite3_bind_int64(statement_, index, value);
  assert(rc == SQLITE_OK && "parameter index out of range");
  return *this;
}

Statement& Statement::bind_at(int index, std::string_view text) {
  [[maybe_unused]] const int rc = sqlite3_bind_text(
      statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  assert(rc == SQLITE_OK && "parameter index out of range");
  return *this;
}

Statement& Statement::bind_at(int index, std::span<const std::byte> bytes) {
  // A zero-length span may carry a null pointer, which SQLite would bind as NULL.
  static constexpr std::byte kEmpty{};
  [[maybe_unused]] const int rc =
      sqlite3_bind_blob(statement_, index, bytes.empty() ? &kEmpty : bytes.data(),
                        static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  assert(rc == SQLITE_OK && "parameter index out of range");
  return *this;
}

Statement& Statement::bind_at(int index, std::nullopt_t /*null*/) {
  [[maybe_unused]] const int rc = sqlite3_bind_null(statement_, index);
  assert(rc == SQLITE_OK && "parameter index out of range");
  return *this;
}

tl::expected<bool, Error> Statement::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  auto error = sqlite_failure(db_, rc, sqlite3_sql(statement_));
  sqlite3_reset(statement_);
  return error;
}

tl::expected<void, Error> Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

int Statement::columns() const { return sqlite3_column_count(statement_); }

bool Statement::is_null(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_, column);
}

std::string Statement::text(int column) const {
  const auto* text = sqlite3_column_text(statement_, column);
  const int size = sqlite3_column_bytes(statement_, column);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), size);
}

std::span<const std::byte> Statement::bytes(int column) const {
  const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(statement_, column));
  const int size = sqlite3_column_bytes(statement_, column);
  return data == nullptr ? std::span<const std::byte>() : std::span(data, size);
}

}  // namespace tipline::storage
