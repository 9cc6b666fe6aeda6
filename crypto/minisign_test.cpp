#include "tipline/crypto/minisign.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <istream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <vector>

#include "support/process.h"
#include "test_helpers.h"

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

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// The text with its line number index replaced, every line ending in a newline.
std::string with_line(const std::string& text, std::size_t index, const std::string& line) {
  std::vector<std::string> lines = lines_of(text);
  lines.at(index) = line;
  std::string joined;
  for (const std::string& each : lines) joined += each + "\n";
  return joined;
}

std::string require_minisign() {
  std::string minisign = find_tool("minisign");
  EXPECT_FALSE(minisign.empty())
      << "the stock `minisign` is not on PATH; this interop test needs it";
  return minisign;
}

// Runs argv with stdin read from a file holding input, which is how minisign takes passwords
// when stdin is not a terminal.
Outcome run_with_input(const std::vector<std::string>& argv, const std::string& input,
                       const fs::path& input_file) {
  write_file(input_file, input);
  std::vector<std::string> shell{find_tool("sh"), "-c", "exec \"$@\" < \"$0\"", input_file};
  shell.insert(shell.end(), argv.begin(), argv.end());
  return run(shell);
}

template <typename T>
void expect_error(const tl::expected<T, Error>& result, Errc code) {
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, code) << result.error().message;
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
  EXPECT_THROW((void)key.to_unencrypted_file_text(std::string("nul\0byte", 8)),
               std::invalid_argument);

  const std::vector<std::uint8_t> message{'m'};
  EXPECT_NO_THROW((void)key.sign(message, std::string(8173, 't'), std::string(1003, 'u')));
  EXPECT_THROW((void)key.sign(message, std::string(8174, 't')), std::invalid_argument);
  EXPECT_THROW((void)key.sign(message, "t", std::string(1004, 'u')), std::invalid_argument);
  EXPECT_THROW((void)key.sign(message, "two\nlines"), std::invalid_argument);
  // minisign reads comments as C strings, so it would check a NUL-truncated trusted comment.
  EXPECT_THROW((void)key.sign(message, std::string("nul\0byte", 8)), std::invalid_argument);
  std::istringstream stream("m");
  EXPECT_THROW((void)key.sign(stream, "t", "two\nlines"), std::invalid_argument);
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

TEST(Minisign, SignatureFileRoundTrip) {
  const SecretKey key = SecretKey::generate();
  const std::string message = "a release to sign\n";
  const Signature signature = key.sign(bytes_of(message), "timestamp:1 file:release");
  const std::string text = signature.to_file_text();
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_EQ(lines.size(), 4u) << text;
  EXPECT_EQ(lines[0], "untrusted comment: signature from tipline secret key");
  EXPECT_EQ(lines[2], "trusted comment: timestamp:1 file:release");
  const std::vector<std::uint8_t> blob = from_base64(lines[1]);
  ASSERT_EQ(blob.size(), 74u);
  EXPECT_EQ(blob[0], 'E');
  EXPECT_EQ(blob[1], 'D');
  EXPECT_EQ(from_base64(lines[3]).size(), 64u);
  EXPECT_EQ(signature.key_id(), key.public_key().key_id());
  EXPECT_EQ(signature.trusted_comment(), "timestamp:1 file:release");

  const auto parsed = Signature::parse(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->to_file_text(), text);
  const auto verified = key.public_key().verify(bytes_of(message), *parsed);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(*verified, "timestamp:1 file:release");

  // CRLF endings and a missing final newline are tolerated.
  std::string crlf;
  for (const std::string& line : lines) crlf += line + "\r\n";
  crlf.pop_back();
  crlf.pop_back();
  const auto from_crlf = Signature::parse(crlf);
  ASSERT_TRUE(from_crlf.has_value()) << from_crlf.error().message;
  EXPECT_EQ(from_crlf->to_file_text(), text);

  // Ed25519 is deterministic, and the stream form signs the same bytes.
  std::istringstream stream(message);
  const auto streamed = key.sign(stream, "timestamp:1 file:release");
  ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
  EXPECT_EQ(streamed->to_file_text(), text);
}

