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
// Every refusal is an HTML error page; a form refused part-way leaves no blob behind.
// Thread safety: every function may be called from any thread.
#pragma once

#include "request_handler.h"

namespace tipline::server::report_form {

// GET or HEAD /report (the not-accepting page while no bundle is installed).
[[nodiscard]] Response report_page(unsigned version, bool head, const RequestContext& context,
                                   Services& services);

// POST /report: refuses a bad Content-Type, missing CSRF cookie or exhausted submission
// bucket before the body is read.
[[nodiscard]] StreamStart start_report(const RequestHeader& header, const RequestContext& context,
                                       Services& services);

// POST /codename.
void confirm_codename(const Request& request, const RequestContext& context, Services& services,
                      Respond respond);

}  // namespace tipline::server::report_form
