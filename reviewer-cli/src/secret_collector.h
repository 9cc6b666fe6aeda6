// Reading a small secret (a key file, a note) into secret memory, in pieces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tipline/crypto/secret.h"

namespace tipline::review {

// Bytes collected into one crypto::Secret of a fixed capacity. The buffer never grows, so no
// copy of the bytes is left behind in freed memory, and it is wiped when the collector goes.
class SecretCollector {
 public:
  explicit SecretCollector(std::size_t capacity) : buffer_(capacity) {}

  // Appends `bytes`; false, appending nothing, when they would pass the capacity.
  [[nodiscard]] bool add(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > buffer_.size() - used_) return false;
    std::copy(bytes.begin(), bytes.end(),
              buffer_.expose().begin() + static_cast<std::ptrdiff_t>(used_));
    used_ += bytes.size();
    return true;
  }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const {
    return buffer_.expose().first(used_);
  }
  [[nodiscard]] std::string_view text() const {
    return {reinterpret_cast<const char*>(buffer_.expose().data()), used_};
  }

 private:
  crypto::Secret buffer_;
  std::size_t used_ = 0;
};

}  // namespace tipline::review
