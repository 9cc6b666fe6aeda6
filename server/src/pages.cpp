#include "pages.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cassert>
#include <map>
#include <utility>
#include <variant>
#include <vector>

#include "embedded.h"
#include "i18n.h"

namespace tipline::server::pages {
namespace {

// The values a template is filled with: text by name, and sections by name, each a list of
// nested views. A flag is a section of one empty view (shown once) or of none (hidden).
// Text is borrowed, not copied, so that a secret such as the codename is not copied again
// on its way into the page; the caller keeps it alive until the page is rendered. Numbers
// and owned text (never a secret) are kept by the view.
class View {
 public:
  View& text(std::string name, std::string_view value) {
    texts_.insert_or_assign(std::move(name), value);
    return *this;
  }
  View& number(std::string name, long long value) {
    return owned_text(std::move(name), std::to_string(value));
  }
  View& owned_text(std::string name, std::string value) {
    texts_.insert_or_assign(std::move(name), std::move(value));
    return *this;
  }
  View& section(std::string name, std::vector<View> items) {
    sections_.insert_or_assign(std::move(name), std::move(items));
    return *this;
  }
  View& flag(std::string name, bool on) {
    return section(std::move(name), on ? std::vector<View>(1) : std::vector<View>());
  }

  [[nodiscard]] std::optional<std::string_view> find_text(std::string_view name) const {
    const auto found = texts_.find(name);
    if (found == texts_.end()) return std::nullopt;
    return std::visit([](const auto& value) { return std::string_view(value); }, found->second);
  }
  [[nodiscard]] const std::vector<View>* find_section(std::string_view name) const {
    const auto found = sections_.find(name);
    return found == sections_.end() ? nullptr : &found->second;
  }

