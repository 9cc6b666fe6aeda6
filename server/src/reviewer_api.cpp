#include "reviewer_api.h"

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <functional>
#include <span>
#include <utility>
#include <variant>

#include "bundle.h"
#include "identifiers.h"
#include "tipline/crypto/request_signature.h"
#include "tipline/server/log.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/store.h"

namespace tipline::server::reviewer_api {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace signing = crypto::request_signature;

constexpr std::string_view kWhoami = "/api/v1/whoami";
constexpr std::string_view kSubmissions = "/api/v1/review/submissions";
constexpr std::string_view kBlobPrefix = "/api/v1/review/blobs/";
constexpr std::string_view kAudit = "/api/v1/review/audit";
constexpr std::size_t kPublicIdDigits = 32;
constexpr std::size_t kMaxNumberDigits = 18;  // below 2^63
constexpr std::array<std::string_view, 5> kStatuses = {"new", "in_review", "escalated", "closed",
                                                       "spam"};

// A decimal number of 1 to 18 digits without sign or leading zero.
std::optional<std::int64_t> whole_number(std::string_view text) {
  if (text.empty() || text.size() > kMaxNumberDigits || (text.size() > 1 && text[0] == '0') ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, code] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (code != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view text_of(boost::beast::string_view view) { return {view.data(), view.size()}; }
std::string_view text_of(const json::string& text) { return {text.data(), text.size()}; }

// What a request is answered with, before it becomes a Response.
struct Answer {
  http::status status = http::status::ok;
  std::string body;     // JSON, or a blob's bytes when `octets`
  bool octets = false;  // application/octet-stream
  std::string content_range;
  std::optional<log::Literal> refused_for;  // a 401's reason, for the log
};

Answer json_answer(http::status status, const json::value& value) {
  Answer answer;
  answer.status = status;
  answer.body = json::serialize(value);
  return answer;
}

Answer refusal(http::status status, std::string_view reason) {
  return json_answer(
      status, json::object{{"error", text_of(http::obsolete_reason(status))}, {"reason", reason}});
}

// A 500 says nothing of the cause; the log has it.
Answer server_error() {
  return json_answer(
      http::status::internal_server_error,
      json::object{{"error", text_of(http::obsolete_reason(http::status::internal_server_error))}});
}

Answer internal_error(const storage::Error& error) {
  log::operations(log::Level::error, "reviewer_request_failed", {{"error", error.message}});
  return server_error();
}

// The reasons of docs/reviewer-api.md, literals so that they may be logged.
Answer unauthorized(log::Literal reason) {
  Answer answer = refusal(http::status::unauthorized, reason.view());
  answer.refused_for = reason;
  return answer;
}

Response to_response(Answer answer, unsigned version, const RequestContext& context) {
  if (answer.refused_for) {
    log::operations(log::Level::info, "reviewer_request_refused",
                    {{"reason", *answer.refused_for}});
  }
  Response response = make_response(answer.status, version,
                                    answer.octets ? "application/octet-stream" : "application/json",
                                    std::move(answer.body), false, context);
  if (!answer.content_range.empty()) {
    response.set(http::field::content_range, answer.content_range);
    response.set(http::field::accept_ranges, "bytes");
  }
  return response;
}

// ---- Authentication ----

// A request whose signature verified; the transaction still checks the rest.
struct Caller {
  std::string id;
  std::string nonce;
  std::int64_t created = 0;
  // As the key was read, before the transaction: only to skip reading what the transaction
  // would refuse; the transaction's own role decides.
  std::string role;
};

// The reviewer as the transaction found them, enabled.
struct Reviewer {
  std::string id;
  std::string role;
};

struct SigningKey {
  signing::PublicKey key{};
  std::string role;
};

tl::expected<std::optional<SigningKey>, storage::Error> signing_key_of(storage::Database& db,
                                                                       const std::string& id) {
  auto query = db.prepare("SELECT signing_key, role FROM reviewers WHERE id = ?;");
  if (!query) return tl::unexpected(query.error());
  auto row = query->bind(id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  const auto bytes = query->bytes(0);
  SigningKey found{{}, query->text(1)};
  if (bytes.size() != found.key.size()) return std::nullopt;  // the schema's CHECK makes it 32
  std::transform(bytes.begin(), bytes.end(), found.key.begin(),
                 [](std::byte b) { return static_cast<std::uint8_t>(b); });
  return found;
}

// Checks the signature fields against the reviewer's key: the part that needs no write.
tl::expected<Caller, Answer> authenticate(const Request& request, Services& services,
                                          std::int64_t now) {
  for (const char* name : {"Signature-Input", "Signature", "Content-Digest"}) {
    if (request.count(name) == 0) return tl::unexpected(unauthorized("missing signature"));
  }
  const std::string_view input = text_of(request["Signature-Input"]);
  const std::string_view signature = text_of(request["Signature"]);
  // Parsed once: keyid finds the key, and the same parse is verified.
  auto parsed = signing::parse(input, signature);
  if (!parsed) return tl::unexpected(unauthorized("malformed signature"));
  auto key = services.store.read(
      [&](storage::Database& db) { return signing_key_of(db, parsed->parameters.keyid); });
  if (!key) return tl::unexpected(internal_error(key.error()));
  if (!*key) return tl::unexpected(unauthorized("unknown reviewer"));
  // The URL the client signed: it reached us through this Host, whatever is in front.
  const std::string target_uri = "https://" + std::string(text_of(request[http::field::host])) +
                                 std::string(text_of(request.target()));
  const signing::Message message{text_of(request.method_string()), target_uri,
                                 text_of(request["Content-Digest"])};
  const auto& body = request.body();
  auto verified = signing::verify(*parsed, message,
                                  {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()},
                                  (*key)->key, now);
  if (!verified) {
    switch (verified.error().code) {
      case crypto::Errc::stale_signature:
        return tl::unexpected(unauthorized("stale signature"));
      default:
        return tl::unexpected(unauthorized("bad signature"));
    }
  }
  signing::Parameters& parameters = parsed->parameters;
  return Caller{std::move(parameters.keyid), std::move(parameters.nonce), parameters.created,
                std::move((*key)->role)};
}

// Inside the transaction, before the request's change: the reviewer is still enabled and
// the nonce is new; it is recorded until no request carrying it could be fresh.
tl::expected<std::variant<Reviewer, Answer>, storage::Error> admit(storage::Database& db,
                                                                   const Caller& caller) {
  auto query = db.prepare("SELECT role, disabled FROM reviewers WHERE id = ?;");
  if (!query) return tl::unexpected(query.error());
  auto row = query->bind(caller.id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return unauthorized("unknown reviewer");
  if (query->integer(1) != 0) return unauthorized("reviewer disabled");
  Reviewer reviewer{caller.id, query->text(0)};
  auto insert = db.prepare(
      "INSERT OR IGNORE INTO signature_nonces (reviewer_id, nonce, expires_at) VALUES (?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  if (auto ran =
          insert->bind(caller.id, caller.nonce, caller.created + 2 * signing::kMaxSkewSeconds)
              .run();
      !ran) {
    return tl::unexpected(ran.error());
  }
  if (db.changes() == 0) return unauthorized("replayed nonce");
  return reviewer;
}

// What a request does once admitted, inside the same transaction. Like every write it may
// run more than once (store.h), so it only reads what it captured.
using Work =
    std::function<tl::expected<Answer, storage::Error>(storage::Database&, const Reviewer&)>;

// Admits the caller and runs `work` in one write transaction; `done` gets the answer once
// the commit is durable (on the writer thread).
void admit_then(Services& services, Caller caller, Work work, std::function<void(Answer)> done) {
  services.store.write_then(
      [caller = std::move(caller),
       work = std::move(work)](storage::Database& db) -> tl::expected<Answer, storage::Error> {
        auto admitted = admit(db, caller);
        if (!admitted) return tl::unexpected(admitted.error());
        if (const auto* refused = std::get_if<Answer>(&*admitted)) return *refused;
        return work(db, std::get<Reviewer>(*admitted));
      },
      [done = std::move(done)](tl::expected<Answer, storage::Error> answer) {
        done(answer ? std::move(*answer) : internal_error(answer.error()));
      });
}

// Work that only answers: a refusal decided before the transaction, which still records
// the nonce of an authenticated request.
Work answering(Answer answer) {
  return [answer = std::move(answer)](storage::Database&,
                                      const Reviewer&) -> tl::expected<Answer, storage::Error> {
    return answer;
  };
}

// For a request that only reads: `answer` was built before the transaction, on the calling
// thread, so the writer only admits the caller and runs `check` (which answers Answer{} to
// let it through), and holds up no submission while a long answer is built. `answer` is
// sent only once the nonce is committed.
void admit_then_send(Services& services, Caller caller, Answer answer, Work check,
                     std::function<void(Answer)> done) {
  admit_then(services, std::move(caller), std::move(check),
             [answer = std::move(answer), done = std::move(done)](Answer admitted) mutable {
               done(admitted.status == http::status::ok ? std::move(answer) : std::move(admitted));
             });
}

// ---- Submissions ----

tl::expected<std::optional<std::int64_t>, storage::Error> submission_id_of(
    storage::Database& db, const std::string& public_id) {
  auto query = db.prepare("SELECT id FROM submissions WHERE public_id = ?;");
  if (!query) return tl::unexpected(query.error());
  auto row = query->bind(public_id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::nullopt;
  return query->integer(0);
}

// Raises counters.change_seq and gives its new value to the submission, so every
// reviewer's next sync fetches it again.
tl::expected<void, storage::Error> mark_changed(storage::Database& db, std::int64_t submission) {
  auto bump = db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'change_seq';");
  if (!bump) return tl::unexpected(bump.error());
  if (auto ran = bump->run(); !ran) return ran;
  auto mark = db.prepare(
      "UPDATE submissions SET change_seq = (SELECT value FROM counters WHERE name = 'change_seq') "
      "WHERE id = ?;");
  if (!mark) return tl::unexpected(mark.error());
  return mark->bind(submission).run();
}

json::object blob_entry(std::int64_t blob, std::int64_t size) {
  return {{"blob", blob}, {"size", size}};
}

// A submission as the changes list and triage answer show it.
tl::expected<json::object, storage::Error> entry_of(storage::Database& db,
                                                    std::int64_t submission) {
  auto main = db.prepare(
      "SELECT s.public_id, s.received_day, s.change_seq, coalesce(t.status, 'new'), t.assignee, "
      "s.report_blob_id, b.size FROM submissions s JOIN blobs b ON b.id = s.report_blob_id "
      "LEFT JOIN triage t ON t.submission_id = s.id WHERE s.id = ?;");
  if (!main) return tl::unexpected(main.error());
  auto row = main->bind(submission).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(storage::Error{storage::Errc::not_found, "no submission"});
  json::object entry;
  entry["id"] = main->text(0);
  entry["received_day"] = bundle::date_text(std::chrono::sys_days(
      std::chrono::days(static_cast<std::chrono::days::rep>(main->integer(1)))));
  entry["change_seq"] = main->integer(2);
  entry["status"] = main->text(3);
  entry["assignee"] = main->is_null(4) ? json::value(nullptr) : json::value(main->text(4));

  auto labels = db.prepare("SELECT label FROM labels WHERE submission_id = ? ORDER BY label;");
  if (!labels) return tl::unexpected(labels.error());
  labels->bind(submission);
  json::array label_list;
  while (true) {
    auto next = labels->step();
    if (!next) return tl::unexpected(next.error());
    if (!*next) break;
    label_list.emplace_back(labels->text(0));
  }
  entry["labels"] = std::move(label_list);
  entry["report"] = blob_entry(main->integer(5), main->integer(6));

  auto attachments = db.prepare(
      "SELECT a.blob_id, b.size FROM attachments a JOIN blobs b ON b.id = a.blob_id "
      "WHERE a.submission_id = ? ORDER BY a.position;");
  if (!attachments) return tl::unexpected(attachments.error());
  attachments->bind(submission);
  json::array attachment_list;
  while (true) {
    auto next = attachments->step();
    if (!next) return tl::unexpected(next.error());
    if (!*next) break;
    attachment_list.emplace_back(blob_entry(attachments->integer(0), attachments->integer(1)));
  }
  entry["attachments"] = std::move(attachment_list);

  auto notes = db.prepare(
      "SELECT n.id, n.reviewer_id, n.created_at, n.blob_id, b.size FROM notes n "
      "JOIN blobs b ON b.id = n.blob_id WHERE n.submission_id = ? ORDER BY n.id;");
  if (!notes) return tl::unexpected(notes.error());
  notes->bind(submission);
  json::array note_list;
  while (true) {
    auto next = notes->step();
    if (!next) return tl::unexpected(next.error());
    if (!*next) break;
    note_list.emplace_back(json::object{{"id", notes->integer(0)},
                                        {"reviewer", notes->text(1)},
                                        {"created_at", notes->integer(2)},
                                        {"blob", notes->integer(3)},
                                        {"size", notes->integer(4)}});
  }
  entry["notes"] = std::move(note_list);
  return entry;
}

struct Page {
  std::int64_t since = 0;
  std::int64_t limit = kDefaultPage;
};

// "since=N&limit=N", each optional and at most once.
tl::expected<Page, std::string> parse_page(std::string_view target) {
  Page page;
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return page;
  std::string_view query = target.substr(question + 1);
  bool since_seen = false;
  bool limit_seen = false;
  while (!query.empty()) {
    const std::size_t end = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, end);
    query.remove_prefix(std::min(end + 1, query.size()));
    const std::size_t equals = pair.find('=');
    const std::string_view name = pair.substr(0, equals);
    // -1: no value, or not a whole number (an optional here trips GCC 12's -O3 analysis).
    const std::int64_t value =
        equals == std::string_view::npos ? -1 : whole_number(pair.substr(equals + 1)).value_or(-1);
    if (name == "since" && !since_seen && value >= 0) {
      page.since = value;
      since_seen = true;
    } else if (name == "limit" && !limit_seen && value >= 1 && value <= kMaxPage) {
      page.limit = value;
      limit_seen = true;
    } else {
      return tl::unexpected(std::string(
          "the query takes since=N (0 or more) and limit=N (1 to 1000), each at most once"));
    }
  }
  return page;
}

tl::expected<Answer, storage::Error> list_changes(storage::Database& db, const Page& page) {
  auto query = db.prepare(
      "SELECT change_seq, id, NULL FROM submissions WHERE change_seq > ?1 "
      "UNION ALL SELECT change_seq, NULL, public_id FROM deletions WHERE change_seq > ?1 "
      "ORDER BY 1 LIMIT ?2;");
  if (!query) return tl::unexpected(query.error());
  query->bind(page.since, page.limit + 1);
  struct Change {
    std::int64_t seq = 0;
    std::optional<std::int64_t> submission;  // nullopt: a deletion of `deleted`
    std::string deleted;
  };
  std::vector<Change> changes;
  while (true) {
    auto row = query->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    changes.push_back({query->integer(0),
                       query->is_null(1) ? std::nullopt : std::optional(query->integer(1)),
                       query->is_null(2) ? std::string() : query->text(2)});
  }
  const bool more = changes.size() > static_cast<std::size_t>(page.limit);
  if (more) changes.pop_back();
  json::array submissions;
  json::array deleted;
  for (const Change& change : changes) {
    if (change.submission) {
      auto entry = entry_of(db, *change.submission);
      if (!entry) return tl::unexpected(entry.error());
      submissions.emplace_back(std::move(*entry));
    } else {
      deleted.emplace_back(json::object{{"id", change.deleted}, {"change_seq", change.seq}});
    }
  }
  return json_answer(http::status::ok,
                     json::object{{"submissions", std::move(submissions)},
                                  {"deleted", std::move(deleted)},
                                  {"cursor", changes.empty() ? page.since : changes.back().seq},
                                  {"more", more}});
}

tl::expected<Answer, storage::Error> list_audit(storage::Database& db, const Page& page) {
  auto query = db.prepare(
      "SELECT id, at, reviewer_id, action, submission_public_id, detail FROM audit_log "
      "WHERE id > ? ORDER BY id LIMIT ?;");
  if (!query) return tl::unexpected(query.error());
  query->bind(page.since, page.limit + 1);
  json::array entries;
  std::int64_t cursor = page.since;
  bool more = false;
  while (true) {
    auto row = query->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    if (static_cast<std::int64_t>(entries.size()) == page.limit) {
      more = true;
      break;
    }
    const auto optional_text = [&](int column) {
      return query->is_null(column) ? json::value(nullptr) : json::value(query->text(column));
    };
    cursor = query->integer(0);
    entries.emplace_back(json::object{{"id", cursor},
                                      {"at", query->integer(1)},
                                      {"reviewer", query->text(2)},
                                      {"action", query->text(3)},
                                      {"submission", optional_text(4)},
                                      {"detail", optional_text(5)}});
  }
  return json_answer(
      http::status::ok,
      json::object{{"entries", std::move(entries)}, {"cursor", cursor}, {"more", more}});
}

// ---- Triage ----

struct TriageState {
  std::string status = "new";
  std::optional<std::string> assignee;
  std::vector<std::string> labels;  // sorted
};

tl::expected<TriageState, storage::Error> triage_state(storage::Database& db,
                                                       std::int64_t submission) {
  TriageState state;
  auto triage = db.prepare("SELECT status, assignee FROM triage WHERE submission_id = ?;");
  if (!triage) return tl::unexpected(triage.error());
  auto row = triage->bind(submission).step();
  if (!row) return tl::unexpected(row.error());
  if (*row) {
    state.status = triage->text(0);
    if (!triage->is_null(1)) state.assignee = triage->text(1);
  }
  auto labels = db.prepare("SELECT label FROM labels WHERE submission_id = ? ORDER BY label;");
  if (!labels) return tl::unexpected(labels.error());
  labels->bind(submission);
  while (true) {
    auto next = labels->step();
    if (!next) return tl::unexpected(next.error());
    if (!*next) return state;
    state.labels.push_back(labels->text(0));
  }
}

tl::expected<bool, storage::Error> is_enabled_reviewer(storage::Database& db,
                                                       const std::string& id) {
  auto query = db.prepare("SELECT 1 FROM reviewers WHERE id = ? AND disabled = 0;");
  if (!query) return tl::unexpected(query.error());
  return query->bind(id).step();
}

// Runs one statement that returns no rows.
template <typename... Args>
tl::expected<void, storage::Error> run_statement(storage::Database& db, const char* sql,
                                                 const Args&... args) {
  auto statement = db.prepare(sql);
  if (!statement) return tl::unexpected(statement.error());
  return statement->bind(args...).run();
}

tl::expected<Answer, storage::Error> apply_triage(storage::Database& db, const Reviewer& reviewer,
                                                  const std::string& public_id,
                                                  const TriageChange& change, std::int64_t now) {
  auto found = submission_id_of(db, public_id);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return refusal(http::status::not_found, "no such submission");
  const std::int64_t submission = **found;
  auto state = triage_state(db, submission);
  if (!state) return tl::unexpected(state.error());

  // Everything is checked before anything changes.
  if (change.assignee && *change.assignee) {
    auto enabled = is_enabled_reviewer(db, **change.assignee);
    if (!enabled) return tl::unexpected(enabled.error());
    if (!*enabled) {
      return refusal(http::status::bad_request, "assignee must be the id of an enabled reviewer");
    }
  }
  std::vector<std::string> added;
  std::set_difference(change.add_labels.begin(), change.add_labels.end(), state->labels.begin(),
                      state->labels.end(), std::back_inserter(added));
  std::vector<std::string> removed;
  std::set_intersection(change.remove_labels.begin(), change.remove_labels.end(),
                        state->labels.begin(), state->labels.end(), std::back_inserter(removed));
  if (state->labels.size() + added.size() - removed.size() > kMaxLabels) {
    return refusal(http::status::bad_request, "a submission has at most 32 labels");
  }
  const bool new_status = change.status && *change.status != state->status;
  const bool new_assignee = change.assignee && *change.assignee != state->assignee;
  if (new_status || new_assignee || !added.empty() || !removed.empty()) {
    // A missing row is the default state: status new, nobody assigned.
    if (auto made = run_statement(
            db, "INSERT OR IGNORE INTO triage (submission_id, updated_at) VALUES (?, ?);",
            submission, now);
        !made) {
      return tl::unexpected(made.error());
    }
    const auto audit = [&](std::string_view action, std::optional<std::string_view> detail) {
      return record_audit(db, now, reviewer.id, action, public_id, detail);
    };
    tl::expected<void, storage::Error> done;
    if (new_status) {
      done = run_statement(db, "UPDATE triage SET status = ? WHERE submission_id = ?;",
                           *change.status, submission);
      if (done) done = audit("status", *change.status);
    }
    if (done && new_assignee) {
      done = run_statement(db, "UPDATE triage SET assignee = ? WHERE submission_id = ?;",
                           *change.assignee, submission);
      if (done) {
        done = audit("assign", *change.assignee ? std::optional<std::string_view>(**change.assignee)
                                                : std::nullopt);
      }
    }
    for (const std::string& label : added) {
      if (done) {
        done = run_statement(db, "INSERT INTO labels (submission_id, label) VALUES (?, ?);",
                             submission, label);
      }
      if (done) done = audit("label", label);
    }
    for (const std::string& label : removed) {
      if (done) {
        done = run_statement(db, "DELETE FROM labels WHERE submission_id = ? AND label = ?;",
                             submission, label);
      }
      if (done) done = audit("unlabel", label);
    }
    if (done) {
      done = run_statement(db, "UPDATE triage SET updated_at = ? WHERE submission_id = ?;", now,
                           submission);
    }
    if (done) done = mark_changed(db, submission);
    if (!done) return tl::unexpected(done.error());
  }
  auto entry = entry_of(db, submission);
  if (!entry) return tl::unexpected(entry.error());
  return json_answer(http::status::ok, *entry);
}

bool is_label(std::string_view text) {
  std::size_t characters = 0;
  for (std::size_t at = 0; at < text.size(); ++characters) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte < 0x20 || byte == 0x7f) return false;
    // The JSON parser checked the UTF-8. C1 controls, U+0080 to U+009F, are C2 80 to C2 9F.
    if (byte == 0xc2 && at + 1 < text.size() && static_cast<unsigned char>(text[at + 1]) <= 0x9f) {
      return false;
    }
    at += byte < 0x80 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : 4;
  }
  return characters >= 1 && characters <= kMaxLabelCharacters;
}

tl::expected<std::vector<std::string>, std::string> parse_labels(const json::value& value,
                                                                 std::string_view name) {
  const std::string problem =
      std::string(name) +
      " must be a list of at most 32 labels, each 1 to 64 characters without control "
      "characters";
  const json::array* list = value.if_array();
  if (list == nullptr || list->size() > kMaxLabels) return tl::unexpected(problem);
  std::vector<std::string> labels;
  for (const json::value& item : *list) {
    const json::string* label = item.if_string();
    if (label == nullptr || !is_label(text_of(*label))) return tl::unexpected(problem);
    labels.emplace_back(text_of(*label));
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

// ---- Notes and deletion ----

tl::expected<Answer, storage::Error> store_note(storage::Database& db, const Reviewer& reviewer,
                                                const std::string& public_id,
                                                const std::string& note,
                                                std::int64_t bundle_version, std::int64_t now) {
  auto found = submission_id_of(db, public_id);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return refusal(http::status::not_found, "no such submission");
  auto blob = storage::create_blob(db, bundle_version);
  if (!blob) return tl::unexpected(blob.error());
  if (auto appended = storage::append_blob(db, *blob, std::as_bytes(std::span(note))); !appended) {
    return tl::unexpected(appended.error());
  }
  if (auto finished = storage::finish_blob(db, *blob); !finished) {
    return tl::unexpected(finished.error());
  }
  if (auto inserted = run_statement(db,
                                    "INSERT INTO notes (submission_id, reviewer_id, blob_id, "
                                    "created_at) VALUES (?, ?, ?, ?);",
                                    **found, reviewer.id, *blob, now);
      !inserted) {
    return tl::unexpected(inserted.error());
  }
  const std::int64_t note_id = db.last_insert_id();
  if (auto marked = mark_changed(db, **found); !marked) return tl::unexpected(marked.error());
  if (auto audited = record_audit(db, now, reviewer.id, "note", public_id, std::to_string(note_id));
      !audited) {
    return tl::unexpected(audited.error());
  }
  return json_answer(
      http::status::created,
      json::object{
          {"id", note_id}, {"blob", *blob}, {"size", static_cast<std::int64_t>(note.size())}});
}

// The submission goes with everything it owns (the schema's cascades and triggers drop its
// blobs, triage, labels, notes and replies); the schema's submission_deleted_for_sync
// trigger gives it a deletion entry with a new change number, as for a retention purge.
tl::expected<Answer, storage::Error> delete_submission(storage::Database& db,
                                                       const Reviewer& reviewer,
                                                       const std::string& public_id,
                                                       std::int64_t now) {
  auto found = submission_id_of(db, public_id);
  if (!found) return tl::unexpected(found.error());
  if (!*found) return refusal(http::status::not_found, "no such submission");
  auto done = run_statement(db, "DELETE FROM submissions WHERE id = ?;", **found);
  if (done) done = record_audit(db, now, reviewer.id, "delete", public_id, std::nullopt);
  if (!done) return tl::unexpected(done.error());
  return json_answer(http::status::ok, json::object{{"deleted", public_id}});
}

// Deleted pages are zeroed (secure_delete), but their old versions stay in the WAL until a
// checkpoint. It waits for the writer, so it runs on the derivation pool, not an I/O thread.
void checkpoint_soon(Services& services) {
  boost::asio::post(services.derivation_pool, [&store = services.store] {
    if (auto done = store.checkpoint(); !done) {
      log::operations(log::Level::warn, "checkpoint_after_delete_failed",
                      {{"error", done.error().message}});
    }
  });
}

// ---- Blobs ----

// Before the transaction: the window of a report, attachment or note, or the refusal.
tl::expected<Answer, storage::Error> read_window(storage::Database& db, storage::BlobId blob,
                                                 const std::optional<ByteRange>& range) {
  auto query = db.prepare(
      "SELECT size FROM blobs WHERE id = ?1 AND complete = 1 AND ("
      "EXISTS (SELECT 1 FROM submissions WHERE report_blob_id = ?1) OR "
      "EXISTS (SELECT 1 FROM attachments WHERE blob_id = ?1) OR "
      "EXISTS (SELECT 1 FROM notes WHERE blob_id = ?1));");
  if (!query) return tl::unexpected(query.error());
  auto row = query->bind(blob).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return refusal(http::status::not_found, "no such blob");
  const auto size = static_cast<std::uint64_t>(query->integer(0));
  const Window window = window_of(range, size);
  const std::string total = std::to_string(size);
  if (window.kind == Window::Kind::unsatisfiable) {
    Answer answer = refusal(http::status::range_not_satisfiable,
                            size > kBlobWindowBytes && !range
                                ? "the blob is larger than 8 MiB: ask for it by range"
                                : "the range starts past the end of the blob");
    answer.content_range = "bytes */" + total;
    return answer;
  }
  Answer answer;
  answer.octets = true;
  answer.body.resize(window.length);
  auto read =
      storage::read_blob(db, blob, window.first, std::as_writable_bytes(std::span(answer.body)));
  if (!read) return tl::unexpected(read.error());
  if (*read != window.length) {
    return tl::unexpected(storage::Error{storage::Errc::io, "a finished blob is short"});
  }
  if (window.kind == Window::Kind::partial) {
    answer.status = http::status::partial_content;
    answer.content_range = "bytes " + std::to_string(window.first) + "-" +
                           std::to_string(window.first + window.length - 1) + "/" + total;
  }
  return answer;
}

}  // namespace

std::optional<Target> target_of(std::string_view path) {
  if (path == kWhoami) return Target{Endpoint::whoami, {}};
  if (path == kSubmissions) return Target{Endpoint::changes, {}};
  if (path == kAudit) return Target{Endpoint::audit, {}};
  if (path.starts_with(kBlobPrefix)) {
    const std::string_view id = path.substr(kBlobPrefix.size());
    if (!whole_number(id) || id == "0") return std::nullopt;
    return Target{Endpoint::blob, id};
  }
  if (!path.starts_with(kSubmissions) || !path.substr(kSubmissions.size()).starts_with('/')) {
    return std::nullopt;
  }
  const std::string_view rest = path.substr(kSubmissions.size() + 1);
  const std::string_view id = rest.substr(0, rest.find('/'));
  if (!is_lower_hex(id, kPublicIdDigits)) return std::nullopt;
  const std::string_view action = rest.substr(id.size());
  if (action.empty()) return Target{Endpoint::remove, id};
  if (action == "/triage") return Target{Endpoint::triage, id};
  if (action == "/notes") return Target{Endpoint::notes, id};
  return std::nullopt;
}

std::string_view allowed_methods(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::triage:
    case Endpoint::notes:
      return "POST";
    case Endpoint::remove:
      return "DELETE";
    case Endpoint::whoami:
    case Endpoint::changes:
    case Endpoint::blob:
    case Endpoint::audit:
      break;
  }
  return "GET";
}

std::uint64_t body_limit(Endpoint endpoint, const config::Limits& limits) {
  if (endpoint == Endpoint::triage) return limits.body_bytes;
  if (endpoint == Endpoint::notes) return limits.report_bytes;
  return 0;
}

std::optional<ByteRange> parse_range(std::string_view field) {
  constexpr std::string_view kUnit = "bytes=";
  if (!field.starts_with(kUnit)) return std::nullopt;
  field.remove_prefix(kUnit.size());
  const std::size_t dash = field.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto first = whole_number(field.substr(0, dash));
  if (!first) return std::nullopt;
  const std::string_view last_text = field.substr(dash + 1);
  if (last_text.empty()) return ByteRange{static_cast<std::uint64_t>(*first), std::nullopt};
  const auto last = whole_number(last_text);
  if (!last || *last < *first) return std::nullopt;
  return ByteRange{static_cast<std::uint64_t>(*first), static_cast<std::uint64_t>(*last)};
}

Window window_of(const std::optional<ByteRange>& range, std::uint64_t size) {
  if (!range) {
    if (size > kBlobWindowBytes) return {Window::Kind::unsatisfiable, 0, 0};
    return {Window::Kind::whole, 0, size};
  }
  if (range->first >= size) return {Window::Kind::unsatisfiable, 0, 0};
  const std::uint64_t last =
      std::min({range->last.value_or(size - 1), size - 1, range->first + kBlobWindowBytes - 1});
  return {Window::Kind::partial, range->first, last - range->first + 1};
}

tl::expected<TriageChange, std::string> parse_triage(std::string_view body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  const json::object* object = ec ? nullptr : parsed.if_object();
  if (object == nullptr || object->empty()) {
    return tl::unexpected(std::string(
        "the body must be a JSON object with at least one of status, assignee, add_labels "
        "and remove_labels"));
  }
  TriageChange change;
  for (const auto& member : *object) {
    const std::string_view name(member.key().data(), member.key().size());
    const json::value& value = member.value();
    if (name == "status") {
      const json::string* status = value.if_string();
      if (status == nullptr ||
          std::find(kStatuses.begin(), kStatuses.end(), text_of(*status)) == kStatuses.end()) {
        return tl::unexpected(
            std::string("status must be one of new, in_review, escalated, closed, spam"));
      }
      change.status = std::string(text_of(*status));
    } else if (name == "assignee") {
      const json::string* assignee = value.if_string();
      if (value.is_null()) {
        change.assignee = std::optional<std::string>();
      } else if (assignee != nullptr && !assignee->empty()) {
        change.assignee = std::string(text_of(*assignee));
      } else {
        return tl::unexpected(std::string("assignee must be a reviewer's id, or null"));
      }
    } else if (name == "add_labels" || name == "remove_labels") {
      auto labels = parse_labels(value, name);
      if (!labels) return tl::unexpected(labels.error());
      (name == "add_labels" ? change.add_labels : change.remove_labels) = std::move(*labels);
    } else {
      return tl::unexpected(
          std::string("unknown field: a triage body has only status, assignee, add_labels and "
                      "remove_labels"));
    }
  }
  std::vector<std::string> both;
  std::set_intersection(change.add_labels.begin(), change.add_labels.end(),
                        change.remove_labels.begin(), change.remove_labels.end(),
                        std::back_inserter(both));
  if (!both.empty()) {
    return tl::unexpected(std::string("a label cannot be both added and removed"));
  }
  return change;
}

tl::expected<void, storage::Error> record_audit(storage::Database& db, std::int64_t at,
                                                std::string_view reviewer, std::string_view action,
                                                std::optional<std::string_view> submission,
                                                std::optional<std::string_view> detail) {
  auto insert = db.prepare(
      "INSERT INTO audit_log (at, reviewer_id, action, submission_public_id, detail) "
      "VALUES (?, ?, ?, ?, ?);");
  if (!insert) return tl::unexpected(insert.error());
  return insert->bind(at, reviewer, action, submission, detail).run();
}

std::optional<std::string_view> target_uri_problem(std::string_view host, std::string_view target) {
  if (!target.starts_with('/')) return "the request target must be a path (origin-form)";
  // Only what RFC 3986 allows in a host and port: a '/', '?', '#', '@', space or control
  // character would let the same signed URL be split differently between Host and target.
  const auto is_host_character = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~!$&'()*+,;=:[]%").find(c) != std::string_view::npos;
  };
  if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_character)) {
    return "Host must be one host name or address with an optional port";
  }
  return std::nullopt;
}

