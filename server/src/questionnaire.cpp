#include "questionnaire.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <boost/json/serializer.hpp>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "embedded.h"
#include "i18n.h"

namespace tipline::server::form {
namespace {

constexpr std::size_t kMaxQuestions = 100;
constexpr std::size_t kMaxOptions = 100;
constexpr std::size_t kMaxLabelBytes = 1000;
constexpr std::size_t kMaxHelpBytes = 4000;
constexpr std::int64_t kMaxMaxLength = 100000;
constexpr std::size_t kDefaultTextLength = 1000;
constexpr std::size_t kDefaultTextareaLength = 20000;
constexpr int kFirstYear = 1900;
constexpr int kLastYear = 2100;

// The countries a country question offers, by English name. The other languages name them
// from the generated "i18n/countries.toml" (web/countries.mjs).
constexpr Country kCountries[] = {
    {"AF", "Afghanistan"},
    {"AX", "Åland Islands"},
    {"AL", "Albania"},
    {"DZ", "Algeria"},
    {"AS", "American Samoa"},
    {"AD", "Andorra"},
    {"AO", "Angola"},
    {"AI", "Anguilla"},
    {"AQ", "Antarctica"},
    {"AG", "Antigua and Barbuda"},
    {"AR", "Argentina"},
    {"AM", "Armenia"},
    {"AW", "Aruba"},
    {"AU", "Australia"},
    {"AT", "Austria"},
    {"AZ", "Azerbaijan"},
    {"BS", "Bahamas"},
    {"BH", "Bahrain"},
    {"BD", "Bangladesh"},
    {"BB", "Barbados"},
    {"BY", "Belarus"},
    {"BE", "Belgium"},
    {"BZ", "Belize"},
    {"BJ", "Benin"},
    {"BM", "Bermuda"},
    {"BT", "Bhutan"},
    {"BO", "Bolivia"},
    {"BA", "Bosnia and Herzegovina"},
    {"BW", "Botswana"},
    {"BV", "Bouvet Island"},
    {"BR", "Brazil"},
    {"IO", "British Indian Ocean Territory"},
    {"VG", "British Virgin Islands"},
    {"BN", "Brunei"},
    {"BG", "Bulgaria"},
    {"BF", "Burkina Faso"},
    {"BI", "Burundi"},
    {"KH", "Cambodia"},
    {"CM", "Cameroon"},
    {"CA", "Canada"},
    {"CV", "Cape Verde"},
    {"BQ", "Caribbean Netherlands"},
    {"KY", "Cayman Islands"},
    {"CF", "Central African Republic"},
    {"TD", "Chad"},
    {"CL", "Chile"},
    {"CN", "China"},
    {"CX", "Christmas Island"},
    {"CC", "Cocos (Keeling) Islands"},
    {"CO", "Colombia"},
    {"KM", "Comoros"},
    {"CD", "Congo (Democratic Republic)"},
    {"CG", "Congo (Republic)"},
    {"CK", "Cook Islands"},
    {"CR", "Costa Rica"},
    {"CI", "Côte d’Ivoire"},
    {"HR", "Croatia"},
    {"CU", "Cuba"},
    {"CW", "Curaçao"},
    {"CY", "Cyprus"},
    {"CZ", "Czechia"},
    {"DK", "Denmark"},
    {"DJ", "Djibouti"},
    {"DM", "Dominica"},
    {"DO", "Dominican Republic"},
    {"EC", "Ecuador"},
    {"EG", "Egypt"},
    {"SV", "El Salvador"},
    {"GQ", "Equatorial Guinea"},
    {"ER", "Eritrea"},
    {"EE", "Estonia"},
    {"SZ", "Eswatini"},
    {"ET", "Ethiopia"},
    {"FK", "Falkland Islands"},
    {"FO", "Faroe Islands"},
    {"FJ", "Fiji"},
    {"FI", "Finland"},
    {"FR", "France"},
    {"GF", "French Guiana"},
    {"PF", "French Polynesia"},
    {"TF", "French Southern Territories"},
    {"GA", "Gabon"},
    {"GM", "Gambia"},
    {"GE", "Georgia"},
    {"DE", "Germany"},
    {"GH", "Ghana"},
    {"GI", "Gibraltar"},
    {"GR", "Greece"},
    {"GL", "Greenland"},
    {"GD", "Grenada"},
    {"GP", "Guadeloupe"},
    {"GU", "Guam"},
    {"GT", "Guatemala"},
    {"GG", "Guernsey"},
    {"GN", "Guinea"},
    {"GW", "Guinea-Bissau"},
    {"GY", "Guyana"},
    {"HT", "Haiti"},
    {"HM", "Heard and McDonald Islands"},
    {"HN", "Honduras"},
    {"HK", "Hong Kong"},
    {"HU", "Hungary"},
    {"IS", "Iceland"},
    {"IN", "India"},
    {"ID", "Indonesia"},
    {"IR", "Iran"},
    {"IQ", "Iraq"},
    {"IE", "Ireland"},
    {"IM", "Isle of Man"},
    {"IL", "Israel"},
    {"IT", "Italy"},
    {"JM", "Jamaica"},
    {"JP", "Japan"},
    {"JE", "Jersey"},
    {"JO", "Jordan"},
    {"KZ", "Kazakhstan"},
    {"KE", "Kenya"},
    {"KI", "Kiribati"},
    {"XK", "Kosovo"},
    {"KW", "Kuwait"},
    {"KG", "Kyrgyzstan"},
    {"LA", "Laos"},
    {"LV", "Latvia"},
    {"LB", "Lebanon"},
    {"LS", "Lesotho"},
    {"LR", "Liberia"},
    {"LY", "Libya"},
    {"LI", "Liechtenstein"},
    {"LT", "Lithuania"},
    {"LU", "Luxembourg"},
    {"MO", "Macao"},
    {"MG", "Madagascar"},
    {"MW", "Malawi"},
    {"MY", "Malaysia"},
    {"MV", "Maldives"},
    {"ML", "Mali"},
    {"MT", "Malta"},
    {"MH", "Marshall Islands"},
    {"MQ", "Martinique"},
    {"MR", "Mauritania"},
    {"MU", "Mauritius"},
    {"YT", "Mayotte"},
    {"MX", "Mexico"},
    {"FM", "Micronesia"},
    {"MD", "Moldova"},
    {"MC", "Monaco"},
    {"MN", "Mongolia"},
    {"ME", "Montenegro"},
    {"MS", "Montserrat"},
    {"MA", "Morocco"},
    {"MZ", "Mozambique"},
    {"MM", "Myanmar"},
    {"NA", "Namibia"},
    {"NR", "Nauru"},
    {"NP", "Nepal"},
    {"NL", "Netherlands"},
    {"NC", "New Caledonia"},
    {"NZ", "New Zealand"},
    {"NI", "Nicaragua"},
    {"NE", "Niger"},
    {"NG", "Nigeria"},
    {"NU", "Niue"},
    {"NF", "Norfolk Island"},
    {"KP", "North Korea"},
    {"MK", "North Macedonia"},
    {"MP", "Northern Mariana Islands"},
    {"NO", "Norway"},
    {"OM", "Oman"},
    {"PK", "Pakistan"},
    {"PW", "Palau"},
    {"PS", "Palestine"},
    {"PA", "Panama"},
    {"PG", "Papua New Guinea"},
    {"PY", "Paraguay"},
    {"PE", "Peru"},
    {"PH", "Philippines"},
    {"PN", "Pitcairn Islands"},
    {"PL", "Poland"},
    {"PT", "Portugal"},
    {"PR", "Puerto Rico"},
    {"QA", "Qatar"},
    {"RE", "Réunion"},
    {"RO", "Romania"},
    {"RU", "Russia"},
    {"RW", "Rwanda"},
    {"WS", "Samoa"},
    {"SM", "San Marino"},
    {"ST", "São Tomé and Príncipe"},
    {"SA", "Saudi Arabia"},
    {"SN", "Senegal"},
    {"RS", "Serbia"},
    {"SC", "Seychelles"},
    {"SL", "Sierra Leone"},
    {"SG", "Singapore"},
    {"SX", "Sint Maarten"},
    {"SK", "Slovakia"},
    {"SI", "Slovenia"},
    {"SB", "Solomon Islands"},
    {"SO", "Somalia"},
    {"ZA", "South Africa"},
    {"GS", "South Georgia and South Sandwich Islands"},
    {"KR", "South Korea"},
    {"SS", "South Sudan"},
    {"ES", "Spain"},
    {"LK", "Sri Lanka"},
    {"BL", "St. Barthélemy"},
    {"SH", "St. Helena"},
    {"KN", "St. Kitts and Nevis"},
    {"LC", "St. Lucia"},
    {"MF", "St. Martin"},
    {"PM", "St. Pierre and Miquelon"},
    {"VC", "St. Vincent and the Grenadines"},
    {"SD", "Sudan"},
    {"SR", "Suriname"},
    {"SJ", "Svalbard and Jan Mayen"},
    {"SE", "Sweden"},
    {"CH", "Switzerland"},
    {"SY", "Syria"},
    {"TW", "Taiwan"},
    {"TJ", "Tajikistan"},
    {"TZ", "Tanzania"},
    {"TH", "Thailand"},
    {"TL", "Timor-Leste"},
    {"TG", "Togo"},
    {"TK", "Tokelau"},
    {"TO", "Tonga"},
    {"TT", "Trinidad and Tobago"},
    {"TN", "Tunisia"},
    {"TR", "Türkiye"},
    {"TM", "Turkmenistan"},
    {"TC", "Turks and Caicos Islands"},
    {"TV", "Tuvalu"},
    {"UM", "U.S. Outlying Islands"},
    {"VI", "U.S. Virgin Islands"},
    {"UG", "Uganda"},
    {"UA", "Ukraine"},
    {"AE", "United Arab Emirates"},
    {"GB", "United Kingdom"},
    {"US", "United States"},
    {"UY", "Uruguay"},
    {"UZ", "Uzbekistan"},
    {"VU", "Vanuatu"},
    {"VA", "Vatican City"},
    {"VE", "Venezuela"},
    {"VN", "Vietnam"},
    {"WF", "Wallis and Futuna"},
    {"EH", "Western Sahara"},
    {"YE", "Yemen"},
    {"ZM", "Zambia"},
    {"ZW", "Zimbabwe"},
};

// Collects every problem so that one load shows them all.
class Problems {
 public:
  explicit Problems(std::string_view file) : file_(file) {}
  void add(std::string_view where, std::string_view what) {
    if (!text_.empty()) text_ += '\n';
    text_ += file_ + ": " + std::string(where) + ": " + std::string(what);
  }
  [[nodiscard]] bool empty() const { return text_.empty(); }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string file_;
  std::string text_;
};

bool is_name(std::string_view text, std::size_t max) {
  return !text.empty() && text.size() <= max && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool is_page_language(std::string_view tag) {
  const auto& languages = i18n::languages();
  return std::any_of(languages.begin(), languages.end(),
                     [&](const i18n::Language& language) { return language.tag == tag; });
}

std::string page_language_list() {
  std::string list;
  for (const i18n::Language& language : i18n::languages()) {
    if (!list.empty()) list += ", ";
    list += language.tag;
  }
  return list;
}

// Reads the keys of one table, remembering which it consumed so that the rest can be
// refused as unknown.
class Keys {
 public:
  Keys(const toml::table& table, std::string where, Problems& problems)
      : table_(table), where_(std::move(where)), problems_(problems) {}
  Keys(const Keys&) = delete;
  Keys& operator=(const Keys&) = delete;
  ~Keys() {
    for (const auto& [key, value] : table_) {
      if (!known_.contains(key.str())) {
        problems_.add(where_, std::string(key.str()) + ": unknown key");
      }
    }
  }

  [[nodiscard]] bool has(std::string_view key) {
    known_.emplace(key);
    return table_.contains(key);
  }
  std::optional<std::string> text(std::string_view key) {
    known_.emplace(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_string()) return value->get();
    problem(key, "expected a string");
    return std::nullopt;
  }
  std::optional<bool> flag(std::string_view key) {
    known_.emplace(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_boolean()) return value->get();
    problem(key, "expected true or false");
    return std::nullopt;
  }
  std::optional<std::int64_t> integer(std::string_view key) {
    known_.emplace(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_integer()) return value->get();
    problem(key, "expected an integer");
    return std::nullopt;
  }
  const toml::array* array(std::string_view key) {
    known_.emplace(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return nullptr;
    if (const auto* value = node->as_array()) return value;
    problem(key, "expected an array");
    return nullptr;
  }
  // What the witness reads: a string, or a table of language tag = string that includes
  // "en". Each string must not be blank and at most max_bytes long; `required`: the key must
  // be there.
  Text label(std::string_view key, bool required, std::size_t max_bytes) {
    known_.emplace(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) problem(key, "missing");
      return {};
    }
    if (const auto* value = node->as_string()) {
      check_text(key, value->get(), max_bytes);
      return Text(value->get());
    }
    const auto* by_tag = node->as_table();
    if (by_tag == nullptr) {
      problem(key, "expected a string, or a table of language tag = text");
      return {};
    }
    Text::ByLanguage texts;
    for (const auto& [tag, node_of_tag] : *by_tag) {
      const std::string name = std::string(key) + "." + std::string(tag.str());
      if (!is_page_language(tag.str())) {
        problem(name, "unknown language tag " + in_quotes(tag.str()) +
                          " (known: " + page_language_list() + ")");
      } else if (const auto* value = node_of_tag.as_string()) {
        check_text(name, value->get(), max_bytes);
        texts.emplace(tag.str(), value->get());
      } else {
        problem(name, "expected a string");
      }
    }
    if (!by_tag->contains(i18n::kEnglish)) {
      problem(key, "the table must include en, the English text the others fall back to");
    }
    return Text(std::move(texts));
  }
  void problem(std::string_view key, std::string_view what) {
    problems_.add(where_, std::string(key) + ": " + std::string(what));
  }

 private:
  void check_text(std::string_view key, std::string_view value, std::size_t max_bytes) {
    if (is_blank(value)) {
      problem(key, "must not be empty");
    } else if (value.size() > max_bytes) {
      problem(key, "must be at most " + std::to_string(max_bytes) + " bytes");
    }
  }

  const toml::table& table_;
  std::string where_;
  Problems& problems_;
  std::set<std::string, std::less<>> known_;
};

std::optional<Kind> kind_named(std::string_view name) {
  if (name == "text") return Kind::text;
  if (name == "textarea") return Kind::textarea;
  if (name == "month") return Kind::month;
  if (name == "country") return Kind::country;
  if (name == "choice") return Kind::choice;
  return std::nullopt;
}

std::vector<Option> read_options(Keys& keys, const std::string& where, Problems& problems) {
  std::vector<Option> options;
  const toml::array* list = keys.array("options");
  if (list == nullptr) {
    if (!keys.has("options")) keys.problem("options", "missing: a choice needs options");
    return options;
  }
  if (list->empty() || list->size() > kMaxOptions) {
    keys.problem("options", "must have 1 to " + std::to_string(kMaxOptions) + " options");
  }
  std::set<std::string, std::less<>> values;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string option_where = where + ": option " + std::to_string(i + 1);
    const toml::table* table = list->get(i)->as_table();
    if (table == nullptr) {
      problems.add(option_where, "expected a table { value = \"...\", label = \"...\" }");
      continue;
    }
    Keys option_keys(*table, option_where, problems);
    Option option;
    if (const auto value = option_keys.text("value")) {
      option.value = *value;
      if (!is_name(option.value, 64)) {
        option_keys.problem("value", "must be 1 to 64 of a-z, 0-9 and _, got " + in_quotes(*value));
      } else if (!values.insert(option.value).second) {
        option_keys.problem("value", in_quotes(*value) + " is used by an earlier option");
      }
    } else if (!table->contains("value")) {
      option_keys.problem("value", "missing");
    }
    option.label = option_keys.label("label", true, kMaxLabelBytes);
    options.push_back(std::move(option));
  }
  return options;
}

Question read_question(const toml::table& table, std::size_t number, std::set<std::string>& ids,
                       Problems& problems) {
  const std::string where = "question " + std::to_string(number);
  Keys keys(table, where, problems);
  Question question;
  if (const auto id = keys.text("id")) {
    question.id = *id;
    if (!is_name(question.id, 32)) {
      keys.problem("id", "must be 1 to 32 of a-z, 0-9 and _, got " + in_quotes(*id));
    } else if (question.id == kCsrfField || question.id == kAttachmentsField ||
               question.id == kCodenameField) {
      keys.problem("id", in_quotes(*id) + " is reserved for the form itself");
    } else if (!ids.insert(question.id).second) {
      keys.problem("id", in_quotes(*id) + " is used by an earlier question");
    }
  } else if (!table.contains("id")) {
    keys.problem("id", "missing");
  }
  question.label = keys.label("label", true, kMaxLabelBytes);
  if (keys.has("help")) question.help = keys.label("help", false, kMaxHelpBytes);
  question.required = keys.flag("required").value_or(false);

  std::optional<Kind> kind;
  if (const auto name = keys.text("kind")) {
    kind = kind_named(*name);
    if (!kind) {
      keys.problem("kind",
                   "must be \"text\", \"textarea\", \"month\", \"country\" or \"choice\", got " +
                       in_quotes(*name));
    }
  } else if (!table.contains("kind")) {
    keys.problem("kind", "missing");
  }
  if (!kind) {
    // The other keys depend on the kind: leave them unchecked rather than call them unknown.
    for (const std::string_view key : {"max_length", "multiple", "options"}) {
      static_cast<void>(keys.has(key));
    }
    return question;
  }
  question.kind = *kind;

  const bool is_text = question.kind == Kind::text || question.kind == Kind::textarea;
  if (is_text) {
    question.max_length = question.kind == Kind::text ? kDefaultTextLength : kDefaultTextareaLength;
    if (const auto max_length = keys.integer("max_length")) {
      if (*max_length < 1 || *max_length > kMaxMaxLength) {
        keys.problem("max_length", "must be from 1 to " + std::to_string(kMaxMaxLength));
      } else {
        question.max_length = static_cast<std::size_t>(*max_length);
      }
    }
  } else if (keys.has("max_length")) {
    keys.problem("max_length", "only text and textarea questions have one");
  }
  if (question.kind == Kind::choice) {
    question.multiple = keys.flag("multiple").value_or(false);
    question.options = read_options(keys, where, problems);
  } else {
    if (keys.has("multiple")) keys.problem("multiple", "only choice questions have it");
    if (keys.has("options")) keys.problem("options", "only choice questions have them");
  }
  return question;
}

// The report document is plaintext, so it is built only in secret memory. A Sink writes
// it (or, with no buffer, only counts it) so that the exact size is known before writing.
class Sink {
 public:
  Sink() : scratch_(256) {}
  explicit Sink(crypto::Secret& out) : scratch_(0), out_(&out) {}

