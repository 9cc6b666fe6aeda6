#include "submissions.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "bundle.h"
#include "identifiers.h"
#include "sources.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/store.h"

namespace tipline::server::submissions {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

// Submission and upload ids: random, so they say nothing about order or time of arrival.
constexpr std::size_t kPublicIdBytes = 16;

Outcome refusal(http::status status, std::string_view message) {
  return {status, json::serialize(json::object{{"error", message}})};
}

// What a submission links besides its report.
struct Links {
  std::optional<sources::TokenHash> draft;
  std::vector<std::string> uploads;  // public ids, in attachment order
};

struct Submission {
  std::vector<std::byte> report;
  std::int64_t bundle_version = 0;
  Links links;
};

// The blob of each listed upload, checked; or the refusal.
tl::expected<std::variant<Outcome, std::vector<storage::BlobId>>, storage::Error> attachment_blobs(
    storage::Database& db, std::int64_t draft, const Submission& submission) {
  auto query = db.prepare(
      "SELECT u.blob_id, u.draft_id, b.complete, b.sealed_to_bundle, u.expires_hour "
      "FROM uploads u JOIN blobs b ON b.id = u.blob_id WHERE u.public_id = ?;");
  if (!query) return tl::unexpected(query.error());
  std::vector<storage::BlobId> blobs;
  for (const std::string& id : submission.links.uploads) {
    query->reset();
    query->bind(id);
    auto row = query->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row || query->integer(1) != draft) {
      return refusal(http::status::bad_request, "an upload listed is not one of this draft's");
    }
    // Expired, though not yet swept (serve.cpp sweeps every ten minutes).
    if (query->integer(4) <= current_hour()) {
      return refusal(http::status::bad_request, "an upload listed has expired: upload it again");
    }
    if (query->integer(2) == 0) {
      return refusal(http::status::conflict, "an upload listed is not complete: finish it first");
    }
    if (query->is_null(3) || query->integer(3) != submission.bundle_version) {
      return refusal(http::status::conflict,
                     "an upload listed is sealed to an older recipient bundle: upload it again");
    }
    blobs.push_back(query->integer(0));
  }
  return blobs;
}

// The draft is used up: its upload rows go (the blobs now attachments stay, see the
// upload_deleted trigger), and so does the draft.
tl::expected<void, storage::Error> consume_draft(storage::Database& db, std::int64_t draft) {
  for (const char* sql :
       {"DELETE FROM uploads WHERE draft_id = ?;", "DELETE FROM drafts WHERE id = ?;"}) {
    auto remove = db.prepare(sql);
    if (!remove) return tl::unexpected(remove.error());
    remove->bind(draft);
    if (auto ran = remove->run(); !ran) return tl::unexpected(ran.error());
  }
  return {};
}

tl::expected<std::string, storage::Error> store_report(
    storage::Database& db, const Submission& submission, std::optional<std::int64_t> source,
    std::span<const storage::BlobId> attachments) {
  auto blob = storage::create_blob(db, submission.bundle_version);
  if (!blob) return tl::unexpected(blob.error());
  if (auto appended = storage::append_blob(db, *blob, submission.report); !appended) {
    return tl::unexpected(appended.error());
  }
  if (auto finished = storage::finish_blob(db, *blob); !finished) {
    return tl::unexpected(finished.error());
  }
  return record(db, *blob, source, attachments);
}

// Inside a write transaction: the whole submission, or a refusal that stores nothing.
tl::expected<Outcome, storage::Error> store_submission(storage::Database& db,
                                                       const Submission& submission) {
  std::optional<sources::Draft> draft;
  std::vector<storage::BlobId> attachments;
  if (submission.links.draft) {
    auto found = sources::find_draft(db, *submission.links.draft);
    if (!found) return tl::unexpected(found.error());
    if (!*found || (*found)->expired()) {
      return refusal(http::status::bad_request, "the draft is unknown or has expired");
    }
    draft = **found;
    auto blobs = attachment_blobs(db, draft->id, submission);
    if (!blobs) return tl::unexpected(blobs.error());
    if (auto* refused = std::get_if<Outcome>(&*blobs)) return std::move(*refused);
    attachments = std::get<std::vector<storage::BlobId>>(std::move(*blobs));
  }
  auto id = store_report(db, submission, draft ? draft->source_id : std::nullopt, attachments);
  if (!id) return tl::unexpected(id.error());
  if (draft) {
    if (auto consumed = consume_draft(db, draft->id); !consumed) {
      return tl::unexpected(consumed.error());
    }
  }
  return Outcome{http::status::created, json::serialize(json::object{{"id", *id}})};
}

