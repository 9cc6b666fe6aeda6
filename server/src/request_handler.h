// The request layer: turns one parsed request into one response. It knows no sockets,
// streams or connections, so it is tested without a network.
//
// The session asks plan_body() what a request may carry before it reads the body. Most
// requests are then read whole and handed to handle_request(), which answers through
// `respond` once any durable write it needs has committed (possibly on another thread).
// Streamed requests (form posts with files, tus PATCH) go to start_stream() instead, and
// their body reaches a BodyStream piece by piece, so no large body is ever whole in memory.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "bundle.h"
#include "i18n.h"
#include "submissions.h"
#include "tipline/config/config.h"

namespace tipline::storage {
class Store;
}

namespace tipline::server {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using RequestHeader = boost::beast::http::request_header<>;
using Respond = std::function<void(Response)>;

enum class Side { source, reviewer };

struct RequestContext {
  Side side = Side::source;
  bool tls = true;
  std::string onion_location;  // announced on the source side when not empty
  // The language of the pages that answer the request (i18n::choose()), set for each
  // request by handle_request() and start_stream().
  i18n::Choice language{};
};

// What the handlers need; outlives every request. Thread safety: the members are safe to
// use from any thread.
struct Services {
  Services(const config::Config& configuration, storage::Store& database)
      : config(configuration),
        store(database),
        submission_bucket(configuration.limits.submissions_per_minute),
        installed_bundle(bundle::current(database)) {}

  const config::Config& config;
  storage::Store& store;
  submissions::TokenBucket submission_bucket;
  // The installed recipient bundle (nullopt: none yet), read once: it changes only through
  // `tipline-server keys install`, which cannot run while the server holds the database
  // lock. Reading it from the database for every request cost a read transaction each.
  const tl::expected<std::optional<bundle::Bundle>, bundle::Error> installed_bundle;
  // Where codenames are derived (report_form.h): scrypt takes 64 MiB and ~100 ms, so it
  // runs on few threads of its own. Its destructor waits for a running derivation, which
  // uses the store: Services must be destroyed before the store.
  static constexpr std::size_t kDerivationThreads = 2;
  boost::asio::thread_pool derivation_pool{kDerivationThreads};
};

// Decided from the request line alone, before any body byte is read.
struct BodyPlan {
  bool method_allowed = false;  // false: 405 and a closed connection, the body unread
  std::string_view allow;       // the methods the path takes, for the Allow header
  std::uint64_t body_limit = 0;
  bool streamed = false;  // true: start_stream() takes the request, not handle_request()
};

// The path of a request target: the part before any query.
[[nodiscard]] std::string_view path_of(std::string_view target);

// Each side has its own routes: the source listener answers 404 to reviewer API paths and
// the reviewer listener to source paths (only /healthz and /api/v1/keys are on both).
[[nodiscard]] BodyPlan plan_body(Side side, boost::beast::http::verb method,
                                 std::string_view target, const config::Limits& limits);

// Every response, errors included, carries the security headers and a prepared payload.
// `respond` is called exactly once.
void handle_request(Request request, const RequestContext& context, Services& services,
                    Respond respond);

// A request body consumed as it arrives. The session calls consume() for each piece in
// order, waiting for `next` before it reads more (that wait is the backpressure), then
// finish() once the body has ended. If the connection breaks first, the stream is
// destroyed without finish() and must leave nothing half-done behind. Thread safety: the
// session never calls two members at once; `next` and `respond` may be called from any
// thread.
class BodyStream {
 public:
  // nullopt: ready for the next piece. A response ends the request there: it is sent, the
  // rest of the body is left unread and the connection closes.
  using Next = std::function<void(std::optional<Response>)>;

  BodyStream() = default;
  BodyStream(const BodyStream&) = delete;
  BodyStream& operator=(const BodyStream&) = delete;
  virtual ~BodyStream() = default;

  // `piece` stays valid until `next` is called; `next` is called exactly once.
  virtual void consume(std::span<const std::uint8_t> piece, Next next) = 0;
  // The whole body was consumed; `respond` is called exactly once.
  virtual void finish(Respond respond) = 0;
};

// For a request whose plan is streamed: the stream that takes its body, or a response that
// refuses it before any body byte is read (the connection then closes).
using StreamStart = std::variant<Response, std::unique_ptr<BodyStream>>;
[[nodiscard]] StreamStart start_stream(const RequestHeader& header, const RequestContext& context,
                                       Services& services);

// Every response is made here, so none can miss the security headers (design §5). `head`:
// the body is dropped but Content-Length still gives its size. An HTML page whose language
// was negotiated says Vary: Accept-Language.
[[nodiscard]] Response make_response(boost::beast::http::status status, unsigned version,
                                     std::string_view content_type, std::string body, bool head,
                                     const RequestContext& context);
[[nodiscard]] Response json_response(boost::beast::http::status status, unsigned version,
                                     std::string body, bool head, const RequestContext& context);
[[nodiscard]] Response html_response(boost::beast::http::status status, unsigned version,
                                     std::string body, bool head, const RequestContext& context);

// A JSON error response, for requests that could not be parsed or read.
[[nodiscard]] Response error_response(boost::beast::http::status status, unsigned version,
                                      const RequestContext& context);

}  // namespace tipline::server
