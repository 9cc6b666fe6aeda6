// Recipient bundles: the signed list of reviewer recipients that reports are sealed to.
//
// A bundle file holds JSON, exactly these keys and no others:
//   {"format":"tipline-bundle/1","version":7,"issued":"2026-11-29","expires":"2027-05-29",
//    "recipients":[{"id":"reviewer-a-2026-11","age":"age1..."}, ...]}
// and its signature is a minisign signature file made with the organisation root key whose
// trusted comment is exactly "tipline-bundle version 7" (see trusted_comment()), so that
// the stock tool makes and checks them:
//   minisign -S -s root.key -t "tipline-bundle version 7" -m bundle-7.json
//   minisign -V -p organisation-root.pub -m bundle-7.json
// The signature covers the file's exact bytes; the comment binds the version even for a
// reader that skips the JSON. Of duplicate JSON keys the last counts, as in JSON.parse.
//
// The server keeps every installed bundle (table `bundles`) and seals to the newest one.
// Thread safety: plain values and free functions; the Store functions follow store.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "tipline/config/config.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/minisign.h"
#include "tipline/crypto/x25519.h"

// Declared only: tipline-server's main includes this header without the storage library's.
namespace tipline::storage {
class Store;
}  // namespace tipline::storage

namespace tipline::server::bundle {

inline constexpr std::string_view kFormat = "tipline-bundle/1";
inline constexpr std::size_t kMaxRecipients = 64;
inline constexpr std::size_t kMaxBytes = std::size_t{64} * 1024;
// What the source side says, page and API, while no bundle is installed.
inline constexpr std::string_view kNotAccepting = "this tip line is not accepting reports yet";

enum class Errc {
  malformed,  // not a bundle: JSON, keys, types, values or dates are wrong
  signature,  // the signature is malformed, by another key, or does not match
  expired,    // its expiry date has passed
  not_newer,  // its version is not above the installed one
  root_key,   // the pinned organisation root public key is missing or malformed
  io,         // a bundle or signature file cannot be read
  database,   // the database cannot be opened, read or written
};

struct Error {
  Errc code;
  std::string message;
};

struct Recipient {
  std::string id;  // 1 to 64 of [A-Za-z0-9._-], unique in the bundle
  crypto::x25519::Recipient age;
};

struct Bundle {
  std::int64_t version = 0;  // above 0
  std::chrono::sys_days issued;
  std::chrono::sys_days expires;      // after issued
  std::vector<Recipient> recipients;  // 1 to kMaxRecipients
  std::string bytes;                  // the signed file, byte for byte
  std::string signature_text;         // its minisign signature file
};

// "tipline-bundle version N": the trusted comment a bundle of version N is signed with.
[[nodiscard]] std::string trusted_comment(std::int64_t version);

// Checks the signature over `bytes` with `root` first, then the trusted comment and the
// contents; nothing is read from a bundle whose signature fails. Errors name what is wrong.
[[nodiscard]] tl::expected<Bundle, Error> parse_and_verify(std::string_view bytes,
                                                           std::string_view signature_file_text,
                                                           const crypto::minisign::PublicKey& root);

struct Signed {
  std::string bytes;
  std::string signature_text;
};
// A bundle file (compact JSON and a newline) and its signature by `root`, for the demo and
// tests; real bundles are signed offline. The fields are not checked: parse_and_verify is.
[[nodiscard]] Signed sign(std::int64_t version, std::chrono::sys_days issued,
                          std::chrono::sys_days expires, std::span<const Recipient> recipients,
                          const crypto::minisign::SecretKey& root);

// True from the expiry day on (UTC days).
[[nodiscard]] bool expired(const Bundle& bundle, std::chrono::sys_days today);
// A date as bundles write it, YYYY-MM-DD.
[[nodiscard]] std::string date_text(std::chrono::sys_days day);
// Whether `file_start`, the first bytes of an age file (at least its header, or all of a
// shorter file), is sealed to `recipients` recipients as reports, attachments and notes
// must be: a well-formed header whose X25519 stanzas number exactly that, and no other
// stanza. The server holds no identity, so it can check no more.
[[nodiscard]] bool is_sealed_to(std::span<const std::uint8_t> file_start, std::size_t recipients);
// The recipients to seal to, borrowed from the bundle.
[[nodiscard]] std::vector<const crypto::age::Recipient*> age_recipients(const Bundle& bundle);

// Stores a verified bundle; refused (expired, not_newer) when its expiry day has come by
// `now` (seconds since 1970-01-01 UTC) or its version is not above every installed one.
[[nodiscard]] tl::expected<void, Error> install(storage::Store& store, const Bundle& bundle,
                                                std::int64_t now);
// The installed bundle of the highest version, or nullopt when there is none. It was
// verified when installed and is not verified again.
[[nodiscard]] tl::expected<std::optional<Bundle>, Error> current(storage::Store& store);

// `tipline-server keys install`: verifies the files against the configured root public
// key and installs the bundle. Needs the server stopped (it opens the store).
[[nodiscard]] tl::expected<void, Error> install_file(const config::Config& config,
                                                     const std::filesystem::path& bundle_file,
                                                     const std::filesystem::path& signature_file,
                                                     std::ostream& out);
// `tipline-server keys show`: the installed bundle's version, dates and recipients. Reads
// without the store's lock, so it works while the server runs.
[[nodiscard]] tl::expected<void, Error> show(const config::Config& config, std::ostream& out);

}  // namespace tipline::server::bundle
