// age's STREAM: ChaCha20-Poly1305 over 64 KiB chunks, nonce = 11-byte big-endian chunk
// counter || last-chunk flag. The bulk cipher is OpenSSL's EVP ChaCha20-Poly1305, about
// three times faster here than libsodium 1.0.18's.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>

#include "tipline/crypto/secret.h"

namespace tipline::crypto::stream {

inline constexpr std::size_t kChunkBytes = std::size_t{64} * 1024;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kKeyBytes = 32;

// Seals or opens consecutive chunks with one key. Not thread-safe.
class Cipher {
 public:
  explicit Cipher(const Secret& key);

  // Writes plaintext.size() + kTagBytes bytes to out. plaintext is at most kChunkBytes.
  void seal(std::span<const std::uint8_t> plaintext, bool last, std::uint8_t* out);
  // Writes ciphertext.size() - kTagBytes bytes to out; false if the tag does not verify
  // (nothing written to out may then be used). ciphertext holds at least the tag. The chunk
  // counter advances only on success, so a full chunk can be tried as non-final, then final.
  [[nodiscard]] bool open(std::span<const std::uint8_t> ciphertext, bool last, std::uint8_t* out);

  [[nodiscard]] std::uint64_t chunks() const { return counter_; }

 private:
  struct Free {
    void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
  };
  void nonce(bool last, std::uint8_t* out) const;

  std::unique_ptr<EVP_CIPHER_CTX, Free> encrypt_;
  std::unique_ptr<EVP_CIPHER_CTX, Free> decrypt_;
  std::uint64_t counter_ = 0;
};

}  // namespace tipline::crypto::stream