TEST(Minisign, UnencryptedSecretKeyFileRoundTrip) {
  const SecretKey key = SecretKey::generate();
  const auto parsed = SecretKey::parse(text_of(key.to_unencrypted_file_text("k")), Secret(0));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->public_key().to_file_text(), key.public_key().to_file_text());
  EXPECT_EQ(parsed->sign(bytes_of("m"), "t").to_file_text(),
            key.sign(bytes_of("m"), "t").to_file_text());
}

TEST(Minisign, MinisignVerifiesOurSignatures) {
  const std::string minisign = require_minisign();
  ASSERT_FALSE(minisign.empty());
  const TempDir dir;
  const fs::path pub = dir.path() / "key.pub";
  const fs::path message = dir.path() / "message";
  const fs::path sig = dir.path() / "message.minisig";
  const SecretKey key = SecretKey::generate();
  write_file(pub, key.public_key().to_file_text());
  write_file(message, "a release to sign\n");

  // The longest comments minisign reads back, to pin the limits sign() enforces.
  for (const std::string& trusted :
       {std::string("timestamp:1700000000\tfile:message\thashed"), std::string(8173, 't')}) {
    write_file(
        sig,
        key.sign(bytes_of(read_file(message)), trusted, std::string(1003, 'u')).to_file_text());
    // -H makes minisign refuse anything but a prehashed signature; -Q prints the trusted
    // comment alone.
    const std::vector<std::string> verify{minisign, "-V", "-H", "-Q", "-p", pub, "-m", message};
    const Outcome verified = run(verify);
    ASSERT_EQ(verified.exit_code, 0) << describe(verify, verified).substr(0, 2000);
    EXPECT_EQ(verified.out, trusted + "\n");
  }

  // minisign refuses what we would too, or the check above proves nothing.
  const std::string good = key.sign(bytes_of(read_file(message)), "original").to_file_text();
  write_file(sig, with_line(good, 2, "trusted comment: altered"));
  const std::vector<std::string> verify{minisign, "-V", "-p", pub, "-m", message};
  EXPECT_NE(run(verify).exit_code, 0);
  write_file(sig, good);
  EXPECT_EQ(run(verify).exit_code, 0);
  write_file(message, "a release to sign, altered\n");
  EXPECT_NE(run(verify).exit_code, 0);
}

TEST(Minisign, VerifiesMinisignSignatures) {
  const std::string minisign = require_minisign();
  ASSERT_FALSE(minisign.empty());
  const TempDir dir;
  const fs::path pub = dir.path() / "key.pub";
  const fs::path sec = dir.path() / "key.sec";
  const fs::path message = dir.path() / "message";
  const fs::path sig = dir.path() / "message.minisig";
  const std::vector<std::string> generate{minisign, "-G", "-W", "-p", pub, "-s", sec};
  const Outcome generated = run(generate);
  ASSERT_EQ(generated.exit_code, 0) << describe(generate, generated);
  const auto key = PublicKey::parse(read_file(pub));
  ASSERT_TRUE(key.has_value()) << key.error().message;
  write_file(message, "a release signed by minisign\n");

  // Prehashed by default, legacy ("Ed", the message itself signed) with -l.
  for (const bool legacy : {false, true}) {
    std::vector<std::string> sign{minisign, "-S", "-s", sec, "-m", message, "-t", "comment"};
    if (legacy) sign.emplace_back("-l");
    const Outcome signed_ = run(sign);
    ASSERT_EQ(signed_.exit_code, 0) << describe(sign, signed_);
    const std::string text = read_file(sig);
    EXPECT_EQ(from_base64(lines_of(text).at(1)).at(1), legacy ? 'd' : 'D') << text;

    const auto signature = Signature::parse(text);
    ASSERT_TRUE(signature.has_value()) << signature.error().message;
    EXPECT_EQ(signature->key_id(), key->key_id());
    EXPECT_EQ(signature->to_file_text(), text);
    const auto verified = key->verify(bytes_of(read_file(message)), *signature);
    ASSERT_TRUE(verified.has_value()) << verified.error().message;
    EXPECT_EQ(*verified, "comment");
    std::istringstream stream(read_file(message));
    const auto streamed = key->verify(stream, *signature);
    ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
    EXPECT_EQ(*streamed, "comment");
    expect_error(key->verify(bytes_of("another message\n"), *signature), Errc::bad_signature);
  }

  // minisign's unencrypted secret key file (zero checksum) signs just as minisign does.
  const auto secret = SecretKey::parse(read_file(sec), Secret(0));
  ASSERT_TRUE(secret.has_value()) << secret.error().message;
  EXPECT_EQ(secret->public_key().to_file_text(), key->to_file_text());
}

