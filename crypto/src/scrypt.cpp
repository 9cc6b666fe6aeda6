#include "tipline/crypto/scrypt.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdlib>
#include <string_view>

#include "base64.h"
#include "stanza.h"

namespace tipline::crypto::scrypt {
namespace {

constexpr std::string_view kStanzaType = "scrypt";
constexpr std::string_view kSaltLabel = "age-encryption.org/v1/scrypt";
constexpr std::size_t kSaltBytes = 16;

Secret wrap_key(const Secret& passphrase, std::span<const std::uint8_t> salt, int work_factor) {
  std::array<std::uint8_t, kSaltLabel.size() + kSaltBytes> full_salt{};
  std::copy(kSaltLabel.begin(), kSaltLabel.end(), full_salt.begin());
  std::copy(salt.begin(), salt.end(), full_salt.begin() + kSaltLabel.size());
  Secret key(age::stanza::kWrapKeyBytes);
  if (crypto_pwhash_scryptsalsa208sha256_ll(
          passphrase.expose().data(), passphrase.size(), full_salt.data(), full_salt.size(),
          std::uint64_t{1} << work_factor, 8, 1, key.expose().data(), key.size()) != 0) {
    throw std::bad_alloc();  // scrypt fails only when it cannot get its memory
  }
  return key;
}

// A work factor as age writes it: decimal, no sign, no leading zero.
std::optional<int> parse_work_factor(std::string_view text) {
  if (text.empty() || text.size() > 2 || text[0] == '0') return std::nullopt;
  int value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

Recipient::Recipient(Secret passphrase, int work_factor)
    : passphrase_(std::move(passphrase)), work_factor_(work_factor) {
  assert(work_factor >= 1 && work_factor <= kMaxWorkFactor);
}

std::vector<age::Stanza> Recipient::wrap(const Secret& file_key) const {
  std::array<std::uint8_t, kSaltBytes> salt{};
  randombytes_buf(salt.data(), salt.size());
  age::Stanza stanza;
  stanza.type = std::string(kStanzaType);
  stanza.args = {base64::encode(salt, base64::Padding::none), std::to_string(work_factor_)};
  stanza.body = age::stanza::seal_file_key(wrap_key(passphrase_, salt, work_factor_), file_key);
  return {std::move(stanza)};
}

Identity::Identity(Secret passphrase, int max_work_factor)
    : passphrase_(std::move(passphrase)), max_work_factor_(max_work_factor) {
  assert(max_work_factor >= 1 && max_work_factor <= kMaxWorkFactor);
}

tl::expected<std::optional<Secret>, Error> Identity::unwrap(const age::Stanza& stanza,
                                                            std::size_t stanza_count) const {
  if (stanza.type != kStanzaType) return std::nullopt;
  auto malformed = [](std::string_view what) {
    return tl::unexpected(
        Error{Errc::header_malformed, "malformed scrypt stanza: " + std::string(what)});
  };
  if (stanza_count != 1) return malformed("it must be the only stanza");
  if (stanza.args.size() != 2) return malformed("expected two arguments");
  const auto salt = base64::decode(stanza.args[0], base64::Padding::none);
  if (!salt || salt->size() != kSaltBytes) return malformed("salt is not 16 bytes");
  const auto work_factor = parse_work_factor(stanza.args[1]);
  if (!work_factor) return malformed("invalid work factor");
  if (*work_factor > max_work_factor_) {
    return malformed("work factor " + std::to_string(*work_factor) + " is above the limit of " +
                     std::to_string(max_work_factor_));
  }
  if (stanza.body.size() != age::stanza::kBodyBytes) return malformed("body is not 32 bytes");
  return age::stanza::open_file_key(wrap_key(passphrase_, *salt, *work_factor), stanza.body);
}

}  // namespace tipline::crypto::scrypt
