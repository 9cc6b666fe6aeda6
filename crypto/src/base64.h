// Strict base64 (RFC 4648, standard alphabet) for age headers and armor. Decoding is
// canonical: unused trailing bits must be zero, and padding is required or forbidden as
// asked, so every byte string has exactly one accepted encoding. Not constant-time: it is
// for public data (headers, ciphertext), never for secrets.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tipline::crypto::base64 {

enum class Padding { none, required };

[[nodiscard]] std::string encode(std::span<const std::uint8_t> bytes, Padding padding);
[[nodiscard]] std::optional<std::vector<std::uint8_t>> decode(std::string_view text,
                                                              Padding padding);

}  // namespace tipline::crypto::base64
