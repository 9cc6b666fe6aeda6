#include "tipline/crypto/age.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "tipline/crypto/scrypt.h"
#include "tipline/crypto/x25519.h"

namespace tipline::crypto::age {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes random_bytes(std::size_t size, unsigned seed = 1) {
  std::mt19937 generator(seed);
  Bytes bytes(size);
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(generator());
  return bytes;
}

Sink append_to(Bytes& out) {
  return [&out](std::span<const std::uint8_t> bytes) -> tl::expected<void, Error> {
    out.insert(out.end(), bytes.begin(), bytes.end());
    return {};
  };
}

Bytes encrypt(const Bytes& plaintext, std::vector<const Recipient*> recipients,
              std::size_t slice = 1 << 20) {
  Bytes out;
  auto encryptor = Encryptor::create(recipients, append_to(out));
  EXPECT_TRUE(encryptor.has_value());
  for (std::size_t at = 0; at < plaintext.size(); at += slice) {
    const std::size_t take = std::min(slice, plaintext.size() - at);
    EXPECT_TRUE(encryptor->write(std::span(plaintext).subspan(at, take)).has_value());
  }
  EXPECT_TRUE(encryptor->finish().has_value());
  return out;
}

tl::expected<Bytes, Error> decrypt(const Bytes& file, std::vector<const Identity*> identities,
                                   std::size_t slice = 1 << 20) {
  Bytes out;
  Decryptor decryptor(identities, append_to(out));
  for (std::size_t at = 0; at < file.size(); at += slice) {
    const std::size_t take = std::min(slice, file.size() - at);
    if (auto written = decryptor.write(std::span(file).subspan(at, take)); !written) {
      return tl::unexpected(written.error());
    }
  }
  if (auto done = decryptor.finish(); !done) return tl::unexpected(done.error());
  return out;
}

std::size_t header_size(const Bytes& file) {
  auto parsed = Header::parse(file);
  return parsed && *parsed ? (*parsed)->size : 0;
}

class AgeTest : public ::testing::Test {
 protected:
  x25519::Identity alice_ = x25519::Identity::generate();
  x25519::Identity bob_ = x25519::Identity::generate();
  x25519::Recipient alice_recipient_ = alice_.recipient();
  x25519::Recipient bob_recipient_ = bob_.recipient();
};

TEST_F(AgeTest, RoundTripsAtChunkBoundaries) {
  constexpr std::size_t kChunk = std::size_t{64} * 1024;
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kChunk - 1, kChunk, kChunk + 1,
                                 3 * kChunk, 3 * kChunk + 17}) {
    const Bytes plaintext = random_bytes(size);
    const Bytes file = encrypt(plaintext, {&alice_recipient_});
    // 16-byte nonce, then one 16-byte tag a chunk; an exact multiple gets no empty chunk.
    const std::size_t chunks = size == 0 ? 1 : (size + kChunk - 1) / kChunk;
    EXPECT_EQ(file.size(), header_size(file) + 16 + size + 16 * chunks) << size;
    auto opened = decrypt(file, {&alice_});
    ASSERT_TRUE(opened.has_value()) << size << ": " << opened.error().message;
    EXPECT_EQ(*opened, plaintext) << size;
  }
}

TEST_F(AgeTest, ByteAtATimeStreamingGivesTheSameResult) {
  const Bytes plaintext = random_bytes(70000, 7);
  const Bytes file = encrypt(plaintext, {&alice_recipient_}, 1);
  auto opened = decrypt(file, {&alice_}, 1);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(*opened, plaintext);
}

TEST_F(AgeTest, EveryRecipientOpensAndOthersDoNot) {
  const Bytes plaintext = random_bytes(1000);
  const Bytes file = encrypt(plaintext, {&alice_recipient_, &bob_recipient_});
  EXPECT_EQ(decrypt(file, {&alice_}).value(), plaintext);
  EXPECT_EQ(decrypt(file, {&bob_}).value(), plaintext);
  const auto carol = x25519::Identity::generate();
  const auto refused = decrypt(file, {&carol});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::no_match);
}

