// POST /api/v1/submissions: a report that the browser encrypted, checked and stored.
//
// The body is JSON, {"report": BASE64}, where BASE64 (standard alphabet, padded) is an age
// v1 file. The report is accepted only if it is sealed to the installed recipient bundle:
// a well-formed age header whose X25519 stanzas number exactly the bundle's recipients,
// and no other stanza. It is stored with the bundle's version, and the answer, 201 with
// {"id": ID}, comes only after the commit is durable.
//
// The body may also name a draft (sources.h) and its finished uploads (uploads.h):
//   {"report": BASE64, "draft": TOKEN, "uploads": [ID, ...]}
// at most limits.uploads_per_draft, no ID twice. Each must be a complete upload of that
// draft sealed to the installed bundle, or nothing is stored (400: unknown or expired
// draft, an upload of another draft, an upload expired but not yet swept; 409: an upload
// unfinished or sealed to an older bundle). In one transaction the uploads become the
// submission's attachments in the order given, the submission is linked to the draft's
// source if it has one, and the draft goes with its upload rows (and the blobs of uploads
// not listed).
// Thread safety: accept() and TokenBucket may be called from any thread.
#pragma once

#include <boost/beast/http/status.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "bundle.h"
#include "tipline/config/config.h"
#include "tipline/storage/blobs.h"

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

// The largest body to read: the base64 of limits.report_bytes, a draft token, the upload
// IDs and a little JSON around them.
[[nodiscard]] std::uint64_t body_limit(const config::Limits& limits);

// Inside a write transaction: records a submission of the finished, checked blob
// `report_blob`, with `attachments` (finished, checked blobs, in order) and the source if
// known; its received_day is today() (identifiers.h), the only time kept of a source's
// visit. Returns the submission's random public id.
[[nodiscard]] tl::expected<std::string, storage::Error> record(
    storage::Database& db, storage::BlobId report_blob, std::optional<std::int64_t> source_id,
    std::span<const storage::BlobId> attachments);

// Checks and stores the report in `json_body`; `done` is called exactly once, possibly on
// the store's writer thread.
using InstalledBundle = tl::expected<std::optional<bundle::Bundle>, bundle::Error>;
void accept(std::string_view json_body, const config::Limits& limits,
            const InstalledBundle& installed, storage::Store& store, TokenBucket& bucket,
            std::function<void(Outcome)> done);

}  // namespace tipline::server::submissions
