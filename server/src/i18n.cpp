#include "i18n.h"

#include <toml++/toml.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

namespace tipline::server::i18n {
namespace {

constexpr std::string_view kPagesFile = "pages.toml";
constexpr std::string_view kAppFile = "app.toml";

void add_problem(std::string& problems, std::string_view line) {
  if (!problems.empty()) problems += '\n';
  problems += line;
}

// Every string of `table` by dotted key, prefixed by `prefix`; anything but a string or a
// table is a problem.
void flatten(const toml::table& table, const std::string& prefix, std::string_view file, Texts& out,
             std::string& problems) {
  for (const auto& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const auto* text = node.as_string()) {
      out.emplace(name, text->get());
    } else if (const auto* nested = node.as_table()) {
      flatten(*nested, name + ".", file, out, problems);
    } else {
      add_problem(problems, std::string(file) + ": " + name + ": expected a string");
    }
  }
}

std::optional<Texts> parse_texts(std::string_view bytes, std::string_view file,
                                 std::string& problems) {
  try {
    const toml::table root = toml::parse(bytes, file);
    Texts texts;
    flatten(root, "", file, texts, problems);
    return texts;
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << file << ':' << error.source().begin.line << ':' << error.source().begin.column
            << ": " << error.description();
    add_problem(problems, message.str());
    return std::nullopt;
  }
}

bool is_placeholder_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

// The placeholders of `text`, or nullopt when a brace does not open or close one.
std::optional<std::multiset<std::string>> placeholders(std::string_view text) {
  std::multiset<std::string> names;
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (text[at] == '}') return std::nullopt;
    if (text[at] != '{') continue;
    const std::size_t close = text.find('}', at);
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view name = text.substr(at + 1, close - at - 1);
    if (!is_placeholder_name(name)) return std::nullopt;
    names.emplace(name);
    at = close;
  }
  return names;
}

// Checks `language` against English and reads its [language] values.
void check_language(Language& language, const Language& english, std::string& problems) {
  const std::string file = "i18n/" + language.tag + "/" + std::string(kPagesFile);
  for (const auto& [key, text] : english.pages) {
    if (!language.pages.contains(key)) add_problem(problems, file + ": " + key + ": missing");
  }
  for (const auto& [key, text] : language.pages) {
    const auto reference = english.pages.find(key);
    if (reference == english.pages.end()) {
      add_problem(problems, file + ": " + key + ": unknown key (English has none)");
      continue;
    }
    const auto found = placeholders(text);
    if (!found) {
      add_problem(problems, file + ": " + key + ": a brace that is not a {placeholder}");
    } else if (*found != placeholders(reference->second)) {
      add_problem(problems, file + ": " + key + ": placeholders differ from English");
    }
  }
  const auto autonym = language.pages.find("language.autonym");
  if (autonym != language.pages.end()) language.autonym = autonym->second;
  const auto direction = language.pages.find("language.direction");
  if (direction != language.pages.end()) {
    if (direction->second != "ltr" && direction->second != "rtl") {
      add_problem(problems, file + ": language.direction: must be \"ltr\" or \"rtl\"");
    }
    language.right_to_left = direction->second == "rtl";
  }
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The subtags of a lowercased range, split at '-' (or '_', which some clients send).
std::vector<std::string_view> subtags(std::string_view range) {
  std::vector<std::string_view> parts;
  while (!range.empty()) {
    const std::size_t end = std::min(range.find_first_of("-_"), range.size());
    parts.push_back(range.substr(0, end));
    range.remove_prefix(std::min(end + 1, range.size()));
  }
  return parts;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The q-value of an Accept-Language parameter list ("q=0.8"), thousandths; 1000 when absent,
// -1 when malformed.
int quality(std::string_view parameters) {
  int value = 1000;
  while (!parameters.empty()) {
    const std::size_t end = std::min(parameters.find(';'), parameters.size());
    const std::string_view parameter = trimmed(parameters.substr(0, end));
    parameters.remove_prefix(std::min(end + 1, parameters.size()));
    if (!parameter.starts_with("q=") && !parameter.starts_with("Q=")) continue;
    const std::string_view number = parameter.substr(2);
    // RFC 9110: "0" or "1" with up to three decimals.
    if (number.empty() || number.size() > 5 || (number[0] != '0' && number[0] != '1') ||
        (number.size() > 1 && number[1] != '.')) {
      return -1;
    }
    int thousandths = (number[0] - '0') * 1000;
    int scale = 100;
    for (const char digit : number.substr(std::min<std::size_t>(2, number.size()))) {
      if (digit < '0' || digit > '9') return -1;
      thousandths += (digit - '0') * scale;
      scale /= 10;
    }
    value = thousandths > 1000 ? -1 : thousandths;
  }
  return value;
}

std::string_view query_value(std::string_view target, std::string_view name) {
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const std::size_t end = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, end);
    query.remove_prefix(std::min(end + 1, query.size()));
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
  }
  return {};
}

}  // namespace

