// The reviewer API (docs/reviewer-api.md) against the real tipline-server: reviewers added
// with the real `reviewers add`, signed requests over the reviewer TLS listener, reports
// posted through the source API, and every signature refusal leaving the database as it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "support/instance.h"
#include "support/process.h"
#include "support/reviewer_client.h"
#include "tipline/crypto/request_signature.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
namespace signing = crypto::request_signature;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;

std::string header_value(const HttpResult& result, const std::string& name) {
  for (const std::string& line : lines_of(result.headers)) {
    if (line.size() > name.size() + 1 && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      std::string value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      return value;
    }
  }
  return {};
}

class ReviewerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(server_.init(true));
    alice_.id = "alice";
    root_.id = "root";
    ASSERT_NO_FATAL_FAILURE(add(alice_, "reviewer"));
    ASSERT_NO_FATAL_FAILURE(add(root_, "admin"));
    ASSERT_NO_FATAL_FAILURE(server_.start("[source]\nport = 0\n[reviewer]\nport = 0\n"));
    for (ReviewerClient* client : {&alice_, &root_}) {
      client->port = server_.reviewer_port();
      client->ca_file = server_.certificate();
    }
  }

  [[nodiscard]] Outcome reviewers(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kServer, "reviewers"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", (server_.path() / "tipline.toml").string()});
    return run(argv, seconds(60));
  }

  void add(const ReviewerClient& client, const std::string& role) const {
    const Outcome added =
        reviewers({"add", client.id, "--key", signing::encode_public_key(client.key.public_key()),
                   "--role", role});
    ASSERT_EQ(added.exit_code, 0) << added.err;
  }

  [[nodiscard]] std::string demo_recipient() const {
    const HttpResult keys = https_request(server_.url("/api/v1/keys"), server_.certificate());
    const std::string bundle = json_string(keys.body, "bundle");
    const std::size_t at = bundle.find("age1");
    return at == std::string::npos ? std::string() : bundle.substr(at, 62);
  }

  // An age file sealed by the stock age CLI to the demo bundle.
  [[nodiscard]] std::string sealed(const std::string& name, const std::string& text) const {
    const fs::path file = dir_.path() / (name + ".age");
    age_seal(file, text, {demo_recipient()});
    return read_file(file);
  }

  // Posts a report through the source API; its submission id and ciphertext.
  std::string submit(const std::string& text, std::string* ciphertext) const {
    *ciphertext = sealed("report", text);
    const HttpResult posted = https_request(
        server_.url("/api/v1/submissions"), server_.certificate(),
        {"Content-Type: application/json"}, "{\"report\":\"" + base64(*ciphertext) + "\"}");
    EXPECT_EQ(posted.status, 201) << posted.body;
    return json_string(posted.body, "id");
  }

  // What a reviewer request can change, but the nonces, in one line.
  [[nodiscard]] std::string database_state() const {
    return query_text(
        "SELECT (SELECT group_concat(submission_id || ':' || status || ':' || "
        "coalesce(assignee, '-') || ':' || updated_at) FROM triage) || ' triage; ' || "
        "(SELECT count(*) FROM labels) || ' labels; ' || "
        "(SELECT count(*) FROM notes) || ' notes; ' || "
        "(SELECT count(*) FROM blobs) || ' blobs; ' || "
        "(SELECT count(*) FROM audit_log) || ' audit entries; ' || "
        "(SELECT count(*) FROM submissions) || ' submissions; ' || "
        "(SELECT count(*) FROM deletions) || ' deletions; change_seq ' || "
        "(SELECT value FROM counters WHERE name = 'change_seq');");
  }
  [[nodiscard]] std::int64_t nonces() const {
    return std::stoll(query_text("SELECT count(*) FROM signature_nonces;"));
  }
  [[nodiscard]] std::string query_text(const std::string& sql) const {
    storage::Database db = server_.open_database();
    auto query = db.prepare(sql);
    EXPECT_TRUE(query.has_value()) << sql;
    if (!query) return {};
    auto row = query->step();
    EXPECT_TRUE(row.has_value() && *row) << sql;
    return query->is_null(0) ? std::string("NULL") : query->text(0);
  }

  [[nodiscard]] std::string audit_actions() const {
    storage::Database db = server_.open_database();
    auto query = db.prepare(
        "SELECT group_concat(reviewer_id || ' ' || action || ' ' || coalesce(detail, '-'), "
        "'\n') FROM (SELECT * FROM audit_log ORDER BY id);");
    EXPECT_TRUE(query.has_value());
    auto row = query->step();
    EXPECT_TRUE(row.has_value() && *row);
    return query->is_null(0) ? std::string() : query->text(0);
  }

  static void expect_refused(const HttpResult& result, const std::string& reason) {
    EXPECT_EQ(result.status, 401) << result.body;
    EXPECT_EQ(result.body, "{\"error\":\"Unauthorized\",\"reason\":\"" + reason + "\"}");
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  ReviewerClient alice_;
  ReviewerClient root_;
};

