#include "submissions.h"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <span>
#include <utility>
#include <vector>

#include "bundle.h"
#include "tipline/crypto/age.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/store.h"

namespace tipline::server::submissions {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

constexpr std::size_t kPublicIdBytes = 16;
constexpr std::int64_t kSecondsPerDay = 86400;

Outcome refusal(http::status status, std::string_view message) {
  return {status, json::serialize(json::object{{"error", message}})};
}

// A random id for reviewers: it says nothing about order or time of arrival.
std::string public_id() {
  std::array<unsigned char, kPublicIdBytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  hex.pop_back();
  return hex;
}

tl::expected<std::string, storage::Error> store_report(storage::Database& db,
                                                       std::span<const std::byte> report,
                                                       std::int64_t bundle_version) {
  auto blob = storage::create_blob(db, bundle_version);
  if (!blob) return tl::unexpected(blob.error());
  if (auto appended = storage::append_blob(db, *blob, report); !appended) {
    return tl::unexpected(appended.error());
  }
  if (auto finished = storage::finish_blob(db, *blob); !finished) {
    return tl::unexpected(finished.error());
  }
  return record(db, *blob, std::nullopt, {});
}

}  // namespace

std::int64_t today() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(now).count() / kSecondsPerDay;
}

tl::expected<std::string, storage::Error> record(storage::Database& db, storage::BlobId report_blob,
                                                 std::optional<std::int64_t> source_id,
                                                 std::span<const storage::BlobId> attachments) {
  auto bump = db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'change_seq';");
  if (!bump) return tl::unexpected(bump.error());
  if (auto ran = bump->run(); !ran) return tl::unexpected(ran.error());
  const std::string id = public_id();
  auto insert = db.prepare(
      "INSERT INTO submissions (public_id, source_id, report_blob_id, received_day, change_seq) "
      "VALUES (?, ?, ?, ?, (SELECT value FROM counters WHERE name = 'change_seq'));");
  if (!insert) return tl::unexpected(insert.error());
  insert->bind(id, source_id, report_blob, today());
  if (auto ran = insert->run(); !ran) return tl::unexpected(ran.error());
  const std::int64_t submission = db.last_insert_id();
  auto attach =
      db.prepare("INSERT INTO attachments (submission_id, position, blob_id) VALUES (?, ?, ?);");
  if (!attach) return tl::unexpected(attach.error());
  for (std::size_t position = 0; position < attachments.size(); ++position) {
    attach->reset();
    attach->bind(submission, static_cast<std::int64_t>(position), attachments[position]);
    if (auto ran = attach->run(); !ran) return tl::unexpected(ran.error());
  }
  return id;
}

TokenBucket::TokenBucket(unsigned per_minute)
    : tokens_(per_minute), capacity_(per_minute), refilled_(std::chrono::steady_clock::now()) {}

bool TokenBucket::take() {
  const std::lock_guard guard(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const double minutes = std::chrono::duration<double, std::ratio<60>>(now - refilled_).count();
  tokens_ = std::min(capacity_, tokens_ + minutes * capacity_);
  refilled_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

std::uint64_t body_limit(const config::Limits& limits) {
  constexpr std::uint64_t kJsonRoom = 1024;
  return (limits.report_bytes + 2) / 3 * 4 + kJsonRoom;
}

void accept(std::string_view json_body, const config::Limits& limits, storage::Store& store,
            TokenBucket& bucket, std::function<void(Outcome)> done) {
  auto installed = bundle::current(store);
  if (!installed) {
    return done(refusal(http::status::internal_server_error, "the tip line cannot read its keys"));
  }
  if (!*installed) return done(refusal(http::status::service_unavailable, bundle::kNotAccepting));
  const bundle::Bundle& current = **installed;

  boost::system::error_code ec;
  const json::value parsed = json::parse(json_body, ec);
  const json::object* object = ec ? nullptr : parsed.if_object();
  const json::string* encoded =
      object != nullptr && object->size() == 1 && object->contains("report")
          ? object->at("report").if_string()
          : nullptr;
  if (encoded == nullptr) {
    return done(refusal(http::status::bad_request,
                        "the body must be a JSON object {\"report\": BASE64} and nothing else"));
  }
  std::vector<std::byte> report(encoded->size() / 4 * 3 + 3);
  std::size_t report_size = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(report.data()), report.size(),
                        encoded->data(), encoded->size(), nullptr, &report_size, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return done(refusal(http::status::bad_request, "the report is not valid base64"));
  }
  report.resize(report_size);
  if (report.size() > limits.report_bytes) {
    return done(refusal(http::status::payload_too_large, "the report is larger than allowed"));
  }
  const auto header = crypto::age::Header::parse(
      {reinterpret_cast<const std::uint8_t*>(report.data()), report.size()});
  if (!header || !*header ||
      !crypto::age::check_x25519_stanzas((*header)->header, current.recipients.size())) {
    return done(refusal(http::status::bad_request,
                        "the report is not an age file sealed to the current recipients"));
  }
  if (!bucket.take()) {
    return done(refusal(http::status::too_many_requests,
                        "the tip line is receiving many reports; try again in a minute"));
  }
  store.write_then([report = std::move(report), version = current.version](
                       storage::Database& db) { return store_report(db, report, version); },
                   [done = std::move(done)](tl::expected<std::string, storage::Error> stored) {
                     if (!stored) {
                       done(refusal(http::status::internal_server_error,
                                    "the report could not be stored; please send it again"));
                       return;
                     }
                     done({http::status::created, json::serialize(json::object{{"id", *stored}})});
                   });
}

}  // namespace tipline::server::submissions
