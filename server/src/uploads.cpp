#include "uploads.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "bundle.h"
#include "identifiers.h"
#include "sources.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/secret.h"
#include "tipline/server/log.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/store.h"

namespace tipline::server::uploads {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

constexpr std::string_view kTusVersion = "1.0.0";
constexpr std::string_view kTusExtensions = "creation,termination,expiration";
constexpr std::string_view kOffsetStream = "application/offset+octet-stream";
constexpr std::size_t kIdBytes = 16;
constexpr std::size_t kTokenHexDigits = 64;
// Bytes of a PATCH held in memory before they are committed: one commit (and fsync) per
// MiB keeps the cost low, and a broken connection loses at most this much.
constexpr std::size_t kFlushBytes = std::size_t{1024} * 1024;

// ---- Responses ---------------------------------------------------------------------------

// Every answer under /api/v1/uploads carries Tus-Resumable (tus 1.0.0 core), OPTIONS too.
Response tus_response(http::status status, unsigned version, bool head,
                      const RequestContext& context) {
  Response response =
      make_response(status, version, "text/plain; charset=utf-8", "", head, context);
  response.set("Tus-Resumable", kTusVersion);
  return response;
}

Response tus_error(http::status status, std::string_view message, unsigned version, bool head,
                   const RequestContext& context) {
  Response response = json_response(
      status, version, json::serialize(json::object{{"error", message}}), head, context);
  response.set("Tus-Resumable", kTusVersion);
  return response;
}

Response store_failure(const storage::Error& error, unsigned version,
                       const RequestContext& context) {
  log::source(log::Level::warn, "upload_not_stored");
  if (error.code == storage::Errc::full) {
    return tus_error(http::status::service_unavailable,
                     "the tip line is out of space; try again later", version, false, context);
  }
  return tus_error(http::status::internal_server_error,
                   "the upload could not be stored; resume it from the offset HEAD reports",
                   version, false, context);
}

// An expiry hour in the IMF-fixdate form of RFC 9110, e.g. "Sun, 06 Nov 1994 08:00:00 GMT".
std::string http_date(std::int64_t hour) {
  using namespace std::chrono;
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const sys_seconds at{seconds{hour * kSecondsPerHour}};
  const sys_days day = floor<days>(at);
  const year_month_day date{day};
  const auto hours_of_day = duration_cast<std::chrono::hours>(at - day).count();
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%s, %02u %s %04d %02d:00:00 GMT",
                kDays.at(weekday{day}.c_encoding()), static_cast<unsigned>(date.day()),
                kMonths.at(static_cast<unsigned>(date.month()) - 1), static_cast<int>(date.year()),
                static_cast<int>(hours_of_day));
  return text.data();
}

// ---- Request fields ----------------------------------------------------------------------

std::string_view field(const RequestHeader& header, std::string_view name) {
  const auto value = header[boost::beast::string_view(name.data(), name.size())];
  return {value.data(), value.size()};
}

std::string_view path_in(const RequestHeader& header) {
  return path_of({header.target().data(), header.target().size()});
}

// A non-negative decimal integer, digits only, as tus headers carry.
std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The ID in /api/v1/uploads/ID, 32 lowercase hex digits.
std::optional<std::string> upload_id(std::string_view path) {
  if (!path.starts_with(kItemPrefix)) return std::nullopt;
  const std::string_view id = path.substr(kItemPrefix.size());
  if (!is_lower_hex(id, kIdBytes * 2)) return std::nullopt;
  return std::string(id);
}

