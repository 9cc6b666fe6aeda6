// The source side's server-rendered pages, which work without JavaScript (Tor Browser's
// "Safest" level), and the static assets they use: style.css, and app.js, the progressive
// layer that encrypts in the browser (web/src/, bundled by esbuild at build time).
//
// Pages are filled from the templates in web/pages/, embedded in the binary: layout.html,
// the frame every page shares (head, header, language switch), around the page's own
// template. Every word comes from the page language's catalog, web/i18n/<tag>/pages.toml
// (i18n.h, docs/translations.md); questions come from the questionnaire, in the page's
// language where it has one, and country names from questionnaire.h, likewise. Every value
// put into a page is HTML-escaped. The pages load only /static/ assets and post only to their
// own origin.
//
// `language` is a tag of i18n::languages() (i18n::choose() picks it for a request): it gives
// the page <html lang dir>, and every link and form action of the page carries ?lang=<tag>,
// so the language follows the witness through the flow without a cookie. The header's
// language switch lists every language by its autonym, each a plain link to the same page in
// that language (to the start, "/", for pages that answer a post); on the codename page each
// is a small form that posts the codename back, so that switching does not lose it.
//   GET /                   landing_page(): how to stay safe; links to GET /report
//   GET /report             report_page(): loads /static/app.js, which encrypts in the
//                           browser when it can (its words in the form's data-strings, from
//                           web/i18n/<tag>/app.toml); otherwise the form POSTs to /report as
//                           multipart/form-data the questions' fields (questionnaire.h),
//                           files named form::kAttachmentsField and form::kCsrfField
//   answer to POST /report  codename_page(): POSTs to /codename, urlencoded,
//                           form::kCodenameField, form::kCsrfField and codename_shown (a
//                           hidden copy of the codename shown, so the server keeps none); the
//                           language switch posts the last two and kSwitchLanguageField
//   answer to POST /codename, once the retyped codename matches: submitted_page()
//   GET / and GET /report while no recipient bundle is installed: not_accepting_page()
//   any failure: error_page()
// Thread safety: pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "questionnaire.h"

namespace tipline::server::pages {

// The field of the codename page's language switch: the post only shows the page again, in
// the language of its URL, rather than check a retyped codename.
inline constexpr std::string_view kSwitchLanguageField = "switch_language";

[[nodiscard]] std::string landing_page(std::string_view language);

// What the report page's script (static/app.js) needs to encrypt in the browser, put on the
// form as data- attributes. None of it is secret.
struct BrowserSettings {
  std::string_view codename_salt_hex;  // the instance salt of the codename derivation, hex
  std::uint64_t upload_bytes = 0;      // limits.upload_bytes: the largest encrypted file
  std::size_t uploads_per_draft = 0;   // limits.uploads_per_draft: files per report
  std::uint64_t report_bytes = 0;      // limits.report_bytes: the largest encrypted report
};

// The report form for `questionnaire`. Month questions offer the years from current_year
// back to current_year - 30. The page loads static/app.js, which encrypts in the browser.
[[nodiscard]] std::string report_page(std::string_view language,
                                      const form::Questionnaire& questionnaire,
                                      std::string_view csrf_token, int current_year,
                                      const BrowserSettings& browser);

// Shows `codename` (display form) once and asks for it to be retyped. retype_mismatch adds a
// notice that the last retyped codename was wrong. The page holds the codename: callers
// should wipe the returned string once it is sent; the function makes no other copy.
[[nodiscard]] std::string codename_page(std::string_view language, std::string_view codename,
                                        std::string_view csrf_token, bool retype_mismatch);

[[nodiscard]] std::string submitted_page(std::string_view language);

// Says plainly that this tip line is not accepting reports yet.
[[nodiscard]] std::string not_accepting_page(std::string_view language);

// An error page: the HTTP status code, a plain message for the witness (already in
// `language`: i18n::text()), a link back home.
[[nodiscard]] std::string error_page(std::string_view language, unsigned status,
                                     std::string_view message);

struct Asset {
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // a strong ETag, quotes included: a hash of body
};

// The embedded asset served at `path` ("/static/style.css"), if there is one.
[[nodiscard]] std::optional<Asset> static_asset(std::string_view path);

// The Subresource Integrity value ("sha384-" and base64) of the embedded static asset `name`
// ("static/app.js"), for the integrity attribute of the element that loads it.
[[nodiscard]] const std::string& asset_integrity(std::string_view name);

}  // namespace tipline::server::pages
