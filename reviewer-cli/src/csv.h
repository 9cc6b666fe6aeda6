// CSV as RFC 4180 writes it, for spreadsheets that reviewers open without thinking twice.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tipline::review {

// One field: quoted when it holds a comma, quote, CR or LF (quotes doubled). A field starting
// with = + - @, a tab or a CR is prefixed with ' first, so that a spreadsheet shows a
// report's text instead of running it as a formula (CSV injection).
[[nodiscard]] std::string csv_field(std::string_view text);
// The fields joined by commas, ending in CRLF.
[[nodiscard]] std::string csv_row(const std::vector<std::string>& fields);

}  // namespace tipline::review
