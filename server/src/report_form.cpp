#include "report_form.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "bundle.h"
#include "i18n.h"
#include "identifiers.h"
#include "multipart.h"
#include "pages.h"
#include "questionnaire.h"
#include "sources.h"
#include "submissions.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/codename.h"
#include "tipline/crypto/padding.h"
#include "tipline/crypto/secret.h"
#include "tipline/server/log.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/store.h"

namespace tipline::server::report_form {
namespace {

namespace http = boost::beast::http;
using storage::BlobId;

// CSRF: double submit. GET /report sets a random token as a SameSite=Strict cookie and as
// the form's first field; a post is taken only when both arrive and match. A cross-site page
// can make a browser post the form but can neither read the token nor, being cross-site,
// have the cookie sent with it. Over TLS the cookie has the __Host- prefix, so the browser
// takes it only with Secure, Path=/ and no Domain: a sibling host or a plain-HTTP answer
// cannot plant one. Over plain HTTP (the onion service behind loopback) a __Host- cookie
// would be dropped, so the name there has no prefix. Each transport accepts only its name.
constexpr std::string_view kCsrfCookieTls = "__Host-tipline_csrf";
constexpr std::string_view kCsrfCookiePlain = "tipline_csrf";
constexpr std::size_t kCsrfBytes = 32;
constexpr std::size_t kCsrfChars = 2 * kCsrfBytes;  // lowercase hexadecimal

// The hidden field of the codename page that carries the codename it shows, so that the
// server keeps no state between the two posts (and so no codename).
constexpr std::string_view kCodenameShownField = "codename_shown";

// Ciphertext of attachments is written to the store once this much is waiting: the memory a
// request holds is about this, whatever the size of its files.
constexpr std::size_t kBatchBytes = std::size_t{1} << 20;

// Bounds on the text parts of a form, used to size the memory that collects them.
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kShortValueBytes = 72;  // an option value, a year, a month, a country
constexpr std::size_t kMaxUtf8Bytes = 4;      // per character; a CRLF line break takes 2

// What the error pages say: keys of the page catalogs (web/i18n/<tag>/pages.toml).
constexpr std::string_view kExpiredForm = "message.form_expired";
constexpr std::string_view kNotStored = "message.not_stored";
constexpr std::string_view kBusy = "message.busy";
constexpr std::string_view kBusyReport = "message.busy_report";

// Codename derivation (scrypt: 64 MiB and about 100 ms each) never runs on an I/O thread.
// It runs on Services::derivation_pool, whose few threads bound the memory it takes at
// once; at most kAdmittedPerThread derivations per pool thread may be running or waiting
// for one, and past that a request is answered 503 at once rather than queued without
// bound. Process-wide: every listener and request shares them.
constexpr std::size_t kAdmittedPerThread = 4;

std::atomic<std::size_t>& derivation_limit() {
  static std::atomic<std::size_t> limit{kAdmittedPerThread * Services::kDerivationThreads};
  return limit;
}

// An admitted derivation; its place is given back when the slot is destroyed.
struct SlotRelease {
  void operator()(std::atomic<std::size_t>* admitted) const { admitted->fetch_sub(1); }
};
using DerivationSlot = std::unique_ptr<std::atomic<std::size_t>, SlotRelease>;

// Null when the limit is reached: the caller answers 503.
DerivationSlot take_derivation_slot() {
  static std::atomic<std::size_t> admitted{0};
  if (admitted.fetch_add(1) >= derivation_limit().load()) {
    admitted.fetch_sub(1);
    return nullptr;
  }
  return DerivationSlot(&admitted);
}

// Runs `work` on the derivation pool; `work` owns the slot and answers through its respond.
template <typename Work>
void run_derivation(Services& services, Work work) {
  boost::asio::post(services.derivation_pool, std::move(work));
}

// An error page that says `message`, already in the page's language.
Response failure_saying(http::status status, unsigned version, std::string_view message,
                        const RequestContext& context, bool head = false) {
  log::source(log::Level::debug, "report_form_refused", {{"status", static_cast<int>(status)}});
  return html_response(
      status, version,
      pages::error_page(context.language.tag, static_cast<unsigned>(status), message), head,
      context);
}

// An error page that says the catalog text `message_key`.
Response failure(http::status status, unsigned version, std::string_view message_key,
                 const RequestContext& context, bool head = false) {
  return failure_saying(status, version, i18n::text(context.language.tag, message_key), context,
                        head);
}

// Why the answers were refused (form::Error), in the page's language.
std::string answers_refusal(const form::Error& error, std::string_view language) {
  const std::string limit =
      error.question == nullptr ? "" : std::to_string(error.question->max_length);
  const std::string_view label =
      error.question == nullptr ? std::string_view() : error.question->label.in(language);
  return i18n::text(language, error.message_key, {{"question", label}, {"limit", limit}});
}

Response not_accepting(unsigned version, const RequestContext& context, bool head = false) {
  return html_response(http::status::service_unavailable, version,
                       pages::not_accepting_page(context.language.tag), head, context);
}

std::string new_csrf_token() {
  crypto::initialize();
  return random_hex(kCsrfBytes);
}

std::string_view csrf_cookie_name(bool tls) { return tls ? kCsrfCookieTls : kCsrfCookiePlain; }

std::string csrf_cookie_header(std::string_view token, bool tls) {
  std::string cookie = std::string(csrf_cookie_name(tls)) + "=" + std::string(token) +
                       "; Path=/; HttpOnly; SameSite=Strict";
  if (tls) cookie += "; Secure";
  return cookie;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The CSRF cookie's token, when the request carries one of the form this server sets under
// the name of its transport.
std::optional<std::string> csrf_cookie(const RequestHeader& header, bool tls) {
  const std::string_view name = csrf_cookie_name(tls);
  const auto [first, last] = header.equal_range(http::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view cookies(field->value().data(), field->value().size());
    while (!cookies.empty()) {
      const std::size_t end = std::min(cookies.find(';'), cookies.size());
      const std::string_view pair = trimmed(cookies.substr(0, end));
      cookies.remove_prefix(std::min(end + 1, cookies.size()));
      const std::size_t equals = pair.find('=');
      if (equals == std::string_view::npos || pair.substr(0, equals) != name) continue;
      const std::string_view value = trimmed(pair.substr(equals + 1));
      if (is_lower_hex(value, kCsrfChars)) return std::string(value);
    }
  }
  return std::nullopt;
}

// Constant time, so that a forged field learns nothing of the cookie from timing.
bool tokens_match(std::string_view cookie, std::span<const std::uint8_t> field) {
  return field.size() == cookie.size() &&
         sodium_memcmp(cookie.data(), field.data(), cookie.size()) == 0;
}

int current_year() {
  const std::chrono::year_month_day today{
      std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
  return static_cast<int>(today.year());
}

// The instance salt (design §4.3): the bytes whose hexadecimal `init` wrote to the file.
tl::expected<crypto::Secret, crypto::Error> instance_salt(const config::Config& config) {
  std::ifstream in(config.instance_salt_file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return crypto::Secret::from_hex(text.str());
}

// The memory the text answers of one form may take: each question's worst case in UTF-8,
// plus the names of its fields. A form that needs more breaks the questionnaire anyway.
std::size_t answers_capacity(const form::Questionnaire& questionnaire) {
  std::size_t total = 0;
  for (const form::Question& question : questionnaire.questions) {
    switch (question.kind) {
      case form::Kind::text:
      case form::Kind::textarea:
        total += kMaxNameBytes + kMaxUtf8Bytes * question.max_length;
        break;
      case form::Kind::month:
        total += 2 * (kMaxNameBytes + kShortValueBytes);
        break;
      case form::Kind::country:
        total += kMaxNameBytes + kShortValueBytes;
        break;
      case form::Kind::choice:
        total +=
            std::max<std::size_t>(1, question.options.size()) * (kMaxNameBytes + kShortValueBytes);
        break;
    }
  }
  return std::max<std::size_t>(total, 1);
}

// The text parts of a form (names and values), in one block of secret memory sized up front
// so that answers are never in ordinary heap memory and never reallocated.
class Answers {
 public:
  explicit Answers(std::size_t capacity) : bytes_(capacity) {}

  // False when the name is too long or there is no room left.
  [[nodiscard]] bool begin(std::string_view name) {
    if (name.size() > kMaxNameBytes || !append(std::as_bytes(std::span(name)))) return false;
    spans_.push_back({used_ - name.size(), name.size(), used_, 0});
    return true;
  }

  [[nodiscard]] bool add(std::span<const std::byte> data) {
    if (!append(data)) return false;
    spans_.back().value_size += data.size();
    return true;
  }

  // Views into this object's memory.
  [[nodiscard]] std::vector<form::Field> fields() const {
    const auto* base = reinterpret_cast<const char*>(bytes_.expose().data());
    std::vector<form::Field> fields;
    fields.reserve(spans_.size());
    for (const Span& span : spans_) {
      fields.push_back(
          {{base + span.name_at, span.name_size}, {base + span.value_at, span.value_size}});
    }
    return fields;
  }

 private:
  struct Span {
    std::size_t name_at;
    std::size_t name_size;
    std::size_t value_at;
    std::size_t value_size;
  };

  bool append(std::span<const std::byte> data) {
    if (data.size() > bytes_.size() - used_) return false;
    std::copy(data.begin(), data.end(),
              reinterpret_cast<std::byte*>(bytes_.expose().data()) + used_);
    used_ += data.size();
    return true;
  }

  crypto::Secret bytes_;
  std::size_t used_ = 0;
  std::vector<Span> spans_;
};

// One attached file: its ciphertext not yet in the store, and its blob once the first batch
// has created it.
//
// Blobs stay unfinished until the final transaction, which finishes them together with the
// submission that owns them: `db purge`, which may run beside the server, deletes finished
// blobs that nothing owns, and a blob id it frees may be given to another blob. Unfinished
// ones it leaves alone; only the next server start removes those (drop_abandoned_blobs).
struct Upload {
  std::optional<BlobId> blob;
  std::vector<std::uint8_t> unsaved;
};

// What one write appends for one upload. Work functions may run twice (store.h), so they
// read their batches and never consume them.
struct Batch {
  std::size_t upload = 0;
  std::optional<BlobId> blob;  // nullopt: the write creates it
  std::vector<std::uint8_t> bytes;
};

// Appends, never finishes: see Upload.
tl::expected<BlobId, storage::Error> save(storage::Database& db, const Batch& batch,
                                          std::int64_t bundle_version) {
  auto blob = batch.blob ? tl::expected<BlobId, storage::Error>(*batch.blob)
                         : storage::create_blob(db, bundle_version);
  if (!blob) return blob;
  if (auto appended = storage::append_blob(db, *blob, std::as_bytes(std::span(batch.bytes)));
      !appended) {
    return tl::unexpected(appended.error());
  }
  return blob;
}

// The blob of each batch, in order.
tl::expected<std::vector<BlobId>, storage::Error> save_all(storage::Database& db,
                                                           const std::vector<Batch>& batches,
                                                           std::int64_t bundle_version) {
  std::vector<BlobId> blobs;
  for (const Batch& batch : batches) {
    auto blob = save(db, batch, bundle_version);
    if (!blob) return tl::unexpected(blob.error());
    blobs.push_back(*blob);
  }
  return blobs;
}

// What the final write needs besides the batches: the sealed report and the new source.
struct Submission {
  std::vector<std::uint8_t> report;
  std::array<std::uint8_t, 32> login_hash{};
  std::string recipient;
  std::vector<std::optional<BlobId>> uploads;  // each upload's blob, if already written
};

// The last write: the remaining batches, the report, the source and the submission, in one
// transaction, so that a report is never stored without its files or its source, and no
// blob is finished before the submission that owns it (see Upload).
tl::expected<std::string, storage::Error> record_submission(storage::Database& db,
                                                            const std::vector<Batch>& batches,
                                                            const Submission& submission,
                                                            std::int64_t bundle_version) {
  auto saved = save_all(db, batches, bundle_version);
  if (!saved) return tl::unexpected(saved.error());
  std::vector<std::optional<BlobId>> uploads = submission.uploads;
  for (std::size_t i = 0; i < batches.size(); ++i) uploads[batches[i].upload] = (*saved)[i];
  std::vector<BlobId> attachments;
  for (const auto& blob : uploads) {
    if (!blob) return tl::unexpected(storage::Error{storage::Errc::not_found, "upload lost"});
    attachments.push_back(*blob);
  }
  auto report = save(db, Batch{0, std::nullopt, submission.report}, bundle_version);
  if (!report) return tl::unexpected(report.error());
  std::vector<BlobId> owned = attachments;
  owned.push_back(*report);
  for (const BlobId blob : owned) {
    if (auto finished = storage::finish_blob(db, blob); !finished) {
      return tl::unexpected(finished.error());
    }
  }
  auto source = sources::insert_source(db, submission.login_hash, submission.recipient);
  if (!source) return tl::unexpected(source.error());
  return submissions::record(db, *report, *source, attachments);
}

std::vector<std::uint8_t> seal(std::span<const std::uint8_t> plaintext,
                               std::span<const crypto::age::Recipient* const> recipients) {
  std::vector<std::uint8_t> sealed;
  auto encryptor = crypto::age::Encryptor::create(
      recipients, [&](std::span<const std::uint8_t> chunk) -> tl::expected<void, crypto::Error> {
        sealed.insert(sealed.end(), chunk.begin(), chunk.end());
        return {};
      });
  // Writing to memory cannot fail; a failure here would be a broken encryptor.
  if (!encryptor || !encryptor->write(plaintext) || !encryptor->finish()) return {};
  return sealed;
}

// The answer once a report is stored: the codename page. The page is moved, not copied, into
// the response, whose body is then the only copy of the codename on its way out besides
// `display`, which the caller wipes; the session wipes the body once it is written.
Response codename_response(const crypto::Secret& display, std::string_view csrf_token,
                           bool mismatch, unsigned version, const RequestContext& context) {
  const std::string_view codename(reinterpret_cast<const char*>(display.expose().data()),
                                  display.size());
  return html_response(http::status::ok, version,
                       pages::codename_page(context.language.tag, codename, csrf_token, mismatch),
                       false, context);
}

// The keys of normalised codename digits; nullopt when scrypt's 64 MiB are not available.
std::optional<crypto::codename::Keys> derive_keys(const crypto::Secret& digits,
                                                  const crypto::Secret& salt) {
  try {
    auto keys = crypto::codename::derive(digits, salt.expose());
    if (keys) return std::move(*keys);
  } catch (const std::bad_alloc&) {
  }
  return std::nullopt;
}

struct Setup {
  unsigned version = 11;
  RequestContext context;
  bundle::Bundle bundle;
  form::Questionnaire questionnaire;
  std::string boundary;
  std::string csrf_token;  // the cookie's
};

// The body of POST /report (request_handler.h, BodyStream): the multipart parser feeds the
// parts in here. Attachments are sealed as they arrive and written in batches; answers are
// collected in secret memory and sealed at the end. Until the submission is recorded,
// every blob it created is deleted when the stream goes.
class ReportStream final : public BodyStream, private multipart::Handler {
 public:
  ReportStream(Services& services, Setup setup)
      : services_(services),
        setup_(std::move(setup)),
        recipients_(bundle::age_recipients(setup_.bundle)),
        answers_(answers_capacity(setup_.questionnaire)),
        parser_(setup_.boundary,
                multipart::Limits{services.config.limits.form_parts,
                                  services.config.limits.form_part_bytes,
                                  services.config.limits.form_bytes},
                *this) {}

  ReportStream(const ReportStream&) = delete;
  ReportStream& operator=(const ReportStream&) = delete;

  ~ReportStream() override {
    sodium_memzero(csrf_field_.data(), csrf_field_.size());
    sodium_memzero(setup_.csrf_token.data(), setup_.csrf_token.size());
    if (!recorded_) discard_blobs();
  }

  void consume(std::span<const std::uint8_t> piece, Next next) override {
    if (auto fed = parser_.feed(std::as_bytes(piece)); !fed) return next(refusal(fed.error()));
    if (unsaved_bytes_ < kBatchBytes) return next(std::nullopt);
    save_batches(std::move(next));
  }

  void finish(Respond respond) override {
    if (auto ended = parser_.finish(); !ended) return respond(refusal(ended.error()));
    if (!csrf_checked_) return respond(forbidden());
    auto document = form::report_document(setup_.questionnaire, answers_.fields());
    if (!document) {
      return respond(failure_saying(http::status::bad_request, setup_.version,
                                    answers_refusal(document.error(), setup_.context.language.tag),
                                    setup_.context));
    }
    const crypto::Secret padded = crypto::padding::pad(document->expose());
    Submission submission;
    submission.report = seal(padded.expose(), recipients_);
    if (submission.report.empty())
      return respond(refuse_with(http::status::internal_server_error, kNotStored));
    auto salt = instance_salt(services_.config);
    if (!salt) return respond(refuse_with(http::status::internal_server_error, kNotStored));
    DerivationSlot slot = take_derivation_slot();
    if (!slot) return respond(refuse_with(http::status::service_unavailable, kBusyReport));
    for (const Upload& upload : uploads_) submission.uploads.push_back(upload.blob);
    // The session keeps this stream until `respond` is called, and calls no other member
    // meanwhile, so the pool may use it.
    run_derivation(services_, [this, slot = std::move(slot), salt = std::move(*salt),
                               submission = std::move(submission), batches = take_batches(),
                               respond = std::move(respond)]() mutable {
      const crypto::Secret codename = crypto::codename::generate();
      auto keys = derive_keys(codename, salt);
      slot.reset();
      if (!keys) return respond(refuse_with(http::status::service_unavailable, kBusyReport));
      submission.login_hash = crypto::codename::login_hash(keys->login_secret);
      submission.recipient = keys->identity.recipient().to_string();
      record(std::move(batches), std::move(submission),
             std::make_shared<const crypto::Secret>(crypto::codename::display_form(codename)),
             std::move(respond));
    });
  }

 private:
  enum class Part { csrf, answer, attachment };

  // multipart::Handler
  tl::expected<void, multipart::Error> on_part_begin(
      const multipart::PartHeaders& headers) override {
    if (!csrf_checked_) {
      if (headers.name != form::kCsrfField || headers.filename) return refuse(forbidden());
      part_ = Part::csrf;
      return {};
    }
    if (headers.name == form::kAttachmentsField) {
      if (!headers.filename) return refuse_bad_form();
      part_ = Part::attachment;
      named_file_ = !headers.filename->empty();
      return {};
    }
    if (headers.filename || headers.name == form::kCsrfField) return refuse_bad_form();
    part_ = Part::answer;
    if (!answers_.begin(headers.name)) return refuse_too_long();
    return {};
  }

  tl::expected<void, multipart::Error> on_part_data(std::span<const std::byte> data) override {
    switch (part_) {
      case Part::csrf:
        if (data.size() > csrf_field_.size() - csrf_size_) return refuse(forbidden());
        std::memcpy(csrf_field_.data() + csrf_size_, data.data(), data.size());
        csrf_size_ += data.size();
        return {};
      case Part::answer:
        if (!answers_.add(data)) return refuse_too_long();
        return {};
      case Part::attachment:
        if (!encryptor_ && !start_upload())
          return refuse(refuse_with(http::status::internal_server_error, kNotStored));
        if (!encryptor_->write({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()})) {
          return refuse(refuse_with(http::status::internal_server_error, kNotStored));
        }
        return {};
    }
    return {};
  }

  tl::expected<void, multipart::Error> on_part_end() override {
    switch (part_) {
      case Part::csrf:
        if (!tokens_match(setup_.csrf_token, std::span(csrf_field_).first(csrf_size_))) {
          return refuse(forbidden());
        }
        csrf_checked_ = true;
        return {};
      case Part::answer:
        return {};
      case Part::attachment:
        // A file input left empty sends a part with no file name and no bytes: no attachment.
        if (!encryptor_ && named_file_ && !start_upload()) {
          return refuse(refuse_with(http::status::internal_server_error, kNotStored));
        }
        if (encryptor_) {
          if (!encryptor_->finish())
            return refuse(refuse_with(http::status::internal_server_error, kNotStored));
          encryptor_.reset();
        }
        return {};
    }
    return {};
  }

  // A new upload, sealed to the bundle's recipients as it arrives. Its file name and type
  // are not kept anywhere: outside the encryption they would identify, and the report
  // document has no place for them (see the README).
  bool start_upload() {
    uploads_.emplace_back();
    auto made = crypto::age::Encryptor::create(
        recipients_,
        [this](std::span<const std::uint8_t> chunk) -> tl::expected<void, crypto::Error> {
          auto& unsaved = uploads_.back().unsaved;
          unsaved.insert(unsaved.end(), chunk.begin(), chunk.end());
          unsaved_bytes_ += chunk.size();
          return {};
        });
    if (!made) return false;
    encryptor_.emplace(std::move(*made));
    return true;
  }

  // The waiting ciphertext of every upload, as batches (also for an upload with no blob yet,
  // so that after the final write every upload has one); the uploads keep their blob ids.
  std::vector<Batch> take_batches() {
    std::vector<Batch> batches;
    for (std::size_t i = 0; i < uploads_.size(); ++i) {
      Upload& upload = uploads_[i];
      if (upload.blob && upload.unsaved.empty()) continue;
      batches.push_back({i, upload.blob, std::exchange(upload.unsaved, {})});
    }
    unsaved_bytes_ = 0;
    return batches;
  }

  void note_saved(const std::vector<std::size_t>& targets, const std::vector<BlobId>& blobs) {
    for (std::size_t i = 0; i < targets.size(); ++i) uploads_[targets[i]].blob = blobs[i];
  }

  // Appends the waiting ciphertext (finishing nothing: see Upload), and asks for more of the
  // body only once it is committed: that wait is what keeps a fast sender from filling the
  // server's memory.
  void save_batches(Next next) {
    std::vector<Batch> batches = take_batches();
    std::vector<std::size_t> targets;
    targets.reserve(batches.size());
    for (const Batch& batch : batches) targets.push_back(batch.upload);
    services_.store.write_then(
        [batches = std::move(batches), version = setup_.bundle.version](storage::Database& db) {
          return save_all(db, batches, version);
        },
        [this, targets = std::move(targets),
         next = std::move(next)](tl::expected<std::vector<BlobId>, storage::Error> saved) {
          if (!saved) return next(refuse_with(http::status::internal_server_error, kNotStored));
          note_saved(targets, *saved);
          next(std::nullopt);  // last: the session may destroy this stream at once
        });
  }

  // `display` is shared only because the store keeps callbacks in a std::function, which
  // must be copyable.
  void record(std::vector<Batch> batches, Submission submission,
              std::shared_ptr<const crypto::Secret> display, Respond respond) {
    services_.store.write_then(
        [batches = std::move(batches), submission = std::move(submission),
         version = setup_.bundle.version](storage::Database& db) {
          return record_submission(db, batches, submission, version);
        },
        [this, display = std::move(display),
         respond = std::move(respond)](const tl::expected<std::string, storage::Error>& recorded) {
          if (!recorded)
            return respond(refuse_with(http::status::internal_server_error, kNotStored));
          recorded_ = true;
          log::source(log::Level::debug, "report_form_stored");
          respond(codename_response(*display, setup_.csrf_token, false, setup_.version,
                                    setup_.context));
        });
  }

  // Never blocks: the deletion is queued. The blobs are unfinished, so a failure leaves
  // orphans that the next server start removes (`db purge` leaves unfinished blobs alone).
  void discard_blobs() {
    std::vector<BlobId> blobs;
    for (const Upload& upload : uploads_) {
      if (upload.blob) blobs.push_back(*upload.blob);
    }
    if (blobs.empty()) return;
    services_.store.write_then(
        [blobs = std::move(blobs)](storage::Database& db) -> tl::expected<void, storage::Error> {
          auto remove = db.prepare("DELETE FROM blobs WHERE id = ?;");
          if (!remove) return tl::unexpected(remove.error());
          for (const BlobId blob : blobs) {
            remove->reset();
            if (auto ran = remove->bind(blob).run(); !ran) return tl::unexpected(ran.error());
          }
          return {};
        },
        [](const tl::expected<void, storage::Error>& /*deleted*/) {});
  }

  Response refuse_with(http::status status, std::string_view message_key) const {
    return failure(status, setup_.version, message_key, setup_.context);
  }
  Response forbidden() const { return refuse_with(http::status::forbidden, kExpiredForm); }

  // A handler refusal: the parser stops, and consume() or finish() sends `response`.
  tl::unexpected<multipart::Error> refuse(Response response) {
    refusal_ = std::move(response);
    return tl::unexpected(multipart::Error{multipart::Errc::handler, {}});
  }
  tl::unexpected<multipart::Error> refuse_bad_form() {
    return refuse(refuse_with(http::status::bad_request, "message.form_foreign"));
  }
  tl::unexpected<multipart::Error> refuse_too_long() {
    return refuse(refuse_with(http::status::payload_too_large, "message.answers_too_long"));
  }

  Response refusal(const multipart::Error& error) {
    if (error.code == multipart::Errc::handler && refusal_) return std::move(*refusal_);
    switch (error.code) {
      case multipart::Errc::too_many_parts:
        return refuse_with(http::status::payload_too_large, "message.too_many_files");
      case multipart::Errc::part_too_large:
        return refuse_with(http::status::payload_too_large, "message.file_too_large");
      case multipart::Errc::total_too_large:
      case multipart::Errc::part_header_too_large:
        return refuse_with(http::status::payload_too_large, "message.report_too_large");
      default:
        return refuse_with(http::status::bad_request, "message.form_incomplete");
    }
  }

  Services& services_;
  Setup setup_;
  std::vector<const crypto::age::Recipient*> recipients_;  // borrowed from setup_.bundle
  Answers answers_;
  multipart::Parser parser_;
  Part part_ = Part::csrf;
  std::array<std::uint8_t, kCsrfChars> csrf_field_{};
  std::size_t csrf_size_ = 0;
  bool csrf_checked_ = false;
  bool named_file_ = false;
  std::optional<crypto::age::Encryptor> encryptor_;  // of the attachment being received
  std::vector<Upload> uploads_;
  std::size_t unsaved_bytes_ = 0;
  std::optional<Response> refusal_;
  bool recorded_ = false;
};

// application/x-www-form-urlencoded decoding, straight into secret memory: the value of the
// first field called `name`, or nullopt when it is absent or badly encoded.
std::optional<crypto::Secret> form_value(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    const std::size_t end = std::min(body.find('&'), body.size());
    const std::string_view pair = body.substr(0, end);
    body.remove_prefix(std::min(end + 1, body.size()));
    const std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos || pair.substr(0, equals) != name) continue;
    const std::string_view encoded = pair.substr(equals + 1);
    const auto escapes = static_cast<std::size_t>(std::count(encoded.begin(), encoded.end(), '%'));
    if (escapes * 3 > encoded.size()) return std::nullopt;
    crypto::Secret value(encoded.size() - 2 * escapes);
    std::size_t out = 0;
    for (std::size_t at = 0; at < encoded.size(); ++at) {
      unsigned char c = static_cast<unsigned char>(encoded[at]);
      if (c == '%') {
        unsigned char byte = 0;
        std::size_t used = 0;
        if (at + 2 >= encoded.size()) return std::nullopt;
        if (sodium_hex2bin(&byte, 1, encoded.data() + at + 1, 2, nullptr, &used, nullptr) != 0 ||
            used != 1) {
          return std::nullopt;
        }
        c = byte;
        at += 2;
      } else if (c == '+') {
        c = ' ';
      }
      value.expose()[out++] = c;
    }
    return value;
  }
  return std::nullopt;
}

bool same_codename(const crypto::Secret& shown_digits, const std::optional<crypto::Secret>& typed) {
  if (!typed) return false;
  auto digits = crypto::codename::normalize(*typed);
  return digits && digits->size() == shown_digits.size() &&
         sodium_memcmp(digits->expose().data(), shown_digits.expose().data(),
                       shown_digits.size()) == 0;
}

// What POST /codename has read from its request before the derivation: copies in secret
// memory, since the request body (which holds the codename too) is the session's, which
// wipes it once the request is handled.
struct Confirmation {
  unsigned version = 11;
  RequestContext context;
  std::string csrf_token;  // the cookie's, for the codename page again
  crypto::Secret shown;    // the normalised digits of the codename the page showed
  std::optional<crypto::Secret> typed;
  crypto::Secret salt;
};

constexpr std::string_view kLost = "message.codename_unknown";

// The checks that need no derivation, on the I/O thread: a refusal, or what the derivation
// needs.
std::variant<Response, Confirmation> read_confirmation(const Request& request,
                                                       const RequestContext& context,
                                                       Services& services) {
  const unsigned version = request.version();
  const std::string_view body = request.body();
  auto cookie = csrf_cookie(request.base(), context.tls);
  const auto token = form_value(body, form::kCsrfField);
  if (!cookie || !token || !tokens_match(*cookie, token->expose())) {
    return failure(http::status::forbidden, version, kExpiredForm, context);
  }
  const auto shown_text = form_value(body, kCodenameShownField);
  if (!shown_text) return failure(http::status::bad_request, version, kLost, context);
  auto shown = crypto::codename::normalize(*shown_text);
  if (!shown) return failure(http::status::bad_request, version, kLost, context);
  // The language switch shows the same page again in another language. It needs neither
  // the derivation nor the store: the page only echoes the digits this same-site form just
  // sent, so it cannot fail (busy, a store error) and lose the codename, shown only once.
  if (form_value(body, pages::kSwitchLanguageField).has_value()) {
    return codename_response(crypto::codename::display_form(*shown), *cookie, false, version,
                             context);
  }
  auto salt = instance_salt(services.config);
  if (!salt) return failure(http::status::internal_server_error, version, kNotStored, context);
  return Confirmation{version,
                      context,
                      std::move(*cookie),
                      std::move(*shown),
                      form_value(body, form::kCodenameField),
                      std::move(*salt)};
}

// On the derivation pool: whether the shown codename belongs to a source, and whether the
// typed one matches it.
Response confirm(const Confirmation& confirmation, Services& services) {
  const unsigned version = confirmation.version;
  const RequestContext& context = confirmation.context;
  const auto keys = derive_keys(confirmation.shown, confirmation.salt);
  if (!keys) return failure(http::status::service_unavailable, version, kBusy, context);
  const auto login_hash = crypto::codename::login_hash(keys->login_secret);
  const auto registered = services.store.read(
      [&](storage::Database& db) { return sources::source_id_by_login_hash(db, login_hash); });
  if (!registered) {
    return failure(http::status::internal_server_error, version, "message.codename_unchecked",
                   context);
  }
  if (!registered->has_value()) return failure(http::status::bad_request, version, kLost, context);
  if (same_codename(confirmation.shown, confirmation.typed)) {
    return html_response(http::status::ok, version, pages::submitted_page(context.language.tag),
                         false, context);
  }
  return codename_response(crypto::codename::display_form(confirmation.shown),
                           confirmation.csrf_token, true, version, context);
}

}  // namespace

Response report_page(unsigned version, bool head, const RequestContext& context,
                     Services& services) {
  constexpr std::string_view kBroken = "message.form_broken";
  const auto& installed = services.installed_bundle;
  if (!installed)
    return failure(http::status::internal_server_error, version, kBroken, context, head);
  if (!*installed) return not_accepting(version, context, head);
  auto questionnaire = form::load_questionnaire(services.config.questionnaire_file);
  if (!questionnaire) {
    return failure(http::status::internal_server_error, version, kBroken, context, head);
  }
  const auto salt = instance_salt(services.config);
  if (!salt) return failure(http::status::internal_server_error, version, kBroken, context, head);
  // The salt is public: the browser needs it to derive a codename's keys (design §4.3).
  const crypto::Secret salt_hex_bytes = salt->to_hex();
  const std::string salt_hex(reinterpret_cast<const char*>(salt_hex_bytes.expose().data()),
                             salt_hex_bytes.size());
  const config::Limits& limits = services.config.limits;
  const pages::BrowserSettings browser{salt_hex, limits.upload_bytes, limits.uploads_per_draft,
                                       limits.report_bytes};
  const std::string token = new_csrf_token();
  Response response = html_response(
      http::status::ok, version,
      pages::report_page(context.language.tag, *questionnaire, token, current_year(), browser),
      head, context);
  response.set(http::field::set_cookie, csrf_cookie_header(token, context.tls));
  return response;
}

StreamStart start_report(const RequestHeader& header, const RequestContext& context,
                         Services& services) {
  const unsigned version = header.version();
  const auto& installed = services.installed_bundle;
  if (!installed) return failure(http::status::internal_server_error, version, kNotStored, context);
  if (!*installed) return not_accepting(version, context);
  const auto content_type = header[http::field::content_type];
  auto boundary = multipart::boundary_of({content_type.data(), content_type.size()});
  if (!boundary) {
    return failure(boundary.error().code == multipart::Errc::content_type
                       ? http::status::unsupported_media_type
                       : http::status::bad_request,
                   version, "message.form_unexpected", context);
  }
  auto token = csrf_cookie(header, context.tls);
  if (!token) return failure(http::status::forbidden, version, kExpiredForm, context);
  auto questionnaire = form::load_questionnaire(services.config.questionnaire_file);
  if (!questionnaire) {
    return failure(http::status::internal_server_error, version, kNotStored, context);
  }
  // Taken last, so that refused requests cost no report its place.
  if (!services.submission_bucket.take()) {
    return failure(http::status::too_many_requests, version, "message.too_many_reports", context);
  }
  return std::make_unique<ReportStream>(
      services, Setup{version, context, **installed, std::move(*questionnaire),
                      std::move(*boundary), std::move(*token)});
}

void confirm_codename(const Request& request, const RequestContext& context, Services& services,
                      Respond respond) {
  auto read = read_confirmation(request, context, services);
  if (auto* refused = std::get_if<Response>(&read)) return respond(std::move(*refused));
  DerivationSlot slot = take_derivation_slot();
  if (!slot)
    return respond(failure(http::status::service_unavailable, request.version(), kBusy, context));
  run_derivation(services,
                 [slot = std::move(slot), confirmation = std::move(std::get<Confirmation>(read)),
                  &services, respond = std::move(respond)]() mutable {
                   Response response = confirm(confirmation, services);
                   slot.reset();
                   respond(std::move(response));
                 });
}

std::size_t set_derivation_limit_for_testing(std::size_t limit) {
  return derivation_limit().exchange(limit);
}

}  // namespace tipline::server::report_form
