// Content blobs (age files) stored as chunk rows, so they stream in and out and are never
// whole in memory.
//
// A blob is appended to in any number of transactions, then finished; a finished blob
// never changes, so it may be read chunk by chunk across separate read transactions.
// These functions run inside a transaction: pass the Database that Store::write or
// Store::read hands to the work function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <tl/expected.hpp>

#include "tipline/storage/database.h"

namespace tipline::storage {

using BlobId = std::int64_t;

// The largest chunk row. Appends are split into rows of at most this size.
inline constexpr std::size_t kChunkBytes = std::size_t{64} * 1024;

struct BlobInfo {
  std::uint64_t size = 0;
  bool complete = false;
  std::optional<std::int64_t> sealed_to_bundle;  // nullopt: not sealed to a bundle
};

// sealed_to_bundle: the installed bundle version the blob's recipients come from.
[[nodiscard]] tl::expected<BlobId, Error> create_blob(Database& db,
                                                      std::optional<std::int64_t> sealed_to_bundle);

// Appends bytes at the end. Errc::exists if the blob is finished; Errc::not_found if there
// is no such blob.
[[nodiscard]] tl::expected<void, Error> append_blob(Database& db, BlobId blob,
                                                    std::span<const std::byte> bytes);

// Marks the blob complete: no more appends.
[[nodiscard]] tl::expected<void, Error> finish_blob(Database& db, BlobId blob);

[[nodiscard]] tl::expected<BlobInfo, Error> blob_info(Database& db, BlobId blob);

// Copies up to out.size() bytes starting at `offset` into `out` and returns how many; 0
// at or past the end.
[[nodiscard]] tl::expected<std::size_t, Error> read_blob(Database& db, BlobId blob,
                                                         std::uint64_t offset,
                                                         std::span<std::byte> out);

}  // namespace tipline::storage
