// Bech32 (BIP-173, not Bech32m) with 8-bit payloads, as age encodes its keys.
//
// Unlike BIP-173 there is no 90-character limit, since age identities and plugin strings
// exceed it. Every step that touches payload bits avoids secret-dependent branches and table
// lookups, so the same code encodes and decodes secret keys.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::bech32 {

// The Bech32 text of `data` under `hrp`. The text takes the case of `hrp` (lowercase if it has
// no letters); `hrp` must be non-empty printable ASCII and not mixed case.
[[nodiscard]] std::string encode(std::string_view hrp, std::span<const std::uint8_t> data);
// The same, for secret data: the text is held in secret memory.
[[nodiscard]] Secret encode_secret(std::string_view hrp, std::span<const std::uint8_t> data);

// Decodes `text` into `out`. The text's HRP must equal `hrp` exactly, case included (age
// rejects "AGE1..." recipients and lowercase identities), and its payload must be exactly
// out.size() bytes. Errors: malformed_encoding (bad character, mixed case, missing separator,
// bad checksum or padding), wrong_key_type (another HRP), malformed_key (another length).
// On error `out` is zeroed.
[[nodiscard]] tl::expected<void, Error> decode(std::string_view text, std::string_view hrp,
                                               std::span<std::uint8_t> out);

}  // namespace tipline::crypto::bech32
