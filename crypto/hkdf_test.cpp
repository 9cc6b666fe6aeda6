#include "hkdf.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_helpers.h"

namespace tipline::crypto {
namespace {

std::vector<std::uint8_t> bytes_of_hex(std::string_view hex) {
  auto secret = Secret::from_hex(hex);
  if (!secret) return {};
  return {secret->expose().begin(), secret->expose().end()};
}

std::string text_of_hex(std::string_view hex) {
  const auto bytes = bytes_of_hex(hex);
  return {bytes.begin(), bytes.end()};
}

// RFC 5869, Appendix A: test cases 1 to 3 (SHA-256).
TEST(Hkdf, Rfc5869Case1) {
  const auto okm = hkdf_sha256(bytes_of_hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                               bytes_of_hex("000102030405060708090a0b0c"),
                               text_of_hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  EXPECT_EQ(hex_of(okm.expose()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Hkdf, Rfc5869Case2LongInputs) {
  std::string ikm, salt, info;
  for (int i = 0x00; i <= 0x4f; ++i) ikm += static_cast<char>(i);
  for (int i = 0x60; i <= 0xaf; ++i) salt += static_cast<char>(i);
  for (int i = 0xb0; i <= 0xff; ++i) info += static_cast<char>(i);
  const auto okm =
      hkdf_sha256({reinterpret_cast<const std::uint8_t*>(ikm.data()), ikm.size()},
                  {reinterpret_cast<const std::uint8_t*>(salt.data()), salt.size()}, info, 82);
  EXPECT_EQ(hex_of(okm.expose()),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41"
            "c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

TEST(Hkdf, Rfc5869Case3EmptySaltAndInfo) {
  const auto okm =
      hkdf_sha256(bytes_of_hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, "", 42);
  EXPECT_EQ(hex_of(okm.expose()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

}  // namespace
}  // namespace tipline::crypto
