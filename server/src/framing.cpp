#include "framing.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <cstddef>

namespace tipline::server {
namespace {

namespace http = boost::beast::http;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? static_cast<char>(x - 'A' + 'a') : x) == y;
  });
}

std::string_view trimmed(std::string_view value) {
  const auto first = value.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = value.find_last_not_of(" \t");
  return value.substr(first, last - first + 1);
}

std::optional<log::Literal> line_problem(std::string_view raw) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && (i + 1 == raw.size() || raw[i + 1] != '\n'))
      return log::Literal("bare_cr");
    if (raw[i] == '\n') {
      if (i == 0 || raw[i - 1] != '\r') return log::Literal("bare_lf");
      // A line that starts with white space continues the previous field (obs-fold).
      if (i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t'))
        return log::Literal("obs_fold");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<log::Literal> framing_problem(std::string_view raw_header,
                                            const http::request_header<>& header) {
  if (auto problem = line_problem(raw_header)) return problem;

  std::size_t transfer_encodings = 0;
  std::size_t content_lengths = 0;
  bool chunked_only = true;
  bool length_well_formed = true;
  for (const auto& field : header) {
    if (field.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
      chunked_only = chunked_only && equals_ignoring_case(trimmed(field.value()), "chunked");
    } else if (field.name() == http::field::content_length) {
      ++content_lengths;
      const std::string_view value = trimmed(field.value());
      length_well_formed = length_well_formed && !value.empty() && value.size() <= 19 &&
                           std::all_of(value.begin(), value.end(), is_digit);
    }
  }
  if (transfer_encodings > 0) {
    if (header.version() < 11) return log::Literal("transfer_encoding_on_http_1_0");
    if (content_lengths > 0) return log::Literal("transfer_encoding_with_content_length");
    if (transfer_encodings > 1 || !chunked_only)
      return log::Literal("transfer_encoding_not_chunked");
  }
  if (content_lengths > 1) return log::Literal("duplicate_content_length");
  if (!length_well_formed) return log::Literal("malformed_content_length");
  return std::nullopt;
}

}  // namespace tipline::server
