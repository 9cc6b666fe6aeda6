// No plaintext on disk: markers written through the API appear in no file of the
// database, neither as raw bytes nor, once deleted and purged, inside the decrypted pages.
//
// The decrypted-page search is what makes the purge test able to fail: the raw files are
// encrypted, so a raw search alone would pass even if deleted rows lingered. SQLCipher 3
// pages (4096 bytes, 48 reserved at the end: a 16-byte IV, then the HMAC) are AES-256-CBC
// under the raw key; page 1 starts with the 16-byte salt in clear. The WAL holds the same
// pages after a 32-byte file header, each behind a 24-byte frame header.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"
#include "test_support.h"
#include "tipline/storage/maintenance.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPageBytes = 4096;
constexpr std::size_t kReservedBytes = 48;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kWalHeaderBytes = 32;
constexpr std::size_t kFrameHeaderBytes = 24;

std::string decrypt_page(std::string_view page, bool first_page, const crypto::Secret& key) {
  const std::size_t begin = first_page ? kSaltBytes : 0;
  const std::size_t length = kPageBytes - kReservedBytes - begin;
  const auto* iv =
      reinterpret_cast<const unsigned char*>(page.data() + kPageBytes - kReservedBytes);
  std::string plain(length, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(),
                                                                          EVP_CIPHER_CTX_free);
  int written = 0;
  const bool ok =
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_cbc(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.expose().data()), iv) == 1 &&
      EVP_CIPHER_CTX_set_padding(context.get(), 0) == 1 &&
      EVP_DecryptUpdate(context.get(), reinterpret_cast<unsigned char*>(plain.data()), &written,
                        reinterpret_cast<const unsigned char*>(page.data() + begin),
                        static_cast<int>(length)) == 1;
  EXPECT_TRUE(ok);
  return plain;
}

// The decrypted pages of a database file or a WAL, concatenated.
std::string decrypted_content(const fs::path& file, const crypto::Secret& key) {
  const std::string bytes = testing::read_file(file);
  std::string plain;
  const bool wal = file.string().ends_with("-wal");
  std::size_t at = wal ? kWalHeaderBytes : 0;
  const std::size_t stride = wal ? kFrameHeaderBytes + kPageBytes : kPageBytes;
  for (; at + stride <= bytes.size(); at += stride) {
    const std::size_t page_at = wal ? at + kFrameHeaderBytes : at;
    std::uint32_t page_number = 0;
    if (wal) {
      for (int i = 0; i < 4; ++i) {
        page_number = (page_number << 8) | static_cast<unsigned char>(bytes[at + i]);
      }
    } else {
      page_number = static_cast<std::uint32_t>(at / kPageBytes + 1);
    }
    plain +=
        decrypt_page(std::string_view(bytes).substr(page_at, kPageBytes), page_number == 1, key);
  }
  return plain;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  return files;
}

class PlaintextTest : public test::StorageTest {
 protected:
  // Writes a marker into every kind of field a source or reviewer fills in.
  void write_markers(Store& store, const std::string& marker, std::string_view public_id,
                     std::int64_t received_day) {
    ASSERT_OK(store
                  .write([&](Database& db) -> tl::expected<void, Error> {
                    auto submission = test::add_submission(
                        db, public_id, received_day, test::bytes_of("report " + marker + " end"));
                    if (!submission) return tl::unexpected(submission.error());
                    auto label =
                        db.prepare("INSERT INTO labels (submission_id, label) VALUES (?, ?);");
                    if (!label) return tl::unexpected(label.error());
                    return label->bind(*submission, "label-" + marker).run();
                  })
                  .get());
  }
};

TEST_F(PlaintextTest, MarkersAreInNoFileButInTheDecryptedPages) {
  const std::string marker = "CANARY-7f3a9c-SHOULD-NEVER-BE-ON-DISK";
  auto store = create_store();
  ASSERT_TRUE(store);
  // Enough rows that pages spill, so both the WAL and the main file hold content.
  for (int i = 0; i < 40; ++i) write_markers(*store, marker, "s" + std::to_string(i), 20000);
  ASSERT_OK(store->checkpoint());
  write_markers(*store, marker, "in-wal", 20000);  // left in the WAL only

  std::string decrypted;
  for (const auto& file : files_in(dir_)) {
    const std::string raw = testing::read_file(file);
    EXPECT_EQ(raw.find(marker), std::string::npos) << file;
    EXPECT_EQ(raw.find("CANARY"), std::string::npos) << file;
    if (file == database_ || file.string() == database_.string() + "-wal") {
      decrypted += decrypted_content(file, key_);
    }
  }
  EXPECT_NE(decrypted.find("report " + marker), std::string::npos)
      << "the page decryption in this test is broken, so it proves nothing";
  EXPECT_NE(decrypted.find("in-wal"), std::string::npos);
  EXPECT_NE(testing::read_file(database_).rfind("SQLite format 3", 0), 0u);
}

TEST_F(PlaintextTest, AWrongKeyGivesTheClearError) {
  ASSERT_TRUE(create_store());
  const auto store =
      Store::open(database_, crypto::Secret::random(kKeyBytes), Database::Mode::open_existing);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, Errc::key_mismatch);
  EXPECT_NE(store.error().message.find("database key does not match this database"),
            std::string::npos);
}

TEST_F(PlaintextTest, APurgedMarkerIsGoneFromTheDecryptedDatabaseAndWal) {
  const std::string kept = "KEPT-MARKER-41b2";
  const std::string purged = "PURGED-MARKER-9d0e";
  const fs::path wal = database_.string() + "-wal";
  const auto on_disk = [&] {
    return decrypted_content(database_, key_) + decrypted_content(wal, key_);
  };
  // The server stays up: purge runs beside it, as an operator would run it.
  auto store = create_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 10; ++i) write_markers(*store, purged, "old" + std::to_string(i), 100);
  ASSERT_OK(store->checkpoint());  // some copies in the database file...
  for (int i = 10; i < 20; ++i) write_markers(*store, purged, "old" + std::to_string(i), 100);
  for (int i = 0; i < 20; ++i) write_markers(*store, kept, "new" + std::to_string(i), 20000);
  // ...and some only in the WAL.
  ASSERT_NE(decrypted_content(wal, key_).find(purged), std::string::npos);
  ASSERT_NE(decrypted_content(database_, key_).find(purged), std::string::npos);

  RetentionPolicy policy;
  policy.older_than_days = 30;
  policy.now = 20000LL * 86400;
  const auto counts = purge(database_, key_, policy);
  ASSERT_OK(counts);
  EXPECT_EQ(counts->submissions, 20);

  const std::string after = on_disk();
  EXPECT_EQ(after.find(purged), std::string::npos) << "a purged marker is still on disk";
  EXPECT_NE(after.find(kept), std::string::npos);
  const auto remaining = store->read(
      [](Database& db) { return test::count_rows(db, "SELECT count(*) FROM submissions;"); });
  ASSERT_OK(remaining);
  EXPECT_EQ(*remaining, 20);
}

}  // namespace
}  // namespace tipline::storage
