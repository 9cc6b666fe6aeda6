#include "tipline/crypto/request_signature.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>

#include "base64.h"

namespace tipline::crypto::request_signature {
namespace {

constexpr std::string_view kKeyFileTag = "TIPLINE-SIGNING-KEY-1";
constexpr std::string_view kCoveredComponents = R"(("@method" "@target-uri" "content-digest"))";
constexpr std::string_view kDigestPrefix = "sha-256=:";

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

// The signature parameters exactly as this profile writes them (without the label).
std::string parameters_text(std::int64_t created, std::string_view nonce, std::string_view keyid) {
  std::string text(kCoveredComponents);
  text += ";created=" + std::to_string(created);
  text += ";nonce=\"";
  text += nonce;
  text += "\";keyid=\"";
  text += keyid;
  text += "\";alg=\"ed25519\"";
  return text;
}

// RFC 9421 §2.5: one line per covered component, then the signature parameters.
std::string signature_base(const Message& message, std::string_view parameters) {
  std::string base;
  base += "\"@method\": ";
  base += message.method;
  base += "\n\"@target-uri\": ";
  base += message.target_uri;
  base += "\n\"content-digest\": ";
  base += message.content_digest;
  base += "\n\"@signature-params\": ";
  base += parameters;
  return base;
}

// Consumes `prefix` from the front of `text`.
bool take(std::string_view& text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return false;
  text.remove_prefix(prefix.size());
  return true;
}

// Consumes a quoted token up to its closing quote.
std::optional<std::string> take_quoted_token(std::string_view& text) {
  const std::size_t end = text.find('"');
  if (end == std::string_view::npos || !is_token(text.substr(0, end))) return std::nullopt;
  std::string token(text.substr(0, end));
  text.remove_prefix(end + 1);
  return token;
}

tl::expected<std::array<std::uint8_t, kSignatureBytes>, Error> signature_bytes(
    std::string_view signature) {
  static_assert(kSignatureBytes == crypto_sign_BYTES);
  std::string_view text = signature;
  if (!take(text, kLabel) || !take(text, "=:") || !text.ends_with(':')) {
    return failure(Errc::malformed_signature, "Signature is not tipline=:BASE64:");
  }
  text.remove_suffix(1);
  auto bytes = base64::decode(text, base64::Padding::required);
  std::array<std::uint8_t, kSignatureBytes> array{};
  if (!bytes || bytes->size() != array.size()) {
    return failure(Errc::malformed_signature,
                   "Signature does not hold a 64-byte Ed25519 signature");
  }
  std::copy(bytes->begin(), bytes->end(), array.begin());
  return array;
}

}  // namespace

bool is_token(std::string_view text) {
  if (text.empty() || text.size() > kMaxNonceLength) return false;
  for (const char c : text) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) return false;
  }
  return true;
}

SigningKey SigningKey::generate() {
  initialize();
  Secret secret(crypto_sign_SECRETKEYBYTES);
  PublicKey public_key{};
  crypto_sign_keypair(public_key.data(), secret.expose().data());
  return {std::move(secret), public_key};
}

tl::expected<SigningKey, Error> SigningKey::parse(std::string_view file_text) {
  initialize();
  std::string_view text = file_text;
  if (!take(text, kKeyFileTag) || !take(text, "\n")) {
    return failure(Errc::malformed_key, "not a Tipline signing key file (the first line must be " +
                                            std::string(kKeyFileTag) + ")");
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() != std::size_t{2} * crypto_sign_SEEDBYTES) {
    return failure(Errc::malformed_key, "the signing key file's second line must be 64 hex digits");
  }
  auto seed = Secret::from_hex(text);
  if (!seed) return failure(Errc::malformed_key, "the signing key file's key is not hex");
  Secret secret(crypto_sign_SECRETKEYBYTES);
  PublicKey public_key{};
  crypto_sign_seed_keypair(public_key.data(), secret.expose().data(), seed->expose().data());
  return SigningKey(std::move(secret), public_key);
}

Secret SigningKey::serialize() const {
  Secret seed(crypto_sign_SEEDBYTES);
  crypto_sign_ed25519_sk_to_seed(seed.expose().data(), secret_.expose().data());
  const Secret hex = seed.to_hex();
  Secret text(kKeyFileTag.size() + 1 + hex.size() + 1);
  auto out = text.expose();
  std::copy(kKeyFileTag.begin(), kKeyFileTag.end(), out.begin());
  out[kKeyFileTag.size()] = '\n';
  std::copy(hex.expose().begin(), hex.expose().end(), out.begin() + kKeyFileTag.size() + 1);
  out.back() = '\n';
  return text;
}

std::string encode_public_key(const PublicKey& key) {
  return base64::encode(key, base64::Padding::required);
}

