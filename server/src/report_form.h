// The no-JavaScript report flow (design §2, "Submitting (no JavaScript)"), over the pages of
// pages.h:
//   GET /report     the report form, with a CSRF token (double submit: a SameSite=Strict
//                   cookie and a form field that must match it)
//   POST /report    multipart/form-data, read as a stream: the CSRF field must be the first
//                   part; each attached file is sealed with the C++ age encryptor to the
//                   bundle's recipients as it arrives, and the answers become one padded
//                   report document, sealed the same way. Plaintext lives only in wiped
//                   buffers. A new source gets a codename; the answer is the codename page.
//   POST /codename  the retyped codename; the submitted page once it matches. The codename
//                   page sends back the codename it showed in a hidden field, so the server
//                   keeps no codename between the two posts: it checks that the shown one
//                   belongs to a registered source (its login hash) before it shows it again.
// The CSRF cookie is `__Host-tipline_csrf` over TLS and `tipline_csrf` over plain HTTP (the
// onion service behind loopback); each transport accepts only its own name.
// Codename derivation (scrypt, 64 MiB) runs on a small pool of its own, never on the I/O
// thread; when too many are already running or waiting, both posts answer 503 ("the tip
// line is busy") at once. Blobs stay unfinished until the transaction that records the
// submission, so that `db purge` running beside the server never takes them.
// Every refusal is an HTML error page; a form refused part-way leaves no blob behind.
// Thread safety: every function may be called from any thread; `respond` may be called on
// another thread.
#pragma once

#include <cstddef>

#include "request_handler.h"

namespace tipline::server::report_form {

// GET or HEAD /report (the not-accepting page while no bundle is installed).
[[nodiscard]] Response report_page(unsigned version, bool head, const RequestContext& context,
                                   Services& services);

// POST /report: refuses a bad Content-Type, missing CSRF cookie or exhausted submission
// bucket before the body is read.
[[nodiscard]] StreamStart start_report(const RequestHeader& header, const RequestContext& context,
                                       Services& services);

// POST /codename. `request` is read before this returns; `respond` is called later, from the
// derivation pool, unless the request is refused before the derivation.
void confirm_codename(const Request& request, const RequestContext& context, Services& services,
                      Respond respond);

// Tests only: sets how many codename derivations may be admitted at once, running or
// waiting for the pool (0 refuses every one with 503), and returns the previous limit. The
// default is 4 per pool thread, the pool having min(hardware threads, 2) threads.
std::size_t set_derivation_limit_for_testing(std::size_t limit);

}  // namespace tipline::server::report_form
