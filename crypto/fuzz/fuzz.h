// What the fuzz targets share: the libFuzzer entry point, which replay_main.cpp calls in
// normal builds, and helpers for checking invariants on the bytes a target is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace tipline::crypto::fuzz {

// Aborts, so that libFuzzer saves the input as a crash and a replay test fails. Unlike
// assert() it holds in every build type.
inline void require(bool holds, const char* invariant) {
  if (!holds) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", invariant);
    std::abort();
  }
}

inline std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// A point in [0, bytes.size()] at which to cut the input into separate writes. It is a hash
// of the input, so every input replays with the same cuts while mutations try new ones;
// salt gives independent cuts for the same input.
inline std::size_t cut_point(std::span<const std::uint8_t> bytes, std::uint64_t salt) {
  std::uint64_t hash = 0xcbf29ce484222325U ^ salt;  // FNV-1a
  for (const std::uint8_t byte : bytes) hash = (hash ^ byte) * 0x100000001b3U;
  return static_cast<std::size_t>(hash % (bytes.size() + 1));
}

}  // namespace tipline::crypto::fuzz
