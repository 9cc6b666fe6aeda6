#include "bech32.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

namespace tipline::crypto::bech32 {
namespace {

constexpr std::string_view kAlphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::array<std::uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                                     0x2a1462b3};
constexpr std::size_t kChecksumSize = 6;

// All-ones when a == b, else zero. Both operands are below 2^31.
std::uint32_t equal_mask(std::uint32_t a, std::uint32_t b) { return 0U - (((a ^ b) - 1U) >> 31); }

// All-ones when lo <= c <= hi, else zero. All operands are below 2^31, so each difference
// is negative (top bit set) exactly when its comparison fails the other way.
std::uint32_t range_mask(std::uint32_t c, std::uint32_t lo, std::uint32_t hi) {
  return 0U - (((lo - 1U - c) & (c - hi - 1U)) >> 31);
}

std::uint32_t to_lower(std::uint32_t c) { return c | (0x20U & range_mask(c, 'A', 'Z')); }
std::uint32_t to_upper(std::uint32_t c) { return c & ~(0x20U & range_mask(c, 'a', 'z')); }

std::uint32_t byte_of(char c) { return static_cast<unsigned char>(c); }

// The alphabet character for a 5-bit value, found by scanning rather than indexing so that
// the memory access pattern does not depend on the value.
std::uint32_t character_of(std::uint32_t value) {
  std::uint32_t c = 0;
  for (std::uint32_t i = 0; i < kAlphabet.size(); ++i) {
    c |= byte_of(kAlphabet[i]) & equal_mask(i, value);
  }
  return c;
}

// The 5-bit value of a lowercase character, and an all-ones mask if it is in the alphabet.
std::pair<std::uint32_t, std::uint32_t> value_of(std::uint32_t c) {
  std::uint32_t value = 0;
  std::uint32_t found = 0;
  for (std::uint32_t i = 0; i < kAlphabet.size(); ++i) {
    const std::uint32_t match = equal_mask(byte_of(kAlphabet[i]), c);
    value |= i & match;
    found |= match;
  }
  return {value, found};
}

std::uint32_t polymod_step(std::uint32_t checksum, std::uint32_t value) {
  const std::uint32_t top = checksum >> 25;
  checksum = ((checksum & 0x1ffffffU) << 5) ^ value;
  for (std::size_t i = 0; i < kGenerator.size(); ++i) {
    checksum ^= kGenerator[i] & (0U - ((top >> i) & 1U));
  }
  return checksum;
}

// The checksum state after the expanded HRP. The checksum covers the lowercase form, so that
// uppercase text carries the same checksum as its lowercase twin.
std::uint32_t hrp_checksum(std::string_view hrp) {
  std::uint32_t checksum = 1;
  for (const char c : hrp) {
    checksum = polymod_step(checksum, to_lower(byte_of(c)) >> 5);
  }
  checksum = polymod_step(checksum, 0);
  for (const char c : hrp) {
    checksum = polymod_step(checksum, to_lower(byte_of(c)) & 31U);
  }
  return checksum;
}

std::size_t encoded_size(std::size_t hrp_size, std::size_t data_size) {
  return hrp_size + 1 + (data_size * 8 + 4) / 5 + kChecksumSize;
}

// Writes the text into out, which is exactly encoded_size() characters long.
void encode_into(std::string_view hrp, std::span<const std::uint8_t> data, std::span<char> out) {
  const bool upper =
      std::any_of(hrp.begin(), hrp.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  std::copy(hrp.begin(), hrp.end(), out.begin());
  out[hrp.size()] = '1';
  std::size_t pos = hrp.size() + 1;
  const auto put = [&](std::uint32_t value) {
    const std::uint32_t c = character_of(value);
    out[pos++] = static_cast<char>(upper ? to_upper(c) : c);
  };

  std::uint32_t checksum = hrp_checksum(hrp);
  std::uint32_t accumulator = 0;
  unsigned bits = 0;
  for (const std::uint8_t byte : data) {
    // At most 4 bits are left over between bytes, so 12 bits suffice.
    accumulator = ((accumulator << 8) | byte) & 0xfffU;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      const std::uint32_t value = (accumulator >> bits) & 31U;
      checksum = polymod_step(checksum, value);
      put(value);
    }
  }
  if (bits > 0) {
    const std::uint32_t value = (accumulator << (5 - bits)) & 31U;
    checksum = polymod_step(checksum, value);
    put(value);
  }
  for (std::size_t i = 0; i < kChecksumSize; ++i) {
    checksum = polymod_step(checksum, 0);
  }
  checksum ^= 1;
  for (std::size_t i = 0; i < kChecksumSize; ++i) {
    put((checksum >> (5 * (kChecksumSize - 1 - i))) & 31U);
  }
}

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

}  // namespace

