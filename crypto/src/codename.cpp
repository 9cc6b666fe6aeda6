#include "tipline/crypto/codename.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tipline::crypto::codename {
namespace {

constexpr std::string_view kSaltPrefix = "tipline/v1/codename";
constexpr std::uint64_t kScryptN = std::uint64_t{1} << 16;
constexpr std::uint32_t kScryptR = 8;
constexpr std::uint32_t kScryptP = 1;
constexpr std::size_t kHalf = 32;
constexpr std::size_t kGroup = 4;

static_assert(crypto_scalarmult_SCALARBYTES == kHalf && crypto_generichash_BYTES == 32);

// Damm's weakly totally anti-symmetric quasigroup of order 10 (H. M. Damm, "Total
// anti-symmetrische Quasigruppen", 2004): row = interim digit, column = next digit. Its zero
// diagonal makes the check digit of a valid string '0'; its anti-symmetry catches every single
// substitution and adjacent transposition.
constexpr std::array<std::array<std::uint8_t, 10>, 10> kDamm = {{
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
    {7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
    {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
    {1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
    {6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
    {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
    {8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
    {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
    {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}};

// kDamm[row][column], reading every entry: the digits are secret, and an indexed load would
// leak them through the cache.
std::uint8_t damm_step(std::uint8_t row, std::uint8_t column) {
  std::uint8_t result = 0;
  for (std::uint32_t r = 0; r < 10; ++r) {
    for (std::uint32_t c = 0; c < 10; ++c) {
      // 0xff exactly when (r, c) == (row, column): the xor is then 0 and the subtraction wraps.
      const auto mask = static_cast<std::uint8_t>((((r ^ row) | (c ^ column)) - 1U) >> 8);
      result = static_cast<std::uint8_t>(result | (kDamm[r][c] & mask));
    }
  }
  return result;
}

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

}  // namespace

Secret generate() {
  Secret digits(kDigits);
  const auto out = digits.expose();
  for (std::size_t i = 0; i + 1 < kDigits; ++i) {
    // randombytes_uniform rejects out-of-range samples, so each digit is exactly uniform.
    out[i] = static_cast<std::uint8_t>('0' + randombytes_uniform(10));
  }
  out[kDigits - 1] = check_digit(out.first(kDigits - 1));
  return digits;
}

std::uint8_t check_digit(std::span<const std::uint8_t> digits) {
  std::uint8_t interim = 0;
  for (const std::uint8_t digit : digits) {
    assert(digit >= '0' && digit <= '9');
    interim = damm_step(interim, static_cast<std::uint8_t>(digit - '0'));
  }
  return static_cast<std::uint8_t>('0' + interim);
}

tl::expected<Secret, Error> normalize(const Secret& text) {
  Secret digits(kDigits);
  const auto out = digits.expose();
  std::size_t count = 0;
  // Branches here depend on where the separators are and on whether the text is well formed,
  // never on which digit a character is.
  for (const std::uint8_t c : text.expose()) {
    if (c == ' ' || c == '-') continue;
    if (c < '0' || c > '9') {
      return failure(Errc::codename_malformed, "a codename has only digits, spaces and dashes");
    }
    if (count == kDigits) {
      return failure(Errc::codename_malformed, "a codename has 24 digits; this has more");
    }
    out[count++] = c;
  }
  if (count != kDigits) {
    return failure(Errc::codename_malformed, "a codename has 24 digits; this has fewer");
  }
  if (check_digit(out) != '0') {
    return failure(Errc::codename_check_digit, "the codename has a typo: its check digit is wrong");
  }
  return digits;
}

Secret display_form(const Secret& digits) {
  assert(digits.size() == kDigits);
  const auto in = digits.expose();
  Secret text(kDigits + kDigits / kGroup - 1);
  auto out = text.expose().begin();
  for (std::size_t i = 0; i < kDigits; ++i) {
    if (i > 0 && i % kGroup == 0) *out++ = ' ';
    *out++ = in[i];
  }
  return text;
}

tl::expected<Keys, Error> derive(const Secret& text, std::span<const std::uint8_t> instance_salt) {
  auto digits = normalize(text);
  if (!digits) return tl::unexpected(std::move(digits.error()));
  std::vector<std::uint8_t> salt(kSaltPrefix.begin(), kSaltPrefix.end());
  salt.insert(salt.end(), instance_salt.begin(), instance_salt.end());

  Secret key(2 * kHalf);
  const auto password = digits->expose();
  const auto k = key.expose();
  if (crypto_pwhash_scryptsalsa208sha256_ll(password.data(), password.size(), salt.data(),
                                            salt.size(), kScryptN, kScryptR, kScryptP, k.data(),
                                            k.size()) != 0) {
    // With these fixed, valid parameters the only failure is allocating scrypt's 64 MiB.
    throw std::bad_alloc();
  }
  Secret login_secret(kHalf);
  Secret scalar(kHalf);
  std::copy_n(k.begin(), kHalf, login_secret.expose().begin());
  std::copy_n(k.begin() + kHalf, kHalf, scalar.expose().begin());
  return Keys{std::move(login_secret), x25519::Identity::from_scalar(std::move(scalar))};
}

std::array<std::uint8_t, 32> login_hash(const Secret& login_secret) {
  assert(login_secret.size() == kHalf);
  std::array<std::uint8_t, 32> hash{};
  const auto in = login_secret.expose();
  // Unkeyed BLAKE2b cannot fail.
  (void)crypto_generichash(hash.data(), hash.size(), in.data(), in.size(), nullptr, 0);
  return hash;
}

}  // namespace tipline::crypto::codename
