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

#include "request_handler.h"

namespace tipline::server::sources {

// Answers one of the paths above; `respond` is called once, after any durable commit.
void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond);

}  // namespace tipline::server::sources