TEST_F(ReviewerApiTest, EachListenerServesOnlyItsOwnPaths) {
  const HttpResult whoami = alice_.request("GET", "/api/v1/whoami");
  EXPECT_EQ(whoami.status, 200) << whoami.body << whoami.error;
  EXPECT_EQ(whoami.body, R"({"id":"alice","role":"reviewer"})");
  const HttpResult admin = root_.request("GET", "/api/v1/whoami");
  EXPECT_EQ(admin.body, R"({"id":"root","role":"admin"})");

  const std::string id(32, 'a');
  const fs::path ca = server_.certificate();
  // The source listener knows no reviewer path, signed or not.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/whoami"},
           {"GET", "/api/v1/review/submissions"},
           {"GET", "/api/v1/review/blobs/1"},
           {"GET", "/api/v1/review/audit"},
           {"POST", "/api/v1/review/submissions/" + id + "/triage"}}) {
    const std::string url = server_.url(path);
    const std::string body = method == "POST" ? "{}" : "";
    const HttpResult result = http_request(
        method, url, ca,
        signature_headers(alice_.key, "alice", method, url, body, unix_now(), fresh_nonce()), body);
    EXPECT_EQ(result.status, 404) << method << " " << path << " " << result.body;
  }
  // The reviewer listener knows no source path.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/"},
                                                        {"GET", "/report"},
                                                        {"GET", "/static/style.css"},
                                                        {"POST", "/api/v1/submissions"},
                                                        {"POST", "/api/v1/sources"},
                                                        {"POST", "/api/v1/drafts"},
                                                        {"POST", "/api/v1/uploads"}}) {
    const HttpResult result = alice_.request(method, path, method == "POST" ? "{}" : "");
    EXPECT_EQ(result.status, 404) << method << " " << path << " " << result.body;
  }
  // Both answer these two.
  EXPECT_EQ(http_request("GET", alice_.url("/healthz"), ca, {}, {}).status, 200);
  const HttpResult keys = http_request("GET", alice_.url("/api/v1/keys"), ca, {}, {});
  EXPECT_EQ(keys.status, 200);
  EXPECT_TRUE(contains(keys.body, "\"bundle\":")) << keys.body;

  const HttpResult wrong_method = alice_.request("POST", "/api/v1/whoami", "{}");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(header_value(wrong_method, "Allow"), "GET");
  const HttpResult get_triage =
      alice_.request("GET", "/api/v1/review/submissions/" + id + "/triage");
  EXPECT_EQ(get_triage.status, 405);
  EXPECT_EQ(header_value(get_triage, "Allow"), "POST");
  const HttpResult put = alice_.request("PUT", "/api/v1/review/submissions/" + id);
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(header_value(put, "Allow"), "DELETE");
}

