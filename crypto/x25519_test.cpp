#include "tipline/crypto/x25519.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cctype>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "bech32.h"
#include "support/process.h"
#include "test_helpers.h"

namespace tipline::crypto::x25519 {
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

TEST(X25519, RecipientRoundTrip) {
  const Recipient recipient = Identity::generate().recipient();
  const std::string text = recipient.to_string();
  EXPECT_EQ(text.size(), 62u);
  EXPECT_EQ(text.rfind("age1", 0), 0u) << text;
  const auto parsed = Recipient::parse(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->bytes(), recipient.bytes());
}

TEST(X25519, IdentityRoundTrip) {
  const Identity identity = Identity::generate();
  const std::string text = text_of(identity.to_string());
  EXPECT_EQ(text.size(), 74u);
  EXPECT_EQ(text.rfind("AGE-SECRET-KEY-1", 0), 0u) << text;
  const auto parsed = Identity::parse(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(text_of(parsed->to_string()), text);
  EXPECT_EQ(parsed->recipient().bytes(), identity.recipient().bytes());
}

TEST(X25519, GeneratedIdentitiesDiffer) {
  EXPECT_NE(Identity::generate().recipient().bytes(), Identity::generate().recipient().bytes());
}

TEST(X25519, KnownAnswer) {
  // An identity and its recipient as written by age-keygen 1.1.1.
  const auto identity =
      Identity::parse("AGE-SECRET-KEY-13RGM0JZZ0ELTVVRGC0FG2MSK28X5JXX2K6X7UX87QUZM0ND8G96QRXWCCD");
  ASSERT_TRUE(identity.has_value()) << identity.error().message;
  EXPECT_EQ(identity->recipient().to_string(),
            "age1znrpmuy4en7whj6ps3ct5v202lzwsgh7l4ysrtp96m0trvss9qyqnka2v8");
}

TEST(X25519, IdentityFileText) {
  const Identity identity = Identity::generate();
  EXPECT_EQ(text_of(identity_file_text(identity, "2024-05-06T07:08:09Z")),
            "# created: 2024-05-06T07:08:09Z\n# public key: " + identity.recipient().to_string() +
                "\n" + text_of(identity.to_string()) + "\n");
  EXPECT_THROW((void)identity_file_text(identity, "2024\n# public key: age1evil"),
               std::invalid_argument);
}

TEST(X25519, RejectsTheOtherKindOfKey) {
  const Identity identity = Identity::generate();
  const std::string recipient = identity.recipient().to_string();
  const std::string secret = text_of(identity.to_string());

  const auto as_identity = Identity::parse(recipient);
  ASSERT_FALSE(as_identity.has_value());
  EXPECT_EQ(as_identity.error().code, Errc::wrong_key_type);
  const auto as_recipient = Recipient::parse(secret);
  ASSERT_FALSE(as_recipient.has_value());
  EXPECT_EQ(as_recipient.error().code, Errc::wrong_key_type);
}

TEST(X25519, RejectsTheOtherCase) {
  // age itself refuses "AGE1..." recipients and lowercase identities.
  const Identity identity = Identity::generate();
  std::string recipient = identity.recipient().to_string();
  std::string secret = text_of(identity.to_string());
  for (char& c : recipient) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (char& c : secret) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }

  const auto upper_recipient = Recipient::parse(recipient);
  ASSERT_FALSE(upper_recipient.has_value());
  EXPECT_EQ(upper_recipient.error().code, Errc::wrong_key_type);
  const auto lower_identity = Identity::parse(secret);
  ASSERT_FALSE(lower_identity.has_value());
  EXPECT_EQ(lower_identity.error().code, Errc::wrong_key_type);
}

TEST(X25519, RejectsBadChecksums) {
  const Identity identity = Identity::generate();
  std::string recipient = identity.recipient().to_string();
  std::string secret = text_of(identity.to_string());
  recipient.back() = recipient.back() == 'q' ? 'p' : 'q';
  secret[20] = secret[20] == 'Q' ? 'P' : 'Q';

  const auto bad_recipient = Recipient::parse(recipient);
  ASSERT_FALSE(bad_recipient.has_value());
  EXPECT_EQ(bad_recipient.error().code, Errc::malformed_encoding);
  const auto bad_identity = Identity::parse(secret);
  ASSERT_FALSE(bad_identity.has_value());
  EXPECT_EQ(bad_identity.error().code, Errc::malformed_encoding);
}

TEST(X25519, RejectsWrongLengths) {
  for (const std::size_t size : {0u, 16u, 31u, 33u, 64u}) {
    const std::vector<std::uint8_t> bytes(size, 0x42);
    const auto recipient = Recipient::parse(bech32::encode("age", bytes));
    ASSERT_FALSE(recipient.has_value()) << size;
    EXPECT_EQ(recipient.error().code, Errc::malformed_key) << size;
    const auto identity = Identity::parse(bech32::encode("AGE-SECRET-KEY-", bytes));
    ASSERT_FALSE(identity.has_value()) << size;
    EXPECT_EQ(identity.error().code, Errc::malformed_key) << size;
  }
}

TEST(X25519, RejectsGarbage) {
  for (const char* text :
       {"", "age1", "age", "age1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        " age1znrpmuy4en7whj6ps3ct5v202lzwsgh7l4ysrtp96m0trvss9qyqnka2v8"}) {
    const auto parsed = Recipient::parse(text);
    ASSERT_FALSE(parsed.has_value()) << '"' << text << '"';
    EXPECT_EQ(parsed.error().code, Errc::malformed_encoding) << '"' << text << '"';
  }
}

TEST(X25519, AgeDecryptsWithOurIdentityFile) {
  const std::string age = find_tool("age");
  const std::string age_keygen = find_tool("age-keygen");
  ASSERT_FALSE(age.empty()) << "the stock `age` tool is not on PATH; this interop test needs it";
  ASSERT_FALSE(age_keygen.empty()) << "the stock `age-keygen` is not on PATH; this test needs it";
  const TempDir dir;
  const fs::path identity_file = dir.path() / "identity.txt";
  const fs::path plain = dir.path() / "plain";
  const fs::path cipher = dir.path() / "cipher";
  const fs::path deciphered = dir.path() / "decrypted";
  const Identity identity = Identity::generate();
  const std::string recipient = identity.recipient().to_string();
  write_file(identity_file, text_of(identity_file_text(identity, "2024-01-02T03:04:05Z")));
  std::string plaintext(3000, '\0');
  randombytes_buf(plaintext.data(), plaintext.size());
  write_file(plain, plaintext);

  const std::vector<std::string> encrypt{age, "-e", "-r", recipient, "-o", cipher, plain};
  const Outcome encrypted = run(encrypt);
  ASSERT_EQ(encrypted.exit_code, 0) << describe(encrypt, encrypted);
  const std::vector<std::string> decrypt{age, "-d", "-i", identity_file, "-o", deciphered, cipher};
  const Outcome decrypted = run(decrypt);
  ASSERT_EQ(decrypted.exit_code, 0) << describe(decrypt, decrypted);
  EXPECT_EQ(read_file(deciphered), plaintext);

  // age-keygen -y derives the recipient from our identity file on its own.
  const std::vector<std::string> convert{age_keygen, "-y", identity_file};
  const Outcome converted = run(convert);
  ASSERT_EQ(converted.exit_code, 0) << describe(convert, converted);
  EXPECT_EQ(converted.out + converted.err, recipient + "\n");
}

TEST(X25519, ParsesAgeKeygenIdentities) {
  const std::string age_keygen = find_tool("age-keygen");
  ASSERT_FALSE(age_keygen.empty()) << "the stock `age-keygen` is not on PATH; this test needs it";
  const TempDir dir;
  for (int round = 0; round < 5; ++round) {
    const fs::path path = dir.path() / ("key" + std::to_string(round) + ".txt");
    const std::vector<std::string> generate{age_keygen, "-o", path};
    const Outcome generated = run(generate);
    ASSERT_EQ(generated.exit_code, 0) << describe(generate, generated);
    const std::string file = read_file(path);
    const std::vector<std::string> lines = lines_of(file);
    ASSERT_EQ(lines.size(), 3u) << file;
    const std::string created_prefix = "# created: ";
    const std::string public_prefix = "# public key: ";
    ASSERT_EQ(lines[0].rfind(created_prefix, 0), 0u) << file;
    ASSERT_EQ(lines[1].rfind(public_prefix, 0), 0u) << file;

    const auto identity = Identity::parse(lines[2]);
    ASSERT_TRUE(identity.has_value()) << identity.error().message;
    const std::string public_key = lines[1].substr(public_prefix.size());
    EXPECT_EQ(identity->recipient().to_string(), public_key);
    const auto recipient = Recipient::parse(public_key);
    ASSERT_TRUE(recipient.has_value()) << recipient.error().message;
    EXPECT_EQ(recipient->bytes(), identity->recipient().bytes());
    // Our file text for the same identity and time is byte for byte what age-keygen wrote.
    EXPECT_EQ(text_of(identity_file_text(*identity, lines[0].substr(created_prefix.size()))), file);
  }
}

}  // namespace
}  // namespace tipline::crypto::x25519
