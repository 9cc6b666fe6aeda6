// POST /api/v1/submissions: a report that the browser encrypted, checked and stored.
//
// The body is JSON, {"report": BASE64}, where BASE64 (standard alphabet, padded) is an age
// v1 file. The report is accepted only if it is sealed to the installed recipient bundle:
// a well-formed age header whose X25519 stanzas number exactly the bundle's recipients,
// and no other stanza. It is stored with the bundle's version, and the answer, 201 with
// {"id": ID}, comes only after the commit is durable.
// Thread safety: accept() and TokenBucket may be called from any thread.
#pragma once

#include <boost/beast/http/status.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "tipline/config/config.h"

namespace tipline::storage {
class Store;
}

namespace tipline::server::submissions {

// The global limit on reports per minute: a token bucket that holds a minute's worth.
class TokenBucket {
 public:
  explicit TokenBucket(unsigned per_minute);
  // Takes a token if there is one.
  [[nodiscard]] bool take();

 private:
  std::mutex mutex_;
  double tokens_;
  double capacity_;
  std::chrono::steady_clock::time_point refilled_;
};

struct Outcome {
  boost::beast::http::status status;
  std::string body;  // JSON
};

// The largest body to read: the base64 of limits.report_bytes and a little JSON around it.
[[nodiscard]] std::uint64_t body_limit(const config::Limits& limits);

// Checks and stores the report in `json_body`; `done` is called exactly once, possibly on
// the store's writer thread.
void accept(std::string_view json_body, const config::Limits& limits, storage::Store& store,
            TokenBucket& bucket, std::function<void(Outcome)> done);

}  // namespace tipline::server::submissions
