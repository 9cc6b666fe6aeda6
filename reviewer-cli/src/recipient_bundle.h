// The recipient bundle (design §4.2) as the client sees it: GET /api/v1/keys answers
//   {"version":N,"bundle":"<the bundle file, byte for byte>","signature":"<minisign file>"}
// and, when the case holds the organisation root public key, the bundle counts only if the
// signature verifies with it and its trusted comment is "tipline-bundle version N" for the
// bundle's own version: a server that swaps in its own recipients is caught here.
// sync keeps the answer as bundle.json; `note` seals to its recipients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "case_folder.h"
#include "exit_codes.h"
#include "tipline/crypto/minisign.h"
#include "tipline/crypto/x25519.h"

namespace tipline::review {

struct RecipientBundle {
  std::int64_t version = 0;
  std::string expires;  // "YYYY-MM-DD": from that day (UTC) on the bundle is expired
  std::vector<crypto::x25519::Recipient> recipients;  // never empty
  bool verified = false;  // false only when there is no root key to check it with
};

// Checks an /api/v1/keys answer. Errors: kBundleMismatch (the signature does not verify
// with `root`, or its trusted comment names another version), kServerError (malformed).
[[nodiscard]] tl::expected<RecipientBundle, Failure> parse_keys_answer(
    std::string_view answer, const crypto::minisign::PublicKey* root);

// Whether the bundle has expired by `today` ("YYYY-MM-DD", UTC), as the server judges it:
// expired on its "expires" day.
[[nodiscard]] bool bundle_expired(const RecipientBundle& bundle, std::string_view today);
// Today's date in UTC, "YYYY-MM-DD".
[[nodiscard]] std::string today_utc();

// The case's root.pub, or nullopt when the case has none. Errors: kNoCase (unreadable).
[[nodiscard]] tl::expected<std::optional<crypto::minisign::PublicKey>, Failure> load_root_key(
    const CaseFolder& folder);
// bundle.json, checked again. Errors: kFailure when sync has not fetched one yet, else as
// parse_keys_answer.
[[nodiscard]] tl::expected<RecipientBundle, Failure> load_saved_bundle(const CaseFolder& folder);

}  // namespace tipline::review
