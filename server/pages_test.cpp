#include "pages.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "i18n.h"
#include "questionnaire.h"

namespace tipline::server {
namespace {

using form::Field;
using form::Kind;
using form::Questionnaire;

constexpr std::string_view kEvil = "<script>\"'&";
constexpr std::string_view kEvilEscaped = "&lt;script&gt;&quot;&#39;&amp;";
constexpr int kYear = 2026;

Questionnaire default_questionnaire() {
  auto loaded = form::load_questionnaire({});
  EXPECT_TRUE(loaded.has_value()) << loaded.error().message;
  return loaded.value_or(Questionnaire{});
}

// One question of every kind, with kEvil in every text a page shows.
Questionnaire evil_questionnaire() {
  const std::string evil(kEvil);
  Questionnaire questionnaire;
  for (const Kind kind : {Kind::text, Kind::textarea, Kind::month, Kind::country, Kind::choice}) {
    form::Question question;
    question.id = evil;
    question.label = evil;
    question.help = evil;
    question.kind = kind;
    if (kind == Kind::text || kind == Kind::textarea) question.max_length = 10;
    if (kind == Kind::choice) question.options = {{evil, evil}};
    questionnaire.questions.push_back(question);
  }
  return questionnaire;
}

struct Page {
  std::string name;
  std::string html;
};

std::vector<Page> every_page(std::string_view value, std::string_view language = "en") {
  return {
      {"landing", pages::landing_page(language)},
      {"report", pages::report_page(language, default_questionnaire(), value, kYear, {})},
      {"report (every kind)", pages::report_page(language, evil_questionnaire(), value, kYear, {})},
      {"codename", pages::codename_page(language, value, value, false)},
      {"codename (mismatch)", pages::codename_page(language, value, value, true)},
      {"submitted", pages::submitted_page(language)},
      {"not accepting", pages::not_accepting_page(language)},
      {"error", pages::error_page(language, 400, value)},
  };
}

std::vector<std::string> every_tag() {
  std::vector<std::string> tags;
  for (const i18n::Language& language : i18n::languages()) tags.push_back(language.tag);
  return tags;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// `text` as the pages escape it.
std::string escaped(std::string_view text) {
  std::string out;
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
  return out;
}

const std::string kAppScript = "<script src=\"/static/app.js\" integrity=\"" +
                               pages::asset_integrity("static/app.js") + "\" defer></script>";

TEST(Pages, AssetIntegrityIsTheSha384OfTheServedBytes) {
  for (const std::string_view name : {"static/app.js", "static/icon.svg", "static/style.css"}) {
    SCOPED_TRACE(name);
    const auto asset = pages::static_asset("/" + std::string(name));
    ASSERT_TRUE(asset.has_value());
    std::array<unsigned char, 48> digest{};
    unsigned int size = 0;
    ASSERT_EQ(EVP_Digest(asset->body.data(), asset->body.size(), digest.data(), &size, EVP_sha384(),
                         nullptr),
              1);
    std::array<char, sodium_base64_ENCODED_LEN(48, sodium_base64_VARIANT_ORIGINAL)> text{};
    sodium_bin2base64(text.data(), text.size(), digest.data(), digest.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    EXPECT_EQ(pages::asset_integrity(name), std::string("sha384-") + text.data());
  }
  EXPECT_EQ(pages::static_asset("/static/app.js")->content_type, "text/javascript; charset=utf-8");
}

TEST(Pages, EveryPageIsACompleteDocumentWithLanguageAndDirection) {
  for (const std::string& tag : every_tag()) {
    for (const Page& page : every_page("token", tag)) {
      SCOPED_TRACE(page.name + " in " + tag);
      const std::string direction = tag == "ug" ? "rtl" : "ltr";
      EXPECT_TRUE(page.html.starts_with("<!DOCTYPE html>\n<html lang=\"" + tag + "\" dir=\"" +
                                        direction + "\">"));
      EXPECT_TRUE(page.html.ends_with("</html>\n"));
      EXPECT_TRUE(contains(page.html, "<meta charset=\"utf-8\">"));
      EXPECT_TRUE(contains(page.html, "<meta name=\"viewport\""));
      EXPECT_TRUE(contains(page.html, "<link rel=\"stylesheet\" href=\"/static/style.css\">"));
      EXPECT_TRUE(contains(page.html, "<title>"));
      EXPECT_TRUE(contains(page.html, "<h1>"));
      EXPECT_TRUE(contains(page.html, "<main id=\"main\">"));
      EXPECT_TRUE(contains(page.html, "<a class=\"skip\" href=\"#main\">"));
    }
  }
}

TEST(Pages, NothingTheContentSecurityPolicyWouldBlockOrLeaveTheOrigin) {
  const std::regex event_handler(R"(\son[a-z]+\s*=)", std::regex::icase);
  for (const std::string& tag : every_tag()) {
    for (const Page& page : every_page("token", tag)) {
      SCOPED_TRACE(page.name + " in " + tag);
      EXPECT_FALSE(contains(page.html, "style=")) << "inline style";
      EXPECT_FALSE(contains(page.html, "<style")) << "inline style sheet";
      // The one script: the report page's progressive layer, same-origin, with its hash.
      const bool report = page.name.starts_with("report");
      EXPECT_EQ(contains(page.html, kAppScript), report);
      std::string without_app = page.html;
      if (report) without_app.erase(without_app.find(kAppScript), kAppScript.size());
      EXPECT_FALSE(contains(without_app, "<script")) << "a script other than /static/app.js";
      EXPECT_FALSE(contains(page.html, "javascript:"));
      EXPECT_FALSE(std::regex_search(page.html, event_handler)) << "inline event handler";
      EXPECT_FALSE(contains(page.html, "http://"));
      EXPECT_FALSE(contains(page.html, "https://"));
      EXPECT_FALSE(contains(page.html, "//")) << "a protocol-relative URL or a comment";
      EXPECT_FALSE(contains(page.html, "{{")) << "an unfilled template tag";
      EXPECT_FALSE(contains(page.html, "}}")) << "an unfilled template tag";
    }
  }
}

TEST(Pages, EveryDynamicValueIsEscaped) {
  for (const Page& page : every_page(kEvil)) {
    SCOPED_TRACE(page.name);
    EXPECT_FALSE(contains(page.html, kEvil));
    EXPECT_FALSE(contains(page.html, "<script>"));
  }
  const std::string report = pages::report_page("en", evil_questionnaire(), kEvil, kYear, {});
  // Token, and per question id (several times), label, help; the option's value and label.
  std::size_t count = 0;
  for (auto at = report.find(kEvilEscaped); at != std::string::npos;
       at = report.find(kEvilEscaped, at + 1)) {
    ++count;
  }
  EXPECT_GE(count, 1 + 5 * 3 + 2);
  EXPECT_TRUE(contains(report, "value=\"" + std::string(kEvilEscaped) + "\""));
  EXPECT_TRUE(
      contains(pages::codename_page("en", kEvil, "t", false),
               "<p class=\"codename\" translate=\"no\" dir=\"ltr\">" + std::string(kEvilEscaped)));
  EXPECT_TRUE(contains(pages::error_page("en", 500, kEvil), kEvilEscaped));
}

TEST(Pages, FormsCarryTheCsrfToken) {
  const std::string field =
      "<input type=\"hidden\" name=\"" + std::string(form::kCsrfField) + "\" value=\"tok-123\">";
  EXPECT_TRUE(
      contains(pages::report_page("en", default_questionnaire(), "tok-123", kYear, {}), field));
  EXPECT_TRUE(contains(pages::codename_page("en", "1234", "tok-123", false), field));
  for (const Page& page : every_page("tok-123")) {
    SCOPED_TRACE(page.name);
    const bool has_form = contains(page.html, "<form");
    EXPECT_EQ(has_form, contains(page.html, field));
  }
}

TEST(Pages, LandingExplainsSafetyAndBothEncryptionModes) {
  const std::string page = pages::landing_page("en");
  EXPECT_TRUE(contains(page, "Tor Browser"));
  EXPECT_TRUE(contains(page, "work computer"));
  EXPECT_TRUE(contains(page, "codename"));
  EXPECT_TRUE(contains(page, "your browser encrypts your report before it leaves"));
  EXPECT_TRUE(contains(page, "the server encrypts it as it arrives"));
  EXPECT_TRUE(contains(page, "href=\"/report?lang=en\""));
}

TEST(Pages, ReportFormPostsMultipartWithEveryQuestionAndFiles) {
  const Questionnaire questionnaire = default_questionnaire();
  const std::string page = pages::report_page("en", questionnaire, "t", kYear, {});
  EXPECT_TRUE(contains(page,
                       "<form id=\"report\" method=\"post\" action=\"/report?lang=en\" "
                       "enctype=\"multipart/form-data\""));
  EXPECT_TRUE(contains(page, "the server encrypts them as they arrive"));
  EXPECT_TRUE(contains(page, "<input type=\"file\" id=\"attachments\" name=\"" +
                                 std::string(form::kAttachmentsField) + "\" multiple"));
  for (const form::Question& question : questionnaire.questions) {
    SCOPED_TRACE(question.id);
    EXPECT_TRUE(contains(page, question.label.english()));
    if (question.kind == Kind::month) {
      EXPECT_TRUE(contains(page, "name=\"" + question.id + ".year\""));
      EXPECT_TRUE(contains(page, "name=\"" + question.id + ".month\""));
    } else {
      EXPECT_TRUE(contains(page, "name=\"" + question.id + "\""));
    }
  }
  // Labels tie to their controls; optional questions say so.
  EXPECT_TRUE(contains(page,
                       "<label for=\"q-city\">In which city or area? <span "
                       "class=\"optional\">(optional)</span></label>"));
  EXPECT_TRUE(contains(page, "aria-describedby=\"q-city-help\""));
  EXPECT_TRUE(contains(page,
                       "<textarea id=\"q-what_happened\" name=\"what_happened\" rows=\"8\" "
                       "maxlength=\"20000\" required"));
  EXPECT_TRUE(contains(page, "<input type=\"text\" id=\"q-city\" name=\"city\" maxlength=\"200\""));
  EXPECT_TRUE(contains(page, "How can the reviewers reach you? <span"));
  EXPECT_TRUE(contains(page, "can identify you"));
  // Months: the last 31 years, newest first; countries by ISO code.
  EXPECT_TRUE(contains(page, "<option value=\"2026\">2026</option>\n<option value=\"2025\">"));
  EXPECT_TRUE(contains(page, "<option value=\"1996\">1996</option>\n</select>"));
  EXPECT_TRUE(contains(page, "<option value=\"12\">December</option>"));
  EXPECT_TRUE(contains(page, "<option value=\"CN\">China</option>"));
  EXPECT_TRUE(contains(page, "<option value=\"TW\">Taiwan</option>"));
  // A multiple choice is checkboxes.
  EXPECT_TRUE(contains(page,
                       "<input type=\"checkbox\" id=\"q-incident_type-police_service_centre\" "
                       "name=\"incident_type\" value=\"police_service_centre\">"));
}

TEST(Pages, SingleChoiceIsRadioButtonsRequiredWhenTheQuestionIs) {
  auto parsed = form::parse_questionnaire(R"(
[[question]]
id = "pick"
label = "Pick"
kind = "choice"
required = true
options = [{ value = "a", label = "A" }, { value = "b", label = "B" }]
)",
                                          "test.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const std::string page = pages::report_page("en", *parsed, "t", kYear, {});
  EXPECT_TRUE(contains(page, "<legend>Pick</legend>"));
  EXPECT_TRUE(contains(page,
                       "<input type=\"radio\" id=\"q-pick-a\" name=\"pick\" value=\"a\" "
                       "required>\n<label for=\"q-pick-a\">A</label>"));
}

TEST(Pages, CodenamePageShowsItOnceAndAsksForItAgain) {
  const std::string page = pages::codename_page("en", "3141 5926 5358 9793 2384 6260", "t", false);
  const std::string shown = "3141 5926 5358 9793 2384 6260";
  // Shown once, left to right; the hidden fields send it back so the server keeps no copy
  // between posts: the form's, and one in each language's form of the switch.
  const std::size_t visible =
      page.find("<p class=\"codename\" translate=\"no\" dir=\"ltr\">" + shown);
  const std::size_t hidden =
      page.find("<input type=\"hidden\" name=\"codename_shown\" value=\"" + shown + "\">");
  ASSERT_NE(visible, std::string::npos);
  ASSERT_NE(hidden, std::string::npos);
  std::size_t copies = 0;
  for (std::size_t at = page.find(shown); at != std::string::npos; at = page.find(shown, at + 1)) {
    ++copies;
  }
  EXPECT_EQ(copies, 2 + i18n::languages().size());
  EXPECT_TRUE(contains(page, "<form method=\"post\" action=\"/codename?lang=en\">"));
  EXPECT_TRUE(contains(page, "name=\"" + std::string(form::kCodenameField) + "\""));
  EXPECT_TRUE(contains(page, "autocomplete=\"off\""));
  EXPECT_TRUE(contains(page, "Write it down"));
  EXPECT_FALSE(contains(page, "role=\"alert\""));
  EXPECT_TRUE(contains(pages::codename_page("en", shown, "t", true), "does not match"));
}

TEST(Pages, SubmittedNotAcceptingAndErrorPages) {
  const std::string submitted = pages::submitted_page("en");
  EXPECT_TRUE(contains(submitted, "your report was sent"));
  const std::string main = submitted.substr(submitted.find("<main"));
  EXPECT_FALSE(std::regex_search(main, std::regex(">[^<]*[0-9]"))) << "no time or date";
  EXPECT_TRUE(
      contains(pages::not_accepting_page("en"), "this tip line is not accepting reports yet"));
  const std::string error = pages::error_page("en", 413, "Your files are too large.");
  EXPECT_TRUE(contains(error, "Error 413"));
  EXPECT_TRUE(contains(error, "Your files are too large."));
  EXPECT_TRUE(contains(error, "<a href=\"/?lang=en\">"));
}

TEST(Pages, StaticAssets) {
  const auto style = pages::static_asset("/static/style.css");
  ASSERT_TRUE(style.has_value());
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
  EXPECT_TRUE(contains(style->body, ":focus"));
  EXPECT_FALSE(contains(style->body, "url(")) << "nothing to fetch";
  EXPECT_FALSE(contains(style->body, "@import"));
  EXPECT_TRUE(std::regex_match(std::string(style->etag), std::regex("\"[0-9a-f]{64}\"")));
  for (const char* path : {"/static/", "/static/nope.css", "/style.css", "/pages/landing.html",
                           "/static/../questionnaire.toml", "/questionnaire.toml",
                           "static/style.css", "/static/style.css/", ""}) {
    EXPECT_FALSE(pages::static_asset(path).has_value()) << path;
  }
}

TEST(Pages, EveryPageListsEveryLanguageByItsOwnName) {
  for (const std::string& tag : every_tag()) {
    for (const Page& page : every_page("token", tag)) {
      SCOPED_TRACE(page.name + " in " + tag);
      EXPECT_TRUE(contains(page.html, "<nav class=\"languages\" aria-label=\""));
      const bool by_form = page.name.starts_with("codename");
      // After a post a plain link cannot show the same page again: it goes to the start.
      const bool to_start = page.name == "submitted" || page.name == "error";
      std::size_t current = 0;
      for (const i18n::Language& language : i18n::languages()) {
        SCOPED_TRACE(language.tag);
        const std::string attributes = "lang=\"" + language.tag + "\"";
        const std::string link = "<a href=\"" + std::string(to_start ? "/" : "") +
                                 "?lang=" + language.tag + "\" " + attributes + " hreflang=\"" +
                                 language.tag + "\"";
        const std::string button =
            "<form method=\"post\" action=\"/codename?lang=" + language.tag + "\">";
        const std::string entry = by_form ? button : link;
        const std::size_t at = page.html.find(entry);
        ASSERT_NE(at, std::string::npos);
        const std::size_t end = page.html.find("</li>", at);
        const std::string item = page.html.substr(at, end - at);
        EXPECT_TRUE(contains(item, ">" + language.autonym + "</"));
        if (by_form) {
          EXPECT_TRUE(contains(item, "name=\"" + std::string(pages::kSwitchLanguageField) + "\""));
          EXPECT_TRUE(contains(item, "name=\"codename_shown\" value=\"token\""));
        }
        if (contains(item, "aria-current=\"true\"")) {
          ++current;
          EXPECT_EQ(language.tag, tag);
        }
      }
      EXPECT_EQ(current, 1U);
    }
  }
}

TEST(Pages, EveryInternalLinkAndFormCarriesThePageLanguage) {
  const std::regex internal(R"re((href|action)="(/[^"]*)")re");
  for (const std::string& tag : every_tag()) {
    for (const Page& page : every_page("token", tag)) {
      SCOPED_TRACE(page.name + " in " + tag);
      std::size_t links = 0;
      for (auto it = std::sregex_iterator(page.html.begin(), page.html.end(), internal);
           it != std::sregex_iterator(); ++it) {
        const std::string target = (*it)[2];
        if (target.starts_with("/static/")) continue;
        ++links;
        EXPECT_TRUE(target.ends_with("?lang=" + tag) || page.name.starts_with("codename") ||
                    page.name == "submitted" || page.name == "error")
            << target;
        EXPECT_TRUE(contains(target, "?lang=")) << target;
      }
      EXPECT_GE(links, 1U);  // the header's link home at least
      EXPECT_TRUE(contains(page.html, "<a class=\"home\" href=\"/?lang=" + tag + "\">"));
    }
  }
  EXPECT_TRUE(contains(pages::codename_page("ug", "1", "t", false),
                       "<form method=\"post\" action=\"/codename?lang=ug\">\n"));
  EXPECT_TRUE(contains(pages::report_page("ug", default_questionnaire(), "t", kYear, {}),
                       "action=\"/report?lang=ug\""));
  EXPECT_TRUE(contains(pages::landing_page("ug"), "<a class=\"button\" href=\"/report?lang=ug\">"));
}

TEST(Pages, NoEnglishIsLeftOnAPageInAnotherLanguage) {
  // Words of every page, the header and the form: none may stay English.
  const std::vector<std::string_view> english = {
      "Secure tip line",
      "Skip to the main content",
      "Send report",
      "(optional)",
      "Choose a country",
      "January",
      "December",
      "Not sure",
      "What happened?",
      "Choose all that apply",
      "Back to the start",
      "Something went wrong",
      "Your codename",
      "Confirm",
      "Thank you",
      "Not accepting reports yet",
      "Error 400",
      "codename",
      "Language\"",
      "China</option>",
      "Germany</option>",
      "the server",
      "Please",
  };
  for (const std::string& tag : every_tag()) {
    if (tag == "en") continue;
    for (const Page& page : every_page("token", tag)) {
      SCOPED_TRACE(page.name + " in " + tag);
      // The switch names English in English; names of fields and paths are not shown; the
      // script's words (app.toml) are the script's layer's and fall back to English per key.
      std::string shown = page.html;
      const std::size_t list = shown.find("<ul>", shown.find("<nav"));
      shown.erase(list, shown.find("</nav>") - list);
      shown = std::regex_replace(shown, std::regex(R"( data-strings="[^"]*")"), "");
      shown = std::regex_replace(shown, std::regex(R"(("|-|/)codename)"), "$1");
      for (const std::string_view words : english) {
        const std::size_t at = shown.find(words);
        EXPECT_EQ(at, std::string::npos) << shown.substr(at < 40 ? 0 : at - 40, 100);
      }
    }
  }
}

TEST(Pages, RightToLeftPagesKeepTheCodenameLeftToRight) {
  const std::string page = pages::codename_page("ug", "3141 5926", "t", false);
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>\n<html lang=\"ug\" dir=\"rtl\">"));
  EXPECT_TRUE(contains(page, "<p class=\"codename\" translate=\"no\" dir=\"ltr\">3141 5926</p>"));
  EXPECT_TRUE(contains(page, "id=\"codename\" name=\"codename\""));
  const auto style = pages::static_asset("/static/style.css");
  ASSERT_TRUE(style.has_value());
  // Logical properties only, so that the layout mirrors.
  const std::regex physical(
      R"((margin|padding|border|inset)-(left|right)|text-align:\s*(left|right)|float:|(^|[^-])\b(left|right):)");
  EXPECT_FALSE(std::regex_search(std::string(style->body), physical));
}

TEST(Pages, TranslatedAndDynamicValuesAreEscaped) {
  for (const std::string& tag : every_tag()) {
    SCOPED_TRACE(tag);
    for (const Page& page : every_page(kEvil, tag)) {
      SCOPED_TRACE(page.name);
      EXPECT_FALSE(contains(page.html, kEvil));
      EXPECT_FALSE(contains(page.html, "<script>"));
    }
    const std::string error = pages::error_page(tag, 500, kEvil);
    EXPECT_TRUE(contains(error, kEvilEscaped));
    // Catalog texts with quotes are escaped too.
    EXPECT_TRUE(
        contains(pages::landing_page(tag),
                 "<h1>" + escaped(i18n::language(tag).pages.at("landing.heading")) + "</h1>"));
  }
  // A question's translated label is escaped like any value.
  auto parsed = form::parse_questionnaire(R"(
[[question]]
id = "q"
kind = "text"
[question.label]
en = "Q"
ug = "<b>\"ئ'&"
)",
                                          "test.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const std::string page = pages::report_page("ug", *parsed, "t", kYear, {});
  EXPECT_TRUE(contains(page, "&lt;b&gt;&quot;ئ&#39;&amp;"));
  EXPECT_FALSE(contains(page, "<b>"));
}

TEST(Pages, TheFormCarriesTheAppStringsOfItsLanguage) {
  for (const std::string& tag : every_tag()) {
    SCOPED_TRACE(tag);
    const std::string page = pages::report_page(tag, default_questionnaire(), "t", kYear, {});
    EXPECT_TRUE(contains(
        page, "data-report-bytes=\"0\" data-strings=\"" + escaped(i18n::app_strings(tag)) + "\">"));
    EXPECT_TRUE(contains(page, kAppScript));
  }
}

TEST(Pages, QuestionsAndCountriesInThePageLanguage) {
  const Questionnaire questionnaire = default_questionnaire();
  for (const std::string& tag : every_tag()) {
    SCOPED_TRACE(tag);
    const std::string page = pages::report_page(tag, questionnaire, "t", kYear, {});
    for (const form::Question& question : questionnaire.questions) {
      EXPECT_TRUE(contains(page, question.label.in(tag)));
      for (const form::Option& option : question.options) {
        EXPECT_TRUE(contains(page, ">" + std::string(option.label.in(tag)) + "</label>"));
      }
    }
    for (const form::Country& country : form::countries(tag)) {
      EXPECT_TRUE(contains(page, "<option value=\"" + std::string(country.code) + "\">"));
    }
  }
  const std::string russian = pages::report_page("ru", questionnaire, "t", kYear, {});
  EXPECT_TRUE(contains(russian, "<option value=\"CN\">Китай</option>"));
  EXPECT_TRUE(contains(russian, "<option value=\"12\">Декабрь</option>"));
  EXPECT_TRUE(contains(pages::report_page("zh-Hant", questionnaire, "t", kYear, {}),
                       "<option value=\"TW\">臺灣</option>"));
  EXPECT_TRUE(contains(pages::report_page("zh-Hans", questionnaire, "t", kYear, {}),
                       "<option value=\"TW\">台湾</option>"));
}

// Questionnaires.

TEST(Questionnaire, DefaultCoversTheIncidentQuestions) {
  const Questionnaire questionnaire = default_questionnaire();
  std::vector<std::string> ids;
  for (const auto& question : questionnaire.questions) ids.push_back(question.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"what_happened", "when", "country", "city",
                                           "incident_type", "involved", "contact"}));
  const auto& kinds = questionnaire.questions;
  EXPECT_EQ(kinds[0].kind, Kind::textarea);
  EXPECT_TRUE(kinds[0].required);
  EXPECT_EQ(kinds[1].kind, Kind::month);
  EXPECT_EQ(kinds[2].kind, Kind::country);
  EXPECT_EQ(kinds[3].kind, Kind::text);
  EXPECT_EQ(kinds[4].kind, Kind::choice);
  EXPECT_TRUE(kinds[4].multiple);
  std::vector<std::string> types;
  for (const auto& option : kinds[4].options) types.push_back(option.value);
  EXPECT_EQ(types, (std::vector<std::string>{
                       "pressure_to_return", "family_harassment", "surveillance", "online_threats",
                       "detention_questioning", "police_service_centre", "other"}));
  EXPECT_FALSE(kinds[6].required);
  EXPECT_TRUE(contains(kinds[6].help.english(), "can identify you"));
}

TEST(Questionnaire, CountriesAreUniqueIsoCodes) {
  const auto countries = form::countries("en");
  EXPECT_GT(countries.size(), 240U);
  std::set<std::string_view> codes;
  for (const auto& country : countries) {
    EXPECT_TRUE(std::regex_match(std::string(country.code), std::regex("[A-Z]{2}")));
    EXPECT_FALSE(country.name.empty());
    EXPECT_TRUE(codes.insert(country.code).second) << country.code;
  }
}

TEST(Questionnaire, LoadsAFileAndReportsAMissingOne) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tipline-pages-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "questions.toml";
  std::ofstream(file) << "[[question]]\nid = \"a\"\nlabel = \"A?\"\nkind = \"text\"\n";
  const auto loaded = form::load_questionnaire(file);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  ASSERT_EQ(loaded->questions.size(), 1U);
  EXPECT_EQ(loaded->questions[0].max_length, 1000U);

  const auto missing = form::load_questionnaire(dir / "missing.toml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, form::Errc::unreadable);
  EXPECT_TRUE(contains(missing.error().message, "missing.toml: cannot read"));
  std::filesystem::remove_all(dir);
}

struct Malformed {
  const char* toml;
  const char* message;
};

// Each questionnaire is refused as invalid with a message that contains its own.
void expect_each_refused(const std::vector<Malformed>& cases) {
  for (const Malformed& malformed : cases) {
    SCOPED_TRACE(malformed.toml);
    const auto parsed = form::parse_questionnaire(malformed.toml, "test.toml");
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code, form::Errc::invalid);
    EXPECT_TRUE(contains(parsed.error().message, malformed.message)) << parsed.error().message;
  }
}

TEST(Questionnaire, EachMalformationIsRefusedWithItsPlace) {
  const std::string ok = "label = \"Q\"\nkind = \"text\"\n";
  const std::vector<Malformed> cases = {
      {"[[question", "test.toml:1:"},
      {"", "test.toml: question: expected 1 to 100 [[question]] tables"},
      {"question = [1, 2]", "test.toml: question: expected 1 to 100 [[question]] tables"},
      {"title = \"x\"\n[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"",
       "test.toml: title: unknown key"},
      {"[[question]]\nlabel = \"Q\"\nkind = \"text\"", "test.toml: question 1: id: missing"},
      {"[[question]]\nid = \"What\"\nlabel = \"Q\"\nkind = \"text\"",
       "test.toml: question 1: id: must be 1 to 32 of a-z, 0-9 and _, got \"What\""},
      {"[[question]]\nid = \"a.b\"\nlabel = \"Q\"\nkind = \"text\"", "question 1: id: must be"},
      {"[[question]]\nid = \"abcdefghijklmnopqrstuvwxyz0123456\"\nlabel = \"Q\"\nkind = \"text\"",
       "question 1: id: must be"},
      {"[[question]]\nid = 7\nlabel = \"Q\"\nkind = \"text\"", "question 1: id: expected a string"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"\n"
       "[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"",
       "test.toml: question 2: id: \"a\" is used by an earlier question"},
      {"[[question]]\nid = \"csrf_token\"\nlabel = \"Q\"\nkind = \"text\"",
       "question 1: id: \"csrf_token\" is reserved"},
      {"[[question]]\nid = \"attachments\"\nlabel = \"Q\"\nkind = \"text\"",
       "question 1: id: \"attachments\" is reserved"},
      {"[[question]]\nid = \"a\"\nkind = \"text\"", "test.toml: question 1: label: missing"},
      {"[[question]]\nid = \"a\"\nlabel = \"  \"\nkind = \"text\"",
       "question 1: label: must not be empty"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nhelp = \"\"\nkind = \"text\"",
       "question 1: help: must not be empty"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"", "question 1: kind: missing"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"date\"",
       "question 1: kind: must be \"text\", \"textarea\", \"month\", \"country\" or \"choice\", "
       "got \"date\""},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"\nrequired = \"yes\"",
       "question 1: required: expected true or false"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"\ncolour = \"red\"",
       "test.toml: question 1: colour: unknown key"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"\nmax_length = 0",
       "question 1: max_length: must be from 1 to 100000"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"textarea\"\nmax_length = 100001",
       "question 1: max_length: must be from 1 to 100000"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"month\"\nmax_length = 5",
       "question 1: max_length: only text and textarea questions have one"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"\nmultiple = true",
       "question 1: multiple: only choice questions have it"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"country\"\noptions = []",
       "question 1: options: only choice questions have them"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"",
       "question 1: options: missing: a choice needs options"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\noptions = []",
       "question 1: options: must have 1 to 100 options"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\noptions = [\"x\"]",
       "question 1: option 1: expected a table"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\n"
       "options = [{ value = \"X\", label = \"x\" }]",
       "question 1: option 1: value: must be 1 to 64 of a-z, 0-9 and _, got \"X\""},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\n"
       "options = [{ value = \"x\", label = \"x\" }, { value = \"x\", label = \"y\" }]",
       "question 1: option 2: value: \"x\" is used by an earlier option"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\noptions = [{ value = \"x\" }]",
       "question 1: option 1: label: missing"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\n"
       "options = [{ value = \"x\", label = \"x\", extra = 1 }]",
       "question 1: option 1: extra: unknown key"},
  };
  expect_each_refused(cases);
}

TEST(Questionnaire, CountriesInEveryLanguageHaveTheSameCodesSortedByName) {
  std::set<std::string_view> english;
  for (const auto& country : form::countries("en")) english.insert(country.code);
  for (const i18n::Language& language : i18n::languages()) {
    SCOPED_TRACE(language.tag);
    const auto countries = form::countries(language.tag);
    std::set<std::string_view> codes;
    for (const auto& country : countries) codes.insert(country.code);
    EXPECT_EQ(codes, english);
    if (language.tag == "en") continue;
    EXPECT_TRUE(std::is_sorted(countries.begin(), countries.end(),
                               [](const auto& a, const auto& b) { return a.name < b.name; }));
    // Most names come from iso-codes in the language, not from English.
    std::size_t translated = 0;
    for (const auto& country : countries) {
      const auto same = std::find_if(form::countries("en").begin(), form::countries("en").end(),
                                     [&](const auto& other) { return other.code == country.code; });
      if (same->name != country.name) ++translated;
    }
    EXPECT_GT(translated, countries.size() / 2);
  }
  const auto uyghur = form::countries("ug");
  EXPECT_NE(std::find_if(uyghur.begin(), uyghur.end(),
                         [](const auto& country) { return country.name == "جۇڭگو"; }),
            uyghur.end());
}

TEST(Questionnaire, TheBuiltInOneIsInEveryLanguage) {
  const Questionnaire questionnaire = default_questionnaire();
  const auto every = [](const form::Text& text) {
    for (const i18n::Language& language : i18n::languages()) {
      if (!text.by_language().contains(language.tag)) return language.tag;
    }
    return std::string();
  };
  for (const form::Question& question : questionnaire.questions) {
    SCOPED_TRACE(question.id);
    EXPECT_EQ(every(question.label), "");
    if (!question.help.empty()) {
      EXPECT_EQ(every(question.help), "");
    }
    for (const form::Option& option : question.options) EXPECT_EQ(every(option.label), "");
  }
  // reviewer-cli's built-in labels (reviewer-cli/src/questions.cpp) are the English ones.
  EXPECT_EQ(questionnaire.questions[0].label.english(), "What happened?");
  EXPECT_EQ(questionnaire.questions[4].options[5].label.english(),
            "Contact from a so-called “police service centre”");
}

TEST(Questionnaire, TextsMayBeATableOfLanguagesThatFallsBackToEnglish) {
  auto parsed = form::parse_questionnaire(R"(
[[question]]
id = "pick"
kind = "choice"
help = "Same everywhere"
[question.label]
en = "Pick"
ru = "Выберите"
[[question.options]]
value = "a"
label = { en = "A", ug = "ئا" }
[[question.options]]
value = "b"
label = "B"
)",
                                          "test.toml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  const form::Question& question = parsed->questions[0];
  EXPECT_EQ(question.label.in("ru"), "Выберите");
  EXPECT_EQ(question.label.in("ug"), "Pick");
  EXPECT_EQ(question.label.english(), "Pick");
  EXPECT_EQ(question.help.in("zh-Hans"), "Same everywhere");
  EXPECT_EQ(question.options[0].label.in("ug"), "ئا");
  EXPECT_EQ(question.options[0].label.in("hr"), "A");
  EXPECT_EQ(question.options[1].label.in("ug"), "B");
  const std::string page = pages::report_page("ru", *parsed, "t", kYear, {});
  EXPECT_TRUE(contains(page, "<legend>Выберите <span class=\"optional\">"));
  // Refusals name the question in English here, and in the page's language on the page.
  const std::vector<Field> both = {{"pick", "a"}, {"pick", "b"}};
  const auto refused = form::report_document(*parsed, both);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "The form sent “Pick” twice.");
  EXPECT_EQ(refused.error().message_key, "answer.twice");
  EXPECT_EQ(refused.error().question, &question);
}

TEST(Questionnaire, MalformedTranslationsAreRefusedNamingTheQuestion) {
  const std::vector<Malformed> cases = {
      {"[[question]]\nid = \"a\"\nkind = \"text\"\n[question.label]\nen = \"Q\"\nfr = \"Q\"",
       "test.toml: question 1: label.fr: unknown language tag \"fr\" (known: "},
      {"[[question]]\nid = \"a\"\nkind = \"text\"\n[question.label]\nru = \"Q\"",
       "test.toml: question 1: label: the table must include en"},
      {"[[question]]\nid = \"a\"\nkind = \"text\"\n[question.label]\nen = \"Q\"\nru = \" \"",
       "test.toml: question 1: label.ru: must not be empty"},
      {"[[question]]\nid = \"a\"\nkind = \"text\"\n[question.label]\nen = \"Q\"\nru = 1",
       "test.toml: question 1: label.ru: expected a string"},
      {"[[question]]\nid = \"a\"\nkind = \"text\"\nlabel = 3",
       "test.toml: question 1: label: expected a string, or a table of language tag = text"},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"text\"\n[question.help]\nen = \"H\"\n"
       "zh = \"H\"",
       "test.toml: question 1: help.zh: unknown language tag \"zh\""},
      {"[[question]]\nid = \"a\"\nlabel = \"Q\"\nkind = \"choice\"\n"
       "options = [{ value = \"x\", label = { ug = \"x\" } }]",
       "test.toml: question 1: option 1: label: the table must include en"},
  };
  expect_each_refused(cases);
}

TEST(Questionnaire, EveryProblemIsReportedAtOnce) {
  const auto parsed = form::parse_questionnaire(
      "[[question]]\nid = \"A\"\nlabel = \"Q\"\nkind = \"text\"\n"
      "[[question]]\nid = \"b\"\nkind = \"nope\"\noptions = []\n",
      "test.toml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message,
            "test.toml: question 1: id: must be 1 to 32 of a-z, 0-9 and _, got \"A\"\n"
            "test.toml: question 2: label: missing\n"
            "test.toml: question 2: kind: must be \"text\", \"textarea\", \"month\", \"country\" "
            "or \"choice\", got \"nope\"");
}

// Answers and the report document.

std::string text_of(const crypto::Secret& secret) {
  const auto bytes = secret.expose();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

tl::expected<std::string, form::Error> report(const std::vector<Field>& fields) {
  return form::report_document(default_questionnaire(), fields).map(text_of);
}

std::string refusal(const std::vector<Field>& fields) {
  const auto result = report(fields);
  EXPECT_FALSE(result.has_value()) << *result;
  if (result) return {};
  EXPECT_EQ(result.error().code, form::Errc::answers);
  return result.error().message;
}

TEST(Answers, CanonicalReportDocument) {
  const auto result = report({
      {"csrf_token", "ignored"},
      {"what_happened", "Two men came.\r\nThey said \"go home\" \\ or else.\ttab"},
      {"when.year", "2025"},
      {"when.month", "03"},
      {"country", "NL"},
      {"city", "Rotterdam"},
      {"incident_type", "other"},
      {"incident_type", "pressure_to_return"},
      {"involved", ""},
      {"contact", "   "},
  });
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(*result,
            "{\"format\":\"tipline-report/1\",\"answers\":{"
            "\"what_happened\":\"Two men came.\\nThey said \\\"go home\\\" \\\\ or else.\\ttab\","
            "\"when\":\"2025-03\",\"country\":\"NL\",\"city\":\"Rotterdam\","
            "\"incident_type\":[\"pressure_to_return\",\"other\"]}}");
  EXPECT_NO_THROW(static_cast<void>(boost::json::parse(*result)));
}

TEST(Answers, OnlyTheRequiredQuestionAndYearWithoutMonth) {
  EXPECT_EQ(report({{"what_happened", "ü 漢 😀"}, {"when.year", "2019"}, {"when.month", ""}}),
            "{\"format\":\"tipline-report/1\",\"answers\":{\"what_happened\":\"ü 漢 😀\","
            "\"when\":\"2019\"}}");
}

TEST(Answers, SingleChoiceIsAStringAndEmptyFormHasNoAnswers) {
  auto parsed = form::parse_questionnaire(R"(
[[question]]
id = "pick"
label = "Pick"
kind = "choice"
options = [{ value = "a", label = "A" }, { value = "b", label = "B" }]
)",
                                          "test.toml");
  ASSERT_TRUE(parsed.has_value());
  const std::vector<Field> pick_b = {{"pick", "b"}};
  EXPECT_EQ(form::report_document(*parsed, pick_b).map(text_of),
            "{\"format\":\"tipline-report/1\",\"answers\":{\"pick\":\"b\"}}");
  EXPECT_EQ(form::report_document(*parsed, {}).map(text_of),
            "{\"format\":\"tipline-report/1\",\"answers\":{}}");
  const std::vector<Field> both = {{"pick", "a"}, {"pick", "b"}};
  EXPECT_EQ(form::report_document(*parsed, both).error().message, "The form sent “Pick” twice.");
}

TEST(Answers, RequiredQuestionsMustBeAnswered) {
  EXPECT_EQ(refusal({}), "Please answer “What happened?”.");
  EXPECT_EQ(refusal({{"what_happened", " \r\n\t "}}), "Please answer “What happened?”.");
}

TEST(Answers, LengthIsCountedInCharactersAfterLineBreaksAreNormalised) {
  const std::string at_limit = std::string(99, 'x') + "\r\n" + "ü" + std::string(99, 'y');
  EXPECT_TRUE(report({{"what_happened", "x"}, {"city", at_limit}}).has_value());
  EXPECT_EQ(refusal({{"what_happened", "x"}, {"city", at_limit + "z"}}),
            "The answer to “In which city or area?” is too long: it may have at most 200 "
            "characters.");
}

TEST(Answers, RefusesWhatTheFormCannotHaveSent) {
  const std::vector<std::pair<std::vector<Field>, std::string>> cases = {
      {{{"what_happened", "x"}, {"age", "40"}},
       "The form sent an answer to a question this tip line does not ask."},
      {{{"what_happened", "x"}, {"city.year", "2020"}},
       "The form sent an answer to a question this tip line does not ask."},
      {{{"what_happened", "x"}, {"when.day", "1"}},
       "The form sent an answer to a question this tip line does not ask."},
      {{{"what_happened", "x"}, {"when", "2020-01"}},
       "The form sent an answer to a question this tip line does not ask."},
      {{{"what_happened", "x"}, {"what_happened", "y"}}, "The form sent “What happened?” twice."},
      {{{"what_happened", "x"}, {"when.year", "2020"}, {"when.year", "2021"}},
       "The form sent “When did it happen?” twice."},
      {{{"what_happened", "x"}, {"incident_type", "other"}, {"incident_type", "other"}},
       "The form sent “What kind of incident was it?” twice."},
      {{{"what_happened", "x"}, {"incident_type", "kidnapping"}},
       "Please choose an answer to “What kind of incident was it?” from the list."},
      {{{"what_happened", "x"}, {"country", "XX"}},
       "Please choose a country for “In which country did it happen?” from the list."},
      {{{"what_happened", "x"}, {"country", "nl"}},
       "Please choose a country for “In which country did it happen?” from the list."},
      {{{"what_happened", "x"}, {"when.month", "03"}},
       "Please give the year for “When did it happen?”."},
      {{{"what_happened", "x"}, {"when.year", "20"}},
       "Please choose the year and month for “When did it happen?” from the lists."},
      {{{"what_happened", "x"}, {"when.year", "1899"}},
       "Please choose the year and month for “When did it happen?” from the lists."},
      {{{"what_happened", "x"}, {"when.year", "2020"}, {"when.month", "13"}},
       "Please choose the year and month for “When did it happen?” from the lists."},
      {{{"what_happened", "x"}, {"when.year", "2020"}, {"when.month", "3"}},
       "Please choose the year and month for “When did it happen?” from the lists."},
      {{{"what_happened", "bad \xff byte"}},
       "The answer to “What happened?” holds characters that cannot be stored. Please retype "
       "it."},
      {{{"what_happened", "overlong \xc0\xaf"}},
       "The answer to “What happened?” holds characters that cannot be stored. Please retype "
       "it."},
      {{{"what_happened", "surrogate \xed\xa0\x80"}},
       "The answer to “What happened?” holds characters that cannot be stored. Please retype "
       "it."},
      {{{"what_happened", "truncated \xe6\xbc"}},
       "The answer to “What happened?” holds characters that cannot be stored. Please retype "
       "it."},
      {{{"what_happened", std::string_view("nul \0 byte", 10)}},
       "The answer to “What happened?” holds characters that cannot be stored. Please retype "
       "it."},
      {{{"what_happened", "escape \x1b[31m"}},
       "The answer to “What happened?” holds characters that cannot be stored. Please retype "
       "it."},
  };
  for (const auto& [fields, message] : cases) {
    SCOPED_TRACE(message);
    EXPECT_EQ(refusal(fields), message);
  }
}

}  // namespace
}  // namespace tipline::server
