// Secret memory: key material lives only in Secret buffers.
//
// A Secret owns bytes allocated with sodium_malloc (guard pages, mlock'ed where the
// system allows) and wipes them when destroyed. It is move-only; the bytes are reached
// only through expose(), so every use of key material is visible in the code.
// Thread safety: a Secret is a plain value; concurrent reads are safe, writes are not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tl/expected.hpp>

#include "tipline/crypto/error.h"

namespace tipline::crypto {

// Initialises libsodium. Idempotent and thread-safe; every entry point of this library
// calls it, so callers need it only before using libsodium directly. Aborts if libsodium
// cannot start (no usable randomness), since nothing safe can be done then.
void initialize();

class Secret {
 public:
  // size zero-filled bytes. Throws std::bad_alloc when secure memory is exhausted.
  explicit Secret(std::size_t size);
  // size bytes from the operating system's CSPRNG.
  [[nodiscard]] static Secret random(std::size_t size);
  // Decodes hexadecimal text (either case; surrounding ASCII whitespace is ignored) in
  // constant time with respect to the digits.
  [[nodiscard]] static tl::expected<Secret, Error> from_hex(std::string_view hex);

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::span<std::uint8_t> expose() { return {data_, size_}; }
  [[nodiscard]] std::span<const std::uint8_t> expose() const { return {data_, size_}; }
  // Lowercase hexadecimal text of the bytes, itself held in secret memory (no NUL).
  [[nodiscard]] Secret to_hex() const;

 private:
  void release() noexcept;

  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace tipline::crypto
