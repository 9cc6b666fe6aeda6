#include "tipline/storage/blobs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace tipline::storage {
namespace {

using test::pattern;

class BlobsTest : public test::StorageTest {
 protected:
  void SetUp() override {
    store_ = create_store();
    ASSERT_TRUE(store_);
  }

  tl::expected<BlobId, Error> new_blob() {
    return store_->write([](Database& db) { return create_blob(db, std::nullopt); }).get();
  }
  tl::expected<void, Error> append(BlobId blob, std::span<const std::byte> bytes) {
    return store_->write([&](Database& db) { return append_blob(db, blob, bytes); }).get();
  }
  tl::expected<std::vector<std::byte>, Error> read_whole(BlobId blob, std::size_t piece) {
    return store_->read([&](Database& db) { return test::read_whole(db, blob, piece); });
  }

  std::unique_ptr<Store> store_;
};

TEST_F(BlobsTest, AppendsInManyTransactionsReadBackExactlyInAnyPieceSize) {
  auto blob = new_blob();
  ASSERT_OK(blob);
  // Pieces smaller than, equal to and larger than a chunk row, like tus PATCH bodies.
  const auto content = pattern(3 * kChunkBytes + 12345, 1);
  std::size_t written = 0;
  for (const std::size_t piece :
       {std::size_t{1}, std::size_t{1000}, kChunkBytes, kChunkBytes + 1, std::size_t{200000}}) {
    const std::size_t n = std::min(piece, content.size() - written);
    ASSERT_OK(append(*blob, std::span(content).subspan(written, n)));
    written += n;
  }
  ASSERT_EQ(written, content.size());
  ASSERT_OK(store_->write([&](Database& db) { return finish_blob(db, *blob); }).get());

  const auto info = store_->read([&](Database& db) { return blob_info(db, *blob); });
  ASSERT_OK(info);
  EXPECT_EQ(info->size, content.size());
  EXPECT_TRUE(info->complete);
  for (const std::size_t piece :
       {std::size_t{1} << 10, kChunkBytes - 1, kChunkBytes, 3 * kChunkBytes + 7}) {
    const auto whole = read_whole(*blob, piece);
    ASSERT_OK(whole);
    EXPECT_EQ(*whole, content) << "read in pieces of " << piece;
  }
}

TEST_F(BlobsTest, ReadsFromAnyOffset) {
  const auto content = pattern(2 * kChunkBytes + 100, 2);
  auto blob = store_->write([&](Database& db) { return test::put_blob(db, content); }).get();
  ASSERT_OK(blob);
  for (const std::size_t offset : {std::size_t{0}, std::size_t{1}, kChunkBytes - 1, kChunkBytes,
                                   2 * kChunkBytes + 99, content.size(), content.size() + 5}) {
    std::vector<std::byte> out(100);
    const auto n = store_->read([&](Database& db) { return read_blob(db, *blob, offset, out); });
    ASSERT_OK(n);
    const std::size_t expected =
        offset >= content.size() ? 0 : std::min<std::size_t>(100, content.size() - offset);
    ASSERT_EQ(*n, expected) << "offset " << offset;
    EXPECT_TRUE(
        std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n),
                   content.begin() + static_cast<std::ptrdiff_t>(std::min(offset, content.size()))))
        << "offset " << offset;
  }
}

TEST_F(BlobsTest, AnEmptyBlobReadsAsEmpty) {
  auto blob = store_->write([](Database& db) { return test::put_blob(db, {}); }).get();
  ASSERT_OK(blob);
  const auto whole = read_whole(*blob, 10);
  ASSERT_OK(whole);
  EXPECT_TRUE(whole->empty());
}

TEST_F(BlobsTest, AFinishedBlobCannotGrow) {
  auto blob = store_->write([](Database& db) { return test::put_blob(db, pattern(10, 3)); }).get();
  ASSERT_OK(blob);
  const auto appended = append(*blob, pattern(10, 4));
  ASSERT_FALSE(appended.has_value());
  EXPECT_EQ(appended.error().code, Errc::exists);
  const auto whole = read_whole(*blob, 64);
  ASSERT_OK(whole);
  EXPECT_EQ(*whole, pattern(10, 3));
}

TEST_F(BlobsTest, AMissingBlobIsNotFound) {
  const auto appended = append(999, pattern(10, 3));
  ASSERT_FALSE(appended.has_value());
  EXPECT_EQ(appended.error().code, Errc::not_found);
  const auto info = store_->read([](Database& db) { return blob_info(db, 999); });
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, Errc::not_found);
  const auto finished = store_->write([](Database& db) { return finish_blob(db, 999); }).get();
  ASSERT_FALSE(finished.has_value());
  EXPECT_EQ(finished.error().code, Errc::not_found);
}

TEST_F(BlobsTest, TheBundleVersionIsRecorded) {
  ASSERT_OK(store_
                ->write([](Database& db) {
                  return db.exec(
                      "INSERT INTO bundles (version, bytes, signature, installed_at) "
                      "VALUES (7, x'7b7d', 'sig', 0);");
                })
                .get());
  auto blob = store_->write([](Database& db) { return create_blob(db, 7); }).get();
  ASSERT_OK(blob);
  const auto info = store_->read([&](Database& db) { return blob_info(db, *blob); });
  ASSERT_OK(info);
  EXPECT_EQ(info->sealed_to_bundle, 7);
  // A bundle that was never installed cannot be named.
  const auto unknown = store_->write([](Database& db) { return create_blob(db, 8); }).get();
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Errc::constraint);
}

TEST_F(BlobsTest, DeletingASubmissionDeletesItsBlobsAndChunks) {
  const auto report = pattern(kChunkBytes * 2, 5);
  ASSERT_OK(
      store_
          ->write([&](Database& db) -> tl::expected<void, Error> {
            auto submission = test::add_submission(db, "s1", 20000, report);
            if (!submission) return tl::unexpected(submission.error());
            auto attachment = test::put_blob(db, pattern(1000, 6));
            if (!attachment) return tl::unexpected(attachment.error());
            auto link = db.prepare(
                "INSERT INTO attachments (submission_id, position, blob_id) VALUES (?, 0, ?);");
            if (!link) return tl::unexpected(link.error());
            return link->bind(*submission, *attachment).run();
          })
          .get());
  const auto chunks = [&] {
    return store_->read(
        [](Database& db) { return test::count_rows(db, "SELECT count(*) FROM blob_chunks;"); });
  };
  ASSERT_OK(chunks());
  EXPECT_EQ(*chunks(), 3);
  ASSERT_OK(store_->write([](Database& db) { return db.exec("DELETE FROM submissions;"); }).get());
  ASSERT_OK(chunks());
  EXPECT_EQ(*chunks(), 0);
  const auto blobs = store_->read(
      [](Database& db) { return test::count_rows(db, "SELECT count(*) FROM blobs;"); });
  ASSERT_OK(blobs);
  EXPECT_EQ(*blobs, 0);
}

}  // namespace
}  // namespace tipline::storage
