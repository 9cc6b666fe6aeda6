// A streaming multipart/form-data parser (RFC 7578 over RFC 2046), for the no-JavaScript
// report form. It does no I/O: the caller pushes the body in with feed() as it arrives and a
// Handler receives each part's headers, then its bytes in pieces, then its end. Only one
// part's header block is buffered; data passes straight through, except that a possible
// delimiter prefix at the end of a feed() waits for the next one. Memory never grows with
// the size of a part or of the body.
//
// Decisions:
// - Line ends must be CRLF, as RFC 2046 and RFC 7578 require and as browsers and curl send.
//   Bare LF is refused (Errc::malformed) rather than guessed at, since accepting it would
//   make the bytes just before a boundary ambiguous and could alter an uploaded file.
// - A part's data excludes the CRLF before the next boundary, which belongs to the boundary.
//   A boundary must be followed by "--" (the closing boundary), or by optional spaces and
//   tabs then CRLF: "--boundaryX" at a line start is malformed, not data (RFC 2046 forbids
//   the delimiter inside a part). "--boundary" anywhere else is data.
// - The preamble and the epilogue are skipped, bounded only by Limits::max_total_bytes.
// - Headers: names are case-insensitive, other headers than Content-Disposition and
//   Content-Type are ignored, and folded lines, control characters and a repeated
//   Content-Disposition or Content-Type are refused.
// - Content-Disposition must be `form-data` with a `name`. In quoted-strings a backslash
//   escapes only `"` and `\`; before any other character it is literal, since browsers
//   never escape backslashes (Windows paths, curl's default). Browsers and curl escape `"`,
//   CR and LF as %22, %0D and %0A instead (HTML standard); those are not decoded, because a
//   literal "%22" cannot be told apart.
// - `filename*=` (RFC 5987), which RFC 7578 forbids senders to use but some libraries
//   send, is decoded when its charset is UTF-8 or ISO-8859-1 (converted to UTF-8) and wins
//   over `filename` (RFC 6266). Another charset, or a malformed value, is refused.
// - Names, filenames and content types are untrusted bytes: not checked to be UTF-8, and a
//   filename may hold '/' or "..". Error messages never quote the input.
//
// Thread safety: a Parser is a single-threaded object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace tipline::server::multipart {

enum class Errc {
  content_type,           // boundary_of: not multipart/form-data, or not a media type at all
  boundary,               // boundary_of: boundary parameter missing, repeated or invalid
  malformed,              // the body breaks RFC 2046 or RFC 7578 (framing or part headers)
  truncated,              // finish(): the body ended before its closing boundary
  too_many_parts,         // more parts than Limits::max_parts
  part_too_large,         // a part's data is longer than Limits::max_part_bytes
  total_too_large,        // the body is longer than Limits::max_total_bytes
  part_header_too_large,  // a part's header block is longer than Limits::max_part_header_bytes
  handler,                // for Handler callbacks that refuse; the parser never returns it itself
};

struct Error {
  Errc code;
  std::string message;
};

// The boundary of a multipart/form-data Content-Type header value: 1 to 70 of RFC 2046's
// bchars, not ending in a space, given as a token or a quoted-string. Media type and
// parameter names are case-insensitive; other parameters are ignored.
[[nodiscard]] tl::expected<std::string, Error> boundary_of(std::string_view content_type);

// Only the header block's limit has a default: zero allows no part, no part data, no body.
struct Limits {
  std::size_t max_parts = 0;
  std::uint64_t max_part_bytes = 0;   // data of one part, not counting its headers
  std::uint64_t max_total_bytes = 0;  // every byte fed: framing, headers, preamble, epilogue
  // Everything between a part's boundary and its data: optional spaces, the boundary line's
  // CRLF, the header lines and the empty line that ends them.
  std::size_t max_part_header_bytes = std::size_t{8} * 1024;
};

struct PartHeaders {
  std::string name;                     // the form field's name; may be empty
  std::optional<std::string> filename;  // set for file fields; "" when no file was chosen
  std::string content_type;             // Content-Type as sent, trimmed; "" when absent

  bool operator==(const PartHeaders&) const = default;
};

// Receives the parts in order: for each, on_part_begin, then on_part_data zero or more times
// with non-empty pieces of its data, then on_part_end. A piece is valid only during the call.
// A callback that returns an error stops the parser, which returns that error unchanged
// (use Errc::handler) and calls nothing more.
class Handler {
 public:
  virtual ~Handler() = default;
  [[nodiscard]] virtual tl::expected<void, Error> on_part_begin(const PartHeaders& headers) = 0;
  [[nodiscard]] virtual tl::expected<void, Error> on_part_data(std::span<const std::byte> data) = 0;
  [[nodiscard]] virtual tl::expected<void, Error> on_part_end() = 0;
};

class Parser {
 public:
  // boundary must be valid as boundary_of returns it (asserted). handler is borrowed and
  // must outlive the Parser.
  Parser(std::string_view boundary, const Limits& limits, Handler& handler);

  // Parses the next bytes of the body, split anywhere: how the body is cut into feed() calls
  // changes only the sizes of on_part_data's pieces and, before an error, how much data was
  // passed on; never the headers, the joined data of a part, or which error is returned.
  // After an error, feed() and finish() return that error again and call nothing.
  [[nodiscard]] tl::expected<void, Error> feed(std::span<const std::byte> bytes);
  // The end of the body: succeeds once the closing boundary has been fed. Call once, after
  // the last feed().
  [[nodiscard]] tl::expected<void, Error> finish();

 private:
  enum class State {
    preamble,        // before the first boundary
    after_boundary,  // just after a boundary: "--", padding or CRLF must follow
    closing,         // after "--boundary-": the second '-' must follow
    padding,         // spaces and tabs after a boundary
    line_feed,       // after a boundary's CR
    headers,         // a part's header lines
    data,            // a part's data
    epilogue,        // after the closing boundary
  };

  [[nodiscard]] tl::expected<std::size_t, Error> step(std::span<const std::byte> bytes);
  [[nodiscard]] tl::expected<std::size_t, Error> scan(std::span<const std::byte> bytes);
  [[nodiscard]] tl::expected<void, Error> emit(std::span<const std::byte> data);
  [[nodiscard]] tl::expected<void, Error> boundary_found();
  [[nodiscard]] tl::expected<std::size_t, Error> header_line(std::span<const std::byte> bytes);
  [[nodiscard]] tl::expected<std::size_t, Error> count_header_bytes(std::size_t count);
  [[nodiscard]] tl::unexpected<Error> fail(Error error);

  std::string delimiter_;  // CRLF "--" boundary
  Limits limits_;
  Handler& handler_;
  State state_ = State::preamble;
  // How many bytes of delimiter_ the bytes fed so far end with, while they may begin one.
  // The body starts as if after a CRLF, so that it may open with its first boundary.
  std::size_t matched_ = 2;
  std::string header_;          // the current part's header lines, up to the limit
  std::size_t line_start_ = 0;  // where in header_ the line being received starts
  std::size_t header_bytes_ = 0;
  std::uint64_t part_bytes_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::size_t parts_ = 0;
  std::optional<Error> error_;
};

}  // namespace tipline::server::multipart