TEST(Minisign, RefusesAlteredSignatures) {
  const SecretKey key = SecretKey::generate();
  const PublicKey public_key = key.public_key();
  const std::string message = "a release to sign\n";
  const std::string good = key.sign(bytes_of(message), "trusted").to_file_text();
  const auto verify = [&](const std::string& signed_message, const std::string& text) {
    const auto signature = Signature::parse(text);
    EXPECT_TRUE(signature.has_value()) << signature.error().message;
    return public_key.verify(bytes_of(signed_message), *signature);
  };
  ASSERT_TRUE(verify(message, good).has_value());

  expect_error(verify("a release to sign!\n", good), Errc::bad_signature);
  expect_error(verify(message, with_line(good, 2, "trusted comment: trustee")),
               Errc::bad_trusted_comment);
  std::vector<std::uint8_t> global = from_base64(lines_of(good)[3]);
  global[10] ^= 1;
  expect_error(verify(message, with_line(good, 3, to_base64(global))), Errc::bad_trusted_comment);
  std::vector<std::uint8_t> blob = from_base64(lines_of(good)[1]);
  blob[20] ^= 1;
  expect_error(verify(message, with_line(good, 1, to_base64(blob))), Errc::bad_signature);
  // The untrusted comment is not signed.
  EXPECT_TRUE(verify(message, with_line(good, 0, "untrusted comment: anything")).has_value());

  // Claiming to be another key's signature, or checked against another key.
  blob = from_base64(lines_of(good)[1]);
  blob[2] ^= 1;
  expect_error(verify(message, with_line(good, 1, to_base64(blob))), Errc::key_mismatch);
  const auto signature = Signature::parse(good);
  ASSERT_TRUE(signature.has_value());
  const PublicKey other = SecretKey::generate().public_key();
  expect_error(other.verify(bytes_of(message), *signature), Errc::key_mismatch);
  // Another key that claims our key id is caught by the signature itself.
  std::vector<std::uint8_t> impostor = from_base64(lines_of(other.to_file_text())[1]);
  const std::vector<std::uint8_t> ours = from_base64(lines_of(public_key.to_file_text())[1]);
  std::copy(ours.begin() + 2, ours.begin() + 10, impostor.begin() + 2);
  const auto impostor_key = PublicKey::parse("untrusted comment: x\n" + to_base64(impostor));
  ASSERT_TRUE(impostor_key.has_value());
  expect_error(impostor_key->verify(bytes_of(message), *signature), Errc::bad_signature);

  // A legacy algorithm id on a prehashed signature makes it sign the wrong bytes.
  blob = from_base64(lines_of(good)[1]);
  blob[1] = 'd';
  expect_error(verify(message, with_line(good, 1, to_base64(blob))), Errc::bad_signature);
}

TEST(Minisign, RejectsMalformedSignatureFiles) {
  const std::string good = SecretKey::generate().sign(bytes_of("m"), "t").to_file_text();
  const std::vector<std::string> lines = lines_of(good);
  const auto expect_parse_error = [](const std::string& text, Errc code) {
    SCOPED_TRACE(text);
    expect_error(Signature::parse(text), code);
  };
  expect_parse_error(lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n",
                     Errc::malformed_signature);  // no global signature
  expect_parse_error(good + "extra\n", Errc::malformed_signature);
  expect_parse_error(with_line(good, 0, "comment: x"), Errc::malformed_signature);
  expect_parse_error(with_line(good, 2, "trusted: x"), Errc::malformed_signature);
  expect_parse_error(with_line(good, 1, lines[1].substr(1)), Errc::malformed_signature);
  expect_parse_error(with_line(good, 3, lines[3] + "AAAA"), Errc::malformed_signature);
  expect_parse_error(with_line(good, 1, std::string(100, '!')), Errc::malformed_encoding);
  expect_parse_error(with_line(good, 3, std::string(88, '*')), Errc::malformed_encoding);
  for (const char* algorithm : {"Ec", "ed", "\0\0"}) {
    std::vector<std::uint8_t> blob = from_base64(lines[1]);
    blob[0] = static_cast<std::uint8_t>(algorithm[0]);
    blob[1] = static_cast<std::uint8_t>(algorithm[1]);
    expect_parse_error(with_line(good, 1, to_base64(blob)), Errc::wrong_key_type);
  }
}

