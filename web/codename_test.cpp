// The browser's codename code (web/src/codename.js, run here by node) against the C++ one
// (crypto/codename.h): the same normalisation, the same check digit and identical keys
// (design §4.3), so that a codename made in the browser logs in wherever C++ derives it.
#include "tipline/crypto/codename.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/src.hpp>  // Boost.JSON compiled into this test alone
#include <set>
#include <string>
#include <vector>

#include "support/process.h"
#include "tipline/crypto/secret.h"

namespace {

namespace codename = tipline::crypto::codename;
using tipline::crypto::Secret;
using tipline::testing::Outcome;

const std::string kDeriveScript = std::string(TIPLINE_SOURCE_DIR) + "/web/test/derive.mjs";

Secret secret_of(std::string_view text) {
  Secret secret(text.size());
  std::copy(text.begin(), text.end(), secret.expose().begin());
  return secret;
}

std::string text_of(const Secret& secret) {
  return {reinterpret_cast<const char*>(secret.expose().data()), secret.size()};
}

std::vector<boost::json::object> node_lines(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{tipline::testing::find_tool("node"), kDeriveScript};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  const Outcome outcome = tipline::testing::run(argv, std::chrono::seconds(120));
  EXPECT_EQ(outcome.exit_code, 0) << tipline::testing::describe(argv, outcome);
  std::vector<boost::json::object> lines;
  for (const std::string& line : tipline::testing::lines_of(outcome.out)) {
    lines.push_back(boost::json::parse(line).as_object());
  }
  return lines;
}

// The C++ side's answer for one typed text, in the JSON shape derive.mjs prints.
boost::json::object cpp_answer(const std::string& text, const std::string& salt_hex) {
  boost::json::object answer{{"text", text}};
  const auto salt = Secret::from_hex(salt_hex);
  EXPECT_TRUE(salt.has_value());
  const auto keys = codename::derive(secret_of(text), salt->expose());
  if (!keys) {
    answer["error"] = keys.error().code == tipline::crypto::Errc::codename_check_digit
                          ? "check_digit"
                          : "malformed";
    return answer;
  }
  answer["login_secret"] = text_of(keys->login_secret.to_hex());
  answer["recipient"] = keys->identity.recipient().to_string();
  return answer;
}

TEST(BrowserCodename, DerivesTheSameKeysAndRefusesTheSameTextsAsTheCpp) {
  std::vector<std::string> texts{
      text_of(codename::display_form(codename::generate())),
      text_of(codename::generate()),
      // Separators anywhere, as a witness might type them.
      "-" + text_of(codename::generate()) + " ",
  };
  const std::string valid = text_of(codename::generate());
  std::string typo = valid;
  typo[5] = typo[5] == '9' ? '0' : static_cast<char>(typo[5] + 1);
  std::string swapped = valid;
  std::swap(swapped[10], swapped[11]);
  if (swapped == valid) swapped[10] = swapped[10] == '9' ? '0' : static_cast<char>(swapped[10] + 1);
  texts.insert(texts.end(),
               {typo, swapped, valid.substr(1), valid + "0", valid + "\t",
                "\xd9\xa3" + valid.substr(1) /* ARABIC-INDIC DIGIT THREE */,
                valid.substr(0, 4) + "\xe2\x80\x93" + valid.substr(4) /* en dash */, ""});
  for (const std::string& salt_hex :
       {std::string("00112233445566778899aabbccddeeff"), std::string(64, 'a')}) {
    SCOPED_TRACE(salt_hex);
    std::vector<std::string> arguments{salt_hex};
    arguments.insert(arguments.end(), texts.begin(), texts.end());
    const std::vector<boost::json::object> browser = node_lines(arguments);
    ASSERT_EQ(browser.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      SCOPED_TRACE(texts[i]);
      EXPECT_EQ(browser[i], cpp_answer(texts[i], salt_hex));
    }
  }
}

TEST(BrowserCodename, GeneratedCodenamesAreValidForTheCppAndDistinct) {
  const std::vector<boost::json::object> none = node_lines({"--generate", "0"});
  EXPECT_TRUE(none.empty());
  const std::vector<std::string> argv{tipline::testing::find_tool("node"), kDeriveScript,
                                      "--generate", "500"};
  const Outcome outcome = tipline::testing::run(argv);
  ASSERT_EQ(outcome.exit_code, 0) << tipline::testing::describe(argv, outcome);
  const std::vector<std::string> codenames = tipline::testing::lines_of(outcome.out);
  ASSERT_EQ(codenames.size(), 500U);
  std::set<std::string> distinct;
  std::array<int, 10> first_digit_counts{};
  for (const std::string& text : codenames) {
    ASSERT_EQ(text.size(), codename::kDigits);
    EXPECT_TRUE(codename::normalize(secret_of(text)).has_value()) << text;
    distinct.insert(text);
    ++first_digit_counts.at(static_cast<std::size_t>(text[0] - '0'));
  }
  EXPECT_EQ(distinct.size(), codenames.size());
  // 500 uniform draws put about 50 on each digit; under 20 would be a broken generator
  // (the chance of a fair one doing it is below 1e-9).
  for (const int count : first_digit_counts) EXPECT_GT(count, 20);
}

}  // namespace
