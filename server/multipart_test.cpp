#include "multipart.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace tipline::server::multipart {
namespace {

using namespace std::string_literals;

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

struct Part {
  PartHeaders headers;
  std::string data;
  bool ended = false;

  bool operator==(const Part&) const = default;
};

void PrintTo(const Part& part, std::ostream* out) {
  *out << "{name=" << testing::PrintToString(part.headers.name)
       << " filename=" << testing::PrintToString(part.headers.filename)
       << " type=" << testing::PrintToString(part.headers.content_type)
       << " data=" << testing::PrintToString(part.data) << (part.ended ? "" : " unended") << "}";
}

// Records what the parser reports, joining each part's pieces.
class Recorder : public Handler {
 public:
  tl::expected<void, Error> on_part_begin(const PartHeaders& headers) override {
    EXPECT_TRUE(parts.empty() || parts.back().ended);
    parts.push_back({headers, {}, false});
    return {};
  }
  tl::expected<void, Error> on_part_data(std::span<const std::byte> data) override {
    EXPECT_FALSE(data.empty());
    EXPECT_TRUE(!parts.empty() && !parts.back().ended);
    parts.back().data.append(reinterpret_cast<const char*>(data.data()), data.size());
    ++pieces;
    return {};
  }
  tl::expected<void, Error> on_part_end() override {
    EXPECT_TRUE(!parts.empty() && !parts.back().ended);
    parts.back().ended = true;
    return {};
  }

  std::vector<Part> parts;
  std::size_t pieces = 0;
};

constexpr Limits kLimits{.max_parts = 100,
                         .max_part_bytes = std::uint64_t{1} << 20,
                         .max_total_bytes = std::uint64_t{8} << 20,
                         .max_part_header_bytes = std::size_t{8} << 10};

struct Result {
  std::vector<Part> parts;
  std::optional<Errc> error;
};

// Parses body fed in the pieces that cuts (ascending offsets) separate, then finishes.
Result parse_cut(std::string_view body, const std::vector<std::size_t>& cuts,
                 std::string_view boundary = "B", const Limits& limits = kLimits) {
  Recorder recorder;
  Parser parser(boundary, limits, recorder);
  std::size_t start = 0;
  tl::expected<void, Error> status;
  for (std::size_t end : cuts) {
    if (status) status = parser.feed(as_bytes(body.substr(start, end - start)));
    start = end;
  }
  if (status) status = parser.feed(as_bytes(body.substr(start)));
  if (status) status = parser.finish();
  Result result{std::move(recorder.parts), std::nullopt};
  if (!status) result.error = status.error().code;
  return result;
}

Result parse(std::string_view body, std::string_view boundary = "B",
             const Limits& limits = kLimits) {
  return parse_cut(body, {}, boundary, limits);
}

// Parses body in one piece, one byte at a time and in every two pieces, and expects the same
// error or, on success, the same parts every time. Returns the one-piece result.
Result parse_every_way(std::string_view body, std::string_view boundary = "B",
                       const Limits& limits = kLimits) {
  Result whole = parse(body, boundary, limits);
  std::vector<std::vector<std::size_t>> cuttings;
  std::vector<std::size_t> every_byte;
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    cuttings.push_back({cut});
    every_byte.push_back(cut);
  }
  cuttings.push_back(every_byte);
  for (const auto& cuts : cuttings) {
    const Result split = parse_cut(body, cuts, boundary, limits);
    EXPECT_EQ(split.error, whole.error) << "cut at " << cuts.front() << " of " << cuts.size();
    if (!whole.error) {
      EXPECT_EQ(split.parts, whole.parts) << "cut at " << cuts.front() << " of " << cuts.size();
    }
  }
  return whole;
}

std::optional<Errc> boundary_error(std::string_view content_type) {
  const auto boundary = boundary_of(content_type);
  return boundary ? std::nullopt : std::optional(boundary.error().code);
}

PartHeaders field(std::string name) { return {std::move(name), std::nullopt, ""}; }

