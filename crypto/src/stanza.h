// What the X25519 and scrypt stanzas share: the file key sealed with ChaCha20-Poly1305
// under a wrap key and an all-zero nonce (each wrap key is used once).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "tipline/crypto/secret.h"

namespace tipline::crypto::age::stanza {

inline constexpr std::size_t kWrapKeyBytes = 32;
inline constexpr std::size_t kBodyBytes = 16 + 16;  // file key and tag

[[nodiscard]] std::vector<std::uint8_t> seal_file_key(const Secret& wrap_key,
                                                      const Secret& file_key);
// nullopt when the tag does not verify. The body must be kBodyBytes (asserted): callers
// check the size first, since a wrong size is a malformed stanza, not a non-match.
[[nodiscard]] std::optional<Secret> open_file_key(const Secret& wrap_key,
                                                  std::span<const std::uint8_t> body);

}  // namespace tipline::crypto::age::stanza
