#include "bech32.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace tipline::crypto::bech32 {
namespace {

std::string hrp_of(std::string_view text) { return std::string(text.substr(0, text.rfind('1'))); }

// The payload size of a valid text: its data characters less the checksum, as whole bytes.
std::size_t payload_size(std::string_view text) {
  return (text.size() - text.rfind('1') - 1 - 6) * 5 / 8;
}

// A plain BIP-173 checksum, written independently of the constant-time one under test, to
// build texts with a valid checksum around deliberately bad payloads.
std::string with_checksum(const std::string& hrp, const std::string& data) {
  constexpr std::string_view kAlphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  constexpr std::array<std::uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
                                                       0x3d4233dd, 0x2a1462b3};
  std::vector<std::uint32_t> values;
  for (const char c : hrp) {
    values.push_back(static_cast<std::uint32_t>(c) >> 5);
  }
  values.push_back(0);
  for (const char c : hrp) {
    values.push_back(static_cast<std::uint32_t>(c) & 31U);
  }
  for (const char c : data) {
    values.push_back(static_cast<std::uint32_t>(kAlphabet.find(c)));
  }
  values.insert(values.end(), 6, 0);
  std::uint32_t checksum = 1;
  for (const std::uint32_t value : values) {
    const std::uint32_t top = checksum >> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    for (std::size_t i = 0; i < 5; ++i) {
      if (((top >> i) & 1U) != 0) {
        checksum ^= kGenerator[i];
      }
    }
  }
  checksum ^= 1;
  std::string text = hrp + "1" + data;
  for (int i = 5; i >= 0; --i) {
    text += kAlphabet[(checksum >> (5 * i)) & 31U];
  }
  return text;
}

TEST(Bech32, AcceptsBip173ValidStrings) {
  const std::vector<std::string> valid = {
      "A12UEL5L",
      "a12uel5l",
      "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
      "11" + std::string(82, 'q') + "c8247j",
      "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
      "?1ezyfcl",
  };
  for (const std::string& text : valid) {
    std::vector<std::uint8_t> payload(payload_size(text));
    const auto decoded = decode(text, hrp_of(text), payload);
    ASSERT_TRUE(decoded.has_value()) << text << ": " << decoded.error().message;
    EXPECT_EQ(encode(hrp_of(text), payload), text);
  }
}

TEST(Bech32, DecodesTheAlphabetInOrder) {
  std::array<std::uint8_t, 20> payload{};
  ASSERT_TRUE(decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "abcdef", payload));
  const std::array<std::uint8_t, 20> expected = {0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54,
                                                 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56,
                                                 0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf};
  EXPECT_EQ(payload, expected);
}

TEST(Bech32, RejectsBip173InvalidStrings) {
  const std::vector<std::string> invalid = {
      std::string("\x20") + "1nwldj5",                  // HRP character out of range
      std::string("\x7f") + "1axkwrx",                  // HRP character out of range
      std::string("\x80") + "1eym55h",                  // HRP character out of range
      "pzry9x0s0muk",                                   // no separator
      "1pzry9x0s0muk",                                  // empty HRP
      "x1b4n0q5v",                                      // invalid data character
      "li1dgmt3",                                       // checksum too short
      std::string("de1lg7wt") + "\xff",                 // invalid character in checksum
      "A1G7SGD8",                                       // checksum computed over the uppercase HRP
      "10a06t8",                                        // empty HRP
      "1qzzfhee",                                       // empty HRP
      "abcdef1Qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",  // mixed case
      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxx",  // checksum does not match
  };
  for (const std::string& text : invalid) {
    std::vector<std::uint8_t> payload(64);
    const auto decoded = decode(text, hrp_of(text), payload);
    ASSERT_FALSE(decoded.has_value()) << text;
    EXPECT_EQ(decoded.error().code, Errc::malformed_encoding) << text;
  }
}

TEST(Bech32, HasNoLengthLimit) {
  // BIP-173 rejects this 91-character string only for its length; age needs longer strings.
  const std::string text =
      "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx";
  EXPECT_TRUE(decode(text, hrp_of(text), {}));

  std::vector<std::uint8_t> data(200);
  randombytes_buf(data.data(), data.size());
  const std::string long_text = encode("age", data);
  EXPECT_GT(long_text.size(), 90u);
  std::vector<std::uint8_t> decoded(data.size());
  ASSERT_TRUE(decode(long_text, "age", decoded));
  EXPECT_EQ(decoded, data);
}

TEST(Bech32, RejectsAnotherHrp) {
  std::array<std::uint8_t, 0> payload{};
  for (const char* hrp : {"b", "A", "a1", ""}) {
    const auto decoded = decode("a12uel5l", hrp, payload);
    ASSERT_FALSE(decoded.has_value()) << hrp;
    EXPECT_EQ(decoded.error().code, Errc::wrong_key_type) << hrp;
  }
}

TEST(Bech32, RejectsAnotherPayloadSize) {
  for (const std::size_t size : {19u, 21u, 0u}) {
    std::vector<std::uint8_t> payload(size);
    const auto decoded = decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "abcdef", payload);
    ASSERT_FALSE(decoded.has_value()) << size;
    EXPECT_EQ(decoded.error().code, Errc::malformed_key) << size;
  }
}

TEST(Bech32, RejectsBadPadding) {
  // "ll" is ten one-bits: a byte and two nonzero padding bits. "q" is five bits, less than a byte.
  for (const std::string& text : {with_checksum("a", "ll"), with_checksum("a", "q")}) {
    std::vector<std::uint8_t> payload(1, 0x55);
    const auto decoded = decode(text, "a", payload);
    ASSERT_FALSE(decoded.has_value()) << text;
    EXPECT_EQ(decoded.error().code, Errc::malformed_encoding) << text;
  }
  // The same one byte with zero padding is fine.
  std::array<std::uint8_t, 1> payload{};
  ASSERT_TRUE(decode(with_checksum("a", "lu"), "a", payload));
  EXPECT_EQ(payload[0], 0xff);
}

TEST(Bech32, RoundTripsInEitherCase) {
  for (const std::string hrp : {"age", "AGE-SECRET-KEY-", "x"}) {
    for (std::size_t size = 0; size <= 70; ++size) {
      std::vector<std::uint8_t> data(size);
      // randombytes_buf wants a non-null buffer even for zero bytes.
      if (!data.empty()) {
        randombytes_buf(data.data(), data.size());
      }
      const std::string text = encode(hrp, data);
      const bool upper = hrp != "age" && hrp != "x";
      EXPECT_TRUE(std::none_of(text.begin(), text.end(), upper ? ::islower : ::isupper)) << text;

      const Secret secret_text = encode_secret(hrp, data);
      EXPECT_EQ(std::string(secret_text.expose().begin(), secret_text.expose().end()), text);

      std::vector<std::uint8_t> decoded(size);
      const auto result = decode(text, hrp, decoded);
      ASSERT_TRUE(result.has_value()) << text << ": " << result.error().message;
      EXPECT_EQ(decoded, data);
    }
  }
}

}  // namespace
}  // namespace tipline::crypto::bech32
