#include "request_handler.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <string>
#include <string_view>

namespace tipline::server {
namespace {

namespace http = boost::beast::http;

void set_security_headers(Response& response, const RequestContext& context) {
  response.set("Content-Security-Policy",
               "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  response.set("Referrer-Policy", "no-referrer");
  response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::x_frame_options, "DENY");
  response.set(http::field::cache_control, "no-store");
  response.set("Cross-Origin-Opener-Policy", "same-origin");
  response.set("Cross-Origin-Resource-Policy", "same-origin");
  response.set("Permissions-Policy",
               "camera=(), microphone=(), geolocation=(), interest-cohort=(), payment=(), usb=()");
  if (context.tls) {
    response.set(http::field::strict_transport_security, "max-age=63072000; includeSubDomains");
  }
}

Response json_response(http::status status, unsigned version, std::string body, bool head,
                       const RequestContext& context) {
  Response response(status, version);
  set_security_headers(response, context);
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  if (head) response.body().clear();  // Content-Length still tells the GET body's size
  return response;
}

std::string error_body(http::status status) {
  return std::string("{\"error\":\"") + std::string(http::obsolete_reason(status)) + "\"}";
}

}  // namespace

Response error_response(http::status status, unsigned version, const RequestContext& context) {
  return json_response(status, version, error_body(status), false, context);
}

Response handle_request(const Request& request, const RequestContext& context) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const bool head = request.method() == http::verb::head;

  if (path == "/healthz") {
    if (request.method() != http::verb::get && !head) {
      Response response =
          error_response(http::status::method_not_allowed, request.version(), context);
      response.set(http::field::allow, "GET, HEAD");
      return response;
    }
    return json_response(http::status::ok, request.version(), "{\"status\":\"ok\"}", head, context);
  }
  return json_response(http::status::not_found, request.version(),
                       error_body(http::status::not_found), head, context);
}

}  // namespace tipline::server
