// File types of decrypted attachments, from their first bytes: file names are never stored
// (they could identify a source), so `decrypt` names files by what they contain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tipline::review {

// Bytes sniff_extension looks at; fewer are fine (short files are "bin" unless they match).
inline constexpr std::size_t kSniffBytes = 16;

// "jpg", "png", "webp", "gif", "pdf", "zip", "mp4", or "bin" for anything else.
[[nodiscard]] std::string_view sniff_extension(std::span<const std::uint8_t> start);

}  // namespace tipline::review