TEST_F(AgeTest, HeaderSerializesByteForByte) {
  const Bytes file = encrypt(random_bytes(10), {&alice_recipient_, &bob_recipient_});
  auto parsed = Header::parse(file);
  ASSERT_TRUE(parsed.has_value() && parsed->has_value());
  EXPECT_EQ((*parsed)->header.serialize(),
            std::string(file.begin(), file.begin() + static_cast<long>((*parsed)->size)));
  EXPECT_EQ((*parsed)->header.stanzas.size(), 2u);
}

TEST_F(AgeTest, ServerSideStanzaCheckNeedsNoIdentity) {
  const Bytes file = encrypt(random_bytes(10), {&alice_recipient_, &bob_recipient_});
  const auto parsed = Header::parse(file);
  ASSERT_TRUE(parsed && *parsed);
  EXPECT_TRUE(check_x25519_stanzas((*parsed)->header, 2).has_value());
  const auto wrong_count = check_x25519_stanzas((*parsed)->header, 3);
  ASSERT_FALSE(wrong_count.has_value());
  EXPECT_EQ(wrong_count.error().code, Errc::header_malformed);

  const scrypt::Recipient passphrase(Secret::random(8), 2);
  const Bytes sealed = encrypt(random_bytes(10), {&passphrase});
  const auto scrypt_header = Header::parse(sealed);
  ASSERT_TRUE(scrypt_header && *scrypt_header);
  EXPECT_FALSE(check_x25519_stanzas((*scrypt_header)->header, 1).has_value());
}

TEST_F(AgeTest, HeaderParsingWaitsForMoreOrRefusesEarly) {
  const Bytes file = encrypt(random_bytes(10), {&alice_recipient_});
  const auto partial = Header::parse(std::span(file).first(header_size(file) - 1));
  ASSERT_TRUE(partial.has_value());
  EXPECT_FALSE(partial->has_value());
  const std::string junk = "PK\x03\x04";
  const auto refused =
      Header::parse(std::span(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::header_malformed);
}

TEST_F(AgeTest, OversizedHeaderIsRefused) {
  std::string text = "age-encryption.org/v1\n-> X25519 ";
  text.append(kMaxHeaderBytes, 'A');
  const auto refused =
      Header::parse(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::header_malformed);
}

TEST_F(AgeTest, AlteredHeaderFailsTheMac) {
  Bytes file = encrypt(random_bytes(10), {&alice_recipient_, &bob_recipient_});
  // Swap the two stanzas: every stanza still opens, but the MAC covers their order.
  auto parsed = Header::parse(file);
  ASSERT_TRUE(parsed && *parsed);
  Header header = (*parsed)->header;
  std::swap(header.stanzas[0], header.stanzas[1]);
  const std::string altered = header.serialize();
  Bytes tampered(altered.begin(), altered.end());
  tampered.insert(tampered.end(), file.begin() + static_cast<long>((*parsed)->size), file.end());
  const auto refused = decrypt(tampered, {&alice_});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::header_mac_mismatch);
}

TEST_F(AgeTest, CorruptPayloadAndTruncation) {
  const Bytes plaintext = random_bytes(200000);
  const Bytes file = encrypt(plaintext, {&alice_recipient_});
  Bytes flipped = file;
  flipped.back() ^= 1;
  EXPECT_EQ(decrypt(flipped, {&alice_}).error().code, Errc::payload_corrupt);
  const Bytes truncated(file.begin(), file.end() - 100);
  EXPECT_EQ(decrypt(truncated, {&alice_}).error().code, Errc::payload_corrupt);
  Bytes extended = file;
  extended.push_back(0);
  EXPECT_EQ(decrypt(extended, {&alice_}).error().code, Errc::payload_corrupt);
  const Bytes no_nonce(file.begin(), file.begin() + static_cast<long>(header_size(file) + 8));
  EXPECT_EQ(decrypt(no_nonce, {&alice_}).error().code, Errc::header_malformed);
}

TEST_F(AgeTest, SinkErrorsStopTheStream) {
  const Bytes file = encrypt(random_bytes(200000), {&alice_recipient_});
  const Identity* identities[] = {&alice_};
  Decryptor decryptor(identities, [](std::span<const std::uint8_t>) -> tl::expected<void, Error> {
    return tl::unexpected(Error{Errc::io, "disk full"});
  });
  const auto written = decryptor.write(file);
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, Errc::io);
  EXPECT_FALSE(decryptor.write(file).has_value()) << "nothing is accepted after an error";
}