  void raw(std::string_view text) {
    if (out_ != nullptr) {
      assert(size_ + text.size() <= out_->size());
      std::memcpy(out_->expose().data() + size_, text.data(), text.size());
    }
    size_ += text.size();
  }
  // A JSON string, escaped by Boost.JSON straight into the output (or the scratch buffer,
  // itself secret memory, when counting).
  void string(std::string_view text) {
    boost::json::serializer serializer;
    serializer.reset(boost::json::string_view(text.data(), text.size()));
    while (!serializer.done()) {
      if (out_ != nullptr) {
        auto* at = reinterpret_cast<char*>(out_->expose().data() + size_);
        size_ += serializer.read(at, out_->size() - size_).size();
      } else {
        auto* at = reinterpret_cast<char*>(scratch_.expose().data());
        size_ += serializer.read(at, scratch_.size()).size();
      }
    }
  }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  crypto::Secret scratch_;
  crypto::Secret* out_ = nullptr;
  std::size_t size_ = 0;
};

// The length in Unicode characters of UTF-8 `text`, or nullopt when it is not UTF-8 or
// holds control characters other than tab, line feed and carriage return. A CR LF pair
// counts as one character, as it becomes one line feed.
std::optional<std::size_t> text_length(std::string_view text) {
  std::size_t length = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      if ((lead < 0x20 && lead != '\t' && lead != '\n' && lead != '\r') || lead == 0x7f) {
        return std::nullopt;
      }
      if (lead == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      code = lead;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      extra = 1;
      code = lead & 0x1fU;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      extra = 2;
      code = lead & 0x0fU;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      extra = 3;
      code = lead & 0x07U;
    } else {
      return std::nullopt;
    }
    if (text.size() - i - 1 < extra) return std::nullopt;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0U) != 0x80) return std::nullopt;
      code = (code << 6U) | (next & 0x3fU);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr std::array<std::uint32_t, 4> kSmallest = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[extra] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
      return std::nullopt;
    }
    i += extra + 1;
    ++length;
  }
  return length;
}

