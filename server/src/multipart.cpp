#include "multipart.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>
#include <vector>

namespace tipline::server::multipart {
namespace {

constexpr std::size_t kMaxBoundaryBytes = 70;  // RFC 2046, section 5.1.1

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_bchar(char c) {
  return is_alnum(c) || std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

bool is_tchar(char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 5987's attr-char: what a filename* value may hold besides %XX.
bool is_attr_char(char c) { return is_tchar(c) && c != '*' && c != '\'' && c != '%'; }

bool is_ows(char c) { return c == ' ' || c == '\t'; }

bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), is_control);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

bool valid_boundary(std::string_view boundary) {
  return !boundary.empty() && boundary.size() <= kMaxBoundaryBytes && boundary.back() != ' ' &&
         std::all_of(boundary.begin(), boundary.end(), is_bchar);
}

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

Error malformed(std::string message) { return {Errc::malformed, std::move(message)}; }

// Reads the grammar that Content-Type and Content-Disposition values share (RFC 9110).
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  [[nodiscard]] bool done() const { return pos_ == text_.size(); }

  void skip_ows() {
    while (!done() && is_ows(text_[pos_])) ++pos_;
  }

  bool consume(char c) {
    if (done() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  std::string_view token() {
    const std::size_t start = pos_;
    while (!done() && is_tchar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // The contents of a quoted-string whose opening quote was consumed; nullopt when it does not
  // end. A backslash escapes only '"' and '\' (see multipart.h).
  std::optional<std::string> quoted() {
    std::string value;
    while (!done()) {
      const char c = text_[pos_++];
      if (c == '"') return value;
      if (c == '\\' && !done() && (text_[pos_] == '"' || text_[pos_] == '\\')) {
        value += text_[pos_++];
      } else {
        value += c;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

struct Parameter {
  std::string_view name;
  std::string value;
  bool quoted = false;
};

// The `*( OWS ";" OWS name "=" value )` after a media or disposition type, to the end of the
// text; a trailing ";" is tolerated. nullopt when the text does not parse.
std::optional<std::vector<Parameter>> parameters(Cursor& cursor) {
  std::vector<Parameter> result;
  for (;;) {
    cursor.skip_ows();
    if (cursor.done()) return result;
    if (!cursor.consume(';')) return std::nullopt;
    cursor.skip_ows();
    if (cursor.done()) return result;
    Parameter parameter;
    parameter.name = cursor.token();
    cursor.skip_ows();
    if (parameter.name.empty() || !cursor.consume('=')) return std::nullopt;
    cursor.skip_ows();
    if (cursor.consume('"')) {
      auto value = cursor.quoted();
      if (!value) return std::nullopt;
      parameter.value = std::move(*value);
      parameter.quoted = true;
    } else {
      parameter.value = cursor.token();
      if (parameter.value.empty()) return std::nullopt;
    }
    result.push_back(std::move(parameter));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5987's ext-value, `charset'[language]'value-chars`, as UTF-8; nullopt when malformed
// or in another charset than UTF-8 and ISO-8859-1.
std::optional<std::string> decode_ext_value(std::string_view text) {
  const auto charset_end = text.find('\'');
  if (charset_end == std::string_view::npos) return std::nullopt;
  const auto language_end = text.find('\'', charset_end + 1);
  if (language_end == std::string_view::npos) return std::nullopt;
  const auto charset = text.substr(0, charset_end);
  const bool latin1 = iequals(charset, "ISO-8859-1");
  if (!latin1 && !iequals(charset, "UTF-8")) return std::nullopt;
  std::string result;
  for (std::size_t i = language_end + 1; i < text.size(); ++i) {
    unsigned byte = static_cast<unsigned char>(text[i]);
    if (text[i] == '%') {
      const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int low = high < 0 ? -1 : hex_value(text[i + 2]);
      if (low < 0) return std::nullopt;
      byte = static_cast<unsigned>(high * 16 + low);
      i += 2;
    } else if (!is_attr_char(text[i])) {
      return std::nullopt;
    }
    if (latin1 && byte >= 0x80) {
      result += static_cast<char>(0xc0 | (byte >> 6));
      result += static_cast<char>(0x80 | (byte & 0x3f));
    } else {
      result += static_cast<char>(byte);
    }
  }
  return result;
}

tl::expected<PartHeaders, Error> parse_disposition(std::string_view value) {
  Cursor cursor(value);
  if (!iequals(cursor.token(), "form-data")) {
    return tl::unexpected(malformed("a part's Content-Disposition is not form-data"));
  }
  auto parsed = parameters(cursor);
  if (!parsed) return tl::unexpected(malformed("a part's Content-Disposition is malformed"));
  std::optional<std::string> name;
  std::optional<std::string> filename;
  std::optional<std::string> extended_filename;
  for (auto& parameter : *parsed) {
    std::optional<std::string>* slot = nullptr;
    if (iequals(parameter.name, "name")) {
      slot = &name;
    } else if (iequals(parameter.name, "filename")) {
      slot = &filename;
    } else if (iequals(parameter.name, "filename*")) {
      slot = &extended_filename;
      // RFC 5987 values are tokens; a quoted one was not made by its rules.
      auto decoded = parameter.quoted ? std::nullopt : decode_ext_value(parameter.value);
      if (!decoded) return tl::unexpected(malformed("a part's filename* is malformed"));
      parameter.value = std::move(*decoded);
    } else {
      continue;
    }
    if (*slot) return tl::unexpected(malformed("a part's Content-Disposition repeats a parameter"));
    *slot = std::move(parameter.value);
  }
  if (!name) return tl::unexpected(malformed("a part's Content-Disposition has no name"));
  return PartHeaders{
      std::move(*name), extended_filename ? std::move(extended_filename) : std::move(filename), {}};
}

// One part's header lines, each ending in CRLF and free of control characters.
tl::expected<PartHeaders, Error> parse_headers(std::string_view lines) {
  std::optional<std::string_view> disposition;
  std::optional<std::string_view> content_type;
  while (!lines.empty()) {
    const auto end = lines.find("\r\n");
    const auto line = lines.substr(0, end);
    lines.remove_prefix(end + 2);
    const auto colon = line.find(':');
    const auto name = line.substr(0, colon);
    // A leading space is obsolete line folding, a space before the colon is forbidden
    // (RFC 9112, section 5): both give the name no tchar.
    if (colon == std::string_view::npos || name.empty() ||
        !std::all_of(name.begin(), name.end(), is_tchar)) {
      return tl::unexpected(malformed("a part header line is not NAME: VALUE"));
    }
    auto* const slot = iequals(name, "Content-Disposition") ? &disposition
                       : iequals(name, "Content-Type")      ? &content_type
                                                            : nullptr;
    if (slot == nullptr) continue;
    if (*slot) return tl::unexpected(malformed("a part repeats a header"));
    *slot = trim(line.substr(colon + 1));
  }
  if (!disposition) return tl::unexpected(malformed("a part has no Content-Disposition"));
  auto headers = parse_disposition(*disposition);
  if (headers && content_type) headers->content_type = *content_type;
  return headers;
}

}  // namespace

tl::expected<std::string, Error> boundary_of(std::string_view content_type) {
  Cursor cursor(content_type);
  cursor.skip_ows();
  const auto type = cursor.token();
  const bool slash = cursor.consume('/');
  const auto subtype = cursor.token();
  if (has_control(content_type) || !slash || !iequals(type, "multipart") ||
      !iequals(subtype, "form-data")) {
    return tl::unexpected(Error{Errc::content_type, "the content type is not multipart/form-data"});
  }
  auto parsed = parameters(cursor);
  if (!parsed) {
    return tl::unexpected(Error{Errc::content_type, "the content type's parameters are malformed"});
  }
  std::optional<std::string> boundary;
  for (auto& parameter : *parsed) {
    if (!iequals(parameter.name, "boundary")) continue;
    if (boundary) return tl::unexpected(Error{Errc::boundary, "the boundary is given twice"});
    boundary = std::move(parameter.value);
  }
  if (!boundary) return tl::unexpected(Error{Errc::boundary, "the content type has no boundary"});
  if (!valid_boundary(*boundary)) {
    return tl::unexpected(
        Error{Errc::boundary, "the boundary is not 1 to 70 of the characters RFC 2046 allows"});
  }
  return std::move(*boundary);
}

Parser::Parser(std::string_view boundary, const Limits& limits, Handler& handler)
    : delimiter_("\r\n--" + std::string(boundary)), limits_(limits), handler_(handler) {
  // scan() relies on the delimiter holding no CR but its first byte.
  assert(valid_boundary(boundary));
}

tl::expected<void, Error> Parser::feed(std::span<const std::byte> bytes) {
  if (error_) return tl::unexpected(*error_);
  // The bytes within the limit are parsed before it is enforced, so that the first problem
  // in the body is the one reported, however the body was split.
  const auto room = limits_.max_total_bytes - total_bytes_;
  const auto within = bytes.first(bytes.size() < room ? bytes.size() : room);
  total_bytes_ += within.size();
  for (std::size_t pos = 0; pos < within.size();) {
    auto used = step(within.subspan(pos));
    if (!used) return fail(std::move(used.error()));
    pos += *used;
  }
  if (within.size() < bytes.size()) {
    return fail({Errc::total_too_large, "the form is larger than allowed"});
  }
  return {};
}

tl::expected<void, Error> Parser::finish() {
  if (error_) return tl::unexpected(*error_);
  if (state_ == State::epilogue) return {};
  if (state_ == State::preamble) return fail(malformed("the form has no boundary line"));
  return fail({Errc::truncated, "the form ends before its closing boundary"});
}

// Parses from the start of bytes (not empty) and returns how many bytes it used.
tl::expected<std::size_t, Error> Parser::step(std::span<const std::byte> bytes) {
  const auto c = static_cast<char>(bytes.front());
  switch (state_) {
    case State::preamble:
    case State::data:
      return scan(bytes);
    case State::headers:
      return header_line(bytes);
    case State::after_boundary:
    case State::padding:
      if (c == '-' && state_ == State::after_boundary) {
        state_ = State::closing;
        return 1;
      }
      if (!is_ows(c) && c != '\r') return tl::unexpected(malformed("a boundary line is malformed"));
      state_ = c == '\r' ? State::line_feed : State::padding;
      return count_header_bytes(1);
    case State::line_feed:
      if (c != '\n') return tl::unexpected(malformed("a boundary line does not end in CRLF"));
      if (++parts_ > limits_.max_parts) {
        return tl::unexpected(Error{Errc::too_many_parts, "the form has more parts than allowed"});
      }
      state_ = State::headers;
      return count_header_bytes(1);
    case State::closing:
      if (c != '-') return tl::unexpected(malformed("a boundary line is malformed"));
      state_ = State::epilogue;
      return 1;
    case State::epilogue:
      break;
  }
  return bytes.size();  // the epilogue is ignored
}

// Passes on or skips bytes up to the next delimiter, holding back (in matched_) a delimiter
// prefix at the end of the bytes until the next ones tell whether it is one.
tl::expected<std::size_t, Error> Parser::scan(std::span<const std::byte> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::string_view delimiter = delimiter_;
  std::size_t pos = 0;
  if (matched_ > 0) {
    while (matched_ < delimiter.size() && pos < text.size() && text[pos] == delimiter[matched_]) {
      ++matched_;
      ++pos;
    }
    if (matched_ == delimiter.size()) {
      matched_ = 0;
      if (auto found = boundary_found(); !found) return tl::unexpected(std::move(found.error()));
      return pos;
    }
    if (pos == text.size()) return pos;
    // Not a delimiter after all, and no other one starts within the held bytes, since only
    // the delimiter's first byte is a CR: they are data.
    const auto held = delimiter.substr(0, std::exchange(matched_, 0));
    if (auto emitted = emit(as_bytes(held)); !emitted) return tl::unexpected(emitted.error());
  }
  for (const std::size_t start = pos;; ++pos) {
    pos = text.find('\r', pos);
    if (pos == std::string_view::npos) {
      if (auto emitted = emit(as_bytes(text.substr(start))); !emitted) {
        return tl::unexpected(emitted.error());
      }
      return text.size();
    }
    const auto candidate = text.substr(pos, delimiter.size());
    // A candidate shorter than the delimiter runs to the end of the bytes.
    if (!delimiter.starts_with(candidate)) continue;
    if (auto emitted = emit(as_bytes(text.substr(start, pos - start))); !emitted) {
      return tl::unexpected(emitted.error());
    }
    if (candidate.size() < delimiter.size()) {
      matched_ = candidate.size();
      return text.size();
    }
    if (auto found = boundary_found(); !found) return tl::unexpected(std::move(found.error()));
    return pos + delimiter.size();
  }
}

tl::expected<void, Error> Parser::emit(std::span<const std::byte> data) {
  if (data.empty() || state_ == State::preamble) return {};
  if (data.size() > limits_.max_part_bytes - part_bytes_) {
    return tl::unexpected(Error{Errc::part_too_large, "a part of the form is larger than allowed"});
  }
  part_bytes_ += data.size();
  return handler_.on_part_data(data);
}

tl::expected<void, Error> Parser::boundary_found() {
  const bool part_ends = state_ == State::data;
  state_ = State::after_boundary;
  header_bytes_ = 0;
  if (part_ends) return handler_.on_part_end();
  return {};
}

// Takes header bytes up to the end of a line; at the empty line that ends the headers,
// parses them and begins the part.
tl::expected<std::size_t, Error> Parser::header_line(std::span<const std::byte> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto newline = text.find('\n');
  const auto used = newline == std::string_view::npos ? text.size() : newline + 1;
  if (auto counted = count_header_bytes(used); !counted) return counted;
  header_.append(text.substr(0, used));
  if (newline == std::string_view::npos) return used;

  const auto line = std::string_view(header_).substr(std::exchange(line_start_, header_.size()));
  if (line.size() < 2 || line[line.size() - 2] != '\r') {
    return tl::unexpected(malformed("a part header line does not end in CRLF"));
  }
  const auto content = line.substr(0, line.size() - 2);
  if (has_control(content)) {
    return tl::unexpected(malformed("a part header holds a control character"));
  }
  if (!content.empty()) return used;

  auto headers = parse_headers(std::string_view(header_).substr(0, header_.size() - 2));
  if (!headers) return tl::unexpected(std::move(headers.error()));
  header_.clear();
  line_start_ = 0;
  part_bytes_ = 0;
  state_ = State::data;
  if (auto begun = handler_.on_part_begin(*headers); !begun) {
    return tl::unexpected(std::move(begun.error()));
  }
  return used;
}

tl::expected<std::size_t, Error> Parser::count_header_bytes(std::size_t count) {
  if (count > limits_.max_part_header_bytes - header_bytes_) {
    return tl::unexpected(
        Error{Errc::part_header_too_large, "a part's headers are larger than allowed"});
  }
  header_bytes_ += count;
  return count;
}

tl::unexpected<Error> Parser::fail(Error error) {
  error_ = error;
  return tl::unexpected(std::move(error));
}

}  // namespace tipline::server::multipart
