#include "tipline/crypto/x25519.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "bech32.h"

namespace tipline::crypto::x25519 {
namespace {

constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kIdentityHrp = "AGE-SECRET-KEY-";

static_assert(crypto_scalarmult_BYTES == 32 && crypto_scalarmult_SCALARBYTES == 32);

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

}  // namespace tipline::crypto::x25519