// `text` with every CR LF and lone CR made a LF, in secret memory: the form sends CR LF.
std::pair<crypto::Secret, std::size_t> normalised_lines(std::string_view text) {
  crypto::Secret out(text.size());
  std::size_t size = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out.expose()[size++] = '\n';
    } else {
      out.expose()[size++] = static_cast<std::uint8_t>(text[i]);
    }
  }
  return {std::move(out), size};
}

bool is_country(std::string_view code) {
  return std::any_of(std::begin(kCountries), std::end(kCountries),
                     [&](const Country& country) { return country.code == code; });
}

// The fields of one question, gathered from the form.
struct Slot {
  std::vector<std::string_view> values;  // every kind but month
  std::optional<std::string_view> year;  // month only
  std::optional<std::string_view> month;
};

// What the report records for one answered question.
struct Answer {
  const Question* question = nullptr;
  std::optional<crypto::Secret> text;  // text and textarea, normalised
  std::size_t text_size = 0;
  std::string_view value;  // country, single choice; month as "YYYY" or "YYYY-MM" below
  std::array<char, 7> month{};
  std::size_t month_size = 0;
  std::vector<std::string_view> chosen;  // multiple choice, in option order
};

// message: the English sentence; key: the same in the page catalogs (Error).
tl::unexpected<Error> refuse(std::string message, std::string_view key,
                             const Question* question = nullptr) {
  return tl::unexpected(Error{Errc::answers, std::move(message), key, question});
}