PartHeaders file(std::string name, std::string filename, std::string type) {
  return {std::move(name), std::move(filename), std::move(type)};
}

// --- boundary_of ---

TEST(MultipartBoundary, ReadsTokenAndQuotedBoundaries) {
  EXPECT_EQ(boundary_of("multipart/form-data; boundary=----WebKitFormBoundaryx7Y2"),
            "----WebKitFormBoundaryx7Y2");
  EXPECT_EQ(boundary_of("Multipart/Form-Data;BOUNDARY=abc"), "abc");
  EXPECT_EQ(boundary_of(" multipart/form-data ; charset=utf-8 ; boundary = \"a b:c?\" ; x=y"),
            "a b:c?");
  EXPECT_EQ(boundary_of("multipart/form-data; boundary=\"'()+_,-./:=?\""), "'()+_,-./:=?");
  EXPECT_EQ(boundary_of("multipart/form-data; boundary=" + std::string(70, 'x')),
            std::string(70, 'x'));
}

TEST(MultipartBoundary, RefusesOtherContentTypes) {
  for (const auto* type : {"multipart/mixed; boundary=abc", "text/plain; boundary=abc",
                           "application/x-www-form-urlencoded", "", "multipart", "multipart/",
                           "form-data; boundary=abc", "multipart/form-data-x; boundary=abc",
                           "multipart/form-data; boundary=abc\r\n", "multipart/form-data;; b=c",
                           "multipart/form-data; boundary=\"abc", "multipart/form-data x"}) {
    EXPECT_EQ(boundary_error(type), Errc::content_type) << type;
  }
}

TEST(MultipartBoundary, RefusesMissingRepeatedAndInvalidBoundaries) {
  for (const auto& type :
       {"multipart/form-data"s, "multipart/form-data; charset=utf-8"s,
        "multipart/form-data; boundary=\"\""s, "multipart/form-data; boundary=a; boundary=a"s,
        "multipart/form-data; boundary=" + std::string(71, 'x'),
        "multipart/form-data; boundary=\"ab \""s, "multipart/form-data; boundary=\"a\\\"b\""s,
        "multipart/form-data; boundary=a*b"s, "multipart/form-data; boundary=\"a\xc3\xa9\""s}) {
    EXPECT_EQ(boundary_error(type), Errc::boundary) << type;
  }
}

// --- well-formed forms ---

// The report form as Chromium posts it: its boundary style and headers, a text field, a
// textarea with CRLF line ends, a chosen file and a file input left empty (filename="",
// application/octet-stream), per the HTML standard's multipart/form-data encoding algorithm.
const std::string kChromiumBoundary = "----WebKitFormBoundaryQ8z1mJb3KxYc9TnE";
const std::string kChromiumBody =
    "------WebKitFormBoundaryQ8z1mJb3KxYc9TnE\r\n"
    "Content-Disposition: form-data; name=\"category\"\r\n"
    "\r\n"
    "fraud\r\n"
    "------WebKitFormBoundaryQ8z1mJb3KxYc9TnE\r\n"
    "Content-Disposition: form-data; name=\"details\"\r\n"
    "\r\n"
    "First line\r\nSecond line, \xc3\xa9t\xc3\xa9\r\n\r\n"
    "------WebKitFormBoundaryQ8z1mJb3KxYc9TnE\r\n"
    "Content-Disposition: form-data; name=\"attachment\"; filename=\"memo %22draft%22.pdf\"\r\n"
    "Content-Type: application/pdf\r\n"
    "\r\n"
    "%PDF-1.4\r\n\x00\x01\xff\r\n--\r\n%%EOF\r\n"s
    "------WebKitFormBoundaryQ8z1mJb3KxYc9TnE\r\n"
    "Content-Disposition: form-data; name=\"attachment\"; filename=\"\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\r\n"
    "------WebKitFormBoundaryQ8z1mJb3KxYc9TnE--\r\n";