// The hash of the draft token in `Upload-Metadata: draft BASE64(TOKEN), ...`. The other
// keys (a file name, a type) are skipped and never kept: they would identify the file.
std::optional<sources::TokenHash> draft_in_metadata(std::string_view metadata) {
  while (!metadata.empty()) {
    const std::size_t comma = std::min(metadata.find(','), metadata.size());
    std::string_view pair = metadata.substr(0, comma);
    metadata.remove_prefix(std::min(comma + 1, metadata.size()));
    while (pair.starts_with(' ')) pair.remove_prefix(1);
    const std::size_t space = pair.find(' ');
    if (pair.substr(0, space) != "draft" || space == std::string_view::npos) continue;
    const std::string_view encoded = pair.substr(space + 1);
    crypto::Secret token(kTokenHexDigits);
    std::size_t size = 0;
    if (sodium_base642bin(token.expose().data(), token.size(), encoded.data(), encoded.size(),
                          nullptr, &size, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        size != kTokenHexDigits) {
      return std::nullopt;
    }
    return sources::draft_token_hash(
        {reinterpret_cast<const char*>(token.expose().data()), token.size()});
  }
  return std::nullopt;
}

// ---- Storage -----------------------------------------------------------------------------

struct Upload {
  storage::BlobId blob = 0;
  std::uint64_t length = 0;
  std::uint64_t offset = 0;  // what is durably stored: the blob's size
  bool complete = false;
  std::int64_t expires_hour = 0;
  [[nodiscard]] bool expired() const { return expires_hour <= current_hour(); }
};

tl::expected<std::optional<Upload>, storage::Error> find_upload(storage::Database& db,
                                                                const std::string& public_id) {
  auto query = db.prepare(
      "SELECT u.blob_id, u.length, b.size, b.complete, u.expires_hour "
      "FROM uploads u JOIN blobs b ON b.id = u.blob_id WHERE u.public_id = ?;");
  if (!query) return tl::unexpected(query.error());
  query->bind(public_id);
  auto row = query->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  return Upload{query->integer(0), static_cast<std::uint64_t>(query->integer(1)),
                static_cast<std::uint64_t>(query->integer(2)), query->integer(3) != 0,
                query->integer(4)};
}

// Deletes the upload; the upload_deleted trigger deletes its blob. false: there was none.
tl::expected<bool, storage::Error> delete_upload(storage::Database& db,
                                                 const std::string& public_id) {
  auto remove = db.prepare("DELETE FROM uploads WHERE public_id = ?;");
  if (!remove) return tl::unexpected(remove.error());
  remove->bind(public_id);
  if (auto ran = remove->run(); !ran) return tl::unexpected(ran.error());
  return db.changes() == 1;
}

// An expired upload is deleted when it is next asked for; nobody waits for that.
void drop_expired(storage::Store& store, const std::string& public_id) {
  store.write_then([public_id](storage::Database& db) { return delete_upload(db, public_id); },
                   [](const tl::expected<bool, storage::Error>& deleted) {
                     if (!deleted) log::source(log::Level::warn, "expired_upload_not_deleted");
                   });
}

struct Refusal {
  http::status status;
  std::string_view message;
};
struct Created {
  std::string public_id;
  std::int64_t expires_hour = 0;
};
struct Creation {
  sources::TokenHash draft;
  std::uint64_t length = 0;
  std::int64_t bundle_version = 0;
  std::size_t uploads_per_draft = 0;
  std::uint64_t pending_upload_bytes = 0;
  std::chrono::hours expiry{0};
};

tl::expected<std::int64_t, storage::Error> count_uploads(storage::Database& db,
                                                         std::int64_t draft) {
  auto count = db.prepare("SELECT count(*) FROM uploads WHERE draft_id = ?;");
  if (!count) return tl::unexpected(count.error());
  count->bind(draft);
  auto row = count->step();
  if (!row) return tl::unexpected(row.error());
  return count->integer(0);
}

// The bytes promised to every upload not yet part of a submission: unfinished ones and
// finished ones of drafts not yet submitted alike hold (or will hold) that much disk.
tl::expected<std::uint64_t, storage::Error> pending_bytes(storage::Database& db) {
  auto sum = db.prepare("SELECT coalesce(sum(length), 0) FROM uploads;");
  if (!sum) return tl::unexpected(sum.error());
  auto row = sum->step();
  if (!row) return tl::unexpected(row.error());
  return static_cast<std::uint64_t>(sum->integer(0));
}

// Inside a write transaction: a new upload of the draft with an empty blob.
tl::expected<std::variant<Refusal, Created>, storage::Error> insert_upload(
    storage::Database& db, const Creation& creation) {
  auto draft = sources::find_draft(db, creation.draft);
  if (!draft) return tl::unexpected(draft.error());
  if (!*draft) {
    return Refusal{http::status::not_found, "no such draft: make one with POST /api/v1/drafts"};
  }
  if ((*draft)->expired()) {
    return Refusal{http::status::gone, "the draft has expired: make a new one"};
  }
  auto count = count_uploads(db, (*draft)->id);
  if (!count) return tl::unexpected(count.error());
  if (static_cast<std::size_t>(*count) >= creation.uploads_per_draft) {
    return Refusal{http::status::forbidden,
                   "this draft already has as many uploads as a submission may attach"};
  }
  // Checked in the transaction that adds the upload, so concurrent creations cannot
  // together pass the limit.
  auto pending = pending_bytes(db);
  if (!pending) return tl::unexpected(pending.error());
  if (*pending > creation.pending_upload_bytes ||
      creation.length > creation.pending_upload_bytes - *pending) {
    return Refusal{http::status::insufficient_storage,
                   "the tip line holds as many pending uploads as it can; try again later"};
  }
  auto blob = storage::create_blob(db, creation.bundle_version);
  if (!blob) return tl::unexpected(blob.error());
  // An upload never outlives its draft, which takes it along when it goes.
  Created created{random_hex(kIdBytes),
                  std::min((*draft)->expires_hour, current_hour() + creation.expiry.count())};
  auto insert = db.prepare(
      "INSERT INTO uploads (public_id, draft_id, blob_id, length, expires_hour) "
      "VALUES (?, ?, ?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  insert->bind(created.public_id, (*draft)->id, *blob, static_cast<std::int64_t>(creation.length),
               created.expires_hour);
  if (auto ran = insert->run(); !ran) return tl::unexpected(ran.error());
  return created;
}

// What happened to bytes sent for an upload.
enum class Stored {
  partial,   // appended; more are to come
  complete,  // appended, the last ones: the file is sealed as it must be, and finished
  refused,   // the last ones, but the file is not sealed as it must be: the upload is deleted
  gone,      // the upload was deleted (DELETE, expiry) meanwhile
  moved,     // another PATCH moved its offset meanwhile, or completed it
};

// Inside a write transaction: whether the blob of `length` bytes is an age file sealed to
// the installed bundle's `recipients`, as reports must be.
tl::expected<bool, storage::Error> is_sealed(storage::Database& db, storage::BlobId blob,
                                             std::uint64_t length, std::size_t recipients) {
  std::vector<std::byte> start(std::min<std::uint64_t>(length, crypto::age::kMaxHeaderBytes));
  auto read = storage::read_blob(db, blob, 0, start);
  if (!read) return tl::unexpected(read.error());
  return bundle::is_sealed_to({reinterpret_cast<const std::uint8_t*>(start.data()), *read},
                              recipients);
}

// Inside a write transaction: appends `bytes` at `offset`, the offset they were sent for.
// Bytes that reach the upload's length complete it in the same transaction: the blob is
// finished if it is sealed, or the upload is deleted. So no commit ever leaves an upload
// at its full length yet unfinished, whichever path (a PATCH ending, a flush mid-body, a
// broken connection) made it.
tl::expected<Stored, storage::Error> commit_at(storage::Database& db, const std::string& public_id,
                                               storage::BlobId blob, std::uint64_t offset,
                                               std::span<const std::byte> bytes,
                                               std::size_t recipients) {
  auto upload = find_upload(db, public_id);
  if (!upload) return tl::unexpected(upload.error());
  if (!*upload || (*upload)->blob != blob) return Stored::gone;
  if ((*upload)->offset != offset || (*upload)->complete) return Stored::moved;
  if (!bytes.empty()) {
    if (auto appended = storage::append_blob(db, blob, bytes); !appended) {
      return tl::unexpected(appended.error());
    }
  }
  const std::uint64_t reached = offset + bytes.size();
  if (reached < (*upload)->length) return Stored::partial;
  auto sealed = is_sealed(db, blob, reached, recipients);
  if (!sealed) return tl::unexpected(sealed.error());
  if (!*sealed) {
    auto deleted = delete_upload(db, public_id);
    if (!deleted) return tl::unexpected(deleted.error());
    return Stored::refused;
  }
  if (auto finished = storage::finish_blob(db, blob); !finished) {
    return tl::unexpected(finished.error());
  }
  return Stored::complete;
}

// ---- OPTIONS, POST, HEAD, DELETE ---------------------------------------------------------

Response options(unsigned version, const RequestContext& context, const config::Limits& limits) {
  Response response = tus_response(http::status::no_content, version, false, context);
  response.set("Tus-Version", kTusVersion);
  response.set("Tus-Extension", kTusExtensions);
  response.set("Tus-Max-Size", std::to_string(limits.upload_bytes));
  return response;
}

Response precondition_failed(unsigned version, bool head, const RequestContext& context) {
  Response response =
      tus_error(http::status::precondition_failed,
                "this server speaks tus 1.0.0: send Tus-Resumable: 1.0.0", version, head, context);
  response.set("Tus-Version", kTusVersion);
  return response;
}

// A refusal before anything is stored, or the creation to store.
std::variant<Response, Creation> check_creation(const Request& request,
                                                const RequestContext& context,
                                                const config::Limits& limits,
                                                std::int64_t bundle_version) {
  const unsigned version = request.version();
  const auto refuse = [&](http::status status, std::string_view message) {
    return tus_error(status, message, version, false, context);
  };
  if (!field(request, "Upload-Defer-Length").empty()) {
    return refuse(http::status::bad_request, "Upload-Defer-Length is not supported");
  }
  if (!request.body().empty()) {
    return refuse(http::status::bad_request, "send the bytes with PATCH after the creation");
  }
  const auto length = parse_count(field(request, "Upload-Length"));
  if (!length || *length == 0) {
    return refuse(http::status::bad_request, "Upload-Length must be a positive integer");
  }
  if (*length > limits.upload_bytes) {
    return refuse(http::status::payload_too_large,
                  "the upload is larger than allowed (see Tus-Max-Size)");
  }
  const auto draft = draft_in_metadata(field(request, "Upload-Metadata"));
  if (!draft) {
    return refuse(http::status::bad_request,
                  "Upload-Metadata must carry the draft token: draft BASE64(TOKEN)");
  }
  return Creation{*draft,
                  *length,
                  bundle_version,
                  limits.uploads_per_draft,
                  limits.pending_upload_bytes,
                  limits.upload_expiry};
}

void create(const Request& request, const RequestContext& context, Services& services,
            Respond respond) {
  const unsigned version = request.version();
  const auto& installed = services.installed_bundle;
  if (!installed) {
    return respond(tus_error(http::status::internal_server_error,
                             "the tip line cannot read its keys", version, false, context));
  }
  if (!*installed) {
    return respond(tus_error(http::status::service_unavailable, bundle::kNotAccepting, version,
                             false, context));
  }
  auto checked = check_creation(request, context, services.config.limits, (*installed)->version);
  if (auto* refusal = std::get_if<Response>(&checked)) return respond(std::move(*refusal));
  services.store.write_then(
      [creation = std::get<Creation>(checked)](storage::Database& db) {
        return insert_upload(db, creation);
      },
      [respond = std::move(respond), version,
       context](tl::expected<std::variant<Refusal, Created>, storage::Error> inserted) {
        if (!inserted) return respond(store_failure(inserted.error(), version, context));
        if (const auto* refusal = std::get_if<Refusal>(&*inserted)) {
          return respond(tus_error(refusal->status, refusal->message, version, false, context));
        }
        const auto& created = std::get<Created>(*inserted);
        log::source(log::Level::debug, "upload_created");
        Response response = tus_response(http::status::created, version, false, context);
        response.set(http::field::location, std::string(kItemPrefix) + created.public_id);
        response.set("Upload-Expires", http_date(created.expires_hour));
        respond(std::move(response));
      });
}

void describe(const std::string& id, unsigned version, const RequestContext& context,
              Services& services, const Respond& respond) {
  auto upload = services.store.read([&](storage::Database& db) { return find_upload(db, id); });
  if (!upload) return respond(store_failure(upload.error(), version, context));
  if (!*upload)
    return respond(tus_error(http::status::not_found, "no such upload", version, true, context));
  if ((*upload)->expired()) {
    drop_expired(services.store, id);
    return respond(tus_error(http::status::gone, "the upload has expired", version, true, context));
  }
  Response response = tus_response(http::status::ok, version, true, context);
  response.set("Upload-Offset", std::to_string((*upload)->offset));
  response.set("Upload-Length", std::to_string((*upload)->length));
  response.set("Upload-Expires", http_date((*upload)->expires_hour));
  respond(std::move(response));
}

void terminate(const std::string& id, unsigned version, const RequestContext& context,
               Services& services, Respond respond) {
  services.store.write_then(
      [id](storage::Database& db) { return delete_upload(db, id); },
      [respond = std::move(respond), version, context](tl::expected<bool, storage::Error> deleted) {
        if (!deleted) return respond(store_failure(deleted.error(), version, context));
        if (!*deleted) {
          return respond(
              tus_error(http::status::not_found, "no such upload", version, false, context));
        }
        log::source(log::Level::debug, "upload_deleted");
        respond(tus_response(http::status::no_content, version, false, context));
      });
}

// ---- PATCH -------------------------------------------------------------------------------

// What a PATCH works on. Shared with the writes in flight, which may finish after the
// stream is gone; touched by one thread at a time (the session waits for each `next`).
struct Patch {
  Patch(storage::Store& database, std::string id, const Upload& upload, std::size_t count,
        unsigned http_version, RequestContext request_context)
      : store(database),
        public_id(std::move(id)),
        blob(upload.blob),
        length(upload.length),
        offset(upload.offset),
        expires_hour(upload.expires_hour),
        recipients(count),
        version(http_version),
        context(std::move(request_context)) {}

  storage::Store& store;
  const std::string public_id;
  const storage::BlobId blob;
  const std::uint64_t length;
  std::uint64_t offset;  // durably committed
  const std::int64_t expires_hour;
  const std::size_t recipients;  // of the installed bundle
  const unsigned version;
  const RequestContext context;
  std::vector<std::byte> buffer;  // received, not yet committed
  bool complete = false;          // a commit of this PATCH completed the upload

  [[nodiscard]] Response error(http::status status, std::string_view message) const {
    return tus_error(status, message, version, false, context);
  }
  // 204 with the committed offset: what a tus client resumes from.
  [[nodiscard]] Response progress() const {
    Response response = tus_response(http::status::no_content, version, false, context);
    response.set("Upload-Offset", std::to_string(offset));
    response.set("Upload-Expires", http_date(expires_hour));
    return response;
  }
  // The answer to a commit that did not store the bytes, or nullopt if it did.
  [[nodiscard]] std::optional<Response> failure(
      const tl::expected<Stored, storage::Error>& stored) const {
    if (!stored) return store_failure(stored.error(), version, context);
    switch (*stored) {
      case Stored::partial:
      case Stored::complete:
        return std::nullopt;
      case Stored::refused:
        return error(http::status::bad_request, "not an age file sealed to the current recipients");
      case Stored::gone:
        return error(http::status::not_found, "no such upload");
      case Stored::moved:
        return error(http::status::conflict, "the upload's offset moved; ask HEAD for it");
    }
    return std::nullopt;
  }
};

// Commits the buffered bytes, completing the upload if they are its last (commit_at);
// `done` gets the outcome after the commit, on the writer thread.
template <typename Done>
void flush(const std::shared_ptr<Patch>& patch, Done done) {
  auto bytes = std::make_shared<const std::vector<std::byte>>(std::move(patch->buffer));
  patch->buffer = {};
  patch->store.write_then(
      [id = patch->public_id, blob = patch->blob, offset = patch->offset,
       recipients = patch->recipients, bytes](storage::Database& db) {
        return commit_at(db, id, blob, offset, *bytes, recipients);
      },
      [patch, bytes, done = std::move(done)](tl::expected<Stored, storage::Error> stored) {
        if (stored && (*stored == Stored::partial || *stored == Stored::complete)) {
          patch->offset += bytes->size();
        }
        if (stored && *stored == Stored::complete) {
          patch->complete = true;
          log::source(log::Level::debug, "upload_complete");
        }
        if (stored && *stored == Stored::refused) {
          log::source(log::Level::debug, "upload_refused", {{"reason", "not_sealed"}});
        }
        done(stored);
      });
}

class PatchStream final : public BodyStream {
 public:
  explicit PatchStream(std::shared_ptr<Patch> patch) : patch_(std::move(patch)) {}
  PatchStream(const PatchStream&) = delete;
  PatchStream& operator=(const PatchStream&) = delete;

  // The connection broke (or the request was refused) before the body ended: whatever
  // arrived is committed all the same, so HEAD offers it to resume from; if that was the
  // last byte, the upload is completed (or refused) as at the end of a body. Nobody waits.
  ~PatchStream() override {
    if (finished_ || patch_->buffer.empty()) return;
    flush(patch_, [](const tl::expected<Stored, storage::Error>& stored) {
      if (!stored) log::source(log::Level::warn, "upload_not_stored");
    });
  }

  void consume(std::span<const std::uint8_t> piece, Next next) override {
    if (patch_->offset + patch_->buffer.size() + piece.size() > patch_->length) {
      return next(
          patch_->error(http::status::payload_too_large, "the body goes past Upload-Length"));
    }
    const auto* bytes = reinterpret_cast<const std::byte*>(piece.data());
    patch_->buffer.insert(patch_->buffer.end(), bytes, bytes + piece.size());
    if (patch_->buffer.size() < kFlushBytes) return next(std::nullopt);
    // The next piece is read only after this commit: that is the backpressure.
    flush(patch_, [patch = patch_,
                   next = std::move(next)](const tl::expected<Stored, storage::Error>& stored) {
      next(patch->failure(stored));
    });
  }

  void finish(Respond respond) override {
    finished_ = true;
    // A flush in consume() already committed the last byte and completed the upload.
    if (patch_->complete) return respond(patch_->progress());
    // Also with no bytes: at offset == length that completes the upload (commit_at).
    flush(patch_, [patch = patch_, respond = std::move(respond)](
                      const tl::expected<Stored, storage::Error>& stored) {
      auto failed = patch->failure(stored);
      respond(failed ? std::move(*failed) : patch->progress());
    });
  }

 private:
  std::shared_ptr<Patch> patch_;
  bool finished_ = false;
};

// The checks on a PATCH's headers and its upload, before any body byte is read.
StreamStart check_patch(const RequestHeader& header, const std::string& id,
                        const RequestContext& context, Services& services) {
  const unsigned version = header.version();
  const auto refuse = [&](http::status status, std::string_view message) -> StreamStart {
    return tus_error(status, message, version, false, context);
  };
  if (!boost::beast::iequals(field(header, "Content-Type"), kOffsetStream)) {
    return refuse(http::status::unsupported_media_type,
                  "a PATCH must have Content-Type: application/offset+octet-stream");
  }
  const auto offset = parse_count(field(header, "Upload-Offset"));
  if (!offset) return refuse(http::status::bad_request, "Upload-Offset must be an integer");
  const auto& installed = services.installed_bundle;
  if (!installed)
    return refuse(http::status::internal_server_error, "the tip line cannot read its keys");
  if (!*installed) return refuse(http::status::service_unavailable, bundle::kNotAccepting);
  auto upload = services.store.read([&](storage::Database& db) { return find_upload(db, id); });
  if (!upload) return store_failure(upload.error(), version, context);
  if (!*upload) return refuse(http::status::not_found, "no such upload");
  if ((*upload)->expired()) {
    drop_expired(services.store, id);
    return refuse(http::status::gone, "the upload has expired");
  }
  if (*offset != (*upload)->offset) {
    return refuse(http::status::conflict,
                  "Upload-Offset is not the upload's offset; ask HEAD for it");
  }
  const auto content_length = parse_count(field(header, "Content-Length"));
  if (content_length && *content_length > (*upload)->length - (*upload)->offset) {
    return refuse(http::status::payload_too_large, "the body goes past Upload-Length");
  }
  if ((*upload)->complete) {
    // Nothing left to send: the upload is done, and says so again.
    return refuse(http::status::conflict, "the upload is complete");
  }
  return std::make_unique<PatchStream>(std::make_shared<Patch>(
      services.store, id, **upload, (*installed)->recipients.size(), version, context));
}

}  // namespace

void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond) {
  const unsigned version = request.version();
  const bool head = request.method() == http::verb::head;
  if (request.method() == http::verb::options) {
    return respond(options(version, context, services.config.limits));
  }
  if (field(request, "Tus-Resumable") != kTusVersion) {
    return respond(precondition_failed(version, head, context));
  }
  const std::string_view path = path_in(request);
  if (path == kCollection) return create(request, context, services, std::move(respond));
  const auto id = upload_id(path);
  if (!id) {
    return respond(tus_error(http::status::not_found, "no such upload", version, head, context));
  }
  if (head) return describe(*id, version, context, services, respond);
  terminate(*id, version, context, services, std::move(respond));
}

StreamStart start_patch(const RequestHeader& header, const RequestContext& context,
                        Services& services) {
  if (field(header, "Tus-Resumable") != kTusVersion) {
    return precondition_failed(header.version(), false, context);
  }
  const auto id = upload_id(path_in(header));
  if (!id) {
    return tus_error(http::status::not_found, "no such upload", header.version(), false, context);
  }
  return check_patch(header, *id, context, services);
}

}  // namespace tipline::server::uploads