TEST_F(ReviewerApiTest, ASubmissionShowsInTheChangesAndItsBlobDownloadsWholeAndByRange) {
  const HttpResult empty = alice_.request("GET", "/api/v1/review/submissions");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.body, R"({"submissions":[],"deleted":[],"cursor":0,"more":false})");

  std::string ciphertext;
  const std::string id = submit("They photographed my sister at the protest.", &ciphertext);
  ASSERT_EQ(id.size(), 32u);
  const HttpResult changes = alice_.request("GET", "/api/v1/review/submissions?since=0&limit=10");
  ASSERT_EQ(changes.status, 200) << changes.body;
  EXPECT_TRUE(
      contains(changes.body, "{\"submissions\":[{\"id\":\"" + id + "\",\"received_day\":\""))
      << changes.body;
  EXPECT_TRUE(contains(changes.body,
                       "\"status\":\"new\",\"assignee\":null,\"labels\":[],\"report\":{\"blob\":"))
      << changes.body;
  EXPECT_TRUE(contains(changes.body, ",\"size\":" + std::to_string(ciphertext.size()) +
                                         "},\"attachments\":[],\"notes\":[]}]"))
      << changes.body;
  EXPECT_TRUE(contains(changes.body, "\"deleted\":[],\"cursor\":1,\"more\":false}"))
      << changes.body;
  const HttpResult after = alice_.request("GET", "/api/v1/review/submissions?since=1");
  EXPECT_EQ(after.body, R"({"submissions":[],"deleted":[],"cursor":1,"more":false})");

  const int blob = json_int(changes.body, "blob");
  const std::string blob_path = "/api/v1/review/blobs/" + std::to_string(blob);
  const HttpResult whole = alice_.request("GET", blob_path);
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, ciphertext);
  EXPECT_EQ(header_value(whole, "Content-Type"), "application/octet-stream");
  {
    storage::Database db = server_.open_database();
    EXPECT_EQ(read_blob(db, blob), whole.body) << "the stored bytes";
  }

  const std::string size = std::to_string(ciphertext.size());
  const HttpResult head = alice_.request("GET", blob_path, {}, {"Range: bytes=0-9"});
  EXPECT_EQ(head.status, 206);
  EXPECT_EQ(header_value(head, "Content-Range"), "bytes 0-9/" + size);
  const HttpResult tail = alice_.request("GET", blob_path, {}, {"Range: bytes=10-"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(header_value(tail, "Content-Range"),
            "bytes 10-" + std::to_string(ciphertext.size() - 1) + "/" + size);
  EXPECT_EQ(head.body + tail.body, ciphertext);
  const HttpResult beyond_last = alice_.request("GET", blob_path, {}, {"Range: bytes=5-99999999"});
  EXPECT_EQ(beyond_last.status, 206);
  EXPECT_EQ(beyond_last.body, ciphertext.substr(5));

  const HttpResult past_end = alice_.request("GET", blob_path, {}, {"Range: bytes=" + size + "-"});
  EXPECT_EQ(past_end.status, 416);
  EXPECT_EQ(header_value(past_end, "Content-Range"), "bytes */" + size);
  for (const std::string range : {"bytes=5-2", "bytes=-5", "items=0-1", "bytes=0-1,3-4"}) {
    EXPECT_EQ(alice_.request("GET", blob_path, {}, {"Range: " + range}).status, 400) << range;
  }
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/blobs/999999").status, 404);
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/blobs/x").status, 404);
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/submissions?limit=0").status, 400);
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/submissions?limit=1001").status, 400);
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/submissions?since=-1").status, 400);
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/submissions?page=2").status, 400);
}

TEST_F(ReviewerApiTest, TriageChangesShowInTheChangesAndTheAuditLog) {
  std::string ciphertext;
  const std::string id = submit("A man from the consulate called my father.", &ciphertext);
  const std::string triage = "/api/v1/review/submissions/" + id + "/triage";
  const HttpResult changed = alice_.request(
      "POST", triage,
      R"({"status":"in_review","assignee":"root","add_labels":["urgent","family","urgent"]})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_TRUE(contains(changed.body, "\"id\":\"" + id + "\"")) << changed.body;
  EXPECT_TRUE(contains(changed.body,
                       "\"change_seq\":2,\"status\":\"in_review\",\"assignee\":\"root\","
                       "\"labels\":[\"family\",\"urgent\"]"))
      << changed.body;

  const HttpResult listed = alice_.request("GET", "/api/v1/review/submissions?since=1");
  EXPECT_TRUE(contains(listed.body, "\"status\":\"in_review\",\"assignee\":\"root\""))
      << listed.body;
  EXPECT_TRUE(contains(listed.body, "\"cursor\":2,\"more\":false")) << listed.body;

  const HttpResult second = root_.request(
      "POST", triage,
      R"({"assignee":null,"remove_labels":["urgent","absent"],"status":"in_review"})");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_TRUE(contains(second.body,
                       "\"change_seq\":3,\"status\":\"in_review\",\"assignee\":null,"
                       "\"labels\":[\"family\"]"))
      << second.body;

  // Nothing to change: no entry, no new change number.
  const HttpResult same = alice_.request("POST", triage, R"({"status":"in_review"})");
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_TRUE(contains(same.body, "\"change_seq\":3,")) << same.body;

  const std::string expected_audit =
      "alice status in_review\nalice assign root\nalice label family\nalice label urgent\n"
      "root assign -\nroot unlabel urgent";
  EXPECT_EQ(audit_actions(),
            "(server admin) reviewer-add alice as reviewer\n"
            "(server admin) reviewer-add root as admin\n" +
                expected_audit);

  const HttpResult forbidden = alice_.request("GET", "/api/v1/review/audit");
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  const HttpResult audit = root_.request("GET", "/api/v1/review/audit?since=2&limit=2");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_TRUE(audit.body.starts_with("{\"entries\":[{\"id\":3,\"at\":")) << audit.body;
  EXPECT_TRUE(
      contains(audit.body, ",\"reviewer\":\"alice\",\"action\":\"status\",\"submission\":\"" + id +
                               "\",\"detail\":\"in_review\"}"))
      << audit.body;
  EXPECT_TRUE(contains(audit.body, "\"action\":\"assign\""));
  EXPECT_TRUE(audit.body.ends_with("],\"cursor\":4,\"more\":true}")) << audit.body;
  const HttpResult first = root_.request("GET", "/api/v1/review/audit");
  EXPECT_TRUE(contains(first.body,
                       "\"reviewer\":\"(server admin)\",\"action\":\"reviewer-add\","
                       "\"submission\":null,\"detail\":\"alice as reviewer\""))
      << first.body;

  // Refused bodies change nothing but use up their nonces: they were authenticated.
  const std::string before = database_state();
  const std::int64_t nonces_before = nonces();
  const std::vector<std::string> bad_bodies = {
      "",
      "[]",
      "{}",
      R"({"status":"done"})",
      R"({"status":1})",
      R"({"assignee":"nobody"})",
      R"({"assignee":""})",
      R"({"add_labels":"urgent"})",
      R"({"add_labels":[""]})",
      R"({"add_labels":["a\nb"]})",
      R"({"add_labels":["x"],"remove_labels":["x"]})",
      R"({"color":"red"})",
      "{\"add_labels\":[\"" + std::string(65, 'x') + "\"]}"};
  for (const std::string& body : bad_bodies) {
    const HttpResult refused = alice_.request("POST", triage, body);
    EXPECT_EQ(refused.status, 400) << body << " -> " << refused.body;
    EXPECT_TRUE(contains(refused.body, "\"reason\":")) << refused.body;
  }
  std::string many = R"({"add_labels":[)";
  for (int i = 0; i < 32; ++i) many += (i == 0 ? "" : ",") + ("\"l" + std::to_string(i) + "\"");
  const HttpResult too_many = alice_.request("POST", triage, many + "]}");
  EXPECT_EQ(too_many.status, 400) << too_many.body;  // "family" is there already
  EXPECT_TRUE(contains(too_many.body, "at most 32 labels")) << too_many.body;
  const HttpResult unknown =
      alice_.request("POST", "/api/v1/review/submissions/" + std::string(32, 'b') + "/triage",
                     R"({"status":"spam"})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(database_state(), before);
  EXPECT_EQ(nonces(), nonces_before + static_cast<std::int64_t>(bad_bodies.size()) + 2);
}

TEST_F(ReviewerApiTest, NotesAreStoredAndADeletionLeavesATombstone) {
  std::string ciphertext;
  const std::string id = submit("Someone follows me home from work.", &ciphertext);
  const std::string note = sealed("note", "Called the source back; safe for now.");
  const HttpResult added = alice_.request("POST", "/api/v1/review/submissions/" + id + "/notes",
                                          note, {"Content-Type: application/octet-stream"});
  ASSERT_EQ(added.status, 201) << added.body;
  const int note_blob = json_int(added.body, "blob");
  EXPECT_TRUE(contains(added.body, "\"size\":" + std::to_string(note.size()) + "}")) << added.body;
  EXPECT_EQ(alice_.request("GET", "/api/v1/review/blobs/" + std::to_string(note_blob)).body, note);
  const HttpResult listed = alice_.request("GET", "/api/v1/review/submissions?since=1");
  EXPECT_TRUE(
      contains(listed.body, "\"notes\":[{\"id\":" + std::to_string(json_int(added.body, "id")) +
                                ",\"reviewer\":\"alice\",\"created_at\":"))
      << listed.body;
  EXPECT_TRUE(contains(listed.body, "\"cursor\":2")) << listed.body;
  {
    storage::Database db = server_.open_database();
    auto sealed_to = db.prepare("SELECT sealed_to_bundle FROM blobs WHERE id = ?;");
    ASSERT_TRUE(sealed_to.has_value());
    ASSERT_TRUE(*sealed_to->bind(note_blob).step());
    EXPECT_EQ(sealed_to->integer(0), 1) << "the note records the bundle version";
  }
  for (const std::string& bad : {std::string("not an age file"), std::string()}) {
    const HttpResult refused =
        alice_.request("POST", "/api/v1/review/submissions/" + id + "/notes", bad);
    EXPECT_EQ(refused.status, 400) << refused.body;
  }
  EXPECT_EQ(
      alice_.request("POST", "/api/v1/review/submissions/" + std::string(32, 'c') + "/notes", note)
          .status,
      404);

  const int report_blob = json_int(listed.body, "blob");
  const HttpResult deleted = alice_.request("DELETE", "/api/v1/review/submissions/" + id);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.body, "{\"deleted\":\"" + id + "\"}");
  const HttpResult tombstone = alice_.request("GET", "/api/v1/review/submissions?since=2");
  EXPECT_EQ(tombstone.body, "{\"submissions\":[],\"deleted\":[{\"id\":\"" + id +
                                "\",\"change_seq\":3}],\"cursor\":3,\"more\":false}");
  const HttpResult from_start = alice_.request("GET", "/api/v1/review/submissions");
  EXPECT_TRUE(from_start.body.starts_with("{\"submissions\":[],\"deleted\":[{\"id\":\"" + id))
      << from_start.body;
  for (const int blob : {report_blob, note_blob}) {
    EXPECT_EQ(alice_.request("GET", "/api/v1/review/blobs/" + std::to_string(blob)).status, 404);
  }
  EXPECT_EQ(alice_.request("DELETE", "/api/v1/review/submissions/" + id).status, 404);
  {
    storage::Database db = server_.open_database();
    auto left = db.prepare(
        "SELECT (SELECT count(*) FROM submissions) + (SELECT count(*) FROM notes) + "
        "(SELECT count(*) FROM blobs) + (SELECT count(*) FROM blob_chunks);");
    ASSERT_TRUE(left.has_value());
    ASSERT_TRUE(*left->step());
    EXPECT_EQ(left->integer(0), 0) << "the submission, its note and their blobs are gone";
  }
  EXPECT_TRUE(audit_actions().ends_with("alice note 1\nalice delete -")) << audit_actions();
  server_.stop();
  EXPECT_FALSE(contains(server_.log(), "checkpoint_after_delete_failed")) << server_.log();
}