TEST(MultipartParser, ReadsAChromiumForm) {
  const Result result = parse_every_way(kChromiumBody, kChromiumBoundary);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts,
            (std::vector<Part>{
                {field("category"), "fraud", true},
                {field("details"), "First line\r\nSecond line, \xc3\xa9t\xc3\xa9\r\n", true},
                {file("attachment", "memo %22draft%22.pdf", "application/pdf"),
                 "%PDF-1.4\r\n\x00\x01\xff\r\n--\r\n%%EOF"s, true},
                {file("attachment", "", "application/octet-stream"), "", true},
            }));
}

// Captured from curl 7.88.1: `curl -F category=fraud -F 'details=He said "hi" & left'
// -F 'evidence=@notes.txt;type=text/plain' -F 'photo=@empty.bin;filename=a"b\c.png' URL`
// posted to a local socket that saved the body. notes.txt held "line one\r\nline two\n--not
// a boundary\n" and empty.bin nothing. curl escapes '"' as %22 by default, as browsers do.
const std::string kCurlBoundary = "------------------------1bc873e212398275";
const std::string kCurlBody =
    "--------------------------1bc873e212398275\r\n"
    "Content-Disposition: form-data; name=\"category\"\r\n"
    "\r\n"
    "fraud\r\n"
    "--------------------------1bc873e212398275\r\n"
    "Content-Disposition: form-data; name=\"details\"\r\n"
    "\r\n"
    "He said \"hi\" & left\r\n"
    "--------------------------1bc873e212398275\r\n"
    "Content-Disposition: form-data; name=\"evidence\"; filename=\"notes.txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line one\r\n"
    "line two\n"
    "--not a boundary\n"
    "\r\n"
    "--------------------------1bc873e212398275\r\n"
    "Content-Disposition: form-data; name=\"photo\"; filename=\"a%22b\\c.png\"\r\n"
    "Content-Type: image/png\r\n"
    "\r\n"
    "\r\n"
    "--------------------------1bc873e212398275--\r\n";

TEST(MultipartParser, ReadsACurlForm) {
  ASSERT_EQ(boundary_of("multipart/form-data; boundary=" + kCurlBoundary), kCurlBoundary);
  const Result result = parse_every_way(kCurlBody, kCurlBoundary);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts, (std::vector<Part>{
                              {field("category"), "fraud", true},
                              {field("details"), "He said \"hi\" & left", true},
                              {file("evidence", "notes.txt", "text/plain"),
                               "line one\r\nline two\n--not a boundary\n", true},
                              {file("photo", "a%22b\\c.png", "image/png"), "", true},
                          }));
}

// Captured like kCurlBody, with `curl --form-escape -F 'na"me=x'
// -F 'photo=@empty.bin;filename=a"b\c.png'`: backslash escapes instead of %22.
TEST(MultipartParser, ReadsBackslashEscapes) {
  const std::string body =
      "--------------------------fd1154b586b976d8\r\n"
      "Content-Disposition: form-data; name=\"na\\\"me\"\r\n"
      "\r\n"
      "x\r\n"
      "--------------------------fd1154b586b976d8\r\n"
      "Content-Disposition: form-data; name=\"photo\"; filename=\"a\\\"b\\\\c.png\"\r\n"
      "Content-Type: image/png\r\n"
      "\r\n"
      "\r\n"
      "--------------------------fd1154b586b976d8--\r\n";
  const Result result = parse_every_way(body, "------------------------fd1154b586b976d8");
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts,
            (std::vector<Part>{{field("na\"me"), "x", true},
                               {file("photo", "a\"b\\c.png", "image/png"), "", true}}));
}

TEST(MultipartParser, KeepsBackslashesThatEscapeNothing) {
  const Result result = parse_every_way(
      "--B\r\nContent-Disposition: form-data; name=\"a\\b\"; filename=\"C:\\dir\\x.txt\"\r\n\r\n"
      "\r\n--B--");
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts[0].headers, file("a\\b", "C:\\dir\\x.txt", ""));
}