TEST_F(AgeTest, RewrapKeepsThePayload) {
  const Bytes plaintext = random_bytes(150000);
  const Bytes file = encrypt(plaintext, {&alice_recipient_});
  const std::size_t old_size = header_size(file);
  const Identity* identities[] = {&alice_};
  const Recipient* recipients[] = {&bob_recipient_};
  auto rewrapped = rewrap(std::span(file).first(old_size + 100), identities, recipients);
  ASSERT_TRUE(rewrapped.has_value()) << rewrapped.error().message;
  EXPECT_EQ(rewrapped->old_header_size, old_size);
  Bytes rotated(rewrapped->header.begin(), rewrapped->header.end());
  rotated.insert(rotated.end(), file.begin() + static_cast<long>(old_size), file.end());
  EXPECT_EQ(decrypt(rotated, {&bob_}).value(), plaintext);
  EXPECT_EQ(decrypt(rotated, {&alice_}).error().code, Errc::no_match);

  const auto carol = x25519::Identity::generate();
  const Identity* strangers[] = {&carol};
  EXPECT_EQ(rewrap(file, strangers, recipients).error().code, Errc::no_match);
}

TEST_F(AgeTest, PassphraseRoundTripAndWorkFactorLimit) {
  Secret passphrase = Secret::random(12);
  auto copy = [&] { return secret_of(text_of(passphrase)); };
  const scrypt::Recipient recipient(copy(), 10);
  const Bytes plaintext = random_bytes(5000);
  const Bytes file = encrypt(plaintext, {&recipient});
  const scrypt::Identity identity(copy());
  EXPECT_EQ(decrypt(file, {&identity}).value(), plaintext);

  const scrypt::Identity wrong(Secret::random(12));
  EXPECT_EQ(decrypt(file, {&wrong}).error().code, Errc::no_match);
  const scrypt::Identity cautious(copy(), 9);
  EXPECT_EQ(decrypt(file, {&cautious}).error().code, Errc::header_malformed)
      << "a work factor above the limit is refused without running scrypt";
  EXPECT_EQ(decrypt(file, {&alice_}).error().code, Errc::no_match);
}

TEST_F(AgeTest, ArmorRoundTripsAndAcceptsCrlf) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{47}, std::size_t{48},
                                 std::size_t{49}, std::size_t{100000}}) {
    const Bytes data = random_bytes(size, 3);
    Bytes text;
    ArmorWriter writer(append_to(text));
    ASSERT_TRUE(writer.write(data).has_value());
    ASSERT_TRUE(writer.finish().has_value());
    EXPECT_TRUE(looks_armored(text));
    for (const bool crlf : {false, true}) {
      Bytes input;
      for (const std::uint8_t byte : text) {
        if (crlf && byte == '\n') input.push_back('\r');
        input.push_back(byte);
      }
      Bytes decoded;
      ArmorReader reader(append_to(decoded));
      ASSERT_TRUE(reader.write(input).has_value()) << size;
      ASSERT_TRUE(reader.finish().has_value()) << size;
      EXPECT_EQ(decoded, data) << size << (crlf ? " crlf" : "");
    }
  }
}

TEST_F(AgeTest, ArmorRefusesWhatAgeRefuses) {
  const std::string head = "-----BEGIN AGE ENCRYPTED FILE-----\n";
  const std::string tail = "-----END AGE ENCRYPTED FILE-----\n";
  for (const std::string& bad : {head + "YWJj\n",                  // no end line
                                 head + "YWJj\n" + tail + "x",     // garbage after
                                 "x" + head + "YWJj\n" + tail,     // garbage before
                                 head + "YWI\n" + tail,            // no padding
                                 head + "YWJ=\n" + tail,           // not canonical
                                 head + "\nYWJj\n" + tail,         // empty line
                                 head + " YWJj\n" + tail,          // leading space
                                 head + "YWJj\nYWJj\n" + tail}) {  // short line before the last
    Bytes ignored;
    ArmorReader reader(append_to(ignored));
    auto result =
        reader.write(std::span(reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()));
    if (result) result = reader.finish();
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, Errc::armor_malformed) << bad;
  }
}

}  // namespace
}  // namespace tipline::crypto::age
