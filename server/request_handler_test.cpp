#include "request_handler.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <future>
#include <memory>
#include <string>

#include "support/process.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/store.h"

namespace tipline::server {
namespace {

namespace http = boost::beast::http;

// A real store in a temporary folder, as the server has.
class Environment {
 public:
  Environment() {
    config_.limits.body_bytes = 1024;
    auto store =
        storage::Store::open(dir_.path() / "tipline.db", crypto::Secret::random(storage::kKeyBytes),
                             storage::Database::Mode::create_new);
    EXPECT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    services_ = std::make_unique<Services>(config_, *store_);
  }
  Services& services() { return *services_; }
  config::Config& config() { return config_; }

 private:
  testing::TempDir dir_;
  config::Config config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Services> services_;
};

Environment& environment() {
  static Environment shared;
  return shared;
}

Response call(Request request, const RequestContext& context) {
  std::promise<Response> answered;
  handle_request(std::move(request), context, environment().services(),
                 [&](Response response) { answered.set_value(std::move(response)); });
  return answered.get_future().get();
}

Response call(http::verb method, const char* target, bool tls = true) {
  return call(Request(method, target, 11), RequestContext{Side::source, tls, {}});
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
        error_response(http::status::bad_request, 11, RequestContext{Side::source, true, {}})}) {
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

TEST(RequestHandler, OnionLocationOnlyOnTheSourceSideWhenConfigured) {
  const Request request(http::verb::get, "/healthz", 11);
  const RequestContext source{Side::source, false, "http://example.onion/"};
  EXPECT_EQ(std::string(call(Request(request), source)["Onion-Location"]), "http://example.onion/");
  const RequestContext reviewer{Side::reviewer, true, "http://example.onion/"};
  EXPECT_EQ(call(Request(request), reviewer).count("Onion-Location"), 0u);
  EXPECT_EQ(call(http::verb::get, "/healthz").count("Onion-Location"), 0u);
}

TEST(RequestHandler, PagesAreInTheLanguageAskedForWithVaryWhenNegotiated) {
  const auto page = [](const char* target, const char* accept_language) {
    Request request(http::verb::get, target, 11);
    if (accept_language != nullptr) request.set(http::field::accept_language, accept_language);
    return call(std::move(request), RequestContext{Side::source, true, {}});
  };
  // No bundle is installed here: the start is the not-accepting page, in the language chosen.
  const Response russian = page("/", "de;q=0.9, ru;q=0.8, en;q=0.1");
  EXPECT_TRUE(russian.body().starts_with("<!DOCTYPE html>\n<html lang=\"ru\" dir=\"ltr\">"));
  EXPECT_EQ(header(russian, http::field::vary), "Accept-Language");
  EXPECT_EQ(russian.count(http::field::set_cookie), 0u) << "no cookie remembers the language";

  const Response uyghur = page("/report?lang=ug", "ru");
  EXPECT_TRUE(uyghur.body().starts_with("<!DOCTYPE html>\n<html lang=\"ug\" dir=\"rtl\">"));
  EXPECT_EQ(uyghur.count(http::field::vary), 0u) << "?lang= decides, whatever the header";

  const Response unknown = page("/?lang=xx", "zh-TW");
  EXPECT_EQ(unknown.result(), http::status::service_unavailable) << "an unknown tag is ignored";
  EXPECT_TRUE(unknown.body().starts_with("<!DOCTYPE html>\n<html lang=\"zh-Hant\""));
  EXPECT_EQ(header(unknown, http::field::vary), "Accept-Language");

  const Response english = page("/", nullptr);
  EXPECT_TRUE(english.body().starts_with("<!DOCTYPE html>\n<html lang=\"en\""));
  EXPECT_EQ(page("/healthz", "ru").count(http::field::vary), 0u) << "JSON does not depend on it";
}

TEST(RequestHandler, PlanAllowsOnlyTheMethodsOfThePath) {
  config::Limits limits;
  limits.body_bytes = 1000;
  const BodyPlan get = plan_body(Side::source, http::verb::get, "/healthz?x", limits);
  EXPECT_TRUE(get.method_allowed);
  EXPECT_EQ(get.body_limit, 0u);
  EXPECT_EQ(get.allow, "GET, HEAD");
  for (const http::verb method :
       {http::verb::post, http::verb::put, http::verb::delete_, http::verb::patch,
        http::verb::options, http::verb::trace, http::verb::connect, http::verb::unknown}) {
    EXPECT_FALSE(plan_body(Side::source, method, "/healthz", limits).method_allowed) << method;
  }
  // An unknown path takes GET, HEAD and POST, to answer 404; nothing else.
  EXPECT_TRUE(plan_body(Side::source, http::verb::post, "/nowhere", limits).method_allowed);
  EXPECT_EQ(plan_body(Side::source, http::verb::post, "/nowhere", limits).body_limit, 1000u);
  EXPECT_FALSE(plan_body(Side::source, http::verb::put, "/nowhere", limits).method_allowed);
  EXPECT_FALSE(plan_body(Side::source, http::verb::propfind, "/nowhere", limits).method_allowed);
}

TEST(RequestHandler, EachSidePlansOnlyItsOwnRoutes) {
  config::Limits limits;
  limits.body_bytes = 1000;
  limits.report_bytes = 5000;
  const std::string id(32, 'a');
  const std::string triage = "/api/v1/review/submissions/" + id + "/triage";
  const std::string notes = "/api/v1/review/submissions/" + id + "/notes";

  const BodyPlan reviewer_triage = plan_body(Side::reviewer, http::verb::post, triage, limits);
  EXPECT_TRUE(reviewer_triage.method_allowed);
  EXPECT_EQ(reviewer_triage.allow, "POST");
  EXPECT_EQ(reviewer_triage.body_limit, 1000u);
  EXPECT_FALSE(reviewer_triage.streamed);
  EXPECT_EQ(plan_body(Side::reviewer, http::verb::post, notes, limits).body_limit, 5000u);
  const BodyPlan remove =
      plan_body(Side::reviewer, http::verb::delete_, "/api/v1/review/submissions/" + id, limits);
  EXPECT_TRUE(remove.method_allowed);
  EXPECT_EQ(remove.body_limit, 0u);
  for (const char* path : {"/api/v1/whoami", "/api/v1/review/submissions?since=3",
                           "/api/v1/review/blobs/17", "/api/v1/review/audit"}) {
    const BodyPlan get = plan_body(Side::reviewer, http::verb::get, path, limits);
    EXPECT_TRUE(get.method_allowed) << path;
    EXPECT_EQ(get.allow, "GET") << path;
    EXPECT_EQ(get.body_limit, 0u) << path;
    EXPECT_FALSE(plan_body(Side::reviewer, http::verb::head, path, limits).method_allowed) << path;
    EXPECT_FALSE(plan_body(Side::reviewer, http::verb::post, path, limits).method_allowed) << path;
  }
  EXPECT_FALSE(plan_body(Side::reviewer, http::verb::get, triage, limits).method_allowed);
  EXPECT_EQ(
      plan_body(Side::reviewer, http::verb::put, "/api/v1/review/submissions/" + id, limits).allow,
      "DELETE");

  // On the source side the reviewer paths are unknown: 404, not 405, and the body is read
  // as for any unknown path.
  const BodyPlan source_triage = plan_body(Side::source, http::verb::post, triage, limits);
  EXPECT_TRUE(source_triage.method_allowed);
  EXPECT_EQ(source_triage.allow, "GET, HEAD, POST");
  EXPECT_EQ(source_triage.body_limit, 1000u);
  EXPECT_FALSE(
      plan_body(Side::source, http::verb::delete_, "/api/v1/review/submissions/" + id, limits)
          .method_allowed);
  // And the source paths are unknown on the reviewer side: no stream, no upload limit.
  const BodyPlan reviewer_report = plan_body(Side::reviewer, http::verb::post, "/report", limits);
  EXPECT_TRUE(reviewer_report.method_allowed);
  EXPECT_FALSE(reviewer_report.streamed);
  EXPECT_EQ(reviewer_report.body_limit, 1000u);
  EXPECT_FALSE(
      plan_body(Side::reviewer, http::verb::patch, "/api/v1/uploads/abc", limits).method_allowed);
  EXPECT_EQ(plan_body(Side::reviewer, http::verb::get, "/", limits).allow, "GET, HEAD, POST");
  for (const Side side : {Side::source, Side::reviewer}) {
    EXPECT_EQ(plan_body(side, http::verb::get, "/healthz", limits).allow, "GET, HEAD");
    EXPECT_EQ(plan_body(side, http::verb::get, "/api/v1/keys", limits).allow, "GET, HEAD");
  }
}

TEST(RequestHandler, EachSideAnswers404ToTheOtherSidesPaths) {
  const RequestContext reviewer{Side::reviewer, true, {}};
  for (const char* path : {"/", "/report", "/static/style.css", "/api/v1/uploads"}) {
    EXPECT_EQ(call(Request(http::verb::get, path, 11), reviewer).result(), http::status::not_found)
        << path;
  }
  for (const char* path : {"/api/v1/submissions", "/api/v1/sources", "/codename"}) {
    EXPECT_EQ(call(Request(http::verb::post, path, 11), reviewer).result(), http::status::not_found)
        << path;
  }
  for (const char* path : {"/api/v1/whoami", "/api/v1/review/submissions", "/api/v1/review/blobs/1",
                           "/api/v1/review/audit"}) {
    EXPECT_EQ(call(http::verb::get, path).result(), http::status::not_found) << path;
  }
  EXPECT_EQ(call(Request(http::verb::get, "/healthz", 11), reviewer).result(), http::status::ok);
  // A reviewer path without a signature: refused before anything else but the Host check.
  Request whoami(http::verb::get, "/api/v1/whoami", 11);
  whoami.set(http::field::host, "reviewers.example:8444");
  const Response unsigned_whoami = call(whoami, reviewer);
  EXPECT_EQ(unsigned_whoami.result(), http::status::unauthorized);
  EXPECT_EQ(unsigned_whoami.body(), R"({"error":"Unauthorized","reason":"missing signature"})");
  // A target that is not a path cannot be signed for: 400 on the reviewer side, whatever it
  // names.
  for (const char* target : {"https://reviewers.example/api/v1/whoami", "*", "healthz"}) {
    Request absolute(http::verb::get, target, 11);
    absolute.set(http::field::host, "reviewers.example");
    EXPECT_EQ(call(absolute, reviewer).result(), http::status::bad_request) << target;
  }
}

TEST(RequestHandler, NoHstsOnPlainHttp) {
  const Response response = call(http::verb::get, "/healthz", false);
  EXPECT_EQ(response.count(http::field::strict_transport_security), 0u);
}

}  // namespace
}  // namespace tipline::server
