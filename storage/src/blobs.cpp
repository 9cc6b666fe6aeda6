#include "tipline/storage/blobs.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace tipline::storage {

namespace {

tl::unexpected<Error> no_blob(BlobId blob) {
  return tl::unexpected(Error{Errc::not_found, "no blob " + std::to_string(blob)});
}

}  // namespace

tl::expected<BlobId, Error> create_blob(Database& db,
                                        std::optional<std::int64_t> sealed_to_bundle) {
  auto insert = db.prepare("INSERT INTO blobs (sealed_to_bundle) VALUES (?);");
  if (!insert) return tl::unexpected(insert.error());
  if (auto ran = insert->bind(sealed_to_bundle).run(); !ran) return tl::unexpected(ran.error());
  return db.last_insert_id();
}

tl::expected<void, Error> append_blob(Database& db, BlobId blob, std::span<const std::byte> bytes) {
  auto info = blob_info(db, blob);
  if (!info) return tl::unexpected(info.error());
  if (info->complete) {
    return tl::unexpected(
        Error{Errc::exists, "blob " + std::to_string(blob) + " is finished; it cannot grow"});
  }
  auto insert = db.prepare("INSERT INTO blob_chunks (blob_id, start, data) VALUES (?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  std::uint64_t start = info->size;
  while (!bytes.empty()) {
    const auto chunk = bytes.first(std::min(bytes.size(), kChunkBytes));
    insert->reset();
    if (auto ran = insert->bind(blob, static_cast<std::int64_t>(start), chunk).run(); !ran) {
      return ran;
    }
    start += chunk.size();
    bytes = bytes.subspan(chunk.size());
  }
  auto grow = db.prepare("UPDATE blobs SET size = ? WHERE id = ?;");
  if (!grow) return tl::unexpected(grow.error());
  return grow->bind(static_cast<std::int64_t>(start), blob).run();
}

tl::expected<void, Error> finish_blob(Database& db, BlobId blob) {
  auto finish = db.prepare("UPDATE blobs SET complete = 1 WHERE id = ?;");
  if (!finish) return tl::unexpected(finish.error());
  if (auto ran = finish->bind(blob).run(); !ran) return ran;
  if (db.changes() != 1) return no_blob(blob);
  return {};
}

tl::expected<BlobInfo, Error> blob_info(Database& db, BlobId blob) {
  auto query = db.prepare("SELECT size, complete, sealed_to_bundle FROM blobs WHERE id = ?;");
  if (!query) return tl::unexpected(query.error());
  auto row = query->bind(blob).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return no_blob(blob);
  BlobInfo info;
  info.size = static_cast<std::uint64_t>(query->integer(0));
  info.complete = query->integer(1) != 0;
  if (!query->is_null(2)) info.sealed_to_bundle = query->integer(2);
  return info;
}

tl::expected<std::size_t, Error> read_blob(Database& db, BlobId blob, std::uint64_t offset,
                                           std::span<std::byte> out) {
  // The chunk holding `offset` is the last one starting at or before it; the ones after
  // follow in order.
  auto chunks = db.prepare(
      "SELECT start, data FROM blob_chunks WHERE blob_id = ?1 AND start >= "
      "(SELECT coalesce(max(start), 0) FROM blob_chunks WHERE blob_id = ?1 AND start <= ?2) "
      "ORDER BY start;");
  if (!chunks) return tl::unexpected(chunks.error());
  chunks->bind(blob, static_cast<std::int64_t>(offset));
  std::size_t copied = 0;
  while (copied < out.size()) {
    auto row = chunks->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    const auto start = static_cast<std::uint64_t>(chunks->integer(0));
    const auto data = chunks->bytes(1);
    const std::uint64_t position = offset + copied;
    if (position < start || position >= start + data.size()) break;  // a gap: not written yet
    const auto available = data.subspan(position - start);
    const std::size_t n = std::min(available.size(), out.size() - copied);
    std::memcpy(out.data() + copied, available.data(), n);
    copied += n;
  }
  return copied;
}

}  // namespace tipline::storage
