// Source codenames (design §4.3): the one secret a source keeps.
//
// A codename is 24 ASCII digits, 23 uniformly random ones (~76 bits) followed by a Damm check
// digit, so that any one mistyped digit or swap of two adjacent digits is caught before it
// derives the wrong keys. Digits read the same in every language the page is offered in.
//
// Display form: six groups of four separated by single ASCII spaces,
// "3141 5926 5358 9793 2384 6260", as card numbers are printed.
// Normalisation, applied to whatever the source types: drop every ASCII space (0x20) and
// hyphen-minus (0x2D), anywhere; any other character (tabs, newlines, non-ASCII digits or
// dashes included) is an error. The browser must normalise exactly the same way.
//
// Derivation, identical in the browser:
//   K = scrypt(24 digits, salt = "tipline/v1/codename" || instance_salt, N=2^16, r=8, p=1, 64)
//   login_secret = K[0..32), source X25519 identity scalar = K[32..64)
// The server stores only login_hash(login_secret) and the identity's recipient.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <tl/expected.hpp>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"
#include "tipline/crypto/x25519.h"

namespace tipline::crypto::codename {

inline constexpr std::size_t kDigits = 24;

// A fresh codename from the operating system's CSPRNG: 24 ASCII digits, no separators.
[[nodiscard]] Secret generate();

// The Damm check digit ('0'..'9') of `digits`, which must all be ASCII digits. A digit string
// followed by its check digit has check digit '0'. Runs in time independent of the digits.
[[nodiscard]] std::uint8_t check_digit(std::span<const std::uint8_t> digits);

// The 24 digits of typed `text`, normalised as above. Errors: codename_malformed (another
// character, or not 24 digits), codename_check_digit (a typo). Messages never quote the text.
[[nodiscard]] tl::expected<Secret, Error> normalize(const Secret& text);

// The display form of normalised `digits` (kDigits ASCII digits).
[[nodiscard]] Secret display_form(const Secret& digits);

struct Keys {
  Secret login_secret;  // 32 bytes; proves the source to the server, which keeps only its hash
  x25519::Identity identity;
};

// The keys of a typed codename (normalised first, so errors are as normalize's) for the
// instance whose salt is `instance_salt`. Takes a fraction of a second and 64 MiB by design.
// Throws std::bad_alloc if that memory is not available.
[[nodiscard]] tl::expected<Keys, Error> derive(const Secret& text,
                                               std::span<const std::uint8_t> instance_salt);

// BLAKE2b-256 of a 32-byte login secret: what the server stores and compares.
[[nodiscard]] std::array<std::uint8_t, 32> login_hash(const Secret& login_secret);

}  // namespace tipline::crypto::codename
