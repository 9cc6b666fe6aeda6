#include "i18n.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace tipline::server {
namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::multiset<std::string> placeholders_of(const std::string& text) {
  std::multiset<std::string> names;
  const std::regex placeholder(R"(\{([a-z_]+)\})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), placeholder);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST(Catalogs, EveryLanguageOfTheIssueIsBuiltIn) {
  std::map<std::string, std::pair<std::string, bool>> found;
  for (const i18n::Language& language : i18n::languages()) {
    found[language.tag] = {language.autonym, language.right_to_left};
  }
  const std::map<std::string, std::pair<std::string, bool>> expected = {
      {"en", {"English", false}},
      {"zh-Hans", {"简体中文", false}},
      {"zh-Hant", {"繁體中文", false}},
      {"ug", {"ئۇيغۇرچە", true}},
      {"sr-Latn", {"Srpski (latinica)", false}},
      {"sr-Cyrl", {"Српски (ћирилица)", false}},
      {"hr", {"Hrvatski", false}},
      {"bs", {"Bosanski", false}},
      {"sq", {"Shqip", false}},
      {"mk", {"Македонски", false}},
      {"ru", {"Русский", false}},
  };
  EXPECT_EQ(found, expected);
}

// parse_catalogs() refuses an incomplete catalog, but this says it independently of it.
TEST(Catalogs, EveryCatalogHasExactlyTheKeysAndPlaceholdersOfEnglish) {
  const i18n::Language& english = i18n::language("en");
  ASSERT_GT(english.pages.size(), 90U);
  for (const i18n::Language& language : i18n::languages()) {
    SCOPED_TRACE(language.tag);
    std::vector<std::string> keys;
    std::vector<std::string> english_keys;
    for (const auto& [key, text] : language.pages) keys.push_back(key);
    for (const auto& [key, text] : english.pages) english_keys.push_back(key);
    EXPECT_EQ(keys, english_keys);
    for (const auto& [key, text] : language.pages) {
      const auto reference = english.pages.find(key);
      if (reference == english.pages.end()) continue;
      EXPECT_EQ(placeholders_of(text), placeholders_of(reference->second)) << key;
      EXPECT_FALSE(text.empty()) << key;
    }
  }
}

TEST(Catalogs, NamesThatStayAsTheyAre) {
  for (const i18n::Language& language : i18n::languages()) {
    SCOPED_TRACE(language.tag);
    EXPECT_TRUE(contains(language.pages.at("landing.tor_strong"), "Tor Browser"));
    EXPECT_TRUE(contains(language.pages.at("landing.encryption_text"), "JavaScript"));
  }
}

TEST(Catalogs, AppStringsFallBackToEnglishPerKey) {
  const auto english = boost::json::parse(i18n::app_strings("en")).as_object();
  EXPECT_FALSE(english.empty());
  for (const i18n::Language& language : i18n::languages()) {
    SCOPED_TRACE(language.tag);
    const auto strings = boost::json::parse(i18n::app_strings(language.tag)).as_object();
    EXPECT_EQ(strings.size(), english.size());
    for (const auto& [key, text] : english) {
      ASSERT_TRUE(strings.contains(key)) << key;
      const auto own = language.app.find(std::string(key));
      const boost::json::value expected =
          own == language.app.end() ? text : boost::json::value(own->second);
      EXPECT_EQ(strings.at(key), expected) << key;
    }
  }
}

std::vector<embedded::File> files(
    const std::vector<std::pair<std::string_view, std::string_view>>& list) {
  std::vector<embedded::File> out;
  out.reserve(list.size());
  for (const auto& [path, bytes] : list) out.push_back({path, bytes, ""});
  return out;
}

constexpr std::string_view kEnglish =
    "[language]\nautonym = \"English\"\ndirection = \"ltr\"\n"
    "[page]\nhello = \"Hello {name}\"\nbye = \"Bye\"\n";

TEST(Catalogs, ParsesCatalogsAndOrdersThemByAutonym) {
  const auto parsed = i18n::parse_catalogs(files({
      {"i18n/ru/pages.toml",
       "[language]\nautonym = \"Русский\"\ndirection = \"ltr\"\n"
       "[page]\nhello = \"Привет, {name}\"\nbye = \"Пока\"\n"},
      {"i18n/en/pages.toml", kEnglish},
      {"i18n/en/app.toml", "app.one = \"One\"\n"},
      {"pages/landing.html", "not a catalog"},
  }));
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[0].tag, "en");
  EXPECT_EQ((*parsed)[1].tag, "ru");
  EXPECT_EQ((*parsed)[1].pages.at("page.hello"), "Привет, {name}");
  EXPECT_EQ((*parsed)[0].app.at("app.one"), "One");
  EXPECT_TRUE((*parsed)[1].app.empty());
}

