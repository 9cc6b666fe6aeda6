// The request layer: turns one parsed request into one response. It knows no sockets,
// streams or connections, so it is tested without a network.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

namespace tipline::server {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

enum class Side { source, reviewer };

struct RequestContext {
  Side side = Side::source;
  bool tls = true;
};

// Every response, errors included, carries the security headers and a prepared payload.
[[nodiscard]] Response handle_request(const Request& request, const RequestContext& context);

// A JSON error response, for requests that could not be parsed or read.
[[nodiscard]] Response error_response(boost::beast::http::status status, unsigned version,
                                      const RequestContext& context);

}  // namespace tipline::server