tl::expected<PublicKey, Error> parse_public_key(std::string_view text) {
  auto bytes = base64::decode(text, base64::Padding::required);
  PublicKey key{};
  if (!bytes || bytes->size() != key.size()) {
    return failure(Errc::malformed_key,
                   "a signing public key is 44 base64 characters (32 bytes), as tipline-review "
                   "init prints it");
  }
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

std::string content_digest(std::span<const std::uint8_t> body) {
  initialize();
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), body.data(), body.size());
  return std::string(kDigestPrefix) + base64::encode(digest, base64::Padding::required) + ":";
}

std::string content_digest(std::string_view body) {
  return content_digest(std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
}

Fields sign(const SigningKey& key, std::string_view keyid, const Message& message,
            std::int64_t created, std::string_view nonce) {
  assert(is_token(keyid) && is_token(nonce) && "keyid and nonce are 1-64 of [A-Za-z0-9._-]");
  const std::string parameters = parameters_text(created, nonce, keyid);
  const std::string base = signature_base(message, parameters);
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const std::uint8_t*>(base.data()), base.size(),
                       key.secret_.expose().data());
  Fields fields;
  fields.signature_input = std::string(kLabel) + "=" + parameters;
  fields.signature =
      std::string(kLabel) + "=:" + base64::encode(signature, base64::Padding::required) + ":";
  return fields;
}

tl::expected<Parsed, Error> parse(std::string_view signature_input, std::string_view signature) {
  std::string_view text = signature_input;
  const auto malformed = [](std::string what) {
    return failure(Errc::malformed_signature, "Signature-Input: " + std::move(what));
  };
  if (!take(text, kLabel) || !take(text, "=")) return malformed("no signature labelled tipline");
  if (!take(text, kCoveredComponents)) {
    return malformed(R"(must cover exactly ("@method" "@target-uri" "content-digest"))");
  }
  Parsed parsed;
  Parameters& parameters = parsed.parameters;
  if (!take(text, ";created=")) return malformed("created is missing");
  const char* digits_end =
      std::find_if(text.begin(), text.end(), [](char c) { return c < '0' || c > '9'; });
  const auto [end, code] = std::from_chars(text.data(), digits_end, parameters.created);
  if (code != std::errc() || end == text.data() || end - text.data() > 12) {
    return malformed("created is not a Unix time");
  }
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!take(text, ";nonce=\"")) return malformed("nonce is missing");
  auto nonce = take_quoted_token(text);
  if (!nonce) return malformed("nonce must be 1 to 64 of A-Z a-z 0-9 . _ -");
  if (!take(text, ";keyid=\"")) return malformed("keyid is missing");
  auto keyid = take_quoted_token(text);
  if (!keyid) return malformed("keyid must be 1 to 64 of A-Z a-z 0-9 . _ -");
  if (!take(text, ";alg=\"ed25519\"") || !text.empty()) {
    return malformed("must end with alg=\"ed25519\" and carry no other parameter");
  }
  parameters.nonce = std::move(*nonce);
  parameters.keyid = std::move(*keyid);
  auto bytes = signature_bytes(signature);
  if (!bytes) return tl::unexpected(bytes.error());
  parsed.signature = *bytes;
  parsed.signature_params = signature_input.substr(kLabel.size() + 1);
  return parsed;
}

tl::expected<void, Error> verify(const Parsed& parsed, const Message& message,
                                 std::span<const std::uint8_t> body, const PublicKey& key,
                                 std::int64_t now) {
  if (message.content_digest != content_digest(body)) {
    return failure(Errc::bad_signature, "Content-Digest does not match the body");
  }
  const std::string base = signature_base(message, parsed.signature_params);
  if (crypto_sign_verify_detached(parsed.signature.data(),
                                  reinterpret_cast<const std::uint8_t*>(base.data()), base.size(),
                                  key.data()) != 0) {
    return failure(Errc::bad_signature, "the signature does not verify with the reviewer's key");
  }
  if (std::llabs(now - parsed.parameters.created) > kMaxSkewSeconds) {
    return failure(Errc::stale_signature, "created is more than " +
                                              std::to_string(kMaxSkewSeconds) +
                                              " seconds from the server's clock");
  }
  return {};
}

tl::expected<Parameters, Error> verify(std::string_view signature_input, std::string_view signature,
                                       const Message& message, std::span<const std::uint8_t> body,
                                       const PublicKey& key, std::int64_t now) {
  auto parsed = parse(signature_input, signature);
  if (!parsed) return tl::unexpected(parsed.error());
  if (auto verified = verify(*parsed, message, body, key, now); !verified) {
    return tl::unexpected(verified.error());
  }
  return std::move(parsed->parameters);
}

}  // namespace tipline::crypto::request_signature
