// Sources and drafts (design §2, §4.3): the JSON API a browser uses before it submits.
//
//   POST /api/v1/sources        {"login_secret": B64, "recipient": "age1..."}: registers a
//                               source; the server keeps BLAKE2b-256(login_secret) and the
//                               recipient only, never the codename.
//   POST /api/v1/sources/login  {"login_secret": B64}: checks a returning source.
//   POST /api/v1/drafts         {} or {"login_secret": B64}: a draft token that uploads
//                               bind to and a submission then links (submissions.h).
// Thread safety: may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <tl/expected.hpp>

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

}  // namespace tipline::server::sources
