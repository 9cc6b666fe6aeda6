#include "request_handler.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "bundle.h"
#include "i18n.h"
#include "pages.h"
#include "report_form.h"
#include "reviewer_api.h"
#include "sources.h"
#include "submissions.h"
#include "uploads.h"

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
  if (context.side == Side::source && !context.onion_location.empty()) {
    response.set("Onion-Location", context.onion_location);
  }
}

std::string error_body(http::status status) {
  return std::string("{\"error\":\"") + std::string(http::obsolete_reason(status)) + "\"}";
}

// The routes of each side and the methods each takes. A path not listed takes GET, HEAD and
// POST, so that it answers 404 rather than 405. A path ending in '/' matches every path
// below it. The reviewer API's own paths are reviewer_api::target_of's.
struct Route {
  std::string_view path;
  std::string_view allow;
};
constexpr std::array kSourceRoutes = {
    Route{"/", "GET, HEAD"},
    Route{"/healthz", "GET, HEAD"},
    Route{"/static/style.css", "GET, HEAD"},
    Route{"/static/app.js", "GET, HEAD"},
    Route{"/static/icon.svg", "GET, HEAD"},
    Route{"/report", "GET, HEAD, POST"},
    Route{"/codename", "POST"},
    Route{"/api/v1/keys", "GET, HEAD"},
    Route{"/api/v1/sources", "POST"},
    Route{"/api/v1/sources/login", "POST"},
    Route{"/api/v1/drafts", "POST"},
    Route{"/api/v1/submissions", "POST"},
    Route{uploads::kCollection, "OPTIONS, POST"},
    Route{uploads::kItemPrefix, "OPTIONS, HEAD, PATCH, DELETE"},
};
constexpr std::array kReviewerRoutes = {
    Route{"/healthz", "GET, HEAD"},
    Route{"/api/v1/keys", "GET, HEAD"},
};
constexpr std::string_view kUnknownPathMethods = "GET, HEAD, POST";

std::string_view allowed_methods(Side side, std::string_view path) {
  if (side == Side::reviewer) {
    if (const auto target = reviewer_api::target_of(path)) {
      return reviewer_api::allowed_methods(target->endpoint);
    }
  }
  const std::span<const Route> routes =
      side == Side::source ? std::span<const Route>(kSourceRoutes) : kReviewerRoutes;
  const auto route = std::find_if(routes.begin(), routes.end(), [&](const Route& candidate) {
    return candidate.path == path || (candidate.path.size() > 1 && candidate.path.ends_with('/') &&
                                      path.starts_with(candidate.path));
  });
  return route == routes.end() ? kUnknownPathMethods : route->allow;
}

bool allows(std::string_view allow, http::verb method) {
  if (method == http::verb::unknown) return false;
  const std::string_view name = http::to_string(method);
  std::size_t start = 0;
  while (start < allow.size()) {
    const std::size_t end = std::min(allow.find(", ", start), allow.size());
    if (allow.substr(start, end - start) == name) return true;
    start = end + 2;
  }
  return false;
}

Response method_not_allowed(unsigned version, std::string_view allow,
                            const RequestContext& context) {
  Response response = error_response(http::status::method_not_allowed, version, context);
  response.set(http::field::allow, allow);
  return response;
}

}  // namespace

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

BodyPlan plan_body(Side side, http::verb method, std::string_view target,
                   const config::Limits& limits) {
  BodyPlan plan;
  const std::string_view path = path_of(target);
  plan.allow = allowed_methods(side, path);
  plan.method_allowed = allows(plan.allow, method);
  if (side == Side::reviewer) {
    const auto api = reviewer_api::target_of(path);
    plan.body_limit = api                          ? reviewer_api::body_limit(api->endpoint, limits)
                      : method == http::verb::post ? limits.body_bytes
                                                   : 0;
    return plan;
  }
  if (method == http::verb::patch && path.starts_with(uploads::kItemPrefix)) {
    plan.body_limit = limits.upload_bytes;
    plan.streamed = true;
  } else if (method != http::verb::post) {
    plan.body_limit = 0;
  } else if (path == "/report") {
    plan.body_limit = limits.form_bytes;
    plan.streamed = true;
  } else if (path == "/api/v1/submissions") {
    plan.body_limit = submissions::body_limit(limits);
  } else {
    plan.body_limit = limits.body_bytes;
  }
  return plan;
}

Response make_response(http::status status, unsigned version, std::string_view content_type,
                       std::string body, bool head, const RequestContext& context) {
  Response response(status, version);
  set_security_headers(response, context);
  response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  response.prepare_payload();
  if (head) response.body().clear();
  return response;
}

Response json_response(http::status status, unsigned version, std::string body, bool head,
                       const RequestContext& context) {
  return make_response(status, version, "application/json", std::move(body), head, context);
}

Response html_response(http::status status, unsigned version, std::string body, bool head,
                       const RequestContext& context) {
  Response response =
      make_response(status, version, "text/html; charset=utf-8", std::move(body), head, context);
  if (context.language.negotiated) response.set(http::field::vary, "Accept-Language");
  return response;
}

Response error_response(http::status status, unsigned version, const RequestContext& context) {
  return json_response(status, version, error_body(status), false, context);
}

