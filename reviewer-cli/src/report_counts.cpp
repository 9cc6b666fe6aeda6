#include "report_counts.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "csv.h"

namespace tipline::review {
namespace {

namespace json = boost::json;

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string month_of(const json::value* when) {
  if (when == nullptr || !when->is_string()) return std::string(kUnknown);
  const std::string_view text = when->get_string();
  if (text.size() == 4 && all_digits(text)) return std::string(text);
  if (text.size() == 7 && text[4] == '-' && all_digits(text.substr(0, 4)) &&
      all_digits(text.substr(5)) && text.substr(5) >= "01" && text.substr(5) <= "12") {
    return std::string(text);
  }
  return std::string(kUnknown);
}

std::string country_of(const json::value* country) {
  if (country == nullptr || !country->is_string()) return std::string(kUnknown);
  const std::string_view code = country->get_string();
  const bool iso = code.size() == 2 && std::all_of(code.begin(), code.end(),
                                                   [](char c) { return c >= 'A' && c <= 'Z'; });
  return iso ? std::string(code) : std::string(kUnknown);
}

using Row = std::pair<std::string, std::size_t>;

std::vector<Row> by_count(const std::map<std::string, std::size_t>& counts) {
  std::vector<Row> rows(counts.begin(), counts.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.second > b.second; });
  return rows;
}

// Months sort as text ("2024" before "2024-01"); "unknown" goes last.
std::vector<Row> by_month(const std::map<std::string, std::size_t>& counts) {
  std::vector<Row> rows;
  for (const auto& row : counts) {
    if (row.first != kUnknown) rows.emplace_back(row);
  }
  if (const auto unknown = counts.find(std::string(kUnknown)); unknown != counts.end()) {
    rows.emplace_back(*unknown);
  }
  return rows;
}

struct Dimension {
  std::string_view name;
  std::string_view title;
  std::vector<Row> rows;
};

std::vector<Dimension> dimensions(const Counts& counts) {
  return {{"incident_type", "Reports by incident type", by_count(counts.incident_type)},
          {"country", "Reports by country", by_count(counts.country)},
          {"month", "Reports by month", by_month(counts.month)}};
}

// One horizontal bar chart: a label column, a bar scaled to the largest count, the count.
std::string svg_chart(const std::vector<Row>& rows) {
  constexpr std::size_t kRow = 22;
  constexpr std::size_t kLabel = 220;
  constexpr std::size_t kBar = 360;
  std::size_t largest = 1;
  for (const auto& row : rows) largest = std::max(largest, row.second);
  const std::size_t height = rows.size() * kRow + 4;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(kLabel + kBar + 60) + "\" height=\"" + std::to_string(height) +
                    "\" role=\"img\">\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t y = i * kRow + 2;
    const std::size_t length = std::max<std::size_t>(1, rows[i].second * kBar / largest);
    const std::string label = html_escape(rows[i].first);
    svg += "<text x=\"" + std::to_string(kLabel - 6) + "\" y=\"" + std::to_string(y + 15) +
           "\" text-anchor=\"end\">" + label + "</text>";
    svg += "<rect x=\"" + std::to_string(kLabel) + "\" y=\"" + std::to_string(y + 3) +
           "\" width=\"" + std::to_string(length) + "\" height=\"16\" fill=\"#3b6ea5\">" +
           "<title>" + label + ": " + std::to_string(rows[i].second) + "</title></rect>";
    svg += "<text x=\"" + std::to_string(kLabel + length + 6) + "\" y=\"" + std::to_string(y + 15) +
           "\">" + std::to_string(rows[i].second) + "</text>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace

void count_report(Counts& counts, const json::object& answers) {
  ++counts.reports;
  const json::value* types = answers.if_contains("incident_type");
  bool counted = false;
  if (types != nullptr && types->is_array()) {
    for (const json::value& type : types->get_array()) {
      if (!type.is_string()) continue;
      ++counts.incident_type[std::string(type.get_string())];
      counted = true;
    }
  }
  if (!counted) ++counts.incident_type[std::string(kUnknown)];
  ++counts.country[country_of(answers.if_contains("country"))];
  ++counts.month[month_of(answers.if_contains("when"))];
}

std::string counts_csv(const Counts& counts) {
  std::string csv = csv_row({"dimension", "value", "count"});
  for (const Dimension& dimension : dimensions(counts)) {
    for (const auto& [value, count] : dimension.rows) {
      csv += csv_row({std::string(dimension.name), value, std::to_string(count)});
    }
  }
  return csv;
}

json::value counts_json(const Counts& counts) {
  json::object object{{"reports", counts.reports}};
  for (const Dimension& dimension : dimensions(counts)) {
    json::array rows;
    for (const auto& [value, count] : dimension.rows) {
      rows.push_back(json::object{{"value", value}, {"count", count}});
    }
    object[dimension.name] = std::move(rows);
  }
  return object;
}

std::string counts_html(const Counts& counts, std::string_view title) {
  const std::string escaped_title = html_escape(title);
  // The policy forbids everything but the inline style: even a page opened from a USB stick
  // on a connected machine fetches nothing.
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n<title>" +
      escaped_title +
      "</title>\n<style>\nbody { font-family: sans-serif; margin: 2em; color: #222; }\n"
      "svg text { font-size: 13px; font-family: sans-serif; }\n</style>\n</head>\n<body>\n"
      "<h1>" +
      escaped_title + "</h1>\n<p>" + std::to_string(counts.reports) + " reports.</p>\n";
  for (const Dimension& dimension : dimensions(counts)) {
    html += "<h2>" + html_escape(dimension.title) + "</h2>\n";
    html += dimension.rows.empty() ? std::string("<p>None.</p>\n") : svg_chart(dimension.rows);
  }
  return html + "</body>\n</html>\n";
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
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

}  // namespace tipline::review
