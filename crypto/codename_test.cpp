#include "tipline/crypto/codename.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "test_helpers.h"

namespace tipline::crypto::codename {
namespace {

char check_digit_of(std::string_view digits) {
  return static_cast<char>(
      check_digit({reinterpret_cast<const std::uint8_t*>(digits.data()), digits.size()}));
}

// 23 digits of pi and their check digit, the codename of the known-answer test.
constexpr std::string_view kPiCodename = "314159265358979323846260";

TEST(Codename, DammKnownAnswers) {
  // Published examples: Wikipedia's "Damm algorithm" article works "572" to check digit 4;
  // Rosetta Code's Damm task has 5724 and 112946 valid, 5727 and 112949 not.
  EXPECT_EQ(check_digit_of("572"), '4');
  EXPECT_EQ(check_digit_of("5724"), '0');
  EXPECT_NE(check_digit_of("5727"), '0');
  EXPECT_EQ(check_digit_of("112946"), '0');
  EXPECT_NE(check_digit_of("112949"), '0');
  // Computed with a separate Python implementation of the published table.
  EXPECT_EQ(check_digit_of(""), '0');
  EXPECT_EQ(check_digit_of("1"), '3');
  EXPECT_EQ(check_digit_of("9"), '2');
  EXPECT_EQ(check_digit_of("123456789"), '4');
  EXPECT_EQ(check_digit_of("12345678901234567890123"), '8');
  EXPECT_EQ(check_digit_of("00000000000000000000000"), '0');
  EXPECT_EQ(check_digit_of("99999999999999999999999"), '9');
  EXPECT_EQ(check_digit_of(kPiCodename.substr(0, 23)), '0');
}

TEST(Codename, DammCatchesEverySingleErrorInShortStrings) {
  // Every 3-digit string with its check digit: all substitutions and adjacent transpositions,
  // including those that involve the check digit itself.
  for (int n = 0; n < 1000; ++n) {
    std::string valid = std::to_string(n + 1000).substr(1);
    valid += check_digit_of(valid);
    ASSERT_EQ(check_digit_of(valid), '0') << valid;
    for (std::size_t i = 0; i < valid.size(); ++i) {
      for (char digit = '0'; digit <= '9'; ++digit) {
        if (digit == valid[i]) continue;
        std::string typo = valid;
        typo[i] = digit;
        EXPECT_NE(check_digit_of(typo), '0') << valid << " -> " << typo;
      }
      if (i + 1 < valid.size() && valid[i] != valid[i + 1]) {
        std::string swapped = valid;
        std::swap(swapped[i], swapped[i + 1]);
        EXPECT_NE(check_digit_of(swapped), '0') << valid << " -> " << swapped;
      }
    }
  }
}

TEST(Codename, GeneratedCodenamesAreValidAndUniform) {
  std::array<int, 10> counts{};
  constexpr int kCodenames = 200;
  for (int round = 0; round < kCodenames; ++round) {
    const Secret codename = generate();
    const std::string digits = text_of(codename);
    ASSERT_EQ(digits.size(), kDigits);
    const auto normalized = normalize(codename);
    ASSERT_TRUE(normalized.has_value()) << normalized.error().message;
    EXPECT_EQ(text_of(*normalized), digits);
    for (std::size_t i = 0; i + 1 < kDigits; ++i) {
      ++counts.at(static_cast<std::size_t>(digits[i] - '0'));
    }
  }
  // 4600 random digits: each count is 460 on average with a standard deviation of 20, so
  // these bounds (over 5 deviations) fail only for a biased or broken generator.
  for (const int count : counts) {
    EXPECT_GT(count, 355);
    EXPECT_LT(count, 565);
  }
  EXPECT_NE(text_of(generate()), text_of(generate()));
}

TEST(Codename, NormalizeCatchesEveryTypo) {
  for (int round = 0; round < 20; ++round) {
    const std::string valid = text_of(generate());
    for (std::size_t i = 0; i < kDigits; ++i) {
      for (char digit = '0'; digit <= '9'; ++digit) {
        if (digit == valid[i]) continue;
        std::string typo = valid;
        typo[i] = digit;
        const auto result = normalize(secret_of(typo));
        ASSERT_FALSE(result.has_value()) << valid << " -> " << typo;
        EXPECT_EQ(result.error().code, Errc::codename_check_digit);
      }
      if (i + 1 < kDigits && valid[i] != valid[i + 1]) {
        std::string swapped = valid;
        std::swap(swapped[i], swapped[i + 1]);
        const auto result = normalize(secret_of(swapped));
        ASSERT_FALSE(result.has_value()) << valid << " -> " << swapped;
        EXPECT_EQ(result.error().code, Errc::codename_check_digit);
      }
    }
  }
}

TEST(Codename, DisplayForm) {
  const std::string shown = text_of(display_form(secret_of(kPiCodename)));
  EXPECT_EQ(shown, "3141 5926 5358 9793 2384 6260");
  const auto normalized = normalize(secret_of(shown));
  ASSERT_TRUE(normalized.has_value()) << normalized.error().message;
  EXPECT_EQ(text_of(*normalized), kPiCodename);
}

TEST(Codename, NormalizeDropsSpacesAndDashes) {
  for (const std::string_view typed : {"314159265358979323846260", "3141-5926-5358-9793-2384-6260",
                                       " 3141  5926-5358 - 9793 23846260 ",
                                       "--3-1-4-1-5-9-2-6-5-3-5-8-9-7-9-3-2-3-8-4-6-2-6-0--"}) {
    const auto normalized = normalize(secret_of(typed));
    ASSERT_TRUE(normalized.has_value()) << '"' << typed << "\": " << normalized.error().message;
    EXPECT_EQ(text_of(*normalized), kPiCodename) << typed;
  }
}

TEST(Codename, NormalizeRejectsMalformedText) {
  for (const std::string_view typed : {
           "",
           " - ",
           "31415926535897932384626",      // 23 digits
           "3141592653589793238462600",    // 25 digits
           "3141\t5926535897932384626 0",  // a tab
           "314159265358979323846260\n",   // a line break
           "31415926535897932384626O",     // letter O
           "3141\xe2\x80\x93"
           "5926535897932384626 0",  // en dash
           "\xef\xbc\x93"
           "14159265358979323846260",  // fullwidth 3
           "\xd9\xa3"
           "14159265358979323846260",  // Arabic-Indic 3
           "+314159265358979323846260",
       }) {
    const auto normalized = normalize(secret_of(typed));
    ASSERT_FALSE(normalized.has_value()) << '"' << typed << '"';
    EXPECT_EQ(normalized.error().code, Errc::codename_malformed) << '"' << typed << '"';
    // The codename is secret, so messages must not echo it.
    EXPECT_EQ(normalized.error().message.find("3141"), std::string::npos);
  }
}

TEST(Codename, KnownAnswer) {
  // The browser must derive the same keys. Expected values were computed outside this code:
  //   K = hashlib.scrypt(b"314159265358979323846260",
  //                      salt=b"tipline/v1/codename" + bytes(range(32)),
  //                      n=65536, r=8, p=1, maxmem=2**28, dklen=64)        (Python 3.11)
  //   login_hash = hashlib.blake2b(K[:32], digest_size=32)
  //   recipient: cryptography's X25519PrivateKey.from_private_bytes(K[32:]) public key, Bech32-
  //   encoded; the same identity written as AGE-SECRET-KEY-1... and given to the stock
  //   `age-keygen -y` (age 1.1.1) printed the same recipient.
  std::array<std::uint8_t, 32> salt{};
  for (std::size_t i = 0; i < salt.size(); ++i) {
    salt.at(i) = static_cast<std::uint8_t>(i);
  }
  const auto keys = derive(secret_of("3141 5926 5358 9793 2384 6260"), salt);
  ASSERT_TRUE(keys.has_value()) << keys.error().message;
  EXPECT_EQ(text_of(keys->login_secret.to_hex()),
            "05d03481fb2775b67f049c90e2555cb0669b12005b006ff2953d65bc3b086535");
  EXPECT_EQ(hex_of(login_hash(keys->login_secret)),
            "28cd0dada3ef61339a49e2913ddfd00dde2fa446727b0c5d0870acba897f7435");
  EXPECT_EQ(text_of(keys->identity.to_string()),
            "AGE-SECRET-KEY-1WWJFHQVAPL0Y8YUTJG59ZVG4SWHUVK4FFP8LUQCJ663M0U7YFP2SMCSKMM");
  EXPECT_EQ(keys->identity.recipient().to_string(),
            "age12j2dezky39fjzkg2gkqsjcxy9yx9d4kkdcs4av9xrx75nmkekalseped52");
}

TEST(Codename, KeysDependOnCodenameAndSalt) {
  const std::array<std::uint8_t, 1> salt_a = {0x01};
  const std::array<std::uint8_t, 1> salt_b = {0x02};
  const Secret other = generate();
  const auto base = derive(secret_of(kPiCodename), salt_a);
  const auto other_salt = derive(secret_of(kPiCodename), salt_b);
  const auto other_codename = derive(other, salt_a);
  ASSERT_TRUE(base && other_salt && other_codename);
  const std::string login = text_of(base->login_secret.to_hex());
  const std::string recipient = base->identity.recipient().to_string();
  EXPECT_NE(text_of(other_salt->login_secret.to_hex()), login);
  EXPECT_NE(text_of(other_codename->login_secret.to_hex()), login);
  EXPECT_NE(other_salt->identity.recipient().to_string(), recipient);
  EXPECT_NE(other_codename->identity.recipient().to_string(), recipient);
}

TEST(Codename, DeriveRejectsBadCodenames) {
  const std::array<std::uint8_t, 1> salt = {0x01};
  const auto typo = derive(secret_of("314159265358979323846261"), salt);
  ASSERT_FALSE(typo.has_value());
  EXPECT_EQ(typo.error().code, Errc::codename_check_digit);
  const auto short_one = derive(secret_of("3141"), salt);
  ASSERT_FALSE(short_one.has_value());
  EXPECT_EQ(short_one.error().code, Errc::codename_malformed);
}

}  // namespace
}  // namespace tipline::crypto::codename
