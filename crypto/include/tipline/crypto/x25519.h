// age X25519 keys (https://c2sp.org/age), in the text forms age and age-keygen use.
//
// A Recipient is a public key, "age1..." (Bech32, HRP "age", lowercase). An Identity is the
// matching 32-byte scalar, "AGE-SECRET-KEY-1..." (HRP "age-secret-key-", uppercase), held only
// in secret memory. Parsing is as strict as age: the other case of either form is rejected.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "tipline/crypto/age.h"
#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::x25519 {

class Recipient final : public age::Recipient {
 public:
  // Errors: malformed_encoding, wrong_key_type (not "age1..."), malformed_key (not 32 bytes).
  [[nodiscard]] static tl::expected<Recipient, Error> parse(std::string_view text);

  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] const std::array<std::uint8_t, 32>& bytes() const { return bytes_; }
  // One "X25519" stanza: the file key sealed with a key agreed with a fresh ephemeral key.
  [[nodiscard]] std::vector<age::Stanza> wrap(const Secret& file_key) const override;

 private:
  explicit Recipient(const std::array<std::uint8_t, 32>& bytes) : bytes_(bytes) {}
  friend class Identity;

  std::array<std::uint8_t, 32> bytes_;
};

class Identity final : public age::Identity {
 public:
  // A fresh identity from the operating system's CSPRNG, as age-keygen makes one.
  [[nodiscard]] static Identity generate();
  // Errors as Recipient::parse, with "AGE-SECRET-KEY-1..." expected.
  [[nodiscard]] static tl::expected<Identity, Error> parse(std::string_view text);
  // The identity whose secret is `scalar`, a 32-byte X25519 scalar (as age stores it, before
  // clamping), e.g. one derived from a codename.
  [[nodiscard]] static Identity from_scalar(Secret scalar);

  // The encoded identity, in secret memory.
  [[nodiscard]] Secret to_string() const;
  [[nodiscard]] Recipient recipient() const;
  // Opens "X25519" stanzas; refuses malformed ones and low-order shares.
  [[nodiscard]] tl::expected<std::optional<Secret>, Error> unwrap(
      const age::Stanza& stanza, std::size_t stanza_count) const override;

 private:
  explicit Identity(Secret scalar) : scalar_(std::move(scalar)) {}

  Secret scalar_;
};

// The identity file age-keygen writes, in secret memory:
//   "# created: <created>\n# public key: age1...\nAGE-SECRET-KEY-1...\n"
// age-keygen's `created` is the UTC time as RFC 3339 to the second ("2006-01-02T15:04:05Z").
// Throws std::invalid_argument if `created` contains a line break.
[[nodiscard]] Secret identity_file_text(const Identity& identity, std::string_view created);
// The same, created now.
[[nodiscard]] Secret identity_file_text(const Identity& identity);

// The identities of an unencrypted identity file, as age reads one: one identity a line,
// blank lines and lines starting with '#' ignored, LF or CRLF line ends. At least one
// identity is required. Errors name the offending line number, never its content.
[[nodiscard]] tl::expected<std::vector<Identity>, Error> parse_identity_file(
    std::span<const std::uint8_t> text);

}  // namespace tipline::crypto::x25519
