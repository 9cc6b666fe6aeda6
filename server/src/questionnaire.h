// The report form's questions, and the report document made from a submitted form.
//
// A questionnaire is a TOML file (web/questionnaire.toml is the built-in one and documents
// the format): an ordered list of [[question]] tables, each with an id (the form field
// name), a label, an optional help text, a kind, whether it is required and, by kind, a
// max_length, the options and whether several may be chosen. A label or help text, and an
// option's label, is one string for every page language, or a table of language tag (of
// i18n::languages()) = string that includes English, "en", which the others fall back to.
//
// Form fields, by kind: text, textarea, country and a single choice send one field named by
// the question's id; a multiple choice sends that field once per chosen option; a month
// sends "<id>.year" and "<id>.month" (ids cannot contain a dot).
//
// The report document is the canonical JSON that gets encrypted, answered questions only,
// in questionnaire order:
//   {"format":"tipline-report/1","answers":{"what_happened":"...","when":"2024-03",
//    "country":"NL","incident_type":["surveillance","other"]}}
// Text has its line breaks normalised to "\n". A month is "YYYY-MM", or "YYYY" when only the
// year is known; a country is its ISO 3166-1 alpha-2 code; a choice is its option's value, a
// multiple choice an array of them in option order.
// Thread safety: plain values and free functions.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "tipline/crypto/secret.h"

namespace tipline::server::form {

// Form fields that are not questions; no question may use these ids.
inline constexpr std::string_view kCsrfField = "csrf_token";
inline constexpr std::string_view kAttachmentsField = "attachments";
inline constexpr std::string_view kCodenameField = "codename";

inline constexpr std::string_view kReportFormat = "tipline-report/1";

enum class Kind { text, textarea, month, country, choice };

// What the witness reads: one text for every page language, or one per language tag, English
// ("en") always among them, which a language without its own falls back to.
class Text {
 public:
  using ByLanguage = std::map<std::string, std::string, std::less<>>;

  Text() = default;
  // The same text in every language. Implicit, as a plain string is in the TOML format.
  Text(std::string text);  // NOLINT(google-explicit-constructor)
  explicit Text(ByLanguage by_language) : by_language_(std::move(by_language)) {}

  // The text for a page in `language`: its own, or English.
  [[nodiscard]] std::string_view in(std::string_view language) const;
  [[nodiscard]] std::string_view english() const;
  [[nodiscard]] bool empty() const { return by_language_.empty(); }
  [[nodiscard]] const ByLanguage& by_language() const { return by_language_; }

 private:
  ByLanguage by_language_;  // by tag; "en" always there unless the text is empty
};

struct Option {
  std::string value;  // what the report records: [a-z0-9_]{1,64}
  Text label;         // what the witness reads
};

struct Question {
  std::string id;  // [a-z0-9_]{1,32}
  Text label;
  Text help;  // empty: none
  Kind kind = Kind::text;
  bool required = false;
  bool multiple = false;        // choice: checkboxes rather than radio buttons
  std::size_t max_length = 0;   // text and textarea: Unicode characters; 0 for other kinds
  std::vector<Option> options;  // choice only
};

struct Questionnaire {
  std::vector<Question> questions;
};

struct Country {
  std::string_view code;  // ISO 3166-1 alpha-2
  std::string_view name;  // in the language of the list
};

enum class Errc {
  unreadable,  // the questionnaire file cannot be read
  invalid,     // the questionnaire is not valid TOML or breaks the format
  answers,     // submitted answers do not fit the questionnaire
};

struct Error {
  Errc code;
  // invalid: one line per problem, "FILE: question N: what is wrong" (N counts from 1).
  // answers: one plain sentence for the witness, in English, naming the question by its
  // label.
  std::string message;
  // answers: the same sentence as a key of the page catalogs ("answer.required", i18n.h),
  // whose {question} is the label of `question` and {limit} its max_length, so that a page
  // can say it in the witness's language. `question` points into the questionnaire given
  // to report_document(); null when the sentence names no question.
  std::string_view message_key{};
  const Question* question = nullptr;
};

// The questionnaire in `file`; an empty path means the built-in one.
[[nodiscard]] tl::expected<Questionnaire, Error> load_questionnaire(
    const std::filesystem::path& file);

// The questionnaire in TOML `text`; `file` names it in messages.
[[nodiscard]] tl::expected<Questionnaire, Error> parse_questionnaire(std::string_view text,
                                                                     std::string_view file);

// The countries a country question offers, named in `language` (a tag of
// i18n::languages()), from Debian's iso-codes (web/countries.mjs), and in the code point
// order of those names (a simple order: accented and non-Latin letters sort after the
// unaccented Latin ones). English names are the server's own, alphabetical. A country
// without a name in `language` keeps its English one.
[[nodiscard]] std::span<const Country> countries(std::string_view language);

// One text part of a submitted form. Views, so that the caller decides where values live.
struct Field {
  std::string_view name;
  std::string_view value;
};

// Checks the text fields of a submitted form against `questionnaire` and returns the report
// document, in secret memory. Refused: a field no question asks for, a field given twice
// (other than the options of a multiple choice), text that is not UTF-8 or holds control
// characters other than line breaks and tabs, text over max_length, a value outside a
// question's options, a malformed month, and an unanswered required question. An empty
// field counts as unanswered, and so does text of only spaces and line breaks. A kCsrfField
// field is skipped: the caller checks it.
[[nodiscard]] tl::expected<crypto::Secret, Error> report_document(
    const Questionnaire& questionnaire, std::span<const Field> fields);

}  // namespace tipline::server::form
