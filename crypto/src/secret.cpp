#include "tipline/crypto/secret.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <new>
#include <utility>

namespace tipline::crypto {

void initialize() {
  // sodium_init is thread-safe and returns 1 when already initialised.
  if (sodium_init() < 0) std::abort();
}

Secret::Secret(std::size_t size) : size_(size) {
  initialize();
  if (size == 0) return;
  data_ = static_cast<std::uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
  sodium_memzero(data_, size);
}

Secret Secret::random(std::size_t size) {
  Secret secret(size);
  if (size > 0) randombytes_buf(secret.data_, size);
  return secret;
}

tl::expected<Secret, Error> Secret::from_hex(std::string_view hex) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = hex.find_first_not_of(kSpace);
  hex = first == std::string_view::npos ? std::string_view{} : hex.substr(first);
  hex = hex.substr(0, hex.find_last_not_of(kSpace) + 1);
  if (hex.empty() || hex.size() % 2 != 0) {
    return tl::unexpected(Error{Errc::malformed_encoding, "expected an even number of hex digits"});
  }
  Secret secret(hex.size() / 2);
  assert(secret.data_ != nullptr);
  std::size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(secret.data_, secret.size_, hex.data(), hex.size(), nullptr, &written, &end) !=
          0 ||
      written != secret.size_ || end != hex.data() + hex.size()) {
    return tl::unexpected(Error{Errc::malformed_encoding, "not hexadecimal"});
  }
  return secret;
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Secret::~Secret() { release(); }

void Secret::release() noexcept {
  // sodium_free wipes the memory before unmapping it.
  if (data_ != nullptr) sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
}

Secret Secret::to_hex() const {
  if (size_ == 0) return Secret(0);
  // sodium_bin2hex writes a terminating NUL, so format into one extra byte.
  Secret with_nul(size_ * 2 + 1);
  assert(with_nul.data_ != nullptr && data_ != nullptr);
  sodium_bin2hex(reinterpret_cast<char*>(with_nul.data_), with_nul.size_, data_, size_);
  Secret hex(size_ * 2);
  std::copy_n(with_nul.data_, hex.size_, hex.data_);
  return hex;
}

}  // namespace tipline::crypto
