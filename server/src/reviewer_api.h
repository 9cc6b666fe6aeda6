// The reviewer API (docs/reviewer-api.md), served on the reviewer listener only.
//
// Every request carries an RFC 9421 signature (crypto/request_signature.h) by a registered
// reviewer; it is checked on the calling thread, then one write transaction re-checks that
// the reviewer is enabled, records the nonce and makes the request's change, so a refused
// request changes nothing and an accepted one happens once. The answer comes only after that
// commit is durable. What a read-only request answers (the changes list, the audit log, blob
// bytes) is read before that transaction, on the calling thread, so the writer never builds
// a long answer or copies megabytes; it is sent only once the transaction has committed.
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "request_handler.h"
#include "tipline/storage/database.h"

namespace tipline::server::reviewer_api {

// The most bytes of a blob one answer carries.
inline constexpr std::uint64_t kBlobWindowBytes = std::uint64_t{8} << 20;
inline constexpr std::int64_t kDefaultPage = 500;
inline constexpr std::int64_t kMaxPage = 1000;
inline constexpr std::size_t kMaxLabels = 32;           // per submission
inline constexpr std::size_t kMaxLabelCharacters = 64;  // code points
// The reason of a note's 503 while no recipient bundle is installed.
inline constexpr std::string_view kNoBundle = "no recipient bundle installed";
// Who the audit log names for `tipline-server reviewers` changes.
inline constexpr std::string_view kServerAdmin = "(server admin)";

enum class Endpoint { whoami, changes, blob, triage, notes, remove, audit };

// A path of the API: the endpoint, and the submission's public id or the blob's number in it
// (a view into the path).
struct Target {
  Endpoint endpoint = Endpoint::whoami;
  std::string_view id;
};

// The endpoint that `path` names, or nullopt (404) for any other path, including one whose
// id is not of the right form (32 lowercase hex digits; a blob number 1 to 18 digits).
[[nodiscard]] std::optional<Target> target_of(std::string_view path);
// The methods an endpoint takes (for Allow), and the largest body it reads.
[[nodiscard]] std::string_view allowed_methods(Endpoint endpoint);
[[nodiscard]] std::uint64_t body_limit(Endpoint endpoint, const config::Limits& limits);

// Why "https://" + `host` + `target`, the @target-uri a request is verified against, may not
// be the URL its client signed (the reason of a 400): a target that is not origin-form, or a
// Host that is empty or holds anything but host name or address characters and a port.
// nullopt when it is fine.
[[nodiscard]] std::optional<std::string_view> target_uri_problem(std::string_view host,
                                                                 std::string_view target);

// Answers a request whose path target_of() knows and whose method its endpoint takes, or
// whose target is not origin-form (400); `respond` is called exactly once, possibly on the
// store's writer thread.
void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond);

// Range: "bytes=A-B" or "bytes=A-" (no other unit, suffix or list); nullopt when malformed.
struct ByteRange {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> last;  // inclusive; nullopt: to the end
};
[[nodiscard]] std::optional<ByteRange> parse_range(std::string_view field);

// What part of a blob of `size` bytes an answer carries: all of it (200) when no range is
// asked and it fits kBlobWindowBytes, a range of at most kBlobWindowBytes (206), or
// nothing (416).
struct Window {
  enum class Kind { whole, partial, unsatisfiable } kind = Kind::whole;
  std::uint64_t first = 0;
  std::uint64_t length = 0;
};
[[nodiscard]] Window window_of(const std::optional<ByteRange>& range, std::uint64_t size);

// A triage request's body, checked for form (the assignee's existence is checked in the
// transaction). Labels are deduplicated and sorted.
struct TriageChange {
  std::optional<std::string> status;
  std::optional<std::optional<std::string>> assignee;  // set to a reviewer, or cleared
  std::vector<std::string> add_labels;
  std::vector<std::string> remove_labels;
};
// The error is the reason given with 400.
[[nodiscard]] tl::expected<TriageChange, std::string> parse_triage(std::string_view body);

// Inside a write transaction: one audit log entry at `at` (Unix seconds).
[[nodiscard]] tl::expected<void, storage::Error> record_audit(
    storage::Database& db, std::int64_t at, std::string_view reviewer, std::string_view action,
    std::optional<std::string_view> submission, std::optional<std::string_view> detail);

}  // namespace tipline::server::reviewer_api