TEST_F(ReviewerApiTest, ARetentionPurgeShowsAsADeletionInTheChanges) {
  std::string ciphertext;
  const std::string kept = submit("My cousin was questioned at the airport.", &ciphertext);
  const std::string purged = submit("A neighbour reports on the family.", &ciphertext);
  ASSERT_EQ(alice_
                .request("POST", "/api/v1/review/submissions/" + kept + "/triage",
                         R"({"status":"closed"})")
                .status,
            200);
  // Only `purged` is old enough: received yesterday, as far as retention is concerned.
  {
    storage::Database db = server_.open_database();
    auto aged = db.prepare(
        "UPDATE submissions SET received_day = received_day - 1 "
        "WHERE public_id = ?;");
    ASSERT_TRUE(aged.has_value());
    ASSERT_TRUE(aged->bind(purged).run().has_value());
  }
  const Outcome purge = run({kServer, "db", "purge", "--older-than", "1", "--config",
                             (server_.path() / "tipline.toml").string()},
                            seconds(60));
  ASSERT_EQ(purge.exit_code, 0) << purge.err;
  EXPECT_TRUE(contains(purge.out, "submissions: 1")) << purge.out;

  const HttpResult changes = alice_.request("GET", "/api/v1/review/submissions?since=3");
  ASSERT_EQ(changes.status, 200) << changes.body;
  EXPECT_EQ(changes.body, "{\"submissions\":[],\"deleted\":[{\"id\":\"" + purged +
                              "\",\"change_seq\":4}],\"cursor\":4,\"more\":false}");
  const HttpResult all = alice_.request("GET", "/api/v1/review/submissions");
  EXPECT_TRUE(contains(all.body, "\"id\":\"" + kept + "\"")) << all.body;
  EXPECT_FALSE(contains(all.body, "\"id\":\"" + purged + "\",\"received_day\"")) << all.body;
  EXPECT_TRUE(all.body.ends_with("\"deleted\":[{\"id\":\"" + purged +
                                 "\",\"change_seq\":4}],\"cursor\":4,\"more\":false}"))
      << all.body;
  // No reviewer acted: no audit entry.
  EXPECT_FALSE(contains(audit_actions(), "delete")) << audit_actions();
}

