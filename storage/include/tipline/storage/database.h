// One connection to the SQLCipher store.
//
// A Database is opened with a raw 32-byte key (never a passphrase), checks at open that
// SQLCipher (not plain SQLite) is linked, turns a wrong key into Errc::key_mismatch, and
// installs an authorizer that refuses ATTACH, load_extension, virtual tables and schema
// changes outside the migrations (see store.h, which runs them).
// Ownership: a Database owns its connection and closes it when destroyed; a Statement
// must not outlive the Database that prepared it.
// Thread safety: one Database (and its statements) may be used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "tipline/crypto/secret.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tipline::storage {

enum class Errc {
  key_file,        // the key file is missing, unreadable, malformed or open to group/others
  key_mismatch,    // the key does not open this database
  not_sqlcipher,   // the linked SQLite has no encryption: refuse to store anything
  not_found,       // the database file (or a row asked for) does not exist
  exists,          // refusing to overwrite an existing file
  in_use,          // another process holds the database (a running tipline-server)
  schema_too_new,  // the database was written by a newer Tipline
  constraint,      // a write broke a constraint (unique, foreign key, check)
  full,            // the disk is full
  io,              // any other SQLite or file-system failure
};

struct Error {
  Errc code;
  std::string message;
};

inline constexpr std::size_t kKeyBytes = 32;

// Reads a key file: 64 hex digits (whitespace around them ignored). Refuses a file that
// group or others may access, checked on the open file itself.
[[nodiscard]] tl::expected<crypto::Secret, Error> read_key_file(const std::filesystem::path& file);

// Writes a fresh random key to a new file with mode 0600; never overwrites.
[[nodiscard]] tl::expected<void, Error> create_key_file(const std::filesystem::path& file);

// A prepared statement. Parameters are numbered from 1, result columns from 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds the arguments to parameters 1..N in order. The statement keeps its own copy.
  template <typename... Args>
  Statement& bind(const Args&... args) {
    int index = 0;
    (bind_at(++index, args), ...);
    return *this;
  }
  Statement& bind_at(int index, std::int64_t value);
  Statement& bind_at(int index, int value) { return bind_at(index, std::int64_t{value}); }
  Statement& bind_at(int index, std::string_view text);
  Statement& bind_at(int index, const char* text) { return bind_at(index, std::string_view(text)); }
  Statement& bind_at(int index, std::span<const std::byte> bytes);
  Statement& bind_at(int index, std::nullopt_t);
  template <typename T>
  Statement& bind_at(int index, const std::optional<T>& value) {
    return value ? bind_at(index, *value) : bind_at(index, std::nullopt);
  }

  // Steps once: true when a row is ready to read, false when the statement is done.
  [[nodiscard]] tl::expected<bool, Error> step();
  // Steps to the end, for statements that return no rows.
  [[nodiscard]] tl::expected<void, Error> run();
  // Rewinds the statement so it can run again with new bindings.
  void reset();

  // The number of result columns.
  [[nodiscard]] int columns() const;
  [[nodiscard]] bool is_null(int column) const;
  [[nodiscard]] std::int64_t integer(int column) const;
  [[nodiscard]] std::string text(int column) const;
  // Valid until the next step, reset or destruction.
  [[nodiscard]] std::span<const std::byte> bytes(int column) const;

 private:
  friend class Database;
  struct Cache;
  void release();
  Statement(sqlite3_stmt* statement, sqlite3* db, Cache* cache)
      : statement_(statement), db_(db), cache_(cache) {}

  sqlite3_stmt* statement_ = nullptr;
  sqlite3* db_ = nullptr;
  Cache* cache_ = nullptr;  // where the statement goes back to when destroyed
};

class Database {
 public:
  enum class Mode { open_existing, create_new };

  struct Options {
    // The SQLite VFS to open the file with; empty means the system's default. Tests use
    // it to inject faults.
    std::string vfs;
    // A connection that may only read (PRAGMA query_only).
    bool read_only = false;
  };

  // create_new refuses an existing file and creates the database with mode 0600.
  [[nodiscard]] static tl::expected<Database, Error> open(const std::filesystem::path& file,
                                                          const crypto::Secret& key, Mode mode,
                                                          const Options& options);
  [[nodiscard]] static tl::expected<Database, Error> open(const std::filesystem::path& file,
                                                          const crypto::Secret& key, Mode mode) {
    return open(file, key, mode, Options{});
  }

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Compiled statements are kept and reused, so preparing the same text again is cheap.
  [[nodiscard]] tl::expected<Statement, Error> prepare(std::string_view sql);
  // Runs one or more statements that take no parameters.
  [[nodiscard]] tl::expected<void, Error> exec(const std::string& sql);

  // The rowid of the last row this connection inserted, and the rows the last statement
  // changed.
  [[nodiscard]] std::int64_t last_insert_id() const;
  [[nodiscard]] std::int64_t changes() const;
  // True while a transaction is open (SQLite rolls one back by itself on some I/O errors).
  [[nodiscard]] bool in_transaction() const;

  // PRAGMA user_version: the number of the last migration applied.
  [[nodiscard]] tl::expected<int, Error> schema_version();
  // Runs SQLite's integrity check over every page and the foreign key check.
  [[nodiscard]] tl::expected<void, Error> check_integrity();
  // Copies every live page, re-encrypted with the destination's key, into `destination`,
  // a keyed database that the copy replaces. Reads one consistent snapshot.
  [[nodiscard]] tl::expected<void, Error> copy_to(Database& destination);

  // Rebuilds the file without free pages (VACUUM, which the authorizer would refuse).
  [[nodiscard]] tl::expected<void, Error> vacuum();

  // Brings the schema to `version` (default: the newest this build knows), one numbered
  // migration per transaction. Refuses a database newer than this build. Schema changes
  // are refused by the authorizer at any other time.
  [[nodiscard]] tl::expected<void, Error> migrate(std::optional<int> version = std::nullopt);

 private:
  explicit Database(sqlite3* db);
  // Opens and keys one connection, without the file checks of open().
  static tl::expected<Database, Error> connect(const std::filesystem::path& file,
                                               const crypto::Secret& key, const Options& options);
  void install_authorizer();
  static int authorize(void* self, int action, const char* arg1, const char* arg2,
                       const char* database, const char* trigger);

  sqlite3* db_ = nullptr;
  std::unique_ptr<Statement::Cache> cache_;
  bool schema_changes_allowed_ = false;
};

}  // namespace tipline::storage
