// minisign Ed25519 key files (https://jedisct1.github.io/minisign/).
//
// Each file is an "untrusted comment: " line and a base64 line. The public key is
// "Ed" || key_id[8] || pk[32]; the secret key is "Ed" || kdf_alg[2] || "B2" || kdf_salt[32] ||
// kdf_opslimit[8] || kdf_memlimit[8] || key_id[8] || sk[64] || checksum[32]. Only unencrypted
// secret keys are written (kdf_alg, salt and limits all zero, as `minisign -G -W` writes them).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::minisign {

class PublicKey {
 public:
  // The text of a public key file; the comment line is required but not interpreted.
  // Errors: malformed_key (missing comment line, wrong length, extra lines),
  // malformed_encoding (not base64), wrong_key_type (an algorithm other than "Ed").
  [[nodiscard]] static tl::expected<PublicKey, Error> parse(std::string_view file_text);

  // The file text, with the comment "minisign public key <key id>" and the key id as 16
  // uppercase hex digits (minisign 0.11 omits leading zeros; readers ignore the comment).
  [[nodiscard]] std::string to_file_text() const;
  // The key id as minisign prints it: the 8 bytes read as a little-endian integer.
  [[nodiscard]] std::uint64_t key_id() const;

 private:
  PublicKey(const std::array<std::uint8_t, 8>& key_id, const std::array<std::uint8_t, 32>& key)
      : key_id_(key_id), key_(key) {}
  friend class SecretKey;

  std::array<std::uint8_t, 8> key_id_;
  std::array<std::uint8_t, 32> key_;
};

class SecretKey {
 public:
  // A fresh key pair with a random key id, as `minisign -G` makes one.
  [[nodiscard]] static SecretKey generate();

  [[nodiscard]] PublicKey public_key() const;
  // The unencrypted secret key file text (as `minisign -G -W` writes it), in secret memory.
  // The checksum is filled in, as `minisign -C -W` leaves it when removing a password;
  // `minisign -G -W` writes zeros instead, and minisign never reads it for unencrypted keys.
  // Throws std::invalid_argument if the comment has a line break or is longer than the
  // 1003 bytes minisign can read back.
  [[nodiscard]] Secret to_unencrypted_file_text(std::string_view untrusted_comment) const;

 private:
  SecretKey(const std::array<std::uint8_t, 8>& key_id, Secret key)
      : key_id_(key_id), key_(std::move(key)) {}

  std::array<std::uint8_t, 8> key_id_;
  Secret key_;  // libsodium's 64-byte Ed25519 secret key: seed || public key
};

}  // namespace tipline::crypto::minisign
