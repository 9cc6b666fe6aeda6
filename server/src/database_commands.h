// The `tipline-server db` verbs: check, backup, restore, rekey, purge and vacuum of an
// instance's database, each a thin layer over storage/maintenance.h that reads the keys,
// prints what it did (never a key) and turns storage errors into messages for operators.
//
// check, backup, purge and vacuum work while a server is serving; restore and rekey
// replace the database file and are refused while a server holds its lock.
// Thread safety: each function is meant to be called once, from the main thread.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <tl/expected.hpp>

#include "tipline/config/config.h"
#include "tipline/server/server.h"

namespace tipline::server::db {

// Integrity and foreign key checks; prints the schema version, counts and file size.
[[nodiscard]] tl::expected<void, Error> check(const config::Config& config, std::ostream& out);

// Writes an encrypted copy of the database to `output`, which must not exist. The copy is
// encrypted with the key in `key_file` (created with a fresh key if it does not exist),
// or with the instance's own database key when there is none.
[[nodiscard]] tl::expected<void, Error> backup(const config::Config& config,
                                               const std::filesystem::path& output,
                                               const std::optional<std::filesystem::path>& key_file,
                                               std::ostream& out);

// Writes the backup `input` (opened with the key in `key_file`, or the instance key) as
// the configured database file, encrypted with the instance key. Never overwrites.
[[nodiscard]] tl::expected<void, Error> restore(
    const config::Config& config, const std::filesystem::path& input,
    const std::optional<std::filesystem::path>& key_file, std::ostream& out);

// Re-encrypts the database with a new random key, written to `new_key_file` or, by
// default, put in place of the configured key file (by way of KEYFILE.new).
[[nodiscard]] tl::expected<void, Error> rekey(
    const config::Config& config, const std::optional<std::filesystem::path>& new_key_file,
    std::ostream& out);

// Deletes what is past its expiry and, with `older_than_days`, submissions received that
// many days ago or earlier; then truncates the write-ahead log.
[[nodiscard]] tl::expected<void, Error> purge(const config::Config& config,
                                              std::optional<int> older_than_days,
                                              std::ostream& out);

// Rebuilds the database file without free pages.
[[nodiscard]] tl::expected<void, Error> vacuum(const config::Config& config, std::ostream& out);

}  // namespace tipline::server::db
