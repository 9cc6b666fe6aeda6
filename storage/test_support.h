// Shared by the storage tests: a fresh database per test and helpers to fill it.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/database.h"
#include "tipline/storage/store.h"

// Fails the test, printing the error, unless the tl::expected holds a value.
#define ASSERT_OK(expression)                                                             \
  do {                                                                                    \
    const auto& outcome_ = (expression);                                                  \
    ASSERT_TRUE(outcome_.has_value()) << #expression << ": " << outcome_.error().message; \
  } while (false)

namespace tipline::storage::test {

inline std::vector<std::byte> bytes_of(std::string_view text) {
  const auto* data = reinterpret_cast<const std::byte*>(text.data());
  return {data, data + text.size()};
}

// Bytes that differ at every offset and between seeds, so a misplaced chunk shows.
inline std::vector<std::byte> pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> bytes(size);
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& byte : bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    byte = static_cast<std::byte>(state);
  }
  return bytes;
}

// Creates, fills and finishes a blob in the caller's transaction.
inline tl::expected<BlobId, Error> put_blob(Database& db, std::span<const std::byte> bytes,
                                            std::optional<std::int64_t> bundle = std::nullopt) {
  auto blob = create_blob(db, bundle);
  if (!blob) return blob;
  if (auto appended = append_blob(db, *blob, bytes); !appended) {
    return tl::unexpected(appended.error());
  }
  if (auto finished = finish_blob(db, *blob); !finished) return tl::unexpected(finished.error());
  return blob;
}

// Reads a whole blob in pieces of `piece` bytes.
inline tl::expected<std::vector<std::byte>, Error> read_whole(Database& db, BlobId blob,
                                                              std::size_t piece = 50000) {
  std::vector<std::byte> whole;
  std::vector<std::byte> buffer(piece);
  while (true) {
    auto n = read_blob(db, blob, whole.size(), buffer);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) return whole;
    whole.insert(whole.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
  }
}

// A submission whose report blob holds `report`; returns the submission's row id.
inline tl::expected<std::int64_t, Error> add_submission(Database& db, std::string_view public_id,
                                                        std::int64_t received_day,
                                                        std::span<const std::byte> report) {
  auto blob = put_blob(db, report);
  if (!blob) return blob;
  auto insert = db.prepare(
      "INSERT INTO submissions (public_id, report_blob_id, received_day, change_seq) "
      "VALUES (?, ?, ?, 0);");
  if (!insert) return tl::unexpected(insert.error());
  if (auto ran = insert->bind(public_id, *blob, received_day).run(); !ran) {
    return tl::unexpected(ran.error());
  }
  return db.last_insert_id();
}

inline tl::expected<std::int64_t, Error> count_rows(Database& db, std::string_view sql) {
  auto query = db.prepare(sql);
  if (!query) return tl::unexpected(query.error());
  auto row = query->step();
  if (!row) return tl::unexpected(row.error());
  return *row ? query->integer(0) : 0;
}

class StorageTest : public ::testing::Test {
 protected:
  [[nodiscard]] std::unique_ptr<Store> open_store(
      Database::Mode mode = Database::Mode::open_existing) {
    auto store = Store::open(database_, key_, mode);
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  [[nodiscard]] std::unique_ptr<Store> create_store() {
    return open_store(Database::Mode::create_new);
  }

  const tipline::testing::TempDir temp_;
  const std::filesystem::path dir_ = temp_.path();
  const std::filesystem::path database_ = dir_ / "tipline.db";
  const crypto::Secret key_ = crypto::Secret::random(kKeyBytes);
};

}  // namespace tipline::storage::test
