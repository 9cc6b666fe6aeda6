// Padmé padding (design §4.6; Nikitin et al., "Reducing Metadata Leakage from Encrypted Files
// and Communication with PURBs", PETS 2019), applied to a report before it is encrypted.
//
// Padmé rounds a length L with floor(log2 L) = E to a multiple of 2^(E - floor(log2 E) - 1),
// so a padded length reveals only O(log log L) bits about L, for at most 12% overhead.
//
// Framing: pad(m) = m || 0x80 || 0x00 ... 0x00, exactly padme_length(|m| + 1) bytes long (the
// 0x80 marker is ISO/IEC 7816-4 padding). unpad accepts exactly the outputs of pad.
#pragma once

#include <cstdint>
#include <span>
#include <tl/expected.hpp>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::padding {

// The Padmé length for `length`, which must be below 2^63 (so the result fits). Lengths 0 to 8
// are their own padded length, since they have no low bits Padmé would clear.
[[nodiscard]] std::uint64_t padme_length(std::uint64_t length);

// `plaintext` framed and padded as above, in secret memory: never empty.
[[nodiscard]] Secret pad(std::span<const std::uint8_t> plaintext);

// The plaintext inside `padded`, as a view into it. Errors: malformed_padding (the last
// non-zero byte is not 0x80, or the length is not the one pad gives that plaintext).
[[nodiscard]] tl::expected<std::span<const std::uint8_t>, Error> unpad(
    std::span<const std::uint8_t> padded);

}  // namespace tipline::crypto::padding