std::string named(const Question& question) {
  return "“" + std::string(question.label.english()) + "”";
}

tl::expected<void, Error> gather(const Questionnaire& questionnaire, std::span<const Field> fields,
                                 std::vector<Slot>& slots) {
  for (const Field& field : fields) {
    if (field.name == kCsrfField) continue;
    const std::size_t dot = field.name.find('.');
    const std::string_view id = field.name.substr(0, dot);
    const std::string_view part =
        dot == std::string_view::npos ? std::string_view() : field.name.substr(dot + 1);
    const auto found = std::find_if(questionnaire.questions.begin(), questionnaire.questions.end(),
                                    [&](const Question& question) { return question.id == id; });
    const bool is_month = found != questionnaire.questions.end() && found->kind == Kind::month;
    if (found == questionnaire.questions.end() ||
        (is_month ? part != "year" && part != "month" : dot != std::string_view::npos)) {
      return refuse("The form sent an answer to a question this tip line does not ask.",
                    "answer.unknown_question");
    }
    Slot& slot = slots[static_cast<std::size_t>(found - questionnaire.questions.begin())];
    if (is_month) {
      std::optional<std::string_view>& target = part == "year" ? slot.year : slot.month;
      if (target)
        return refuse("The form sent " + named(*found) + " twice.", "answer.twice", &*found);
      target = field.value;
    } else {
      const bool repeat = !slot.values.empty() && !(found->kind == Kind::choice && found->multiple);
      if (repeat ||
          std::find(slot.values.begin(), slot.values.end(), field.value) != slot.values.end()) {
        return refuse("The form sent " + named(*found) + " twice.", "answer.twice", &*found);
      }
      slot.values.push_back(field.value);
    }
  }
  return {};
}

