#include "tipline/storage/database.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "support/process.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;

class DatabaseTest : public ::testing::Test {
 protected:
  static std::string read_all(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  static unsigned mode_of(const fs::path& file) {
    struct stat info {};
    EXPECT_EQ(::stat(file.c_str(), &info), 0);
    return info.st_mode & 07777;
  }

  const testing::TempDir temp_;
  const fs::path dir_ = temp_.path();
};

TEST_F(DatabaseTest, KeyFileIsCreatedPrivateAndReadsBack) {
  const fs::path file = dir_ / "database.key";
  ASSERT_TRUE(create_key_file(file).has_value());
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(read_all(file).size(), 65u);  // 64 hex digits and a newline
  auto key = read_key_file(file);
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_EQ(key->size(), kKeyBytes);
}

TEST_F(DatabaseTest, KeyFileIsNeverOverwritten) {
  const fs::path file = dir_ / "database.key";
  ASSERT_TRUE(create_key_file(file).has_value());
  const std::string before = read_all(file);
  const auto again = create_key_file(file);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::exists);
  EXPECT_EQ(read_all(file), before);
}

TEST_F(DatabaseTest, KeyFileReadableByOthersIsRefused) {
  const fs::path file = dir_ / "database.key";
  ASSERT_TRUE(create_key_file(file).has_value());
  fs::permissions(file, fs::perms::others_read, fs::perm_options::add);
  const auto key = read_key_file(file);
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code, Errc::key_file);
  EXPECT_NE(key.error().message.find("chmod 600"), std::string::npos);
}

TEST_F(DatabaseTest, MalformedKeyFilesAreRefused) {
  for (const std::string& content :
       {std::string("abcd\n"), std::string(64, 'x'), std::string(66, 'a'), std::string(200, '0')}) {
    const fs::path file = dir_ / "bad.key";
    fs::remove(file);
    std::ofstream(file) << content;
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    const auto key = read_key_file(file);
    ASSERT_FALSE(key.has_value()) << content;
    EXPECT_EQ(key.error().code, Errc::key_file);
  }
}

TEST_F(DatabaseTest, CreateThenReopenWithTheSameKey) {
  const fs::path file = dir_ / "tipline.db";
  const auto key = crypto::Secret::random(kKeyBytes);
  {
    auto db = Database::open(file, key, Database::Mode::create_new);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    EXPECT_TRUE(db->check_integrity().has_value());
  }
  EXPECT_EQ(mode_of(file), 0600u);
  auto reopened = Database::open(file, key, Database::Mode::open_existing);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  EXPECT_TRUE(reopened->check_integrity().has_value());
}

TEST_F(DatabaseTest, FileIsEncryptedOnDisk) {
  const fs::path file = dir_ / "tipline.db";
  ASSERT_TRUE(Database::open(file, crypto::Secret::random(kKeyBytes), Database::Mode::create_new));
  const std::string bytes = read_all(file);
  ASSERT_GE(bytes.size(), 4096u);
  EXPECT_NE(bytes.rfind("SQLite format 3", 0), 0u);
}

TEST_F(DatabaseTest, WrongKeyGivesAClearError) {
  const fs::path file = dir_ / "tipline.db";
  ASSERT_TRUE(Database::open(file, crypto::Secret::random(kKeyBytes), Database::Mode::create_new));
  const auto db =
      Database::open(file, crypto::Secret::random(kKeyBytes), Database::Mode::open_existing);
  ASSERT_FALSE(db.has_value());
  EXPECT_EQ(db.error().code, Errc::key_mismatch);
  EXPECT_NE(db.error().message.find("database key does not match this database"),
            std::string::npos);
}

TEST_F(DatabaseTest, CreateRefusesAnExistingFile) {
  const fs::path file = dir_ / "tipline.db";
  std::ofstream(file) << "precious";
  const auto db =
      Database::open(file, crypto::Secret::random(kKeyBytes), Database::Mode::create_new);
  ASSERT_FALSE(db.has_value());
  EXPECT_EQ(db.error().code, Errc::exists);
  EXPECT_EQ(read_all(file), "precious");
}

TEST_F(DatabaseTest, OpenExistingRefusesAMissingFile) {
  const auto db = Database::open(dir_ / "absent.db", crypto::Secret::random(kKeyBytes),
                                 Database::Mode::open_existing);
  ASSERT_FALSE(db.has_value());
  EXPECT_EQ(db.error().code, Errc::not_found);
  EXPECT_FALSE(fs::exists(dir_ / "absent.db"));
}

}  // namespace
}  // namespace tipline::storage