TEST(Catalogs, EachMalformationIsRefusedWithItsPlace) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"[language\n", "i18n/xx/pages.toml:1:"},
      {"[language]\nautonym = \"X\"\ndirection = \"ltr\"\n[page]\nhello = \"Hi {name}\"\n",
       "i18n/xx/pages.toml: page.bye: missing"},
      {"[language]\nautonym = \"X\"\ndirection = \"ltr\"\n[page]\nhello = \"Hi {name}\"\n"
       "bye = \"B\"\nextra = \"E\"\n",
       "i18n/xx/pages.toml: page.extra: unknown key (English has none)"},
      {"[language]\nautonym = \"X\"\ndirection = \"ltr\"\n[page]\nhello = \"Hi\"\nbye = \"B\"\n",
       "i18n/xx/pages.toml: page.hello: placeholders differ from English"},
      {"[language]\nautonym = \"X\"\ndirection = \"ltr\"\n[page]\nhello = \"Hi {nom}\"\n"
       "bye = \"B\"\n",
       "i18n/xx/pages.toml: page.hello: placeholders differ from English"},
      {"[language]\nautonym = \"X\"\ndirection = \"ltr\"\n[page]\nhello = \"Hi {name\"\n"
       "bye = \"B\"\n",
       "i18n/xx/pages.toml: page.hello: a brace that is not a {placeholder}"},
      {"[language]\nautonym = \"X\"\ndirection = \"up\"\n[page]\nhello = \"Hi {name}\"\n"
       "bye = \"B\"\n",
       "i18n/xx/pages.toml: language.direction: must be \"ltr\" or \"rtl\""},
      {"[language]\nautonym = \"X\"\ndirection = \"ltr\"\n[page]\nhello = \"Hi {name}\"\n"
       "bye = 7\n",
       "i18n/xx/pages.toml: page.bye: expected a string"},
  };
  for (const auto& [catalog, message] : cases) {
    SCOPED_TRACE(catalog);
    const auto parsed = i18n::parse_catalogs(
        files({{"i18n/en/pages.toml", kEnglish}, {"i18n/xx/pages.toml", catalog}}));
    ASSERT_FALSE(parsed.has_value());
    EXPECT_TRUE(contains(parsed.error(), message)) << parsed.error();
  }
  const auto without_english = i18n::parse_catalogs(files({{"i18n/xx/pages.toml", kEnglish}}));
  ASSERT_FALSE(without_english.has_value());
  EXPECT_TRUE(contains(without_english.error(), "i18n/en/pages.toml: missing"));
  const auto app_only = i18n::parse_catalogs(
      files({{"i18n/en/pages.toml", kEnglish}, {"i18n/xx/app.toml", "a = \"b\""}}));
  ASSERT_FALSE(app_only.has_value());
  EXPECT_TRUE(contains(app_only.error(), "i18n/xx: no pages.toml"));
}

TEST(Catalogs, AnIncompleteAppCatalogIsAccepted) {
  const auto parsed = i18n::parse_catalogs(files({
      {"i18n/en/pages.toml", kEnglish},
      {"i18n/en/app.toml", "app.one = \"One\"\napp.two = \"Two\"\n"},
      {"i18n/xx/pages.toml",
       "[language]\nautonym = \"X\"\ndirection = \"rtl\"\n[page]\nhello = \"{name}!\"\nbye = "
       "\"B\"\n"},
      {"i18n/xx/app.toml", "app.one = \"Uno\"\n"},
  }));
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_TRUE((*parsed)[1].right_to_left);
}

TEST(Catalogs, PlaceholdersAreFilledAndTextsLookedUp) {
  EXPECT_EQ(i18n::fill_placeholders("{a} and {b}, {a}",
                                    [](std::string_view name) -> std::optional<std::string_view> {
                                      return name == "a" ? "1" : "2";
                                    }),
            "1 and 2, 1");
  EXPECT_EQ(i18n::text("en", "error.status", {{"status", "404"}}), "Error 404");
  EXPECT_EQ(i18n::text("ru", "error.status", {{"status", "404"}}), "Ошибка 404");
  EXPECT_EQ(i18n::text("en", "site.title", {{"page", "X"}}), "X – Secure tip line");
}

