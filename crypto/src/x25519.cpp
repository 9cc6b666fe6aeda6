#include "tipline/crypto/x25519.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

#include "base64.h"
#include "bech32.h"
#include "hkdf.h"
#include "stanza.h"

namespace tipline::crypto::x25519 {
namespace {

constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kIdentityHrp = "AGE-SECRET-KEY-";

static_assert(crypto_scalarmult_BYTES == 32 && crypto_scalarmult_SCALARBYTES == 32);

constexpr std::string_view kStanzaType = "X25519";
constexpr std::string_view kWrapInfo = "age-encryption.org/v1/X25519";

// wrap key = HKDF-SHA256(ikm = shared secret, salt = ephemeral share || recipient).
Secret wrap_key(const Secret& shared, std::span<const std::uint8_t, 32> share,
                std::span<const std::uint8_t, 32> recipient) {
  std::array<std::uint8_t, 64> salt{};
  std::copy(share.begin(), share.end(), salt.begin());
  std::copy(recipient.begin(), recipient.end(), salt.begin() + 32);
  return hkdf_sha256(shared.expose(), salt, kWrapInfo, age::stanza::kWrapKeyBytes);
}

}  // namespace

tl::expected<Recipient, Error> Recipient::parse(std::string_view text) {
  std::array<std::uint8_t, 32> bytes{};
  if (auto decoded = bech32::decode(text, kRecipientHrp, bytes); !decoded) {
    return tl::unexpected(std::move(decoded.error()));
  }
  return Recipient(bytes);
}

std::string Recipient::to_string() const { return bech32::encode(kRecipientHrp, bytes_); }

Identity Identity::generate() { return Identity(Secret::random(crypto_scalarmult_SCALARBYTES)); }

Identity Identity::from_scalar(Secret scalar) {
  assert(scalar.size() == crypto_scalarmult_SCALARBYTES);
  return Identity(std::move(scalar));
}

tl::expected<Identity, Error> Identity::parse(std::string_view text) {
  Secret scalar(crypto_scalarmult_SCALARBYTES);
  if (auto decoded = bech32::decode(text, kIdentityHrp, scalar.expose()); !decoded) {
    return tl::unexpected(std::move(decoded.error()));
  }
  return Identity(std::move(scalar));
}

Secret Identity::to_string() const { return bech32::encode_secret(kIdentityHrp, scalar_.expose()); }

Recipient Identity::recipient() const {
  std::array<std::uint8_t, 32> bytes{};
  // This fails only for a product of zero, which a clamped scalar times the base point never
  // is; failing would mean a broken libsodium.
  if (crypto_scalarmult_base(bytes.data(), scalar_.expose().data()) != 0) {
    std::abort();
  }
  return Recipient(bytes);
}

Secret identity_file_text(const Identity& identity, std::string_view created) {
  if (created.find_first_of("\r\n") != std::string_view::npos) {
    throw std::invalid_argument("identity file creation time must be a single line");
  }
  const std::string recipient = identity.recipient().to_string();
  const Secret encoded = identity.to_string();
  const auto secret_text = encoded.expose();
  const std::string_view parts[] = {
      "# created: ",
      created,
      "\n# public key: ",
      recipient,
      "\n",
      {reinterpret_cast<const char*>(secret_text.data()), secret_text.size()},
      "\n",
  };
  std::size_t size = 0;
  for (const std::string_view part : parts) {
    size += part.size();
  }
  Secret text(size);
  auto out = text.expose().begin();
  for (const std::string_view part : parts) {
    out = std::copy(part.begin(), part.end(), out);
  }
  return text;
}

Secret identity_file_text(const Identity& identity) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char created[32];
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return identity_file_text(identity, created);
}

std::vector<age::Stanza> Recipient::wrap(const Secret& file_key) const {
  const Secret ephemeral = Secret::random(crypto_scalarmult_SCALARBYTES);
  std::array<std::uint8_t, 32> share{};
  crypto_scalarmult_base(share.data(), ephemeral.expose().data());
  Secret shared(crypto_scalarmult_BYTES);
  // Fails only for a low-order recipient, which parse() cannot rule out; such a recipient
  // would give away the file key, so it is a programming error to have one here.
  if (crypto_scalarmult(shared.expose().data(), ephemeral.expose().data(), bytes_.data()) != 0) {
    std::abort();
  }
  age::Stanza stanza;
  stanza.type = std::string(kStanzaType);
  stanza.args.push_back(base64::encode(share, base64::Padding::none));
  stanza.body = age::stanza::seal_file_key(wrap_key(shared, share, bytes_), file_key);
  return {std::move(stanza)};
}

tl::expected<std::optional<Secret>, Error> Identity::unwrap(const age::Stanza& stanza,
                                                            std::size_t /*stanza_count*/) const {
  if (stanza.type != kStanzaType) return std::nullopt;
  auto malformed = [](std::string_view what) {
    return tl::unexpected(
        Error{Errc::header_malformed, "malformed X25519 stanza: " + std::string(what)});
  };
  if (stanza.args.size() != 1) return malformed("expected one argument");
  const auto share_bytes = base64::decode(stanza.args[0], base64::Padding::none);
  if (!share_bytes || share_bytes->size() != 32) return malformed("share is not 32 bytes");
  if (stanza.body.size() != age::stanza::kBodyBytes) return malformed("body is not 32 bytes");
  std::array<std::uint8_t, 32> share{};
  std::copy(share_bytes->begin(), share_bytes->end(), share.begin());

  Secret shared(crypto_scalarmult_BYTES);
  if (crypto_scalarmult(shared.expose().data(), scalar_.expose().data(), share.data()) != 0) {
    return malformed("low-order share");  // the shared secret would be all zeros
  }
  const Recipient self = recipient();
  return age::stanza::open_file_key(wrap_key(shared, share, self.bytes_), stanza.body);
}

tl::expected<std::vector<Identity>, Error> parse_identity_file(std::span<const std::uint8_t> text) {
  const std::string_view all(reinterpret_cast<const char*>(text.data()), text.size());
  std::vector<Identity> identities;
  std::size_t number = 0;
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t end = std::min(all.find('\n', at), all.size());
    std::string_view line = all.substr(at, end - at);
    at = end + 1;
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.starts_with('#')) continue;
    auto identity = Identity::parse(line);
    if (!identity) {
      return tl::unexpected(
          Error{identity.error().code,
                "identity file line " + std::to_string(number) + ": not an age X25519 identity"});
    }
    identities.push_back(std::move(*identity));
  }
  if (identities.empty()) {
    return tl::unexpected(Error{Errc::malformed_key, "the identity file holds no identity"});
  }
  return identities;
}

}  // namespace tipline::crypto::x25519
