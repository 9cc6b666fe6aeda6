// Conversions the crypto tests share: secrets to and from text, bytes to hex.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>

#include "tipline/crypto/secret.h"

namespace tipline::crypto {

inline std::string text_of(const Secret& secret) {
  const auto bytes = secret.expose();
  return {bytes.begin(), bytes.end()};
}

inline Secret secret_of(std::string_view text) {
  Secret secret(text.size());
  std::copy(text.begin(), text.end(), secret.expose().begin());
  return secret;
}

inline std::string hex_of(std::span<const std::uint8_t> bytes) {
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  hex.pop_back();
  return hex;
}

}  // namespace tipline::crypto
