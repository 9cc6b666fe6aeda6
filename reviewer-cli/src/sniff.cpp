#include "sniff.h"

namespace tipline::review {
namespace {

bool has_at(std::span<const std::uint8_t> bytes, std::size_t offset, std::string_view magic) {
  if (bytes.size() < offset + magic.size()) return false;
  for (std::size_t i = 0; i < magic.size(); ++i) {
    if (bytes[offset + i] != static_cast<std::uint8_t>(magic[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view sniff_extension(std::span<const std::uint8_t> start) {
  using namespace std::string_view_literals;
  if (has_at(start, 0, "\xFF\xD8\xFF"sv)) return "jpg";
  if (has_at(start, 0, "\x89PNG\r\n\x1A\n"sv)) return "png";
  if (has_at(start, 0, "RIFF"sv) && has_at(start, 8, "WEBP"sv)) return "webp";
  if (has_at(start, 0, "GIF87a"sv) || has_at(start, 0, "GIF89a"sv)) return "gif";
  if (has_at(start, 0, "%PDF-"sv)) return "pdf";
  if (has_at(start, 0, "PK\x03\x04"sv) || has_at(start, 0, "PK\x05\x06"sv)) return "zip";
  // ISO base media (MP4, MOV, 3GP): a box size, then "ftyp".
  if (has_at(start, 4, "ftyp"sv)) return "mp4";
  return "bin";
}

}  // namespace tipline::review
