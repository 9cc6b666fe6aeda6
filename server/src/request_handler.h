// The request layer: turns one parsed request into one response. It knows no sockets,
// streams or connections, so it is tested without a network.
//
// The session asks plan_body() what a request may carry before it reads the body, then
// hands the whole request to handle_request(), which answers through `respond` once any
// durable write it needs has committed (possibly on another thread).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "submissions.h"
#include "tipline/config/config.h"

namespace tipline::storage {
class Store;
}

namespace tipline::server {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Respond = std::function<void(Response)>;

enum class Side { source, reviewer };

struct RequestContext {
  Side side = Side::source;
  bool tls = true;
  std::string onion_location;  // announced on the source side when not empty
};

// What the handlers need; outlives every request. Thread safety: the members are safe to
// use from any thread.
struct Services {
  Services(const config::Config& configuration, storage::Store& database)
      : config(configuration),
        store(database),
        submission_bucket(configuration.limits.submissions_per_minute) {}

  const config::Config& config;
  storage::Store& store;
  submissions::TokenBucket submission_bucket;
};

// Decided from the request line alone, before any body byte is read.
struct BodyPlan {
  bool method_allowed = false;  // false: 405 and a closed connection, the body unread
  std::string_view allow;       // the methods the path takes, for the Allow header
  std::uint64_t body_limit = 0;
};

[[nodiscard]] BodyPlan plan_body(boost::beast::http::verb method, std::string_view target,
                                 const config::Limits& limits);

// Every response, errors included, carries the security headers and a prepared payload.
// `respond` is called exactly once.
void handle_request(Request request, const RequestContext& context, Services& services,
                    Respond respond);

// A JSON error response, for requests that could not be parsed or read.
[[nodiscard]] Response error_response(boost::beast::http::status status, unsigned version,
                                      const RequestContext& context);

}  // namespace tipline::server