TEST(MultipartParser, ReadsHeadersLeniently) {
  const Result result = parse_every_way(
      "--B\r\n"
      "content-disposition: FORM-DATA;name = token_name;FileName=\"f.txt\"; x-other=\"y\";\r\n"
      "X-Ignored: whatever\r\n"
      "CONTENT-TYPE:\ttext/csv; charset=utf-8 \r\n"
      "\r\n"
      "a,b\r\n--B--");
  ASSERT_FALSE(result.error);
  EXPECT_EQ(
      result.parts,
      (std::vector<Part>{{file("token_name", "f.txt", "text/csv; charset=utf-8"), "a,b", true}}));
}

TEST(MultipartParser, DecodesExtendedFilenames) {
  const auto filename_of = [](const std::string& parameters) {
    const Result result =
        parse("--B\r\nContent-Disposition: form-data; name=f; " + parameters + "\r\n\r\n\r\n--B--");
    EXPECT_FALSE(result.error) << parameters;
    return result.parts.empty() ? std::nullopt : result.parts[0].headers.filename;
  };
  EXPECT_EQ(filename_of("filename*=UTF-8''%E2%82%AC%20rates.txt"), "\xe2\x82\xac rates.txt");
  EXPECT_EQ(filename_of("filename*=iso-8859-1'en'%A3%20rates"), "\xc2\xa3 rates");
  // It wins over filename, whichever comes first (RFC 6266, section 4.3).
  EXPECT_EQ(filename_of("filename=\"plain.txt\"; filename*=utf-8''%C3%A9.txt"), "\xc3\xa9.txt");
  EXPECT_EQ(filename_of("filename*=utf-8''%C3%A9.txt; filename=\"plain.txt\""), "\xc3\xa9.txt");
  EXPECT_EQ(filename_of("filename*=UTF-8''"), "");
}

TEST(MultipartParser, RefusesMalformedExtendedFilenames) {
  for (const auto* value : {"UTF-16''x", "UTF-8'x", "x", "UTF-8''%G0", "UTF-8''a%2", "UTF-8''a%",
                            "\"UTF-8''x\"", "UTF-8''a*b", "UTF-8''a'b"}) {
    const Result result = parse_every_way(
        "--B\r\nContent-Disposition: form-data; name=f; filename*="s + value + "\r\n\r\n\r\n--B--");
    EXPECT_EQ(result.error, Errc::malformed) << value;
  }
}

TEST(MultipartParser, PassesBinaryDataAndBoundaryLookalikes) {
  const std::string data =
      "\x00\r\n\r\r\n\n--\r\n-\r\n--boundary4\r\n--boundary4\r\r\n--boundar"
      "--boundary42\n--boundary42\r--boundary42\r\n-boundary42\r\n --boundary42\xff\r\n--"s;
  const Result result = parse_every_way(
      "--boundary42\r\nContent-Disposition: form-data; name=\"bin\"; filename=\"x.bin\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n" +
          data + "\r\n--boundary42--\r\n",
      "boundary42");
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts,
            (std::vector<Part>{{file("bin", "x.bin", "application/octet-stream"), data, true}}));
}

TEST(MultipartParser, ReadsEmptyPartsAndEmptyForms) {
  Result result = parse_every_way(
      "--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n\r\n--B--");
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts, (std::vector<Part>{{field(""), "", true}, {field("b"), "", true}}));

  Recorder recorder;
  Parser parser("B", kLimits, recorder);
  ASSERT_TRUE(parser.feed(as_bytes("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n")));
  ASSERT_TRUE(parser.feed(as_bytes("--B--")));
  ASSERT_TRUE(parser.finish());
  EXPECT_EQ(recorder.pieces, 0U);  // an empty part has no data calls

  // Chromium posts a form without successful controls as a lone closing boundary.
  result = parse_every_way("--B--\r\n");
  EXPECT_FALSE(result.error);
  EXPECT_TRUE(result.parts.empty());
}

TEST(MultipartParser, SkipsPreambleEpilogueAndPadding) {
  const Result result = parse_every_way(
      "This is a preamble --B\r\n-- B\r\n\r\n"
      "--B \t\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n"
      "--B\t\r\nContent-Disposition: form-data; name=b\r\n\r\nB\r\n"
      "--B--  \r\nEpilogue\r\n--B\r\nX\r\n--B--\r\n\x00\xff"s);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.parts, (std::vector<Part>{{field("a"), "A", true}, {field("b"), "B", true}}));
}

