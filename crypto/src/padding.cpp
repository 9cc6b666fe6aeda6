#include "tipline/crypto/padding.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace tipline::crypto::padding {
namespace {

constexpr std::uint8_t kMarker = 0x80;

tl::unexpected<Error> failure(const char* message) {
  return tl::unexpected(Error{Errc::malformed_padding, message});
}

}  // namespace

std::uint64_t padme_length(std::uint64_t length) {
  assert(length < std::uint64_t{1} << 63);
  if (length == 0) return 0;
  // E = floor(log2 L) and S = floor(log2 E) + 1; bit_width gives S = 0 for E = 0, where the
  // paper's log2 is undefined but no bit is to be cleared anyway.
  const auto e = static_cast<unsigned>(std::bit_width(length)) - 1;
  const auto s = static_cast<unsigned>(std::bit_width(e));
  const std::uint64_t mask = (std::uint64_t{1} << (e - s)) - 1;
  return (length + mask) & ~mask;
}

Secret pad(std::span<const std::uint8_t> plaintext) {
  Secret padded(static_cast<std::size_t>(padme_length(plaintext.size() + 1)));
  const auto out = padded.expose();
  std::copy(plaintext.begin(), plaintext.end(), out.begin());
  // The bytes after the marker are already zero: a Secret starts zeroed.
  out[plaintext.size()] = kMarker;
  return padded;
}

tl::expected<std::span<const std::uint8_t>, Error> unpad(std::span<const std::uint8_t> padded) {
  const auto last =
      std::find_if(padded.rbegin(), padded.rend(), [](std::uint8_t b) { return b != 0; });
  if (last == padded.rend() || *last != kMarker) {
    return failure("padded plaintext does not end in 0x80 followed by zeros");
  }
  const auto size = static_cast<std::size_t>(padded.rend() - last) - 1;
  if (padme_length(size + 1) != padded.size()) {
    return failure("padded plaintext has a length that Padmé would not give it");
  }
  return padded.first(size);
}

}  // namespace tipline::crypto::padding
