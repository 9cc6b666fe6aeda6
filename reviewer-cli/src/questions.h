// How answers of a tipline-report/1 document are shown: the built-in questionnaire's labels
// (web/questionnaire.toml; an instance with its own questions gets readable ids instead),
// and the order questions are shown in.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tipline::review {

// The built-in question's label, else the id made readable ("safe_contact" -> "Safe contact").
[[nodiscard]] std::string question_label(std::string_view id);
// The built-in option's label for a choice answer, else the value itself.
[[nodiscard]] std::string option_label(std::string_view question, std::string_view value);
// The answers' ids: built-in questions in questionnaire order, then the others as stored.
[[nodiscard]] std::vector<std::string> answer_order(const boost::json::object& answers);
// An answer as one line of text: strings as they are, arrays joined with `separator`,
// anything else as JSON.
[[nodiscard]] std::string answer_text(const boost::json::value& answer,
                                      std::string_view separator = "; ");

}  // namespace tipline::review