TEST(LanguageChoice, MatchesRangesToTheBuiltInLanguages) {
  const std::vector<std::pair<std::string_view, std::optional<std::string_view>>> cases = {
      {"zh", "zh-Hans"},
      {"zh-CN", "zh-Hans"},
      {"zh-SG", "zh-Hans"},
      {"zh-Hans", "zh-Hans"},
      {"zh-hans-HK", "zh-Hans"},
      {"zh-TW", "zh-Hant"},
      {"zh-HK", "zh-Hant"},
      {"zh-MO", "zh-Hant"},
      {"zh-Hant", "zh-Hant"},
      {"zh-Hant-TW", "zh-Hant"},
      {"zh_TW", "zh-Hant"},
      {"sr", "sr-Cyrl"},
      {"sr-RS", "sr-Cyrl"},
      {"sr-Cyrl", "sr-Cyrl"},
      {"sr-Latn", "sr-Latn"},
      {"sr-Latn-RS", "sr-Latn"},
      {"SR-LATN", "sr-Latn"},
      {"en-GB", "en"},
      {"EN", "en"},
      {"ug", "ug"},
      {"ug-Arab-CN", "ug"},
      {"hr-HR", "hr"},
      {"bs", "bs"},
      {"sq-XK", "sq"},
      {"mk", "mk"},
      {"ru-UA", "ru"},
      {"de", std::nullopt},
      {"*", std::nullopt},
      {"", std::nullopt},
      {"english", std::nullopt},
  };
  for (const auto& [range, tag] : cases) EXPECT_EQ(i18n::match(range), tag) << range;
}

TEST(LanguageChoice, QueryWinsThenAcceptLanguageThenEnglish) {
  const std::vector<std::tuple<std::string_view, std::string_view, std::string_view, bool>> cases =
      {
          {"/report?lang=ug", "ru", "ug", false},
          {"/?x=1&lang=zh-Hant", "", "zh-Hant", false},
          {"/?lang=sr-latn", "", "sr-Latn", false},
          {"/report?lang=xx", "ru", "ru", true},  // an unknown tag is ignored, not refused
          {"/report?lang=", "hr", "hr", true},
          {"/report?language=ug", "", "en", true},
          {"/", "", "en", true},
          {"/", "de-DE, fr;q=0.9", "en", true},
          {"/", "de-DE, ru;q=0.5, uk;q=0.9", "ru", true},
          {"/", "ru;q=0.5, zh-TW;q=0.8", "zh-Hant", true},
          {"/", "ru, zh-TW", "ru", true},  // equal q-values: the first
          {"/", "ru;q=0.8, sq;q=0.8", "ru", true},
          {"/", "mk;q=0, bs", "bs", true},
          {"/", "mk;q=0", "en", true},
          {"/", "ru;q=2, hr;q=0.1", "hr", true},  // a malformed q-value is skipped
          {"/", "ru;q=abc, bs;q=0.001", "bs", true},
          {"/", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", true},
          {"/", " sr-Latn-RS ; q=0.7 , en ; q=0.3", "sr-Latn", true},
          {"/", "*", "en", true},
          {"/", ",,;;q=,", "en", true},
      };
  for (const auto& [target, accept, tag, negotiated] : cases) {
    SCOPED_TRACE(std::string(target) + " / " + std::string(accept));
    const i18n::Choice choice = i18n::choose(target, accept);
    EXPECT_EQ(choice.tag, tag);
    EXPECT_EQ(choice.negotiated, negotiated);
  }
  // Only the first 32 ranges count, and a range longer than 64 bytes is skipped: a header
  // built to cost time chooses nothing beyond them.
  std::string many;
  for (int i = 0; i < 32; ++i) many += "xx,";
  EXPECT_EQ(i18n::choose("/", many + "ru").tag, "en");
  EXPECT_EQ(i18n::choose("/", many.substr(3) + "ru").tag, "ru");
  EXPECT_EQ(i18n::choose("/", "ru-" + std::string(70, 'a') + ", bs;q=0.1").tag, "bs");
  EXPECT_EQ(i18n::choose("/", std::string(60000, ',') + "ru").tag, "en");
}

}  // namespace
}  // namespace tipline::server
