#include "tipline/crypto/minisign.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.h"

namespace tipline::crypto::minisign {
namespace {

namespace fs = std::filesystem;
using tipline::testing::describe;
using tipline::testing::find_tool;
using tipline::testing::lines_of;
using tipline::testing::Outcome;
using tipline::testing::read_file;
using tipline::testing::run;
using tipline::testing::TempDir;
using tipline::testing::write_file;

std::string text_of(const Secret& secret) {
  const auto bytes = secret.expose();
  return {bytes.begin(), bytes.end()};
}

std::vector<std::uint8_t> from_base64(const std::string& text) {
  std::vector<std::uint8_t> bytes(text.size());
  std::size_t size = 0;
  EXPECT_EQ(sodium_base642bin(bytes.data(), bytes.size(), text.data(), text.size(), nullptr, &size,
                              nullptr, sodium_base64_VARIANT_ORIGINAL),
            0)
      << text;
  bytes.resize(size);
  return bytes;
}

std::string to_base64(const std::vector<std::uint8_t>& bytes) {
  std::string text(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  text.pop_back();
  return text;
}

std::string hex_id(std::uint64_t id) {
  std::ostringstream hex;
  hex << std::uppercase << std::hex << std::setfill('0') << std::setw(16) << id;
  return hex.str();
}

void expect_rejected(const std::string& file_text, Errc code) {
  const auto parsed = PublicKey::parse(file_text);
  ASSERT_FALSE(parsed.has_value()) << file_text;
  EXPECT_EQ(parsed.error().code, code) << file_text << ": " << parsed.error().message;
}

TEST(Minisign, PublicKeyFileRoundTrip) {
  const PublicKey key = SecretKey::generate().public_key();
  const std::string text = key.to_file_text();
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_EQ(lines[0], "untrusted comment: minisign public key " + hex_id(key.key_id()));
  EXPECT_EQ(lines[1].size(), 56u);
  EXPECT_EQ(text.back(), '\n');

  const auto parsed = PublicKey::parse(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->key_id(), key.key_id());
  EXPECT_EQ(parsed->to_file_text(), text);
  // The comment is not interpreted, and the final newline and CRLF endings are tolerated.
  const auto recommented = PublicKey::parse("untrusted comment: anything\r\n" + lines[1]);
  ASSERT_TRUE(recommented.has_value()) << recommented.error().message;
  EXPECT_EQ(recommented->to_file_text(), text);
}

TEST(Minisign, GeneratedKeysDiffer) {
  const PublicKey a = SecretKey::generate().public_key();
  const PublicKey b = SecretKey::generate().public_key();
  EXPECT_NE(a.key_id(), b.key_id());
  EXPECT_NE(a.to_file_text(), b.to_file_text());
}

TEST(Minisign, UnencryptedSecretKeyFileLayout) {
  const SecretKey key = SecretKey::generate();
  const std::vector<std::string> lines =
      lines_of(text_of(key.to_unencrypted_file_text("tipline demo key")));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "untrusted comment: tipline demo key");
  const std::vector<std::uint8_t> blob = from_base64(lines[1]);
  ASSERT_EQ(blob.size(), 158u);

  const std::vector<std::uint8_t> header(blob.begin(), blob.begin() + 6);
  EXPECT_EQ(header, (std::vector<std::uint8_t>{'E', 'd', 0, 0, 'B', '2'}));
  EXPECT_TRUE(std::all_of(blob.begin() + 6, blob.begin() + 54, [](auto b) { return b == 0; }))
      << "salt and KDF limits must be zero in an unencrypted key";

  const std::vector<std::uint8_t> public_blob =
      from_base64(lines_of(key.public_key().to_file_text())[1]);
  ASSERT_EQ(public_blob.size(), 42u);
  // The key id, then the public key as the tail of the 64-byte secret key.
  EXPECT_TRUE(std::equal(public_blob.begin() + 2, public_blob.begin() + 10, blob.begin() + 54));
  EXPECT_TRUE(std::equal(public_blob.begin() + 10, public_blob.end(), blob.begin() + 94));

  std::vector<std::uint8_t> checked(blob.begin(), blob.begin() + 2);
  checked.insert(checked.end(), blob.begin() + 54, blob.begin() + 126);
  std::array<std::uint8_t, 32> checksum{};
  crypto_generichash(checksum.data(), checksum.size(), checked.data(), checked.size(), nullptr, 0);
  EXPECT_TRUE(std::equal(checksum.begin(), checksum.end(), blob.begin() + 126));
}

TEST(Minisign, RejectsCommentsMinisignCannotReadBack) {
  const SecretKey key = SecretKey::generate();
  EXPECT_NO_THROW((void)key.to_unencrypted_file_text(std::string(1003, 'c')));
  EXPECT_THROW((void)key.to_unencrypted_file_text(std::string(1004, 'c')), std::invalid_argument);
  EXPECT_THROW((void)key.to_unencrypted_file_text("two\nlines"), std::invalid_argument);
  EXPECT_THROW((void)key.to_unencrypted_file_text("carriage\rreturn"), std::invalid_argument);
}

TEST(Minisign, RejectsMalformedPublicKeyFiles) {
  const std::string good = SecretKey::generate().public_key().to_file_text();
  const std::string line = lines_of(good)[1];
  std::vector<std::uint8_t> blob = from_base64(line);
  const std::string comment = "untrusted comment: x\n";

  expect_rejected(line + "\n", Errc::malformed_key);                          // no comment line
  expect_rejected("untrusted comment: only a comment", Errc::malformed_key);  // no key line
  expect_rejected(good + "extra line\n", Errc::malformed_key);                // trailing data
  expect_rejected(comment + std::string(56, '!') + "\n", Errc::malformed_encoding);  // garbage
  expect_rejected(comment + std::string(27, 'A') + "=" + std::string(28, 'A') + "\n",
                  Errc::malformed_encoding);
  expect_rejected(comment + line.substr(0, 55) + "\n", Errc::malformed_key);  // truncated text
  expect_rejected(comment + "\n", Errc::malformed_key);

  // Too short and too long keys, well encoded.
  for (const std::size_t size : {41u, 43u, 0u}) {
    std::vector<std::uint8_t> resized = blob;
    resized.resize(size, 0x42);
    expect_rejected(comment + to_base64(resized) + "\n", Errc::malformed_key);
  }
  // Another algorithm, including "ED", the id of prehashed signatures, not of keys.
  for (const char* algorithm : {"ED", "Ec", "\0\0"}) {
    std::vector<std::uint8_t> other = blob;
    other[0] = static_cast<std::uint8_t>(algorithm[0]);
    other[1] = static_cast<std::uint8_t>(algorithm[1]);
    expect_rejected(comment + to_base64(other) + "\n", Errc::wrong_key_type);
  }
}

TEST(Minisign, MinisignSignsWithOurKeys) {
  const std::string minisign = find_tool("minisign");
  ASSERT_FALSE(minisign.empty())
      << "the stock `minisign` is not on PATH; this interop test needs it";
  const TempDir dir;
  const fs::path pub = dir.path() / "key.pub";
  const fs::path sec = dir.path() / "key.sec";
  const fs::path message = dir.path() / "message";
  const fs::path recreated_pub = dir.path() / "recreated.pub";
  const SecretKey key = SecretKey::generate();
  write_file(pub, key.public_key().to_file_text());
  write_file(sec, text_of(key.to_unencrypted_file_text("tipline demo key")));
  write_file(message, "a release to sign\n");

  // With -p, minisign also checks the new signature against our public key before writing it.
  // stdin is /dev/null: an unencrypted key needs no password, and a prompt would fail, not hang.
  const std::vector<std::string> sign{minisign, "-S", "-s", sec, "-p", pub, "-m", message};
  const Outcome signature = run(sign);
  ASSERT_EQ(signature.exit_code, 0) << describe(sign, signature);
  const std::vector<std::string> verify{minisign, "-V", "-p", pub, "-m", message};
  const Outcome verified = run(verify);
  ASSERT_EQ(verified.exit_code, 0) << describe(verify, verified);
  EXPECT_NE((verified.out + verified.err).find("Signature and comment signature verified"),
            std::string::npos)
      << describe(verify, verified);

  // A tampered message must not verify, or the check above proves nothing.
  write_file(message, "a release to sign, altered\n");
  EXPECT_NE(run(verify).exit_code, 0);

  // minisign -R derives the same public key from our secret key file.
  const std::vector<std::string> recreate{minisign, "-R", "-s", sec, "-p", recreated_pub};
  const Outcome recreated = run(recreate);
  ASSERT_EQ(recreated.exit_code, 0) << describe(recreate, recreated);
  const auto parsed = PublicKey::parse(read_file(recreated_pub));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(lines_of(parsed->to_file_text())[1], lines_of(key.public_key().to_file_text())[1]);
}

TEST(Minisign, ParsesMinisignKeys) {
  const std::string minisign = find_tool("minisign");
  ASSERT_FALSE(minisign.empty())
      << "the stock `minisign` is not on PATH; this interop test needs it";
  const TempDir dir;
  for (int round = 0; round < 5; ++round) {
    const fs::path pub = dir.path() / ("key" + std::to_string(round) + ".pub");
    const fs::path sec = dir.path() / ("key" + std::to_string(round) + ".sec");
    const std::vector<std::string> generate{minisign, "-G", "-W", "-p", pub, "-s", sec};
    const Outcome generated = run(generate);
    ASSERT_EQ(generated.exit_code, 0) << describe(generate, generated);
    const std::vector<std::string> lines = lines_of(read_file(pub));
    ASSERT_EQ(lines.size(), 2u);

    const auto parsed = PublicKey::parse(read_file(pub));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    // The key id minisign printed in the comment (0.11 drops leading zeros, so compare numbers).
    const std::string prefix = "untrusted comment: minisign public key ";
    ASSERT_EQ(lines[0].rfind(prefix, 0), 0u) << lines[0];
    EXPECT_EQ(parsed->key_id(), std::strtoull(lines[0].c_str() + prefix.size(), nullptr, 16));
    EXPECT_EQ(lines_of(parsed->to_file_text())[1], lines[1]);
    // ... and the key it printed for `minisign -Vm <file> -P <key>`.
    EXPECT_NE((generated.out + generated.err).find("-P " + lines[1] + "\n"), std::string::npos)
        << describe(generate, generated);

    // Our unencrypted secret key files start with the same fixed fields as minisign's.
    const std::vector<std::uint8_t> theirs = from_base64(lines_of(read_file(sec))[1]);
    const std::vector<std::uint8_t> ours =
        from_base64(lines_of(text_of(SecretKey::generate().to_unencrypted_file_text("x")))[1]);
    ASSERT_EQ(theirs.size(), ours.size());
    EXPECT_TRUE(std::equal(theirs.begin(), theirs.begin() + 54, ours.begin()));
  }
}

}  // namespace
}  // namespace tipline::crypto::minisign
