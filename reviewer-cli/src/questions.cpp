#include "questions.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <utility>

#include "terminal_text.h"

namespace tipline::review {
namespace {

namespace json = boost::json;

// Mirrors web/questionnaire.toml; questions_test checks that they agree.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kQuestions{{
    {"what_happened", "What happened?"},
    {"when", "When did it happen?"},
    {"country", "In which country did it happen?"},
    {"city", "In which city or area?"},
    {"incident_type", "What kind of incident was it?"},
    {"involved", "Which people or organisations were involved?"},
    {"contact", "How can the reviewers reach you?"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kIncidentTypes{{
    {"pressure_to_return", "Pressure to return to the country of origin"},
    {"family_harassment", "Harassment of family members"},
    {"surveillance", "Surveillance or being followed"},
    {"online_threats", "Online threats"},
    {"detention_questioning", "Detention or questioning"},
    {"police_service_centre",
     "Contact from a so-called \xE2\x80\x9Cpolice service centre\xE2\x80\x9D"},
    {"other", "Something else"},
}};

}  // namespace

std::string question_label(std::string_view id) {
  for (const auto& [known, label] : kQuestions) {
    if (known == id) return std::string(label);
  }
  return humanize(id);
}

std::string option_label(std::string_view question, std::string_view value) {
  if (question == "incident_type") {
    for (const auto& [known, label] : kIncidentTypes) {
      if (known == value) return std::string(label);
    }
  }
  return std::string(value);
}

std::vector<std::string> answer_order(const json::object& answers) {
  std::vector<std::string> order;
  for (const auto& [known, label] : kQuestions) {
    if (answers.contains(known)) order.emplace_back(known);
  }
  for (const auto& entry : answers) {
    const std::string key(entry.key());
    if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  }
  return order;
}

std::string answer_text(const json::value& answer, std::string_view separator) {
  if (answer.is_string()) return std::string(answer.get_string());
  if (answer.is_array()) {
    std::string text;
    for (const json::value& item : answer.get_array()) {
      if (!text.empty()) text += separator;
      text += answer_text(item, separator);
    }
    return text;
  }
  return json::serialize(answer);
}

}  // namespace tipline::review