TEST(MultipartParser, AcceptsAClosingBoundaryWithoutLineEnd) {
  const Result result =
      parse_every_way("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n--B--");
  EXPECT_FALSE(result.error);
  EXPECT_EQ(result.parts, (std::vector<Part>{{field("a"), "A", true}}));
}

// --- limits: exactly at each is accepted, one over is refused ---

std::string form_of(std::size_t parts, const std::string& data) {
  std::string body;
  for (std::size_t i = 0; i < parts; ++i) {
    body += "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + data + "\r\n";
  }
  return body + "--B--\r\n";
}

TEST(MultipartLimits, Parts) {
  Limits limits = kLimits;
  limits.max_parts = 3;
  EXPECT_FALSE(parse_every_way(form_of(3, "x"), "B", limits).error);
  EXPECT_EQ(parse_every_way(form_of(4, "x"), "B", limits).error, Errc::too_many_parts);
  limits.max_parts = 0;
  EXPECT_FALSE(parse_every_way(form_of(0, "x"), "B", limits).error);
  EXPECT_EQ(parse_every_way(form_of(1, "x"), "B", limits).error, Errc::too_many_parts);
}

TEST(MultipartLimits, PartBytes) {
  Limits limits = kLimits;
  limits.max_part_bytes = 10;
  // The CRLF of the delimiter is not data: a part with 10 bytes and CRs near its end fits.
  EXPECT_FALSE(parse_every_way(form_of(2, "12345678\r\r"), "B", limits).error);
  EXPECT_EQ(parse_every_way(form_of(2, "12345678\r\r\n"), "B", limits).error, Errc::part_too_large);
  limits.max_part_bytes = 0;
  EXPECT_FALSE(parse_every_way(form_of(2, ""), "B", limits).error);
  EXPECT_EQ(parse_every_way(form_of(1, "\r"), "B", limits).error, Errc::part_too_large);
}

TEST(MultipartLimits, TotalBytes) {
  const std::string body = "preamble\r\n" + form_of(3, "data") + "epilogue";
  Limits limits = kLimits;
  limits.max_total_bytes = body.size();
  EXPECT_FALSE(parse_every_way(body, "B", limits).error);
  limits.max_total_bytes = body.size() - 1;
  EXPECT_EQ(parse_every_way(body, "B", limits).error, Errc::total_too_large);
  // The first problem in the body wins, however it is split.
  EXPECT_EQ(parse_every_way("--B\r\nX" + body, "B", limits).error, Errc::malformed);
}

TEST(MultipartLimits, PartHeaderBytes) {
  // Counted from the end of the boundary to the data: padding, CRLF, lines, empty line.
  const std::string line = "Content-Disposition: form-data; name=\"a\"\r\n";
  const std::string body = "--B  \r\n" + line + "\r\nA\r\n--B--";
  Limits limits = kLimits;
  limits.max_part_header_bytes = 2 + 2 + line.size() + 2;
  EXPECT_FALSE(parse_every_way(body, "B", limits).error);
  limits.max_part_header_bytes -= 1;
  EXPECT_EQ(parse_every_way(body, "B", limits).error, Errc::part_header_too_large);
  // The budget is per part.
  limits.max_part_header_bytes = 2 + line.size() + 2;
  EXPECT_FALSE(parse_every_way(form_of(5, "x"), "B", limits).error);
  // Endless padding or header lines are refused once over the limit, not buffered.
  EXPECT_EQ(parse_every_way("--B" + std::string(200, ' '), "B", limits).error,
            Errc::part_header_too_large);
  EXPECT_EQ(parse_every_way("--B\r\nX-A: " + std::string(200, 'a'), "B", limits).error,
            Errc::part_header_too_large);
}

// --- malformed and truncated bodies ---

