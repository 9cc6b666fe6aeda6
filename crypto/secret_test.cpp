#include "tipline/crypto/secret.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "test_helpers.h"

namespace tipline::crypto {
namespace {

TEST(Secret, StartsZeroed) {
  const Secret secret(48);
  ASSERT_EQ(secret.size(), 48u);
  EXPECT_TRUE(std::all_of(secret.expose().begin(), secret.expose().end(),
                          [](std::uint8_t b) { return b == 0; }));
}

TEST(Secret, RandomSecretsDiffer) {
  const Secret a = Secret::random(32);
  const Secret b = Secret::random(32);
  EXPECT_FALSE(std::equal(a.expose().begin(), a.expose().end(), b.expose().begin()));
}

TEST(Secret, MoveLeavesSourceEmpty) {
  Secret a = Secret::random(16);
  const auto first = a.expose()[0];
  Secret b = std::move(a);
  // The moved-from state is part of the contract.
  EXPECT_EQ(a.size(), 0u);          // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
  EXPECT_TRUE(a.expose().empty());  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
  ASSERT_EQ(b.size(), 16u);
  EXPECT_EQ(b.expose()[0], first);
}

TEST(Secret, HexRoundTrip) {
  auto decoded = Secret::from_hex("  00ff10Ab\n");
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  ASSERT_EQ(decoded->size(), 4u);
  EXPECT_EQ(decoded->expose()[1], 0xff);
  EXPECT_EQ(decoded->expose()[3], 0xab);
  EXPECT_EQ(text_of(decoded->to_hex()), "00ff10ab");
}

TEST(Secret, HexRejectsMalformedText) {
  for (const char* bad : {"", "abc", "zz", "00 11", "0g", "\n"}) {
    const auto decoded = Secret::from_hex(bad);
    ASSERT_FALSE(decoded.has_value()) << '"' << bad << '"';
    EXPECT_EQ(decoded.error().code, Errc::malformed_encoding);
  }
}

TEST(Secret, EmptySecretIsValid) {
  const Secret empty(0);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.to_hex().size(), 0u);
  EXPECT_EQ(Secret::random(0).size(), 0u);
}

}  // namespace
}  // namespace tipline::crypto