bool is_digits(std::string_view text, std::size_t count) {
  return text.size() == count &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Checks one question's fields: its answer, or nullopt when it was not answered.
tl::expected<std::optional<Answer>, Error> check(const Question& question, const Slot& slot) {
  Answer answer;
  answer.question = &question;
  bool answered = false;
  switch (question.kind) {
    case Kind::text:
    case Kind::textarea: {
      if (slot.values.empty() || is_blank(slot.values.front())) break;
      const std::string_view value = slot.values.front();
      const std::optional<std::size_t> length = text_length(value);
      if (!length) {
        return refuse("The answer to " + named(question) +
                          " holds characters that cannot be stored. Please retype it.",
                      "answer.unreadable", &question);
      }
      if (*length > question.max_length) {
        return refuse("The answer to " + named(question) + " is too long: it may have at most " +
                          std::to_string(question.max_length) + " characters.",
                      "answer.too_long", &question);
      }
      auto [text, size] = normalised_lines(value);
      answer.text = std::move(text);
      answer.text_size = size;
      answered = true;
      break;
    }
    case Kind::country:
      if (slot.values.empty() || slot.values.front().empty()) break;
      if (!is_country(slot.values.front())) {
        return refuse("Please choose a country for " + named(question) + " from the list.",
                      "answer.country", &question);
      }
      answer.value = slot.values.front();
      answered = true;
      break;
    case Kind::choice:
      for (const Option& option : question.options) {
        if (std::find(slot.values.begin(), slot.values.end(), option.value) != slot.values.end()) {
          answer.chosen.emplace_back(option.value);
        }
      }
      // An empty value is what an unchosen select would send; anything else must be an option.
      for (const std::string_view value : slot.values) {
        if (!value.empty() &&
            std::find(answer.chosen.begin(), answer.chosen.end(), value) == answer.chosen.end()) {
          return refuse("Please choose an answer to " + named(question) + " from the list.",
                        "answer.choice", &question);
        }
      }
      answered = !answer.chosen.empty();
      if (answered && !question.multiple) answer.value = answer.chosen.front();
      break;
    case Kind::month: {
      const std::string_view year = slot.year.value_or("");
      const std::string_view month = slot.month.value_or("");
      if (year.empty() && month.empty()) break;
      if (year.empty()) {
        return refuse("Please give the year for " + named(question) + ".", "answer.year",
                      &question);
      }
      int year_number = 0;
      if (is_digits(year, 4)) std::from_chars(year.data(), year.data() + year.size(), year_number);
      const bool year_ok = year_number >= kFirstYear && year_number <= kLastYear;
      const bool month_ok =
          month.empty() || (is_digits(month, 2) && month >= "01" && month <= "12");
      if (!year_ok || !month_ok) {
        return refuse(
            "Please choose the year and month for " + named(question) + " from the lists.",
            "answer.month", &question);
      }
      std::copy(year.begin(), year.end(), answer.month.begin());
      answer.month_size = 4;
      if (!month.empty()) {
        answer.month[4] = '-';
        std::copy(month.begin(), month.end(), answer.month.begin() + 5);
        answer.month_size = 7;
      }
      answered = true;
      break;
    }
  }
  if (answered) return std::optional<Answer>(std::move(answer));
  if (question.required) {
    return refuse("Please answer " + named(question) + ".", "answer.required", &question);
  }
  return std::nullopt;
}

void write_report(const std::vector<Answer>& answers, Sink& sink) {
  sink.raw("{\"format\":");
  sink.string(kReportFormat);
  sink.raw(",\"answers\":{");
  bool first = true;
  for (const Answer& answer : answers) {
    if (!first) sink.raw(",");
    first = false;
    sink.string(answer.question->id);
    sink.raw(":");
    if (answer.text) {
      const auto bytes = answer.text->expose().first(answer.text_size);
      sink.string({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    } else if (answer.month_size != 0) {
      sink.string({answer.month.data(), answer.month_size});
    } else if (answer.question->kind == Kind::choice && answer.question->multiple) {
      sink.raw("[");
      for (std::size_t i = 0; i < answer.chosen.size(); ++i) {
        if (i != 0) sink.raw(",");
        sink.string(answer.chosen[i]);
      }
      sink.raw("]");
    } else {
      sink.string(answer.value);
    }
  }
  sink.raw("}}");
}

}  // namespace

tl::expected<Questionnaire, Error> parse_questionnaire(std::string_view text,
                                                       std::string_view file) {
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << file << ':' << error.source().begin.line << ':' << error.source().begin.column
            << ": " << error.description();
    return tl::unexpected(Error{Errc::invalid, message.str()});
  }

  Problems problems(file);
  for (const auto& [key, value] : root) {
    if (key.str() != "question") problems.add(key.str(), "unknown key");
  }
  Questionnaire questionnaire;
  const toml::node* node = root.get("question");
  const toml::array* list = node == nullptr ? nullptr : node->as_array();
  if (list == nullptr || list->empty() || !list->is_array_of_tables()) {
    problems.add("question",
                 "expected 1 to " + std::to_string(kMaxQuestions) + " [[question]] tables");
  } else {
    if (list->size() > kMaxQuestions) {
      problems.add("question", "at most " + std::to_string(kMaxQuestions) + " questions");
    }
    std::set<std::string> ids;
    for (std::size_t i = 0; i < list->size(); ++i) {
      questionnaire.questions.push_back(
          read_question(*list->get(i)->as_table(), i + 1, ids, problems));
    }
  }
  if (!problems.empty()) return tl::unexpected(Error{Errc::invalid, problems.text()});
  return questionnaire;
}

tl::expected<Questionnaire, Error> load_questionnaire(const std::filesystem::path& file) {
  if (file.empty()) {
    for (const embedded::File& embedded_file : embedded::files()) {
      if (embedded_file.path == "questionnaire.toml") {
        return parse_questionnaire(embedded_file.bytes, "built-in questionnaire");
      }
    }
    assert(false && "web/questionnaire.toml is embedded");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return tl::unexpected(Error{
        Errc::unreadable, file.string() + ": cannot read: " + std::string(std::strerror(errno))});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_questionnaire(text.str(), file.string());
}

std::span<const Country> countries(std::string_view language) {
  // Built once. The names are views into `names`, which lives as long.
  static const toml::table names = [] {
    for (const embedded::File& file : embedded::files()) {
      if (file.path != "i18n/countries.toml") continue;
      try {
        return toml::parse(file.bytes, file.path);
      } catch (const toml::parse_error&) {
        assert(false && "web/countries.mjs writes valid TOML");
      }
    }
    assert(false && "i18n/countries.toml is embedded (web/CMakeLists.txt)");
    return toml::table();
  }();
  static const std::map<std::string, std::vector<Country>, std::less<>> lists = [] {
    std::map<std::string, std::vector<Country>, std::less<>> all;
    for (const i18n::Language& page_language : i18n::languages()) {
      std::vector<Country> list(std::begin(kCountries), std::end(kCountries));
      if (page_language.tag == i18n::kEnglish) {
        all.emplace(page_language.tag, std::move(list));
        continue;
      }
      const toml::table* own = names[page_language.tag].as_table();
      for (Country& country : list) {
        const toml::node* name = own == nullptr ? nullptr : own->get(country.code);
        if (name != nullptr && name->is_string()) country.name = name->as_string()->get();
      }
      std::sort(list.begin(), list.end(),
                [](const Country& a, const Country& b) { return a.name < b.name; });
      all.emplace(page_language.tag, std::move(list));
    }
    return all;
  }();
  const auto found = lists.find(language);
  assert(found != lists.end() && "a page language without a list of countries");
  return found == lists.end() ? std::span<const Country>(kCountries) : found->second;
}

Text::Text(std::string text) {
  if (!text.empty()) by_language_.emplace(i18n::kEnglish, std::move(text));
}

std::string_view Text::in(std::string_view language) const {
  auto found = by_language_.find(language);
  if (found == by_language_.end()) found = by_language_.find(i18n::kEnglish);
  return found == by_language_.end() ? std::string_view() : std::string_view(found->second);
}

std::string_view Text::english() const { return in(i18n::kEnglish); }

tl::expected<crypto::Secret, Error> report_document(const Questionnaire& questionnaire,
                                                    std::span<const Field> fields) {
  std::vector<Slot> slots(questionnaire.questions.size());
  if (auto gathered = gather(questionnaire, fields, slots); !gathered) {
    return tl::unexpected(std::move(gathered.error()));
  }
  std::vector<Answer> answers;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    auto checked = check(questionnaire.questions[i], slots[i]);
    if (!checked) return tl::unexpected(std::move(checked.error()));
    if (*checked) answers.push_back(std::move(**checked));
  }
  Sink counter;
  write_report(answers, counter);
  crypto::Secret document(counter.size());
  Sink writer(document);
  write_report(answers, writer);
  assert(writer.size() == document.size());
  return document;
}

}  // namespace tipline::server::form