TEST(MultipartParser, RefusesMalformedFraming) {
  const std::string part = "Content-Disposition: form-data; name=a\r\n\r\nA\r\n";
  for (const auto& body :
       {""s, "no boundary at all"s, "--C\r\n" + part + "--C--"s,  // not this boundary
        "--BX\r\n" + part + "--B--"s, "--B\r\n" + part + "--BB--"s, "--B\r\n" + part + "--B-x"s,
        "--B\r\n" + part + "--B -"s, "--B \n" + part + "--B--"s, "--B\rX" + part + "--B--"s,
        // Bare LF line ends throughout, as a hand-made body might have them.
        "--B\nContent-Disposition: form-data; name=a\n\nA\n--B--\n"s}) {
    EXPECT_EQ(parse_every_way(body).error, Errc::malformed) << testing::PrintToString(body);
  }
}

TEST(MultipartParser, RefusesMalformedPartHeaders) {
  for (const auto* headers : {
           "\r\n",                                                    // no headers
           "Content-Type: text/plain\r\n\r\n",                        // no disposition
           "Content-Disposition: form-data\r\n\r\n",                  // no name
           "Content-Disposition: form-data; filename=\"a\"\r\n\r\n",  // no name
           "Content-Disposition: attachment; name=a\r\n\r\n",         // not form-data
           "Content-Disposition: ; name=a\r\n\r\n",                   // no type
           "Content-Disposition: form-data; name=a; name=b\r\n\r\n",  // repeated name
           "Content-Disposition: form-data; name=a; FILENAME=b; filename=c\r\n\r\n",
           "Content-Disposition: form-data; name=a\r\ncontent-disposition: form-data\r\n\r\n",
           "Content-Disposition: form-data; name=a\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n",
           "Content-Disposition: form-data; name=\"a\r\n\r\n",            // unterminated quote
           "Content-Disposition: form-data; name=\"a\" x\r\n\r\n",        // junk after a value
           "Content-Disposition: form-data; name=\r\n\r\n",               // empty value
           "Content-Disposition: form-data; name a\r\n\r\n",              // no '='
           "Content-Disposition: form-data;; name=a\r\n\r\n",             // empty parameter
           "Content-Disposition: form-data; name=a\r\nno colon\r\n\r\n",  // not NAME: VALUE
           "Content-Disposition : form-data; name=a\r\n\r\n",             // space before ':'
           ": form-data; name=a\r\n\r\n",                                 // no name
           "Content-Disposition: form-data;\r\n name=a\r\n\r\n",          // folded line
           "Content-Disposition: form-data; name=\"a\x01\"\r\n\r\n",      // control character
           "Content-Disposition: form-data; name=\"a\rb\"\r\n\r\n",       // bare CR
           "Content-Disposition: form-data; name=a\n\r\n",                // bare LF line end
           "Content-Disposition: form-data; name=a\r\n\n",                // bare LF empty line
       }) {
    const std::string body = "--B\r\n"s + headers + "A\r\n--B--";
    EXPECT_EQ(parse_every_way(body).error, Errc::malformed) << testing::PrintToString(body);
  }
  EXPECT_EQ(parse_every_way("--B\r\nContent-Disposition: form-data; name=\"a\0\"\r\n\r\n\r\n--B--"s)
                .error,
            Errc::malformed);
}

TEST(MultipartParser, RefusesTruncatedBodies) {
  const std::string part = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\nA";
  for (const auto& body :
       {"--B"s, "--B "s, "--B\r"s, "--B\r\n"s, "--B\r\nContent-Dispo"s,
        "--B\r\nContent-Disposition: form-data; name=a\r\n"s, part, part + "\r\n--"s,
        part + "\r\n--B"s, part + "\r\n--B-"s, part + "\r\n--B\r\n"s}) {
    EXPECT_EQ(parse_every_way(body).error, Errc::truncated) << testing::PrintToString(body);
  }
}

// --- the handler ---

