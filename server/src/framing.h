// Refusals of ambiguous HTTP/1.1 message framing that Boost.Beast 1.81 lets through: a
// request smuggler's tools (RFC 9112 §5.2, §6.1, §6.3). Each is answered with 400 and a
// closed connection before any body byte is read.
#pragma once

#include <boost/beast/http/message.hpp>
#include <optional>
#include <string_view>

#include "tipline/server/log.h"

namespace tipline::server {

// What is wrong with the framing of a request, or nullopt. raw_header is the header block
// as received, up to and including the blank line; header is Beast's parse of it.
// Refused: obs-fold (a field line continued on the next line), a CR or LF outside a CRLF,
// Transfer-Encoding on HTTP/1.0, Transfer-Encoding other than exactly one "chunked",
// Transfer-Encoding with Content-Length, more than one Content-Length, and a Content-Length
// that is not 1 to 19 digits.
[[nodiscard]] std::optional<log::Literal> framing_problem(
    std::string_view raw_header, const boost::beast::http::request_header<>& header);

}  // namespace tipline::server
