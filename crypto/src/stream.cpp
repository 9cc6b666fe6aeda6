#include "stream.h"

#include <cassert>
#include <cstdlib>
#include <limits>

namespace tipline::crypto::stream {
namespace {

EVP_CIPHER_CTX* make_context(const Secret& key, bool encrypt) {
  EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
  if (context == nullptr || EVP_CipherInit_ex(context, EVP_chacha20_poly1305(), nullptr,
                                              key.expose().data(), nullptr, encrypt ? 1 : 0) != 1) {
    std::abort();  // only allocation can fail here
  }
  return context;
}

int to_int(std::size_t size) {
  assert(size <= kChunkBytes + kTagBytes);
  return static_cast<int>(size);
}

}  // namespace

Cipher::Cipher(const Secret& key)
    : encrypt_(make_context(key, true)), decrypt_(make_context(key, false)) {
  assert(key.size() == kKeyBytes);
}

void Cipher::nonce(bool last, std::uint8_t* out) const {
  // age never gets near 2^64 chunks; the counter is 11 bytes on the wire.
  assert(counter_ < std::numeric_limits<std::uint64_t>::max());
  for (int i = 0; i < 3; ++i) out[i] = 0;
  for (int i = 0; i < 8; ++i) out[3 + i] = static_cast<std::uint8_t>(counter_ >> (56 - 8 * i));
  out[11] = last ? 1 : 0;
}

void Cipher::seal(std::span<const std::uint8_t> plaintext, bool last, std::uint8_t* out) {
  assert(plaintext.size() <= kChunkBytes);
  std::uint8_t chunk_nonce[12];
  nonce(last, chunk_nonce);
  ++counter_;
  EVP_CIPHER_CTX* context = encrypt_.get();
  int written = 0;
  int final_written = 0;
  if (EVP_EncryptInit_ex(context, nullptr, nullptr, nullptr, chunk_nonce) != 1 ||
      EVP_EncryptUpdate(context, out, &written, plaintext.data(), to_int(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(context, out + written, &final_written) != 1 ||
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, kTagBytes, out + plaintext.size()) != 1) {
    std::abort();  // cannot fail for valid sizes
  }
}

bool Cipher::open(std::span<const std::uint8_t> ciphertext, bool last, std::uint8_t* out) {
  assert(ciphertext.size() >= kTagBytes && ciphertext.size() <= kChunkBytes + kTagBytes);
  std::uint8_t chunk_nonce[12];
  nonce(last, chunk_nonce);
  const std::size_t body = ciphertext.size() - kTagBytes;
  std::uint8_t tag[kTagBytes];
  std::copy_n(ciphertext.data() + body, kTagBytes, tag);
  EVP_CIPHER_CTX* context = decrypt_.get();
  int written = 0;
  int final_written = 0;
  if (EVP_DecryptInit_ex(context, nullptr, nullptr, nullptr, chunk_nonce) != 1 ||
      EVP_DecryptUpdate(context, out, &written, ciphertext.data(), to_int(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) != 1) {
    return false;
  }
  // Constant-time tag comparison happens inside OpenSSL's final step.
  if (EVP_DecryptFinal_ex(context, out + written, &final_written) != 1) return false;
  ++counter_;
  return true;
}

}  // namespace tipline::crypto::stream
