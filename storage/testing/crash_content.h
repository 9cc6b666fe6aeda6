// What each write of the crash test holds, derived from its id alone, so the writer
// (crash_writer.cpp) and the checker (crash_test.cpp) agree without talking.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tipline::storage::crash {

inline std::array<std::byte, 32> digest(const std::string& text) {
  std::array<std::byte, 32> out{};
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return out;
}

inline bool has_blob(std::int64_t id) { return id % 4 == 0; }

// Mostly small blobs, and one in four up to 200 KiB (several chunk rows), so most commits
// stay quick while large multi-chunk transactions are still killed often.
inline std::size_t blob_size(std::int64_t id) {
  const auto hash = digest("crash-size-" + std::to_string(id));
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = (value << 8) | std::to_integer<std::uint32_t>(hash[i]);
  }
  const std::uint32_t limit = (id / 4) % 4 == 0 ? 200 * 1024 : 8 * 1024;
  return 1 + value % limit;
}

inline std::vector<std::byte> blob_bytes(std::int64_t id) {
  std::vector<std::byte> bytes(blob_size(id));
  const auto seed = digest("crash-blob-" + std::to_string(id));
  randombytes_buf_deterministic(bytes.data(), bytes.size(),
                                reinterpret_cast<const unsigned char*>(seed.data()));
  return bytes;
}

}  // namespace tipline::storage::crash
