// HKDF-SHA256 (RFC 5869) on libsodium's HMAC-SHA256; libsodium 1.0.18 has no HKDF.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tipline/crypto/secret.h"

namespace tipline::crypto {

// length bytes of output keying material; length is at most 255 * 32 (asserted).
[[nodiscard]] Secret hkdf_sha256(std::span<const std::uint8_t> ikm,
                                 std::span<const std::uint8_t> salt, std::string_view info,
                                 std::size_t length);

}  // namespace tipline::crypto
