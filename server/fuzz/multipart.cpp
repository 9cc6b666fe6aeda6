// multipart::Parser on arbitrary bodies. An input is a Content-Type value, a newline, then
// the body; boundary_of reads the value. The body is parsed in one piece, in three pieces
// cut at points derived from the input and, when short, a byte at a time: all must end with
// the same error or the same parts. A form that parses is written again in canonical form,
// which must parse to the same parts.
#include "multipart.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz.h"

namespace multipart = tipline::server::multipart;
using tipline::crypto::fuzz::as_text;
using tipline::crypto::fuzz::cut_point;
using tipline::crypto::fuzz::require;

namespace {

// Small, so that inputs reach every limit.
constexpr multipart::Limits kLimits{
    .max_parts = 8, .max_part_bytes = 4096, .max_total_bytes = 32768, .max_part_header_bytes = 512};

struct Part {
  multipart::PartHeaders headers;
  std::string data;
  bool ended = false;

  bool operator==(const Part&) const = default;
};

class Recorder : public multipart::Handler {
 public:
  tl::expected<void, multipart::Error> on_part_begin(
      const multipart::PartHeaders& headers) override {
    require(parts.empty() || parts.back().ended, "a part begins after the previous one ended");
    parts.push_back({headers, {}, false});
    return {};
  }
  tl::expected<void, multipart::Error> on_part_data(std::span<const std::byte> data) override {
    require(!data.empty(), "data comes in non-empty pieces");
    require(!parts.empty() && !parts.back().ended, "data comes within a part");
    parts.back().data.append(reinterpret_cast<const char*>(data.data()), data.size());
    return {};
  }
  tl::expected<void, multipart::Error> on_part_end() override {
    require(!parts.empty() && !parts.back().ended, "a part ends once, after it began");
    parts.back().ended = true;
    return {};
  }

  std::vector<Part> parts;
};

struct Result {
  std::vector<Part> parts;
  std::optional<multipart::Errc> error;

  bool operator==(const Result& other) const {
    return error == other.error && (error || parts == other.parts);
  }
};

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Parses body fed in the pieces that cuts (ascending offsets) separate, then finishes.
Result parse(std::string_view body, std::string_view boundary, const multipart::Limits& limits,
             const std::vector<std::size_t>& cuts) {
  Recorder recorder;
  multipart::Parser parser(boundary, limits, recorder);
  std::size_t start = 0;
  tl::expected<void, multipart::Error> status;
  for (const std::size_t end : cuts) {
    if (status) status = parser.feed(as_bytes(body.substr(start, end - start)));
    start = end;
  }
  if (status) status = parser.feed(as_bytes(body.substr(start)));
  if (status) status = parser.finish();
  Result result{std::move(recorder.parts), std::nullopt};
  if (!status) result.error = status.error().code;
  return result;
}

std::string quoted(std::string_view text) {
  std::string result = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') result += '\\';
    result += c;
  }
  return result + '"';
}

// Every byte percent-encoded, so that any filename survives.
std::string extended(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string result = "UTF-8''";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    result += '%';
    result += kHex[byte >> 4];
    result += kHex[byte & 0xf];
  }
  return result;
}

std::string serialize(const std::vector<Part>& parts, std::string_view boundary) {
  const std::string dash_boundary = "--" + std::string(boundary);
  std::string body;
  for (const auto& part : parts) {
    body += dash_boundary + "\r\nContent-Disposition: form-data; name=" + quoted(part.headers.name);
    if (part.headers.filename) body += "; filename*=" + extended(*part.headers.filename);
    body += "\r\n";
    if (!part.headers.content_type.empty()) {
      body += "Content-Type: " + part.headers.content_type + "\r\n";
    }
    body += "\r\n" + part.data + "\r\n";
  }
  return body + dash_boundary + "--\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text({data, size});
  const auto newline = input.find('\n');
  const auto boundary = multipart::boundary_of(input.substr(0, newline));
  if (!boundary) return 0;
  require(!boundary->empty() && boundary->size() <= 70, "a boundary has 1 to 70 characters");
  require(boundary->find_first_of("\r\n\"") == std::string::npos,
          "a boundary holds no CR, LF or quote");
  if (newline == std::string_view::npos) return 0;
  const std::string_view body = input.substr(newline + 1);

  const Result whole = parse(body, *boundary, kLimits, {});
  const std::span<const std::uint8_t> body_bytes(data + newline + 1, body.size());
  std::size_t a = cut_point(body_bytes, 1);
  std::size_t b = cut_point(body_bytes, 2);
  if (a > b) std::swap(a, b);
  require(parse(body, *boundary, kLimits, {a, b}) == whole, "three pieces parse as one");
  if (body.size() <= 2048) {
    std::vector<std::size_t> every_byte(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) every_byte[i] = i;
    require(parse(body, *boundary, kLimits, every_byte) == whole, "single bytes parse as one");
  }
  if (whole.error) return 0;

  require(whole.parts.size() <= kLimits.max_parts, "the part limit holds");
  std::size_t data_bytes = 0;
  for (const auto& part : whole.parts) {
    require(part.ended, "every part of a parsed form ended");
    require(part.data.size() <= kLimits.max_part_bytes, "the part size limit holds");
    data_bytes += part.data.size();
  }
  require(data_bytes <= body.size(), "parts hold no more data than the body");

  // The canonical form is larger (escaped names, percent-encoded filenames): only the parts'
  // data keeps its limit.
  multipart::Limits canonical_limits = kLimits;
  canonical_limits.max_total_bytes = std::uint64_t{1} << 40;
  canonical_limits.max_part_header_bytes = std::size_t{1} << 20;
  const Result again = parse(serialize(whole.parts, *boundary), *boundary, canonical_limits, {});
  require(again == whole, "the canonical form parses to the same parts");
  return 0;
}
