// `tipline-review report`: how many reports by incident type, country and month, as CSV,
// JSON and one self-contained HTML page (inline SVG bars, no scripts, nothing fetched).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace tipline::review {

inline constexpr std::string_view kUnknown = "unknown";

struct Counts {
  std::size_t reports = 0;
  std::map<std::string, std::size_t> incident_type;  // each chosen option counts once
  std::map<std::string, std::size_t> country;        // ISO 3166-1 alpha-2, or "unknown"
  std::map<std::string, std::size_t> month;          // "YYYY-MM", "YYYY", or "unknown"
};

// Adds one report's answers (the "answers" object of a tipline-report/1 document). A
// missing or malformed answer counts as "unknown"; an empty incident_type array too.
void count_report(Counts& counts, const boost::json::object& answers);

// "dimension,value,count" and one row per value: incident types and countries by count
// (most first, then by value), months in order with "unknown" last.
[[nodiscard]] std::string counts_csv(const Counts& counts);
// {"reports":N,"incident_type":{...},"country":{...},"month":{...}}
[[nodiscard]] boost::json::value counts_json(const Counts& counts);
// The page; every text from reports is escaped.
[[nodiscard]] std::string counts_html(const Counts& counts, std::string_view title);
// Text escaped for HTML element content and quoted attribute values.
[[nodiscard]] std::string html_escape(std::string_view text);

}  // namespace tipline::review