TEST(Minisign, EncryptedSecretKeyFile) {
  const std::string minisign = require_minisign();
  ASSERT_FALSE(minisign.empty());
  const TempDir dir;
  const fs::path pub = dir.path() / "key.pub";
  const fs::path sec = dir.path() / "key.sec";
  const fs::path message = dir.path() / "message";
  const SecretKey key = SecretKey::generate();
  const std::string text = key.to_encrypted_file_text(secret_of("correct horse"), "ours");
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "untrusted comment: ours");
  const std::vector<std::uint8_t> blob = from_base64(lines[1]);
  ASSERT_EQ(blob.size(), 158u);
  EXPECT_EQ(std::vector<std::uint8_t>(blob.begin(), blob.begin() + 6),
            (std::vector<std::uint8_t>{'E', 'd', 'S', 'c', 'B', '2'}));
  // minisign's limits, little-endian: 2^25 operations and 1 GiB.
  EXPECT_EQ(std::vector<std::uint8_t>(blob.begin() + 38, blob.begin() + 54),
            (std::vector<std::uint8_t>{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0}));
  // The key id is encrypted too.
  const std::vector<std::uint8_t> public_blob =
      from_base64(lines_of(key.public_key().to_file_text())[1]);
  EXPECT_FALSE(std::equal(public_blob.begin() + 2, public_blob.begin() + 10, blob.begin() + 54));

  const auto parsed = SecretKey::parse(text, secret_of("correct horse"));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->public_key().to_file_text(), key.public_key().to_file_text());
  expect_error(SecretKey::parse(text, secret_of("correct horsf")), Errc::wrong_passphrase);

  // minisign signs with it, given the password on stdin, and checks the result against our
  // public key (-p) before writing it.
  write_file(pub, key.public_key().to_file_text());
  write_file(sec, text);
  write_file(message, "signed by minisign with our key\n");
  const std::vector<std::string> sign{minisign, "-S", "-s",    sec,  "-p",
                                      pub,      "-m", message, "-t", "from minisign"};
  const Outcome signed_ = run_with_input(sign, "correct horse\n", dir.path() / "password");
  ASSERT_EQ(signed_.exit_code, 0) << describe(sign, signed_);
  const auto signature = Signature::parse(read_file(dir.path() / "message.minisig"));
  ASSERT_TRUE(signature.has_value()) << signature.error().message;
  const auto verified = key.public_key().verify(bytes_of(read_file(message)), *signature);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(*verified, "from minisign");
}

TEST(Minisign, ParsesMinisignEncryptedKeys) {
  const std::string minisign = require_minisign();
  ASSERT_FALSE(minisign.empty());
  const TempDir dir;
  const fs::path pub = dir.path() / "key.pub";
  const fs::path sec = dir.path() / "key.sec";
  const fs::path message = dir.path() / "message";
  // minisign asks twice for a new password.
  const std::vector<std::string> generate{minisign, "-G", "-p", pub, "-s", sec};
  const Outcome generated =
      run_with_input(generate, "pass phrase\npass phrase\n", dir.path() / "password");
  ASSERT_EQ(generated.exit_code, 0) << describe(generate, generated);
  const std::vector<std::uint8_t> blob = from_base64(lines_of(read_file(sec)).at(1));
  ASSERT_EQ(blob.size(), 158u);
  EXPECT_EQ(blob[2], 'S');
  EXPECT_EQ(blob[3], 'c');

  const auto key = SecretKey::parse(read_file(sec), secret_of("pass phrase"));
  ASSERT_TRUE(key.has_value()) << key.error().message;
  // The key lines: minisign drops leading zeros from the key id in the comment.
  EXPECT_EQ(lines_of(key->public_key().to_file_text())[1], lines_of(read_file(pub)).at(1));
  expect_error(SecretKey::parse(read_file(sec), secret_of("pass phrase ")), Errc::wrong_passphrase);

  write_file(message, "signed by us with minisign's key\n");
  write_file(dir.path() / "message.minisig",
             key->sign(bytes_of(read_file(message)), "ours").to_file_text());
  const std::vector<std::string> verify{minisign, "-V", "-Q", "-p", pub, "-m", message};
  const Outcome verified = run(verify);
  ASSERT_EQ(verified.exit_code, 0) << describe(verify, verified);
  EXPECT_EQ(verified.out, "ours\n");
}

