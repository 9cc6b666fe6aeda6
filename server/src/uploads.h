// Resumable uploads: tus 1.0.0 (core, creation, termination, expiration) under
// /api/v1/uploads (design §4.5), so stock tus clients (tus-js-client) work.
//
// An upload is created with POST /api/v1/uploads, `Upload-Length` and the draft token in
// `Upload-Metadata: draft BASE64(TOKEN)` (sources.h makes drafts). Its URL,
// /api/v1/uploads/ID with a random ID, is its only credential. Bytes go straight into a
// storage blob, committed durably piece by piece, so a broken PATCH keeps what arrived and
// HEAD tells the client where to resume. Whichever commit stores the last byte (the end of
// a PATCH, or a broken one) checks in the same transaction that the blob is an age file
// sealed to the installed bundle (as for reports) and finishes it, or refuses and deletes
// the upload: an upload is never at its full length yet unfinished. Uploads expire after
// limits.upload_expiry. A creation is refused with 507 Insufficient Storage when the
// Upload-Length of every upload not yet part of a submission, the new one included,
// would pass limits.pending_upload_bytes (checked in the transaction that adds it).
// Thread safety: every function may be called from any thread.
#pragma once

#include <string_view>

#include "request_handler.h"

namespace tipline::server::uploads {

inline constexpr std::string_view kCollection = "/api/v1/uploads";
inline constexpr std::string_view kItemPrefix = "/api/v1/uploads/";

// OPTIONS, POST (creation), HEAD and DELETE (termination); `respond` is called once.
void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond);

// PATCH /api/v1/uploads/ID: checks the headers (Tus-Resumable, Content-Type, Upload-Offset)
// before the body is read, then streams the body into the upload's blob.
[[nodiscard]] StreamStart start_patch(const RequestHeader& header, const RequestContext& context,
                                      Services& services);

}  // namespace tipline::server::uploads