 private:
  std::map<std::string, std::variant<std::string_view, std::string>, std::less<>> texts_;
  std::map<std::string, std::vector<View>, std::less<>> sections_;
};

void append_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

// The scopes a name is looked up in, innermost last: inside a section, the names of the
// enclosing views stay visible.
using Scopes = std::vector<const View*>;

std::optional<std::string_view> find_text(const Scopes& scopes, std::string_view name) {
  for (auto scope = scopes.rbegin(); scope != scopes.rend(); ++scope) {
    if (const auto text = (*scope)->find_text(name)) return text;
  }
  return std::nullopt;
}

const std::vector<View>* find_section(const Scopes& scopes, std::string_view name) {
  for (auto scope = scopes.rbegin(); scope != scopes.rend(); ++scope) {
    if (const std::vector<View>* items = (*scope)->find_section(name)) return items;
  }
  return nullptr;
}

// Where the "{{/name}}" closing a section that starts at `from` begins, counting nested
// sections of the same name; npos when it is missing.
std::size_t section_end(std::string_view page, std::size_t from, std::string_view name) {
  int depth = 1;
  for (std::size_t open = page.find("{{", from); open != std::string_view::npos;
       open = page.find("{{", open + 2)) {
    const std::size_t close = page.find("}}", open);
    if (close == std::string_view::npos) break;
    const std::string_view tag = page.substr(open + 2, close - open - 2);
    if ((tag.starts_with('#') || tag.starts_with('^')) && tag.substr(1) == name) ++depth;
    if (tag.starts_with('/') && tag.substr(1) == name && --depth == 0) return open;
  }
  return std::string_view::npos;
}

// Where a line break after a tag spanning [begin, end) of `page` ends: a section tag or
// comment alone on its line takes the line break with it, so that it leaves no blank line;
// so does a partial.
std::size_t past_standalone(std::string_view page, std::size_t begin, std::size_t end) {
  const bool line_start = begin == 0 || page[begin - 1] == '\n';
  return line_start && end < page.size() && page[end] == '\n' ? end + 1 : end;
}

// What a template is filled in: the page's language, for its {{@key}} texts, and the
// partials it may include by name.
struct Filling {
  const i18n::Language& language;
  std::map<std::string_view, std::string_view> partials;
};

// The template language, a small part of Mustache: {{name}} is the escaped text `name`;
// {{#name}}...{{/name}} repeats its body for each view of section `name`;
// {{^name}}...{{/name}} shows its body only when that section is empty; {{! ...}} is a
// comment; {{>name}} is the partial template `name`, filled with the same values. Beyond
// Mustache, {{@key}} is the escaped text of `key` in the page language's catalog
// (i18n.h), each of its {placeholders} filled with the text of that name. There is no way
// to insert unescaped text. Templates and catalogs are compiled in and every page is tested
// in every language, so a malformed template or an unknown name is a programming error.
void fill(std::string_view page, Scopes& scopes, const Filling& filling, std::string& out) {
  std::size_t at = 0;
  while (at < page.size()) {
    const std::size_t open = page.find("{{", at);
    out.append(page.substr(at, open == std::string_view::npos ? open : open - at));
    if (open == std::string_view::npos) return;
    const std::size_t close = page.find("}}", open);
    assert(close != std::string_view::npos && "an unclosed {{ in a template");
    if (close == std::string_view::npos) return;
    const std::string_view tag = page.substr(open + 2, close - open - 2);
    at = close + 2;
    if (tag.starts_with('!')) {
      at = past_standalone(page, open, at);
    } else if (tag.starts_with('>')) {
      at = past_standalone(page, open, at);
      const auto partial = filling.partials.find(tag.substr(1));
      assert(partial != filling.partials.end() && "a template names a partial its page lacks");
      if (partial != filling.partials.end()) fill(partial->second, scopes, filling, out);
    } else if (tag.starts_with('@')) {
      append_escaped(out, i18n::fill_placeholders(
                              i18n::pattern(filling.language, tag.substr(1)),
                              [&](std::string_view name) { return find_text(scopes, name); }));
    } else if (tag.starts_with('#') || tag.starts_with('^')) {
      const std::string_view name = tag.substr(1);
      at = past_standalone(page, open, at);
      const std::size_t end = section_end(page, at, name);
      assert(end != std::string_view::npos && "a section without its {{/name}}");
      if (end == std::string_view::npos) return;
      const std::string_view body = page.substr(at, end - at);
      at = past_standalone(page, end, end + name.size() + 5);  // past "{{/name}}"
      const std::vector<View>* items = find_section(scopes, name);
      assert(items != nullptr && "a template names a section its page does not set");
      if (items == nullptr) continue;
      if (tag.starts_with('^')) {
        if (items->empty()) fill(body, scopes, filling, out);
        continue;
      }
      for (const View& item : *items) {
        scopes.push_back(&item);
        fill(body, scopes, filling, out);
        scopes.pop_back();
      }
    } else {
      const std::optional<std::string_view> text = find_text(scopes, tag);
      assert(text && "a template names a value its page does not set");
      if (text) append_escaped(out, *text);
    }
  }
}

std::string_view embedded_file(std::string_view path) {
  for (const embedded::File& file : embedded::files()) {
    if (file.path == path) return file.bytes;
  }
  assert(false && "every page template is embedded (web/CMakeLists.txt)");
  return {};
}

// The most an escaped byte grows to ("&quot;").
constexpr std::size_t kMaxEscapedBytes = 6;

// How a page sits in the layout (web/pages/layout.html).
struct Frame {
  std::string_view template_path;  // the page's own template, the layout's "content"
  std::string_view title_key;      // its title in the catalogs; empty: the site's name
  // Where the language switch's links lead, "?lang=<tag>" appended: "" for the page itself,
  // or "/" for a page that answers a post, which a plain link cannot repeat.
  std::string_view switch_path;
};

// The page `frame` in the layout, in `language`. reserve_extra: room for the values beyond
// the templates' and the catalog's own size. Enough of it means the page is written without
// reallocating, which would leave copies of it in freed memory.
std::string render(const Frame& frame, std::string_view language, View view,
                   std::size_t reserve_extra = 0) {
  const i18n::Language& chosen = i18n::language(language);
  const std::string_view layout = embedded_file("pages/layout.html");
  const std::string_view content = embedded_file(frame.template_path);
  std::string title = frame.title_key.empty()
                          ? std::string(i18n::pattern(chosen, "site.name"))
                          : i18n::text(chosen.tag, "site.title",
                                       {{"page", i18n::pattern(chosen, frame.title_key)}});
  std::vector<View> languages;
  for (const i18n::Language& other : i18n::languages()) {
    languages.emplace_back()
        .text("tag", other.tag)
        .text("autonym", other.autonym)
        .owned_text("href", std::string(frame.switch_path) + "?lang=" + other.tag)
        .flag("current", &other == &chosen);
  }
  view.text("lang", chosen.tag)
      .text("dir", chosen.right_to_left ? "rtl" : "ltr")
      .owned_text("title", std::move(title))
      .section("languages", std::move(languages));
  if (view.find_section("app_script") == nullptr) view.flag("app_script", false);
  if (view.find_section("switch_by_form") == nullptr) view.flag("switch_by_form", false);
  // Enough for any page: the layout once for each language of the switch (its repeated part
  // is smaller than the whole), the content, every text of the catalog and the values.
  std::size_t texts_bytes = 0;
  for (const auto& [key, text] : chosen.pages) texts_bytes += text.size();
  std::string out;
  out.reserve((1 + i18n::languages().size()) * layout.size() + content.size() +
              kMaxEscapedBytes * texts_bytes + reserve_extra);
  Scopes scopes{&view};
  fill(layout, scopes, Filling{chosen, {{"content", content}}}, out);
  return out;
}

std::string_view kind_flag(form::Kind kind) {
  switch (kind) {
    case form::Kind::text:
      return "text";
    case form::Kind::textarea:
      return "textarea";
    case form::Kind::month:
      return "month";
    case form::Kind::country:
      return "country";
    case form::Kind::choice:
      return "choice";
  }
  return "text";
}

View question_view(const form::Question& question, std::string_view language) {
  View view;
  view.text("id", question.id)
      .text("label", question.label.in(language))
      .text("help", question.help.in(language))
      .flag("has_help", !question.help.empty())
      .flag("required", question.required)
      .flag("multiple", question.multiple)
      .number("max_length", static_cast<long long>(question.max_length));
  for (const form::Kind kind : {form::Kind::text, form::Kind::textarea, form::Kind::month,
                                form::Kind::country, form::Kind::choice}) {
    view.flag(std::string(kind_flag(kind)), kind == question.kind);
  }
  std::vector<View> options;
  for (const form::Option& option : question.options) {
    options.emplace_back().text("value", option.value).text("label", option.label.in(language));
  }
  view.section("options", std::move(options));
  return view;
}

// Incidents of the last thirty years: older ones can be described in words.
constexpr int kYearsOffered = 31;

}  // namespace

std::string landing_page(std::string_view language) {
  return render({"pages/landing.html", "", ""}, language, View());
}

std::string report_page(std::string_view language, const form::Questionnaire& questionnaire,
                        std::string_view csrf_token, int current_year,
                        const BrowserSettings& browser) {
  std::vector<View> questions;
  for (const form::Question& question : questionnaire.questions) {
    questions.push_back(question_view(question, language));
  }
  std::vector<View> years;
  for (int year = current_year; year > current_year - kYearsOffered; --year) {
    years.emplace_back().number("year", year);
  }
  std::vector<View> countries;
  for (const form::Country& country : form::countries(language)) {
    countries.emplace_back().text("code", country.code).text("name", country.name);
  }
  View view;
  view.text("csrf_token", csrf_token)
      .flag("app_script", true)
      .text("app_integrity", asset_integrity("static/app.js"))
      .owned_text("app_strings", i18n::app_strings(language))
      .text("codename_salt", browser.codename_salt_hex)
      .number("upload_bytes", static_cast<long long>(browser.upload_bytes))
      .number("uploads_per_draft", static_cast<long long>(browser.uploads_per_draft))
      .number("report_bytes", static_cast<long long>(browser.report_bytes))
      .section("questions", std::move(questions))
      .section("years", std::move(years))
      .section("countries", std::move(countries));
  return render({"pages/report.html", "report.title", ""}, language, std::move(view));
}

std::string codename_page(std::string_view language, std::string_view codename,
                          std::string_view csrf_token, bool retype_mismatch) {
  View view;
  view.text("codename", codename)
      .text("csrf_token", csrf_token)
      .flag("mismatch", retype_mismatch)
      .flag("switch_by_form", true);
  // The codename appears in the page, in its own form's hidden field and in each language's
  // form of the switch; the CSRF token in every form.
  const std::size_t forms = 1 + i18n::languages().size();
  return render({"pages/codename.html", "codename.title", ""}, language, std::move(view),
                kMaxEscapedBytes * ((forms + 1) * codename.size() + forms * csrf_token.size()));
}

std::string submitted_page(std::string_view language) {
  return render({"pages/submitted.html", "submitted.title", "/"}, language, View());
}

std::string not_accepting_page(std::string_view language) {
  return render({"pages/not-accepting.html", "not_accepting.title", ""}, language, View());
}

std::string error_page(std::string_view language, unsigned status, std::string_view message) {
  View view;
  view.number("status", status).text("message", message);
  return render({"pages/error.html", "error.title", "/"}, language, std::move(view));
}

std::optional<Asset> static_asset(std::string_view path) {
  if (!path.starts_with("/static/")) return std::nullopt;
  const std::string_view name = path.substr(1);
  for (const embedded::File& file : embedded::files()) {
    if (file.path != name) continue;
    std::string_view type = "application/octet-stream";
    if (name.ends_with(".css")) type = "text/css; charset=utf-8";
    if (name.ends_with(".js")) type = "text/javascript; charset=utf-8";
    if (name.ends_with(".svg")) type = "image/svg+xml";
    return Asset{type, file.bytes, file.etag};
  }
  return std::nullopt;
}

const std::string& asset_integrity(std::string_view name) {
  // Computed once per asset: the embedded bytes never change while the server runs.
  static const std::map<std::string, std::string, std::less<>> integrities = [] {
    std::map<std::string, std::string, std::less<>> all;
    for (const embedded::File& file : embedded::files()) {
      if (!file.path.starts_with("static/")) continue;
      std::array<unsigned char, 48> digest{};
      unsigned int digest_size = 0;
      const int hashed = EVP_Digest(file.bytes.data(), file.bytes.size(), digest.data(),
                                    &digest_size, EVP_sha384(), nullptr);
      assert(hashed == 1 && digest_size == digest.size());
      (void)hashed;
      std::array<char, sodium_base64_ENCODED_LEN(48, sodium_base64_VARIANT_ORIGINAL)> text{};
      sodium_bin2base64(text.data(), text.size(), digest.data(), digest.size(),
                        sodium_base64_VARIANT_ORIGINAL);
      all.emplace(std::string(file.path), std::string("sha384-") + text.data());
    }
    return all;
  }();
  const auto found = integrities.find(name);
  assert(found != integrities.end() && "every static asset is embedded (web/CMakeLists.txt)");
  return found->second;
}

}  // namespace tipline::server::pages
