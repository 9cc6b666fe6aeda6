#include "request_handler.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <string>

namespace tipline::server {
namespace {

namespace http = boost::beast::http;

Response call(http::verb method, const char* target, bool tls = true) {
  Request request(method, target, 11);
  return handle_request(request, RequestContext{Side::source, tls});
}

std::string header(const Response& response, http::field field) {
  return std::string(response[field]);
}
std::string header(const Response& response, const char* field) {
  return std::string(response[field]);
}

TEST(RequestHandler, HealthzAnswersOk) {
  const Response response = call(http::verb::get, "/healthz");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response.body(), "{\"status\":\"ok\"}");
  EXPECT_EQ(header(response, http::field::content_type), "application/json");
  EXPECT_EQ(header(response, http::field::content_length), "15");
}

TEST(RequestHandler, HeadHasNoBodyButTheLength) {
  const Response response = call(http::verb::head, "/healthz?x=1");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response.body(), "");
  EXPECT_EQ(header(response, http::field::content_length), "15");
}

TEST(RequestHandler, WrongMethodIs405WithAllow) {
  const Response response = call(http::verb::post, "/healthz");
  EXPECT_EQ(response.result(), http::status::method_not_allowed);
  EXPECT_EQ(header(response, http::field::allow), "GET, HEAD");
}

TEST(RequestHandler, UnknownPathIs404) {
  EXPECT_EQ(call(http::verb::get, "/nope").result(), http::status::not_found);
  EXPECT_EQ(call(http::verb::get, "/healthz/").result(), http::status::not_found);
}

TEST(RequestHandler, EveryResponseCarriesSecurityHeaders) {
  for (const Response& response :
       {call(http::verb::get, "/healthz"), call(http::verb::get, "/missing"),
        error_response(http::status::bad_request, 11, RequestContext{Side::source, true})}) {
    const std::string csp = header(response, "Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_NE(csp.find("base-uri 'none'"), std::string::npos);
    EXPECT_NE(csp.find("form-action 'self'"), std::string::npos);
    EXPECT_EQ(header(response, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(header(response, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(response, http::field::cache_control), "no-store");
    EXPECT_EQ(std::string(response["Cross-Origin-Opener-Policy"]), "same-origin");
    EXPECT_EQ(std::string(response["Cross-Origin-Resource-Policy"]), "same-origin");
    EXPECT_FALSE(std::string(response["Permissions-Policy"]).empty());
    EXPECT_FALSE(header(response, http::field::strict_transport_security).empty());
    EXPECT_EQ(response.count(http::field::server), 0u);
  }
}

TEST(RequestHandler, NoHstsOnPlainHttp) {
  const Response response = call(http::verb::get, "/healthz", false);
  EXPECT_EQ(response.count(http::field::strict_transport_security), 0u);
}

}  // namespace
}  // namespace tipline::server