TEST(Minisign, RejectsMalformedSecretKeyFiles) {
  const SecretKey key = SecretKey::generate();
  const std::string good = text_of(key.to_unencrypted_file_text("k"));
  const std::vector<std::uint8_t> blob = from_base64(lines_of(good)[1]);
  const auto expect_parse_error = [](const std::string& text, Errc code) {
    SCOPED_TRACE(text);
    expect_error(SecretKey::parse(text, secret_of("unused")), code);
  };
  const auto altered = [&](std::size_t offset, std::uint8_t value) {
    std::vector<std::uint8_t> copy = blob;
    copy.at(offset) = value;
    return "untrusted comment: k\n" + to_base64(copy) + "\n";
  };
  expect_parse_error(lines_of(good)[1], Errc::malformed_key);
  expect_parse_error(good + "more\n", Errc::malformed_key);
  expect_parse_error("untrusted comment: k\n" + std::string(212, '#'), Errc::malformed_encoding);
  expect_parse_error(
      "untrusted comment: k\n" + to_base64(std::vector<std::uint8_t>(blob.begin(), blob.end() - 1)),
      Errc::malformed_key);
  // The public half of sk no longer matches the seed.
  expect_parse_error(altered(120, static_cast<std::uint8_t>(blob[120] ^ 1)), Errc::malformed_key);
  expect_parse_error(altered(0, 'X'), Errc::wrong_key_type);
  expect_parse_error(altered(2, 'A'), Errc::wrong_key_type);
  expect_parse_error(altered(4, 'S'), Errc::wrong_key_type);

  // Limits above minisign's are refused before any scrypt work: opslimit 2^25 + 1, then a
  // memlimit of 2 GiB.
  std::vector<std::uint8_t> costly = blob;
  costly[2] = 'S';
  costly[3] = 'c';
  costly[38] = 1;
  costly[41] = 2;
  expect_parse_error("untrusted comment: k\n" + to_base64(costly), Errc::malformed_key);
  costly[38] = 0;
  costly[49] = 0x80;
  expect_parse_error("untrusted comment: k\n" + to_base64(costly), Errc::malformed_key);
}

// A stream buffer that serves size bytes of 'x' and then fails, as a disk error would.
class FailingBuffer : public std::streambuf {
 public:
  explicit FailingBuffer(std::size_t size) : chunk_(size, 'x') {}

 protected:
  int_type underflow() override {
    if (served_) throw std::runtime_error("read error");
    served_ = true;
    setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  std::string chunk_;
  bool served_ = false;
};

TEST(Minisign, StreamingMatchesWholeMessage) {
  const SecretKey key = SecretKey::generate();
  const PublicKey public_key = key.public_key();
  std::string message(20 * 1024 * 1024 + 7, '\0');
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[i] = static_cast<char>((i * 2654435761U) >> 13);
  }
  const Signature whole = key.sign(bytes_of(message), "large");
  std::istringstream stream(message);
  const auto streamed = key.sign(stream, "large");
  ASSERT_TRUE(streamed.has_value()) << streamed.error().message;
  EXPECT_EQ(streamed->to_file_text(), whole.to_file_text());

  std::istringstream again(message);
  const auto verified = public_key.verify(again, whole);
  ASSERT_TRUE(verified.has_value()) << verified.error().message;
  EXPECT_EQ(*verified, "large");
  message.back() ^= 1;
  std::istringstream altered(message);
  expect_error(public_key.verify(altered, whole), Errc::bad_signature);

  // A stream that fails midway is an error, never a signature of what was read before.
  FailingBuffer failing_buffer(100000);
  std::istream failing(&failing_buffer);
  expect_error(key.sign(failing, "t"), Errc::io);
  FailingBuffer failing_again(100000);
  std::istream failing_verify(&failing_again);
  expect_error(public_key.verify(failing_verify, whole), Errc::io);
}

}  // namespace
}  // namespace tipline::crypto::minisign