namespace {

// `connection` with the language of the pages that answer `header` (i18n.h).
RequestContext with_language(const RequestContext& connection, const RequestHeader& header) {
  RequestContext context = connection;
  const auto accept_language = header[http::field::accept_language];
  context.language = i18n::choose({header.target().data(), header.target().size()},
                                  {accept_language.data(), accept_language.size()});
  return context;
}

Response serve_landing(unsigned version, bool head, const RequestContext& context,
                       Services& services) {
  const auto& installed = services.installed_bundle;
  if (!installed) {
    return html_response(http::status::internal_server_error, version,
                         pages::error_page(context.language.tag, 500,
                                           i18n::text(context.language.tag, "message.settings")),
                         head, context);
  }
  if (!*installed) {
    return html_response(http::status::service_unavailable, version,
                         pages::not_accepting_page(context.language.tag), head, context);
  }
  return html_response(http::status::ok, version, pages::landing_page(context.language.tag), head,
                       context);
}

Response serve_asset(unsigned version, std::string_view path, bool head,
                     const RequestContext& context) {
  const auto asset = pages::static_asset(path);
  if (!asset) {
    return json_response(http::status::not_found, version, error_body(http::status::not_found),
                         head, context);
  }
  Response response = make_response(http::status::ok, version, asset->content_type,
                                    std::string(asset->body), head, context);
  response.set(http::field::etag, asset->etag);
  return response;
}

// GET /api/v1/keys: the installed recipient bundle, byte for byte, with its signature, so
// the browser and tipline-review can check it against the organisation root key.
Response serve_keys(unsigned version, bool head, const RequestContext& context,
                    Services& services) {
  const auto& installed = services.installed_bundle;
  if (!installed) {
    return json_response(http::status::internal_server_error, version,
                         error_body(http::status::internal_server_error), head, context);
  }
  if (!*installed) {
    return json_response(
        http::status::service_unavailable, version,
        boost::json::serialize(boost::json::object{{"error", std::string(bundle::kNotAccepting)}}),
        head, context);
  }
  return json_response(
      http::status::ok, version,
      boost::json::serialize(boost::json::object{{"version", (*installed)->version},
                                                 {"bundle", (*installed)->bytes},
                                                 {"signature", (*installed)->signature_text}}),
      head, context);
}

}  // namespace

void handle_request(Request request, const RequestContext& connection, Services& services,
                    Respond respond) {
  const RequestContext context = with_language(connection, request.base());
  // Handlers parse the body before they return; it may hold a login secret or codename.
  struct BodyWipe {
    std::string& body;
    ~BodyWipe() { sodium_memzero(body.data(), body.size()); }
  } const wipe{request.body()};
  const std::string_view path = path_of({request.target().data(), request.target().size()});
  const bool head = request.method() == http::verb::head;
  const unsigned version = request.version();
  // Not a path (absolute- or asterisk-form): the reviewer API refuses it with 400, as no
  // signed URL could be rebuilt from it, rather than call it an unknown path.
  if (context.side == Side::reviewer && !path.starts_with('/')) {
    return reviewer_api::handle(request, context, services, std::move(respond));
  }
  const std::string_view allow = allowed_methods(context.side, path);
  if (!allows(allow, request.method())) {
    return respond(method_not_allowed(version, allow, context));
  }
  if (path == "/healthz") {
    return respond(json_response(http::status::ok, version, "{\"status\":\"ok\"}", head, context));
  }
  if (context.side == Side::source) {
    if (path == "/") return respond(serve_landing(version, head, context, services));
    if (path.starts_with("/static/")) return respond(serve_asset(version, path, head, context));
    if (path == "/api/v1/keys") return respond(serve_keys(version, head, context, services));
    if (path == "/report") {
      return respond(report_form::report_page(version, head, context, services));
    }
    if (path == "/codename") {
      return report_form::confirm_codename(request, context, services, std::move(respond));
    }
    if (path == "/api/v1/sources" || path == "/api/v1/sources/login" || path == "/api/v1/drafts") {
      return sources::handle(request, context, services, std::move(respond));
    }
    if (path == uploads::kCollection || path.starts_with(uploads::kItemPrefix)) {
      return uploads::handle(request, context, services, std::move(respond));
    }
    if (path == "/api/v1/submissions") {
      return submissions::accept(
          request.body(), services.config.limits, services.installed_bundle, services.store,
          services.submission_bucket,
          [respond = std::move(respond), version, context](submissions::Outcome outcome) {
            respond(
                json_response(outcome.status, version, std::move(outcome.body), false, context));
          });
    }
  } else {
    if (path == "/api/v1/keys") return respond(serve_keys(version, head, context, services));
    if (reviewer_api::target_of(path)) {
      return reviewer_api::handle(request, context, services, std::move(respond));
    }
  }
  respond(json_response(http::status::not_found, version, error_body(http::status::not_found), head,
                        context));
}

StreamStart start_stream(const RequestHeader& header, const RequestContext& connection,
                         Services& services) {
  const RequestContext context = with_language(connection, header);
  const std::string_view path = path_of({header.target().data(), header.target().size()});
  if (context.side == Side::source) {
    if (path == "/report") return report_form::start_report(header, context, services);
    if (path.starts_with(uploads::kItemPrefix)) {
      return uploads::start_patch(header, context, services);
    }
  }
  return json_response(http::status::not_found, header.version(),
                       error_body(http::status::not_found), false, context);
}

}  // namespace tipline::server