void handle(const Request& request, const RequestContext& context, Services& services,
            Respond respond) {
  const std::string_view target = text_of(request.target());
  std::function<void(Answer)> finish = [respond = std::move(respond), version = request.version(),
                                        context](Answer answer) {
    respond(to_response(std::move(answer), version, context));
  };
  // Before anything else: @target-uri is rebuilt from Host and the target.
  const auto problem = request.count(http::field::host) > 1
                           ? std::optional<std::string_view>("Host must be sent once")
                           : target_uri_problem(text_of(request[http::field::host]), target);
  if (problem) return finish(refusal(http::status::bad_request, *problem));
  const std::optional<Target> api = target_of(path_of(target));
  if (!api) return finish(refusal(http::status::not_found, "no such path"));
  const std::int64_t now = seconds_now();
  auto caller = authenticate(request, services, now);
  if (!caller) return finish(std::move(caller.error()));
  const std::string id(api->id);

  switch (api->endpoint) {
    case Endpoint::whoami:
      return admit_then(
          services, std::move(*caller),
          [](storage::Database&, const Reviewer& reviewer) -> tl::expected<Answer, storage::Error> {
            return json_answer(http::status::ok,
                               json::object{{"id", reviewer.id}, {"role", reviewer.role}});
          },
          std::move(finish));
    case Endpoint::changes:
    case Endpoint::audit: {
      auto page = parse_page(target);
      if (!page) {
        return admit_then(services, std::move(*caller),
                          answering(refusal(http::status::bad_request, page.error())),
                          std::move(finish));
      }
      if (api->endpoint == Endpoint::changes) {
        auto changes =
            services.store.read([&](storage::Database& db) { return list_changes(db, *page); });
        if (!changes) return finish(internal_error(changes.error()));
        return admit_then_send(services, std::move(*caller), std::move(*changes),
                               answering(Answer{}), std::move(finish));
      }
      // Admins only. The role read with the key spares a reviewer's request the read; the
      // transaction's role decides too, so a role changed meanwhile gets 403.
      const bool admin = caller->role == "admin";
      Answer entries;
      if (admin) {
        auto read =
            services.store.read([&](storage::Database& db) { return list_audit(db, *page); });
        if (!read) return finish(internal_error(read.error()));
        entries = std::move(*read);
      }
      return admit_then_send(
          services, std::move(*caller), std::move(entries),
          [admin](storage::Database&,
                  const Reviewer& reviewer) -> tl::expected<Answer, storage::Error> {
            if (!admin || reviewer.role != "admin") {
              return refusal(http::status::forbidden, "the audit log is for admins only");
            }
            return Answer{};
          },
          std::move(finish));
    }
    case Endpoint::blob: {
      std::optional<ByteRange> range;
      if (request.count(http::field::range) != 0) {
        range = parse_range(text_of(request[http::field::range]));
        if (!range) {
          return admit_then(
              services, std::move(*caller),
              answering(refusal(http::status::bad_request, "Range must be bytes=A-B or bytes=A-")),
              std::move(finish));
        }
      }
      const storage::BlobId blob = *whole_number(id);
      auto window =
          services.store.read([&](storage::Database& db) { return read_window(db, blob, range); });
      if (!window) return finish(internal_error(window.error()));
      // The bytes are sent only once the nonce is recorded; the transaction carries none.
      return admit_then_send(services, std::move(*caller), std::move(*window), answering(Answer{}),
                             std::move(finish));
    }
    case Endpoint::triage: {
      auto change = parse_triage(request.body());
      if (!change) {
        return admit_then(services, std::move(*caller),
                          answering(refusal(http::status::bad_request, change.error())),
                          std::move(finish));
      }
      return admit_then(
          services, std::move(*caller),
          [id, change = std::move(*change), now](storage::Database& db, const Reviewer& reviewer) {
            return apply_triage(db, reviewer, id, change, now);
          },
          std::move(finish));
    }
    case Endpoint::notes: {
      const auto& installed = services.installed_bundle;
      const std::string& note = request.body();
      std::optional<Answer> refused;
      if (!installed) {
        // The server's own failure, like storage's: 500, and the nonce stays unused.
        log::operations(log::Level::error, "reviewer_request_failed",
                        {{"error", installed.error().message}});
        return finish(server_error());
      }
      if (!*installed) {
        refused = refusal(http::status::service_unavailable, kNoBundle);
      } else if (!bundle::is_sealed_to(
                     {reinterpret_cast<const std::uint8_t*>(note.data()), note.size()},
                     (*installed)->recipients.size())) {
        refused = refusal(http::status::bad_request,
                          "the note must be an age file sealed to the recipients of the installed "
                          "bundle");
      }
      if (refused) {
        return admit_then(services, std::move(*caller), answering(std::move(*refused)),
                          std::move(finish));
      }
      return admit_then(
          services, std::move(*caller),
          [id, note, version = (*installed)->version, now](storage::Database& db,
                                                           const Reviewer& reviewer) {
            return store_note(db, reviewer, id, note, version, now);
          },
          std::move(finish));
    }
    case Endpoint::remove:
      return admit_then(
          services, std::move(*caller),
          [id, now](storage::Database& db, const Reviewer& reviewer) {
            return delete_submission(db, reviewer, id, now);
          },
          [&services, finish = std::move(finish)](Answer answer) {
            const bool deleted = answer.status == http::status::ok;
            finish(std::move(answer));
            if (deleted) checkpoint_soon(services);
          });
  }
}

}  // namespace tipline::server::reviewer_api