tl::expected<std::vector<Language>, std::string> parse_catalogs(
    std::span<const embedded::File> files) {
  std::vector<Language> languages;
  std::string problems;
  const auto language_of = [&](std::string_view tag) -> Language& {
    const auto found = std::find_if(languages.begin(), languages.end(),
                                    [&](const Language& language) { return language.tag == tag; });
    if (found != languages.end()) return *found;
    Language& added = languages.emplace_back();
    added.tag = tag;
    return added;
  };
  std::set<std::string, std::less<>> with_pages;
  for (const embedded::File& file : files) {
    if (!file.path.starts_with("i18n/")) continue;
    const std::string_view rest = file.path.substr(5);
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) continue;
    const std::string_view tag = rest.substr(0, slash);
    const std::string_view name = rest.substr(slash + 1);
    if (name != kPagesFile && name != kAppFile) continue;
    auto texts = parse_texts(file.bytes, file.path, problems);
    if (!texts) continue;
    Language& language = language_of(tag);
    if (name == kPagesFile) {
      language.pages = std::move(*texts);
      with_pages.emplace(tag);
    } else {
      language.app = std::move(*texts);
    }
  }
  for (const Language& language : languages) {
    if (!with_pages.contains(language.tag)) {
      add_problem(problems, "i18n/" + language.tag + ": no " + std::string(kPagesFile));
    }
  }
  const auto english =
      std::find_if(languages.begin(), languages.end(),
                   [](const Language& language) { return language.tag == kEnglish; });
  if (english == languages.end()) {
    add_problem(problems, "i18n/en/pages.toml: missing (English is the reference)");
  } else {
    for (const char* key : {"language.autonym", "language.direction"}) {
      if (!english->pages.contains(key)) {
        add_problem(problems, std::string("i18n/en/pages.toml: ") + key + ": missing");
      }
    }
    // check_language() changes only the autonym and direction, never the texts it reads.
    const Language& reference = *english;
    for (Language& language : languages) check_language(language, reference, problems);
  }
  if (!problems.empty()) return tl::unexpected(problems);
  std::sort(languages.begin(), languages.end(),
            [](const Language& a, const Language& b) { return a.autonym < b.autonym; });
  return languages;
}

const std::vector<Language>& languages() {
  static const std::vector<Language> built_in = [] {
    auto parsed = parse_catalogs(embedded::files());
    if (!parsed) {
      // Compiled in and tested: only a broken build gets here.
      std::fprintf(stderr, "tipline-server: the built-in catalogs are broken:\n%s\n",
                   parsed.error().c_str());
      std::abort();
    }
    return std::move(*parsed);
  }();
  return built_in;
}

const Language& language(std::string_view tag) {
  const std::vector<Language>& all = languages();
  const auto found = std::find_if(all.begin(), all.end(),
                                  [&](const Language& candidate) { return candidate.tag == tag; });
  if (found != all.end()) return *found;
  assert(false && "a page asked for a language without a catalog");
  return *std::find_if(all.begin(), all.end(),
                       [](const Language& candidate) { return candidate.tag == kEnglish; });
}