std::string encode(std::string_view hrp, std::span<const std::uint8_t> data) {
  std::string text(encoded_size(hrp.size(), data.size()), '\0');
  encode_into(hrp, data, text);
  return text;
}

Secret encode_secret(std::string_view hrp, std::span<const std::uint8_t> data) {
  Secret text(encoded_size(hrp.size(), data.size()));
  const auto bytes = text.expose();
  encode_into(hrp, data, {reinterpret_cast<char*>(bytes.data()), bytes.size()});
  return text;
}

namespace {

tl::expected<void, Error> decode_payload(std::string_view text, std::string_view hrp,
                                         std::span<std::uint8_t> out) {
  // Accumulate masks over the whole text instead of stopping at the first offending
  // character, whose position would otherwise leak through timing.
  std::uint32_t outside = 0;
  std::uint32_t lower = 0;
  std::uint32_t upper = 0;
  for (const char c : text) {
    outside |= ~range_mask(byte_of(c), 33, 126);
    lower |= range_mask(byte_of(c), 'a', 'z');
    upper |= range_mask(byte_of(c), 'A', 'Z');
  }
  if (outside != 0) {
    return failure(Errc::malformed_encoding, "Bech32 text has a character outside printable ASCII");
  }
  if ((lower & upper) != 0) {
    return failure(Errc::malformed_encoding, "Bech32 text is mixed case");
  }

  // '1' is not in the alphabet, so the last one is the separator and its position is public.
  const std::size_t separator = text.rfind('1');
  if (separator == std::string_view::npos || separator == 0) {
    return failure(Errc::malformed_encoding, "Bech32 text has no human-readable part");
  }
  if (text.size() - separator - 1 < kChecksumSize) {
    return failure(Errc::malformed_encoding, "Bech32 checksum is too short");
  }
  if (text.substr(0, separator) != hrp) {
    return failure(Errc::wrong_key_type, "expected Bech32 prefix \"" + std::string(hrp) + "1\"");
  }

  const std::string_view characters = text.substr(separator + 1);
  std::uint32_t checksum = hrp_checksum(hrp);
  std::uint32_t invalid = 0;
  for (const char c : characters) {
    const auto [value, found] = value_of(to_lower(byte_of(c)));
    invalid |= ~found;
    checksum = polymod_step(checksum, value);
  }
  if (invalid != 0) {
    return failure(Errc::malformed_encoding, "Bech32 text has a character outside its alphabet");
  }
  if (checksum != 1) {
    return failure(Errc::malformed_encoding, "Bech32 checksum does not match");
  }

  const std::size_t payload_bits = (characters.size() - kChecksumSize) * 5;
  if (payload_bits % 8 >= 5) {
    return failure(Errc::malformed_encoding, "Bech32 payload is not a whole number of bytes");
  }
  if (payload_bits / 8 != out.size()) {
    return failure(Errc::malformed_key, "Bech32 payload is " + std::to_string(payload_bits / 8) +
                                            " bytes, expected " + std::to_string(out.size()));
  }

  std::uint32_t accumulator = 0;
  unsigned bits = 0;
  std::size_t written = 0;
  for (const char c : characters.substr(0, characters.size() - kChecksumSize)) {
    // At most 7 bits are left over between characters, so 12 bits suffice.
    accumulator = ((accumulator << 5) | value_of(to_lower(byte_of(c))).first) & 0xfffU;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = static_cast<std::uint8_t>(accumulator >> bits);
    }
  }
  // BIP-173 requires the leftover padding bits to be zero, so each payload has one encoding.
  if ((accumulator & ((1U << bits) - 1U)) != 0) {
    sodium_memzero(out.data(), out.size());
    return failure(Errc::malformed_encoding, "Bech32 padding is not zero");
  }
  return {};
}

}  // namespace

tl::expected<void, Error> decode(std::string_view text, std::string_view hrp,
                                 std::span<std::uint8_t> out) {
  auto decoded = decode_payload(text, hrp, out);
  // out may be secret memory: leave nothing of a half-decoded key behind.
  if (!decoded) sodium_memzero(out.data(), out.size());
  return decoded;
}

}  // namespace tipline::crypto::bech32
