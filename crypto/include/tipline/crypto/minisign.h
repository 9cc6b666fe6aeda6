// minisign Ed25519 key and signature files (https://jedisct1.github.io/minisign/).
//
// Each key file is an "untrusted comment: " line and a base64 line. The public key is
// "Ed" || key_id[8] || pk[32]; the secret key is "Ed" || kdf_alg[2] || "B2" || kdf_salt[32] ||
// kdf_opslimit[8] || kdf_memlimit[8] || key_id[8] || sk[64] || checksum[32]. In an encrypted
// key (kdf_alg "Sc") key_id, sk and checksum are XORed with scrypt output from the passphrase;
// in an unencrypted one (as `minisign -G -W` writes it) kdf_alg, salt and limits are zero.
//
// A signature file adds a "trusted comment: " line and its signature: base64("ED" || key_id ||
// Ed25519(BLAKE2b-512(message))), then base64(Ed25519(that signature || trusted comment)).
// Legacy "Ed" signatures sign the message itself; they are verified but never made.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::minisign {

class Signature {
 public:
  // The text of a signature file (LF or CRLF line endings, final newline optional).
  // Errors: malformed_signature (missing or extra lines, wrong length), malformed_encoding
  // (not base64), wrong_key_type (a signature algorithm other than "ED" or legacy "Ed").
  [[nodiscard]] static tl::expected<Signature, Error> parse(std::string_view file_text);

  [[nodiscard]] std::string to_file_text() const;
  // Not authenticated until PublicKey::verify has accepted the signature.
  [[nodiscard]] std::string_view trusted_comment() const { return trusted_comment_; }
  // The id of the key that made the signature, read as PublicKey::key_id() reads it.
  [[nodiscard]] std::uint64_t key_id() const;

 private:
  Signature() = default;
  friend class PublicKey;
  friend class SecretKey;

  bool prehashed_ = true;
  std::array<std::uint8_t, 8> key_id_{};
  std::array<std::uint8_t, 64> signature_{};
  std::string untrusted_comment_;
  std::string trusted_comment_;
  std::array<std::uint8_t, 64> global_signature_{};
};

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

  // Checks a signature of message, as `minisign -V` does, and returns its trusted comment.
  // Errors: key_mismatch (made by a key with another id), bad_signature (the message is not
  // the one signed, or another key claims this id), bad_trusted_comment (the trusted comment
  // or global signature was altered).
  [[nodiscard]] tl::expected<std::string, Error> verify(std::span<const std::uint8_t> message,
                                                        const Signature& signature) const;
  // The same for a message read from a stream to its end, in chunks for prehashed signatures;
  // a legacy signature needs the whole message in memory, as in minisign. The error io means
  // the stream failed before its end.
  [[nodiscard]] tl::expected<std::string, Error> verify(std::istream& message,
                                                        const Signature& signature) const;

 private:
  PublicKey(const std::array<std::uint8_t, 8>& key_id, const std::array<std::uint8_t, 32>& key)
      : key_id_(key_id), key_(key) {}
  friend class SecretKey;

  [[nodiscard]] tl::expected<void, Error> check_key_id(const Signature& signature) const;
  // signed_bytes is the message's BLAKE2b-512 digest, or the message itself for legacy ones.
  [[nodiscard]] tl::expected<std::string, Error> check_signatures(
      std::span<const std::uint8_t> signed_bytes, const Signature& signature) const;

  std::array<std::uint8_t, 8> key_id_;
  std::array<std::uint8_t, 32> key_;
};

class SecretKey {
 public:
  // A fresh key pair with a random key id, as `minisign -G` makes one.
  [[nodiscard]] static SecretKey generate();
  // The text of a secret key file, encrypted (decrypted with passphrase) or not (passphrase
  // ignored; an empty Secret will do). Errors: malformed_key (missing comment line, wrong
  // length, extra lines, a secret key that does not match its public half, or scrypt limits
  // above minisign's), malformed_encoding (not base64), wrong_key_type (an algorithm other
  // than "Ed", "Sc" or "B2"), wrong_passphrase (the checksum does not match once decrypted).
  [[nodiscard]] static tl::expected<SecretKey, Error> parse(std::string_view file_text,
                                                            const Secret& passphrase);

  [[nodiscard]] PublicKey public_key() const;
  // The unencrypted secret key file text (as `minisign -G -W` writes it), in secret memory.
  // The checksum is filled in, as `minisign -C -W` leaves it when removing a password;
  // `minisign -G -W` writes zeros instead, and minisign never reads it for unencrypted keys.
  // Throws std::invalid_argument if the comment has a line break or NUL or is longer than the
  // 1003 bytes minisign can read back.
  [[nodiscard]] Secret to_unencrypted_file_text(std::string_view untrusted_comment) const;
  // The secret key file encrypted with passphrase, with a random salt and the scrypt limits
  // `minisign -G` uses (seconds of work and 1 GiB of memory, here and in parse). Safe to
  // store as ordinary text, as far as the passphrase resists guessing. Throws as
  // to_unencrypted_file_text does, and std::bad_alloc if scrypt cannot get its memory.
  [[nodiscard]] std::string to_encrypted_file_text(const Secret& passphrase,
                                                   std::string_view untrusted_comment) const;

  // A prehashed ("ED") signature of message. Throws std::invalid_argument if a comment has a
  // line break or NUL, or is longer than minisign can read back (1003 bytes untrusted, 8173
  // trusted).
  [[nodiscard]] Signature sign(
      std::span<const std::uint8_t> message, std::string_view trusted_comment,
      std::string_view untrusted_comment = "signature from tipline secret key") const;
  // The same for a message read from a stream to its end, in chunks. The error io means the
  // stream failed before its end.
  [[nodiscard]] tl::expected<Signature, Error> sign(
      std::istream& message, std::string_view trusted_comment,
      std::string_view untrusted_comment = "signature from tipline secret key") const;

 private:
  SecretKey(const std::array<std::uint8_t, 8>& key_id, Secret key)
      : key_id_(key_id), key_(std::move(key)) {}

  [[nodiscard]] Signature sign_digest(std::span<const std::uint8_t> digest,
                                      std::string_view trusted_comment,
                                      std::string_view untrusted_comment) const;

  std::array<std::uint8_t, 8> key_id_;
  Secret key_;  // libsodium's 64-byte Ed25519 secret key: seed || public key
};

}  // namespace tipline::crypto::minisign