// The draft and uploads of the body, or the refusal. `object` has "report" and may have
// "draft" and "uploads" only.
std::variant<Outcome, Links> parse_links(const json::object& object, const config::Limits& limits) {
  Links links;
  if (const auto* draft = object.if_contains("draft")) {
    const json::string* token = draft->if_string();
    if (token != nullptr) links.draft = sources::draft_token_hash(*token);
    if (!links.draft) {
      return refusal(http::status::bad_request,
                     "the draft must be the token POST /api/v1/drafts gave");
    }
  }
  const auto* uploads = object.if_contains("uploads");
  if (uploads == nullptr) return links;
  if (!links.draft) {
    return refusal(http::status::bad_request,
                   "uploads must come with the draft they were made for");
  }
  const json::array* list = uploads->if_array();
  if (list == nullptr || list->size() > limits.uploads_per_draft) {
    return refusal(http::status::bad_request,
                   "uploads must be a list of at most limits.uploads_per_draft upload ids");
  }
  for (const json::value& item : *list) {
    const json::string* id = item.if_string();
    if (id == nullptr || !is_lower_hex(*id, kPublicIdBytes * 2) ||
        std::find(links.uploads.begin(), links.uploads.end(), *id) != links.uploads.end()) {
      return refusal(http::status::bad_request,
                     "uploads must be distinct upload ids (the ID in /api/v1/uploads/ID)");
    }
    links.uploads.emplace_back(*id);
  }
  return links;
}

// Not libsodium's constant-time decoder, which took a tenth of the server's time under
// load: a report is ciphertext, and its decoding need not hide anything.
std::optional<std::vector<std::byte>> decode_report(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  std::vector<std::byte> bytes(text.size() / 4 * 3);
  const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (decoded < 0) return std::nullopt;
  // EVP_DecodeBlock counts the zero bytes that the padding stands for.
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  bytes.resize(static_cast<std::size_t>(decoded) - padding);
  return bytes;
}

}  // namespace

tl::expected<std::string, storage::Error> record(storage::Database& db, storage::BlobId report_blob,
                                                 std::optional<std::int64_t> source_id,
                                                 std::span<const storage::BlobId> attachments) {
  auto bump = db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'change_seq';");
  if (!bump) return tl::unexpected(bump.error());
  if (auto ran = bump->run(); !ran) return tl::unexpected(ran.error());
  const std::string id = random_hex(kPublicIdBytes);
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
  constexpr std::uint64_t kRoomPerUpload = kPublicIdBytes * 2 + 8;  // "ID", with spaces
  return (limits.report_bytes + 2) / 3 * 4 + kJsonRoom + limits.uploads_per_draft * kRoomPerUpload;
}

void accept(std::string_view json_body, const config::Limits& limits,
            const InstalledBundle& installed, storage::Store& store, TokenBucket& bucket,
            std::function<void(Outcome)> done) {
  if (!installed) {
    return done(refusal(http::status::internal_server_error, "the tip line cannot read its keys"));
  }
  if (!*installed) return done(refusal(http::status::service_unavailable, bundle::kNotAccepting));
  const bundle::Bundle& current = **installed;

  boost::system::error_code ec;
  const json::value parsed = json::parse(json_body, ec);
  const json::object* object = ec ? nullptr : parsed.if_object();
  const bool known_keys =
      object != nullptr && std::all_of(object->begin(), object->end(), [](const auto& member) {
        return member.key() == "report" || member.key() == "draft" || member.key() == "uploads";
      });
  const json::string* encoded =
      known_keys && object->contains("report") ? object->at("report").if_string() : nullptr;
  if (encoded == nullptr) {
    return done(refusal(http::status::bad_request,
                        "the body must be a JSON object {\"report\": BASE64} with optionally "
                        "\"draft\" and \"uploads\", and nothing else"));
  }
  auto links = parse_links(*object, limits);
  if (auto* refused = std::get_if<Outcome>(&links)) return done(std::move(*refused));
  auto decoded = decode_report(*encoded);
  if (!decoded) return done(refusal(http::status::bad_request, "the report is not valid base64"));
  std::vector<std::byte> report = std::move(*decoded);
  if (report.size() > limits.report_bytes) {
    return done(refusal(http::status::payload_too_large, "the report is larger than allowed"));
  }
  if (!bundle::is_sealed_to({reinterpret_cast<const std::uint8_t*>(report.data()), report.size()},
                            current.recipients.size())) {
    return done(refusal(http::status::bad_request,
                        "the report is not an age file sealed to the current recipients"));
  }
  if (!bucket.take()) {
    return done(refusal(http::status::too_many_requests,
                        "the tip line is receiving many reports; try again in a minute"));
  }
  store.write_then([submission = Submission{std::move(report), current.version,
                                            std::get<Links>(std::move(links))}](
                       storage::Database& db) { return store_submission(db, submission); },
                   [done = std::move(done)](tl::expected<Outcome, storage::Error> stored) {
                     if (!stored) {
                       done(refusal(http::status::internal_server_error,
                                    "the report could not be stored; please send it again"));
                       return;
                     }
                     done(std::move(*stored));
                   });
}

}  // namespace tipline::server::submissions