TEST_F(ReviewerApiTest, EverySignatureRefusalIs401AndChangesNothing) {
  std::string ciphertext;
  const std::string id = submit("They know where my brother studies.", &ciphertext);
  const std::string target = "/api/v1/review/submissions/" + id + "/triage";
  const std::string body = R"({"status":"escalated","add_labels":["x"]})";
  const std::string url = alice_.url(target);
  const fs::path ca = server_.certificate();
  const auto signed_as = [&](const ReviewerClient& who, const std::string& keyid,
                             const std::string& method, const std::string& signed_url,
                             const std::string& signed_body, std::int64_t created,
                             const std::string& nonce) {
    return signature_headers(who.key, keyid, method, signed_url, signed_body, created, nonce);
  };
  const std::string before = database_state();
  const std::int64_t nonces_before = nonces();
  const auto refused = [&](const std::vector<std::string>& headers, const std::string& reason,
                           const std::string& sent_body, const std::string& sent_url) {
    SCOPED_TRACE(reason);
    expect_refused(http_request("POST", sent_url, ca, headers, sent_body), reason);
    EXPECT_EQ(database_state(), before);
    EXPECT_EQ(nonces(), nonces_before);
  };

  ReviewerClient mallory;
  refused(signed_as(mallory, "alice", "POST", url, body, unix_now(), fresh_nonce()),
          "bad signature", body, url);
  refused(signed_as(alice_, "alice", "POST", url, body, unix_now(), fresh_nonce()), "bad signature",
          R"({"status":"closed","add_labels":["x"]})", url);
  refused(signed_as(alice_, "alice", "POST", url, body, unix_now(), fresh_nonce()), "bad signature",
          body, alice_.url("/api/v1/review/submissions/" + std::string(32, 'e') + "/triage"));
  refused(signed_as(alice_, "alice", "PUT", url, body, unix_now(), fresh_nonce()), "bad signature",
          body, url);
  refused(signed_as(alice_, "alice", "POST", url, body, unix_now() - 301, fresh_nonce()),
          "stale signature", body, url);
  refused(signed_as(alice_, "alice", "POST", url, body, unix_now() + 400, fresh_nonce()),
          "stale signature", body, url);
  refused(signed_as(mallory, "mallory", "POST", url, body, unix_now(), fresh_nonce()),
          "unknown reviewer", body, url);
  auto headers = signed_as(alice_, "alice", "POST", url, body, unix_now(), fresh_nonce());
  for (std::size_t dropped = 0; dropped < headers.size(); ++dropped) {
    auto fewer = headers;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(dropped));
    refused(fewer, "missing signature", body, url);
  }
  auto malformed = headers;
  malformed[1] = "Signature-Input: tipline=(\"@method\");created=1;keyid=\"alice\"";
  refused(malformed, "malformed signature", body, url);

  // A request that went through once is refused the second time, and only once happened.
  const std::string nonce = fresh_nonce();
  const auto once = signed_as(alice_, "alice", "POST", url, body, unix_now(), nonce);
  ASSERT_EQ(http_request("POST", url, ca, once, body).status, 200);
  const std::string after_once = database_state();
  EXPECT_NE(after_once, before);
  EXPECT_EQ(nonces(), nonces_before + 1);
  expect_refused(http_request("POST", url, ca, once, body), "replayed nonce");
  EXPECT_EQ(database_state(), after_once);
  EXPECT_EQ(nonces(), nonces_before + 1);
  // The same nonce under another reviewer is another nonce.
  const auto root_headers =
      signed_as(root_, "root", "POST", url, R"({"status":"closed"})", unix_now(), nonce);
  EXPECT_EQ(http_request("POST", url, ca, root_headers, R"({"status":"closed"})").status, 200);

  // A reviewer disabled while the server runs is refused from the next request on.
  ASSERT_EQ(reviewers({"disable", "alice"}).exit_code, 0);
  const std::string disabled_before = database_state();
  const std::int64_t disabled_nonces = nonces();
  const HttpResult disabled = alice_.request("POST", target, R"({"status":"spam"})");
  expect_refused(disabled, "reviewer disabled");
  EXPECT_EQ(database_state(), disabled_before);
  EXPECT_EQ(nonces(), disabled_nonces);
  expect_refused(alice_.request("GET", "/api/v1/whoami"), "reviewer disabled");
  EXPECT_FALSE(contains(server_.log(), nonce)) << "nothing of a signature is logged";
}

}  // namespace
}  // namespace tipline::testing
