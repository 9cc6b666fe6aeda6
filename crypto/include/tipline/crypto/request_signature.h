// Reviewer request signing (design §4.4): RFC 9421 HTTP Message Signatures, in the one
// profile Tipline uses, with RFC 9530 Content-Digest.
//
// A signed request carries three fields:
//   Content-Digest:  sha-256=:BASE64(SHA-256(body)):          (also for an empty body)
//   Signature-Input: tipline=("@method" "@target-uri" "content-digest");created=UNIX;
//                    nonce="NONCE";keyid="REVIEWER_ID";alg="ed25519"      (one line)
//   Signature:       tipline=:BASE64(Ed25519(signature base)):
// The signature base is RFC 9421 §2.5's, lines joined by "\n" with no final newline:
//   "@method": POST
//   "@target-uri": https://host:port/path?query
//   "content-digest": sha-256=:...:
//   "@signature-params": ("@method" "@target-uri" "content-digest");created=...;nonce=...
// The server rebuilds @target-uri as "https://" + Host + request-target, so the client
// signs exactly the URL it sends (an onion address behind Tor, a loopback port in tests).
// It parse()s the two fields once, finds the key by keyid, then verify()s what it parsed.
//
// Keys are online Ed25519 keys, separate from the offline age identity. A signing key file
// is "TIPLINE-SIGNING-KEY-1" and the 32-byte seed in hex on a second line (mode 0600); a
// public key is its 32 bytes in base64 with padding (44 characters).
// Thread safety: plain values and free functions; a SigningKey may be shared for reading.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::request_signature {

inline constexpr std::string_view kLabel = "tipline";
// A request whose `created` is further than this from the server's clock is refused.
inline constexpr std::int64_t kMaxSkewSeconds = 300;
inline constexpr std::size_t kMaxNonceLength = 64;

// True for 1 to 64 of [A-Za-z0-9._-]: what a keyid (a reviewer id) or a nonce may be.
[[nodiscard]] bool is_token(std::string_view text);

using PublicKey = std::array<std::uint8_t, 32>;

struct Fields;
struct Message;

class SigningKey {
 public:
  [[nodiscard]] static SigningKey generate();
  // The key file's text, as described above. Errors: malformed_key.
  [[nodiscard]] static tl::expected<SigningKey, Error> parse(std::string_view file_text);
  // The key file's text, in secret memory.
  [[nodiscard]] Secret serialize() const;
  [[nodiscard]] const PublicKey& public_key() const { return public_key_; }

 private:
  friend Fields sign(const SigningKey& key, std::string_view keyid, const Message& message,
                     std::int64_t created, std::string_view nonce);
  SigningKey(Secret secret, const PublicKey& public_key)
      : secret_(std::move(secret)), public_key_(public_key) {}
  Secret secret_;  // libsodium's 64-byte Ed25519 secret key: seed || public key
  PublicKey public_key_{};
};

[[nodiscard]] std::string encode_public_key(const PublicKey& key);
// Errors: malformed_key.
[[nodiscard]] tl::expected<PublicKey, Error> parse_public_key(std::string_view text);

// The parts of a request that are signed.
struct Message {
  std::string_view method;      // "GET", "POST", ...
  std::string_view target_uri;  // "https://host:port/path?query"
  std::string_view content_digest;
};

// The Content-Digest field value of `body`.
[[nodiscard]] std::string content_digest(std::span<const std::uint8_t> body);
[[nodiscard]] std::string content_digest(std::string_view body);

struct Fields {
  std::string signature_input;
  std::string signature;
};

// Signs `message` (whose content_digest is content_digest(body)). `keyid` and `nonce` must
// be 1 to 64 characters of [A-Za-z0-9._-] (asserted).
[[nodiscard]] Fields sign(const SigningKey& key, std::string_view keyid, const Message& message,
                          std::int64_t created, std::string_view nonce);

// What Signature-Input declares, read before the key is known (the server looks the key up
// by keyid).
struct Parameters {
  std::string keyid;
  std::string nonce;
  std::int64_t created = 0;
};

inline constexpr std::size_t kSignatureBytes = 64;  // Ed25519

// A request's two fields, parsed once: what verify() checks, so that a server that reads
// keyid to find the key does not parse or decode them again.
struct Parsed {
  Parameters parameters;
  std::string signature_params;  // the signed "@signature-params" value, as received
  std::array<std::uint8_t, kSignatureBytes> signature{};
};

// Parses the two fields. Refused (malformed_signature): anything but exactly one signature
// labelled kLabel, with exactly the covered components and parameters of this profile.
[[nodiscard]] tl::expected<Parsed, Error> parse(std::string_view signature_input,
                                                std::string_view signature);

// Checks the parsed signature over `message` with `key`, that `message.content_digest` is
// the digest of `body`, and that `created` is within kMaxSkewSeconds of `now`. Errors:
// bad_signature (wrong key, or anything signed was altered), stale_signature. The nonce's
// freshness is the caller's to check.
[[nodiscard]] tl::expected<void, Error> verify(const Parsed& parsed, const Message& message,
                                               std::span<const std::uint8_t> body,
                                               const PublicKey& key, std::int64_t now);

// parse() then verify(): the same errors as both, malformed_signature first.
[[nodiscard]] tl::expected<Parameters, Error> verify(std::string_view signature_input,
                                                     std::string_view signature,
                                                     const Message& message,
                                                     std::span<const std::uint8_t> body,
                                                     const PublicKey& key, std::int64_t now);

}  // namespace tipline::crypto::request_signature