std::optional<std::string_view> match(std::string_view range) {
  const std::string lower = lowercase(trimmed(range));
  const std::vector<std::string_view> parts = subtags(lower);
  if (parts.empty()) return std::nullopt;
  std::string wanted;
  if (parts[0] == "zh") {
    const bool traditional = std::any_of(parts.begin() + 1, parts.end(), [](std::string_view part) {
      return part == "hant" || part == "tw" || part == "hk" || part == "mo";
    });
    const bool simplified = parts.size() > 1 && parts[1] == "hans";
    wanted = traditional && !simplified ? "zh-hant" : "zh-hans";
  } else if (parts[0] == "sr") {
    wanted = parts.size() > 1 && parts[1] == "latn" ? "sr-latn" : "sr-cyrl";
  } else {
    wanted = parts[0];
  }
  for (const Language& language : languages()) {
    if (lowercase(language.tag) == wanted) return std::string_view(language.tag);
  }
  return std::nullopt;
}

// Browsers send a handful of ranges, each a few bytes: more, or longer, is not a browser's
// preference, and looking at it all would cost time on every request.
constexpr int kMaxLanguageRanges = 32;
constexpr std::size_t kMaxLanguageRangeBytes = 64;

Choice choose(std::string_view target, std::string_view accept_language) {
  if (const auto asked = match(query_value(target, "lang"))) return Choice{*asked, false};
  std::optional<std::string_view> best;
  int best_quality = 0;
  for (int ranges = 0; !accept_language.empty() && ranges < kMaxLanguageRanges; ++ranges) {
    const std::size_t end = std::min(accept_language.find(','), accept_language.size());
    const std::string_view item = accept_language.substr(0, end);
    accept_language.remove_prefix(std::min(end + 1, accept_language.size()));
    if (item.size() > kMaxLanguageRangeBytes) continue;
    const std::size_t semicolon = std::min(item.find(';'), item.size());
    const int q = quality(item.substr(std::min(semicolon + 1, item.size())));
    if (q <= best_quality) continue;
    if (const auto found = match(item.substr(0, semicolon))) {
      best = found;
      best_quality = q;
    }
  }
  return Choice{best.value_or(kEnglish), true};
}

std::string fill_placeholders(std::string_view pattern, const PlaceholderValue& value_of) {
  std::string out;
  out.reserve(pattern.size());
  std::size_t at = 0;
  while (at < pattern.size()) {
    const std::size_t open = pattern.find('{', at);
    const std::size_t close = open == std::string_view::npos ? open : pattern.find('}', open);
    if (close == std::string_view::npos) {
      out.append(pattern.substr(at));
      break;
    }
    out.append(pattern.substr(at, open - at));
    const std::optional<std::string_view> value =
        value_of(pattern.substr(open + 1, close - open - 1));
    assert(value && "a text names a placeholder its page does not set");
    if (value) out.append(*value);
    at = close + 1;
  }
  return out;
}

std::string_view pattern(const Language& language, std::string_view key) {
  const auto found = language.pages.find(key);
  assert(found != language.pages.end() && "a page names a text the catalogs lack");
  return found == language.pages.end() ? std::string_view() : std::string_view(found->second);
}

std::string text(std::string_view tag, std::string_view key,
                 std::initializer_list<Placeholder> values) {
  return fill_placeholders(pattern(language(tag), key),
                           [&](std::string_view name) -> std::optional<std::string_view> {
                             for (const Placeholder& value : values) {
                               if (value.name == name) return value.value;
                             }
                             return std::nullopt;
                           });
}

std::string app_strings(std::string_view tag) {
  const Texts& english = language(kEnglish).app;
  const Texts& own = language(tag).app;
  boost::json::object strings;
  for (const auto& [key, text] : english) {
    const auto found = own.find(key);
    strings[key] = found == own.end() ? text : found->second;
  }
  return boost::json::serialize(strings);
}

}  // namespace tipline::server::i18n
