// The SQLCipher store.
//
// A Database is opened with a raw 32-byte key (never a passphrase), checks at open that
// SQLCipher (not plain SQLite) is linked, and turns a wrong key into Errc::key_mismatch.
// Ownership: a Database owns its connection and closes it when destroyed.
// Thread safety: one Database may be used by one thread at a time.
#pragma once

#include <filesystem>
#include <string>
#include <tl/expected.hpp>

#include "tipline/crypto/secret.h"

struct sqlite3;

namespace tipline::storage {

enum class Errc {
  key_file,       // the key file is missing, unreadable, malformed or open to group/others
  key_mismatch,   // the key does not open this database
  not_sqlcipher,  // the linked SQLite has no encryption: refuse to store anything
  not_found,      // the database file does not exist
  exists,         // refusing to overwrite an existing file
  io,             // any other SQLite or file-system failure
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

class Database {
 public:
  enum class Mode { open_existing, create_new };

  // create_new refuses an existing file and creates the database with mode 0600.
  [[nodiscard]] static tl::expected<Database, Error> open(const std::filesystem::path& file,
                                                          const crypto::Secret& key, Mode mode);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs SQLite's integrity check over every page.
  [[nodiscard]] tl::expected<void, Error> check_integrity();

 private:
  explicit Database(sqlite3* db) : db_(db) {}

  sqlite3* db_ = nullptr;
};

}  // namespace tipline::storage