class Refuser : public Handler {
 public:
  tl::expected<void, Error> on_part_begin(const PartHeaders& headers) override {
    ++calls;
    if (headers.name == "refused") return tl::unexpected(Error{Errc::handler, "not this one"});
    return {};
  }
  tl::expected<void, Error> on_part_data(std::span<const std::byte> /*data*/) override {
    ++calls;
    return {};
  }
  tl::expected<void, Error> on_part_end() override {
    ++calls;
    return {};
  }

  int calls = 0;
};

TEST(MultipartParser, StopsAtAHandlerError) {
  Refuser refuser;
  Parser parser("B", kLimits, refuser);
  ASSERT_TRUE(parser.feed(as_bytes("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nA\r\n")));
  const auto refused =
      parser.feed(as_bytes("--B\r\nContent-Disposition: form-data; name=refused\r\n\r\nB"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::handler);
  EXPECT_EQ(refused.error().message, "not this one");
  EXPECT_EQ(refuser.calls, 4);
  const auto again = parser.feed(as_bytes("\r\n--B--"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "not this one");
  EXPECT_FALSE(parser.finish());
  EXPECT_EQ(refuser.calls, 4);
}

// --- streaming ---

// Counts and hashes what it receives, and checks the parser holds back no more than a
// delimiter prefix of what was fed.
class Streamer : public Handler {
 public:
  tl::expected<void, Error> on_part_begin(const PartHeaders& /*headers*/) override { return {}; }
  tl::expected<void, Error> on_part_data(std::span<const std::byte> data) override {
    received += data.size();
    largest_piece = std::max(largest_piece, data.size());
    for (const std::byte byte : data) hash = (hash ^ std::to_integer<std::uint64_t>(byte)) * kPrime;
    return {};
  }
  tl::expected<void, Error> on_part_end() override { return {}; }

  static constexpr std::uint64_t kPrime = 0x100000001b3U;  // FNV-1a
  std::uint64_t received = 0;
  std::size_t largest_piece = 0;
  std::uint64_t hash = 0xcbf29ce484222325U;
};

TEST(MultipartParser, StreamsALargePartInBoundedPieces) {
  constexpr std::size_t kPartBytes = std::size_t{50} * 1000 * 1000;
  constexpr std::size_t kPieceBytes = std::size_t{64} * 1024;
  const std::string boundary = "----WebKitFormBoundaryQ8z1mJb3KxYc9TnE";
  const std::string head = "--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n";
  const std::string tail = "\r\n--" + boundary + "--\r\n";
  Limits limits = kLimits;
  limits.max_part_bytes = kPartBytes;
  limits.max_total_bytes = head.size() + kPartBytes + tail.size();

  Streamer streamer;
  Parser parser(boundary, limits, streamer);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(parser.feed(as_bytes(head)));
  // Pseudo-random bytes, with CRLF "--" and boundary prefixes sprinkled through them.
  std::string piece(kPieceBytes, '\0');
  std::uint64_t state = 1;
  std::uint64_t expected_hash = Streamer{}.hash;
  for (std::size_t fed = 0; fed < kPartBytes;) {
    piece.resize(std::min(kPieceBytes, kPartBytes - fed));
    for (char& c : piece) {
      state = state * 6364136223846793005U + 1442695040888963407U;
      c = static_cast<char>(state >> 56);
    }
    piece.replace(piece.size() / 2, 10, "\r\n--" + boundary.substr(0, 6));
    for (const char c : piece) {
      expected_hash = (expected_hash ^ static_cast<unsigned char>(c)) * Streamer::kPrime;
    }
    ASSERT_TRUE(parser.feed(as_bytes(piece)));
    fed += piece.size();
    ASSERT_GE(streamer.received + boundary.size() + 4, fed);
  }
  ASSERT_TRUE(parser.feed(as_bytes(tail)));
  ASSERT_TRUE(parser.finish());
  const auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(streamer.received, kPartBytes);
  EXPECT_EQ(streamer.hash, expected_hash);
  EXPECT_LE(streamer.largest_piece, kPieceBytes);
  // Generous, for sanitizer builds on a shared machine; a release build takes well under 1 s.
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

}  // namespace
}  // namespace tipline::server::multipart
