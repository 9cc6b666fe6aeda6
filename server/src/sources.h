// Sources and drafts (design §2, §4.3): the JSON API a browser uses before it submits.
//
//   POST /api/v1/sources        {"login_secret": B64, "recipient": "age1..."}: registers a
//                               source; the server keeps BLAKE2b-256(login_secret) and the
//                               recipient only, never the codename.
//   POST /api/v1/sources/login  {"login_secret": B64}: checks a returning source.
//   POST /api/v1/drafts         {} or {"login_secret": B64}: a draft token that uploads
//                               bind to and a submission then links (submissions.h).
// B64 is standard padded base64 of exactly 32 bytes. Answers: 201 {} (registered), 200 {}
// (login), 201 {"draft": TOKEN} (64 hex digits); 400 {"error"} for any other body, 401 for
// an unknown login secret, 409 for a login secret already registered, 429 for a draft past
// limits.drafts_per_minute (one token bucket across all sources), 503 without a bundle.
// A draft token is a credential: the server keeps only BLAKE2b-256 of its 32 bytes, and
// the draft expires after limits.upload_expiry.
// Thread safety: may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tl/expected.hpp>

#include "identifiers.h"
#include "request_handler.h"
#include "tipline/storage/database.h"

namespace tipline::server::sources {

// Answers one of the paths above; `respond` is called once, after any durable commit.
void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond);

// Inside a write transaction: a new source with BLAKE2b-256(login_secret) and its age
// recipient, created and last seen today. Errc::exists if the login hash is taken.
[[nodiscard]] tl::expected<std::int64_t, storage::Error> insert_source(
    storage::Database& db, const std::array<std::uint8_t, 32>& login_hash,
    std::string_view recipient);

using TokenHash = std::array<std::uint8_t, 32>;

// Inside a transaction: the id of the source whose login hash is `login_hash`, if any.
[[nodiscard]] tl::expected<std::optional<std::int64_t>, storage::Error> source_id_by_login_hash(
    storage::Database& db, const TokenHash& login_hash);

// BLAKE2b-256 of the 32 bytes a draft token encodes, or nullopt unless `token` is exactly
// 64 lowercase hex digits.
[[nodiscard]] std::optional<TokenHash> draft_token_hash(std::string_view token);

struct Draft {
  std::int64_t id = 0;
  std::optional<std::int64_t> source_id;
  std::int64_t expires_hour = 0;  // hours since 1970-01-01 UTC (identifiers.h)
  [[nodiscard]] bool expired() const { return expires_hour <= server::current_hour(); }
};

// Inside a transaction: the draft whose token hashes to `token_hash`, expired or not.
[[nodiscard]] tl::expected<std::optional<Draft>, storage::Error> find_draft(
    storage::Database& db, const TokenHash& token_hash);

}  // namespace tipline::server::sources
