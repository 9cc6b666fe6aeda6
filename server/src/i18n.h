// The words of the source side's pages in each language, and the choice of a page's
// language (docs/translations.md).
//
// Catalogs are TOML files embedded from web/i18n/<tag>/, where <tag> is a BCP 47 tag used as
// is in <html lang>:
//   pages.toml  every word of the pages and of the server's messages shown on them, under
//               dotted keys ("report.send"), and [language] autonym and direction ("ltr" or
//               "rtl"). A text may hold placeholders, {name}, filled in by the page. Every
//               catalog has exactly the keys of English, and each text exactly the
//               placeholders of its English text.
//   app.toml    optional: the words of the report page's script (web/src/), owned by that
//               layer; a key a language lacks falls back to English.
// The built-in catalogs are compiled in and tested, so a malformed one is a programming
// error: the server stops with the problem on stderr when it first needs them (at start).
//
// A page's language: `lang=<tag>` in the query of its URL when it names a language (or a
// tag that maps to one, as Accept-Language does); otherwise the best match of the request's
// Accept-Language; otherwise English. No cookie remembers it: every link and form of a page
// carries ?lang= instead, as a cookie left on a shared device would reveal the visit.
// Thread safety: the built-in catalogs are parsed once, on first use, and never change.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "embedded.h"

namespace tipline::server::i18n {

inline constexpr std::string_view kEnglish = "en";

using Texts = std::map<std::string, std::string, std::less<>>;

struct Language {
  std::string tag;      // BCP 47, e.g. "sr-Latn"
  std::string autonym;  // the language's name in itself, e.g. "Srpski (latinica)"
  bool right_to_left = false;
  Texts pages;  // pages.toml, by dotted key; [language] included
  Texts app;    // app.toml, by dotted key; empty when the language has none
};

// The languages whose catalogs are among `files` ("i18n/<tag>/pages.toml" and
// "i18n/<tag>/app.toml"; other files are skipped), in code point order of their autonyms.
// Refused, one line per problem: TOML that does not parse, a value that is not a string, a
// missing or unknown [language] value, no English, a key that English lacks or has and the
// catalog lacks, a malformed placeholder, and placeholders that differ from English's.
[[nodiscard]] tl::expected<std::vector<Language>, std::string> parse_catalogs(
    std::span<const embedded::File> files);

// The built-in languages (parse_catalogs of the embedded files).
[[nodiscard]] const std::vector<Language>& languages();

// The built-in language tagged exactly `tag`, or English.
[[nodiscard]] const Language& language(std::string_view tag);

// The built-in language a BCP 47 language range (from Accept-Language or ?lang=) asks for,
// if any: zh, zh-CN, zh-SG and zh-Hans(-*) are zh-Hans; zh-TW, zh-HK, zh-MO and zh-Hant(-*)
// are zh-Hant; sr-Latn(-*) is sr-Latn and any other sr sr-Cyrl; other ranges match by
// primary subtag. Case does not matter.
[[nodiscard]] std::optional<std::string_view> match(std::string_view range);

// The language of the request `target` ("/report?lang=ug"): `lang` in its query when
// match() knows it; otherwise the best match of `accept_language` (highest q-value, earlier
// first among equals; q=0 refuses), with negotiated set; otherwise English, negotiated.
struct Choice {
  std::string_view tag = kEnglish;
  bool negotiated = false;  // the answer depends on Accept-Language (Vary)
};
[[nodiscard]] Choice choose(std::string_view target, std::string_view accept_language);

// `pattern` with each {name} replaced by value_of(name). A placeholder value_of does not
// know is a programming error (asserted) and is left out.
using PlaceholderValue = std::function<std::optional<std::string_view>(std::string_view name)>;
[[nodiscard]] std::string fill_placeholders(std::string_view pattern,
                                            const PlaceholderValue& value_of);

// The text of pages.toml `key` in `language` (which must have it), placeholders unfilled.
[[nodiscard]] std::string_view pattern(const Language& language, std::string_view key);

struct Placeholder {
  std::string_view name;
  std::string_view value;
};
// The text of pages.toml `key` in the built-in language `tag`, with `values` filled in.
[[nodiscard]] std::string text(std::string_view tag, std::string_view key,
                               std::initializer_list<Placeholder> values = {});

// Every key of English's app.toml with its text in `tag` (English's where that lacks it), as
// one JSON object, for the report page's script.
[[nodiscard]] std::string app_strings(std::string_view tag);

}  // namespace tipline::server::i18n
