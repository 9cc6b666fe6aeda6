#include "tipline/crypto/padding.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

namespace tipline::crypto::padding {
namespace {

TEST(Padme, KnownLengths) {
  // Computed with the paper's formula in Python (math.log2, L = 1 taken as unpadded).
  const std::pair<std::uint64_t, std::uint64_t> known[] = {
      {0, 0},
      {1, 1},
      {2, 2},
      {3, 3},
      {4, 4},
      {5, 5},
      {6, 6},
      {7, 7},
      {8, 8},
      {9, 10},
      {10, 10},
      {11, 12},
      {12, 12},
      {13, 14},
      {14, 14},
      {15, 16},
      {16, 16},
      {17, 18},
      {31, 32},
      {33, 36},
      {63, 64},
      {65, 72},
      {100, 104},
      {129, 144},
      {255, 256},
      {257, 272},
      {1000, 1024},
      {1025, 1088},
      {65535, 65536},
      {65536, 65536},
      {65537, 67584},
      {1000000, 1015808},
      {1000000000, 1006632960},
      {4294967297, 4362076160},
      {4611686018427387905, 4683743612465315840},
      {9223372036854775807, 9223372036854775808U},
  };
  for (const auto& [length, padded] : known) {
    EXPECT_EQ(padme_length(length), padded) << length;
  }
}

TEST(Padme, Properties) {
  std::uint64_t previous = 0;
  for (std::uint64_t length = 1; length <= (1U << 20); ++length) {
    const std::uint64_t padded = padme_length(length);
    ASSERT_GE(padded, length);
    ASSERT_GE(padded, previous) << length;  // monotonic
    ASSERT_EQ(padme_length(padded), padded) << length;
    // The paper's bound: at most 12% overhead (11.6% at worst, for L = 129).
    ASSERT_LE((padded - length) * 100, length * 12) << length;
    previous = padded;
  }
}

TEST(Padme, LeaksOnlyLogLogBits) {
  // Lengths in [2^E, 2^(E+1)) pad to multiples of 2^(E-S), S = floor(log2 E) + 1: at most 2^S
  // values below 2^(E+1), plus 2^(E+1) itself.
  for (unsigned e = 1; e <= 20; ++e) {
    std::set<std::uint64_t> padded;
    for (std::uint64_t length = 1U << e; length < (2U << e); ++length) {
      padded.insert(padme_length(length));
    }
    const auto s = static_cast<unsigned>(std::bit_width(e));
    EXPECT_LE(padded.size(), (1U << s) + 1) << e;
  }
}

TEST(Padding, RoundTrip) {
  std::vector<std::size_t> sizes;
  for (std::size_t size = 0; size <= 300; ++size) {
    sizes.push_back(size);
  }
  sizes.insert(sizes.end(), {1000, 1023, 1024, 65535, 65536, 100000});
  for (const std::size_t size : sizes) {
    std::vector<std::uint8_t> plaintext(size);
    if (size > 0) randombytes_buf(plaintext.data(), plaintext.size());
    // Content that itself ends like padding must survive.
    if (size >= 2) {
      plaintext[size - 2] = 0x80;
      plaintext[size - 1] = 0x00;
    }
    const Secret padded = pad(plaintext);
    const auto bytes = padded.expose();
    ASSERT_EQ(bytes.size(), padme_length(size + 1)) << size;
    ASSERT_TRUE(std::equal(plaintext.begin(), plaintext.end(), bytes.begin())) << size;
    EXPECT_EQ(bytes[size], 0x80) << size;
    EXPECT_TRUE(std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(size) + 1, bytes.end(),
                            [](std::uint8_t b) { return b == 0; }))
        << size;
    const auto unpadded = unpad(bytes);
    ASSERT_TRUE(unpadded.has_value()) << size << ": " << unpadded.error().message;
    EXPECT_EQ(unpadded->data(), bytes.data());
    ASSERT_EQ(unpadded->size(), size);
    EXPECT_TRUE(std::equal(plaintext.begin(), plaintext.end(), unpadded->begin())) << size;
  }
}

TEST(Padding, EmptyPlaintextIsOneMarkerByte) {
  const Secret padded = pad({});
  ASSERT_EQ(padded.size(), 1U);
  EXPECT_EQ(padded.expose()[0], 0x80);
}

TEST(Padding, RejectsMalformedPadding) {
  const std::vector<std::vector<std::uint8_t>> bad = {
      {},
      {0x00},
      {0x00, 0x00, 0x00, 0x00},
      {0x41, 0x01, 0x00, 0x00},                                            // no marker
      {0x41, 0x81, 0x00, 0x00},                                            // wrong marker
      {0x41, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // 11: not Padmé
      {1, 2, 3, 4, 5, 6, 7, 8, 9, 0x80, 0x00, 0x00},  // 9 bytes of content pad to 10
      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x80},          // 10 bytes of content pad to 12
  };
  for (const auto& padded : bad) {
    const auto unpadded = unpad(padded);
    ASSERT_FALSE(unpadded.has_value()) << padded.size();
    EXPECT_EQ(unpadded.error().code, Errc::malformed_padding) << padded.size();
  }
}

TEST(Padding, RejectsTruncatedAndExtendedPadding) {
  const std::vector<std::uint8_t> plaintext(200, 0x41);
  const Secret padded = pad(plaintext);
  const auto bytes = padded.expose();
  ASSERT_GT(bytes.size(), plaintext.size() + 2);  // 201 pads to 208, so zeros to remove
  const std::vector<std::uint8_t> truncated(bytes.begin(), bytes.end() - 1);
  std::vector<std::uint8_t> extended(bytes.begin(), bytes.end());
  extended.push_back(0x00);
  for (const auto& altered : {truncated, extended}) {
    const auto unpadded = unpad(altered);
    ASSERT_FALSE(unpadded.has_value()) << altered.size();
    EXPECT_EQ(unpadded.error().code, Errc::malformed_padding);
  }
}

}  // namespace
}  // namespace tipline::crypto::padding
