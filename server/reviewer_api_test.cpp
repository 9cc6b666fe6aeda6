#include "reviewer_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "support/process.h"
#include "tipline/crypto/request_signature.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/store.h"

namespace tipline::server::reviewer_api {
namespace {

namespace http = boost::beast::http;
namespace signing = crypto::request_signature;

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

TEST(ReviewerApi, TargetsNameTheirEndpointAndId) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::string triage_path = "/api/v1/review/submissions/" + id + "/triage";
  const auto triage = target_of(triage_path);
  ASSERT_TRUE(triage);
  EXPECT_EQ(triage->endpoint, Endpoint::triage);
  EXPECT_EQ(triage->id, id);
  EXPECT_EQ(target_of("/api/v1/review/submissions/" + id + "/notes")->endpoint, Endpoint::notes);
  EXPECT_EQ(target_of("/api/v1/review/submissions/" + id)->endpoint, Endpoint::remove);
  EXPECT_EQ(target_of("/api/v1/review/submissions")->endpoint, Endpoint::changes);
  EXPECT_EQ(target_of("/api/v1/review/audit")->endpoint, Endpoint::audit);
  EXPECT_EQ(target_of("/api/v1/whoami")->endpoint, Endpoint::whoami);
  const auto blob = target_of("/api/v1/review/blobs/170");
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->endpoint, Endpoint::blob);
  EXPECT_EQ(blob->id, "170");
  for (const std::string& other : std::vector<std::string>{
           "/api/v1/review/submissions/", "/api/v1/review/submissions/" + id + "/",
           "/api/v1/review/submissions/" + id + "/other",
           "/api/v1/review/submissions/" + id.substr(1) + "/triage",
           "/api/v1/review/submissions/0123456789ABCDEF0123456789abcdef",
           "/api/v1/review/submissionsx", "/api/v1/review/blobs/", "/api/v1/review/blobs/0",
           "/api/v1/review/blobs/017", "/api/v1/review/blobs/-1", "/api/v1/review/blobs/1/x",
           "/api/v1/review/blobs/1234567890123456789", "/api/v1/review/audit/", "/api/v1/whoami/",
           "/api/v1/keys", "/healthz", "/"}) {
    EXPECT_FALSE(target_of(other)) << other;
  }
}

TEST(ReviewerApi, EachEndpointTakesOneMethodAndItsBodyLimit) {
  config::Limits limits;
  limits.body_bytes = 10;
  limits.report_bytes = 20;
  EXPECT_EQ(allowed_methods(Endpoint::triage), "POST");
  EXPECT_EQ(allowed_methods(Endpoint::notes), "POST");
  EXPECT_EQ(allowed_methods(Endpoint::remove), "DELETE");
  for (const Endpoint get :
       {Endpoint::whoami, Endpoint::changes, Endpoint::blob, Endpoint::audit}) {
    EXPECT_EQ(allowed_methods(get), "GET");
    EXPECT_EQ(body_limit(get, limits), 0u);
  }
  EXPECT_EQ(body_limit(Endpoint::triage, limits), 10u);
  EXPECT_EQ(body_limit(Endpoint::notes, limits), 20u);
  EXPECT_EQ(body_limit(Endpoint::remove, limits), 0u);
}

TEST(ReviewerApi, RangesAreOneByteRangeFromAnOffset) {
  const auto closed = parse_range("bytes=10-19");
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->first, 10u);
  EXPECT_EQ(closed->last, 19u);
  const auto open = parse_range("bytes=8388608-");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->first, 8388608u);
  EXPECT_FALSE(open->last);
  EXPECT_EQ(parse_range("bytes=0-0")->last, 0u);
  for (const char* bad : {"", "bytes=", "bytes=-", "bytes=-5", "bytes=5-4", "bytes=1-2,4-5",
                          "bytes=a-b", "bytes= 1-2", "bytes=1-2 ", "Bytes=1-2", "items=1-2",
                          "bytes=+1-2", "bytes=1--2", "bytes=01-2", "bytes=1234567890123456789-"}) {
    EXPECT_FALSE(parse_range(bad)) << bad;
  }
}

TEST(ReviewerApi, WindowsCarryAtMostEightMiB) {
  using Kind = Window::Kind;
  const auto window = [](std::optional<ByteRange> range, std::uint64_t size) {
    const Window w = window_of(range, size);
    return std::tuple(w.kind, w.first, w.length);
  };
  EXPECT_EQ(window(std::nullopt, 0), std::tuple(Kind::whole, 0u, 0u));
  EXPECT_EQ(window(std::nullopt, 8 * kMiB), std::tuple(Kind::whole, 0u, 8 * kMiB));
  EXPECT_EQ(std::get<0>(window(std::nullopt, 8 * kMiB + 1)), Kind::unsatisfiable);
  EXPECT_EQ(window(ByteRange{0, std::nullopt}, 20 * kMiB), std::tuple(Kind::partial, 0u, 8 * kMiB));
  EXPECT_EQ(window(ByteRange{16 * kMiB, std::nullopt}, 20 * kMiB),
            std::tuple(Kind::partial, 16 * kMiB, 4 * kMiB));
  EXPECT_EQ(window(ByteRange{5, 9}, 100), std::tuple(Kind::partial, 5u, 5u));
  EXPECT_EQ(window(ByteRange{5, 1000}, 100), std::tuple(Kind::partial, 5u, 95u));
  EXPECT_EQ(window(ByteRange{99, std::nullopt}, 100), std::tuple(Kind::partial, 99u, 1u));
  EXPECT_EQ(window(ByteRange{1, 20 * kMiB}, 20 * kMiB), std::tuple(Kind::partial, 1u, 8 * kMiB));
  EXPECT_EQ(std::get<0>(window(ByteRange{100, std::nullopt}, 100)), Kind::unsatisfiable);
  EXPECT_EQ(std::get<0>(window(ByteRange{0, 0}, 0)), Kind::unsatisfiable);
}

TEST(ReviewerApi, TriageBodiesAreCheckedForForm) {
  const auto full = parse_triage(
      R"({"status":"closed","assignee":"bob","add_labels":["b","a","b"],"remove_labels":["c"]})");
  ASSERT_TRUE(full) << full.error();
  EXPECT_EQ(full->status, "closed");
  ASSERT_TRUE(full->assignee);
  EXPECT_EQ(*full->assignee, "bob");
  EXPECT_EQ(full->add_labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(full->remove_labels, (std::vector<std::string>{"c"}));

  const auto cleared = parse_triage(R"({"assignee":null})");
  ASSERT_TRUE(cleared);
  ASSERT_TRUE(cleared->assignee);
  EXPECT_FALSE(*cleared->assignee);
  EXPECT_FALSE(cleared->status);
  EXPECT_FALSE(parse_triage(R"({"status":"spam"})")->assignee);
  // 64 characters, not bytes; any script.
  const std::string cyrillic64 = [] {
    std::string text;
    for (int i = 0; i < 64; ++i) text += "ж";
    return text;
  }();
  EXPECT_TRUE(parse_triage("{\"add_labels\":[\"" + cyrillic64 + "\"]}"));
  std::string labels32 = R"({"add_labels":[)";
  for (int i = 0; i < 32; ++i) labels32 += (i == 0 ? "\"" : ",\"") + std::to_string(i) + "\"";
  EXPECT_TRUE(parse_triage(labels32 + "]}"));

  for (const std::string& bad :
       std::vector<std::string>{"",
                                "null",
                                "[]",
                                "{}",
                                R"({"status":"open"})",
                                R"({"status":null})",
                                R"({"status":["new"]})",
                                R"({"assignee":""})",
                                R"({"assignee":7})",
                                R"({"add_labels":"x"})",
                                R"({"add_labels":[1]})",
                                R"({"add_labels":[""]})",
                                R"({"add_labels":["tab\there"]})",
                                R"({"add_labels":["del\u007f"]})",
                                R"({"add_labels":["c1\u0085"]})",
                                R"({"remove_labels":[null]})",
                                R"({"add_labels":["x"],"remove_labels":["x"]})",
                                R"({"status":"new","extra":1})",
                                "{\"add_labels\":[\"" + cyrillic64 + "ж\"]}",
                                labels32 + ",\"32\"]}",
                                "{\"status\":\"new\"",
                                "{\"add_labels\":[\"\xff\"]}"}) {
    const auto refused = parse_triage(bad);
    EXPECT_FALSE(refused) << bad;
    if (!refused) {
      EXPECT_FALSE(refused.error().empty());
    }
  }
}

// A real store and one registered reviewer, to send signed requests to handle_request.
class SignedRequests : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store =
        storage::Store::open(dir_.path() / "tipline.db", crypto::Secret::random(storage::kKeyBytes),
                             storage::Database::Mode::create_new);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    services_ = std::make_unique<Services>(config_, *store_);
    const auto key = key_.public_key();
    ASSERT_TRUE(store_
                    ->write([&](storage::Database& db) {
                      auto insert = db.prepare(
                          "INSERT INTO reviewers (id, signing_key, role, added_at) "
                          "VALUES ('alice', ?, 'reviewer', 0);");
                      if (!insert)
                        return tl::expected<void, storage::Error>(tl::unexpected(insert.error()));
                      return insert->bind(std::as_bytes(std::span(key))).run();
                    })
                    .get()
                    .has_value());
  }

  Response send(const std::string& nonce, std::int64_t created) {
    return send_signed(http::verb::get, "/api/v1/whoami", {}, "reviewers.example:8444", nonce,
                       created);
  }

  // Signed for "https://" + host + target, as the server rebuilds it; a nullopt host sends
  // no Host field.
  Response send_signed(http::verb method, const std::string& target, const std::string& body,
                       const std::optional<std::string>& host, const std::string& nonce,
                       std::int64_t created = now()) {
    Request request(method, target, 11);
    if (host) request.set(http::field::host, *host);
    const std::string digest = signing::content_digest(body);
    const auto fields = signing::sign(
        key_, "alice",
        {std::string(http::to_string(method)), "https://" + host.value_or("") + target, digest},
        created, nonce);
    request.set("Content-Digest", digest);
    request.set("Signature-Input", fields.signature_input);
    request.set("Signature", fields.signature);
    request.body() = body;
    request.prepare_payload();
    std::promise<Response> answered;
    handle_request(std::move(request), RequestContext{Side::reviewer, true, {}}, *services_,
                   [&](Response response) { answered.set_value(std::move(response)); });
    return answered.get_future().get();
  }

  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void exec(const std::string& sql) {
    ASSERT_TRUE(
        store_->write([&](storage::Database& db) { return db.exec(sql); }).get().has_value())
        << sql;
  }

  std::int64_t nonces() {
    return *store_->read([](storage::Database& db) -> tl::expected<std::int64_t, storage::Error> {
      auto query = db.prepare("SELECT count(*) FROM signature_nonces;");
      if (!query) return tl::unexpected(query.error());
      (void)query->step();
      return query->integer(0);
    });
  }

  testing::TempDir dir_;
  config::Config config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Services> services_;
  signing::SigningKey key_ = signing::SigningKey::generate();
};

TEST_F(SignedRequests, ANonceIsRecordedOnceAndOnlyForAnAdmittedRequest) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const Response first = send("n-1", now);
  EXPECT_EQ(first.result(), http::status::ok) << first.body();
  EXPECT_EQ(first.body(), R"({"id":"alice","role":"reviewer"})");
  EXPECT_EQ(nonces(), 1);
  const Response replayed = send("n-1", now);
  EXPECT_EQ(replayed.result(), http::status::unauthorized);
  EXPECT_EQ(replayed.body(), R"({"error":"Unauthorized","reason":"replayed nonce"})");
  const Response stale = send("n-2", now - signing::kMaxSkewSeconds - 1);
  EXPECT_EQ(stale.body(), R"({"error":"Unauthorized","reason":"stale signature"})");
  EXPECT_EQ(nonces(), 1);
  EXPECT_EQ(send("n-2", now).result(), http::status::ok);
  // Kept until no request carrying it could still be fresh.
  const auto expiry =
      store_->read([](storage::Database& db) -> tl::expected<std::int64_t, storage::Error> {
        auto query = db.prepare("SELECT expires_at FROM signature_nonces WHERE nonce = 'n-1';");
        if (!query) return tl::unexpected(query.error());
        (void)query->step();
        return query->integer(0);
      });
  ASSERT_TRUE(expiry.has_value());
  EXPECT_EQ(*expiry, now + 2 * signing::kMaxSkewSeconds);
}

TEST(ReviewerApi, TheTargetUriIsAnOriginFormTargetUnderAPlainHost) {
  for (const char* host :
       {"reviewers.example", "reviewers.example:8444", "127.0.0.1:8444", "[::1]:8444",
        "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion"}) {
    EXPECT_FALSE(target_uri_problem(host, "/api/v1/whoami")) << host;
  }
  for (const std::string& host :
       {std::string(), std::string("evil/x"), std::string("h?x"), std::string("h#x"),
        std::string("user@h"), std::string("h x"), std::string("h\tx"), std::string("h\r\nx"),
        std::string("h\x7f"), std::string("h\0x", 3), std::string("h\\x"),
        std::string("h\xc3\xa9")}) {
    EXPECT_EQ(target_uri_problem(host, "/api/v1/whoami"),
              "Host must be one host name or address with an optional port")
        << host;
  }
  for (const char* target : {"", "*", "https://h/api/v1/whoami", "api/v1/whoami"}) {
    EXPECT_EQ(target_uri_problem("h", target), "the request target must be a path (origin-form)")
        << target;
  }
}

TEST_F(SignedRequests, ABadHostOrTargetIs400BeforeTheSignatureAndUsesNoNonce) {
  const std::string bad_host =
      R"({"error":"Bad Request","reason":"Host must be one host name or address with an optional port"})";
  int n = 0;
  for (const std::optional<std::string>& host : std::vector<std::optional<std::string>>{
           std::nullopt, "", "reviewers.example/api", "reviewers.example?", "reviewers.example#",
           "alice@reviewers.example", "reviewers.example :8444"}) {
    // Signed as the server would rebuild the URL: only the check refuses it.
    const Response refused =
        send_signed(http::verb::get, "/api/v1/whoami", {}, host, "h-" + std::to_string(++n));
    EXPECT_EQ(refused.result(), http::status::bad_request) << host.value_or("(none)");
    EXPECT_EQ(refused.body(), bad_host) << host.value_or("(none)");
  }
  const Response absolute = send_signed(http::verb::get, "https://reviewers.example/api/v1/whoami",
                                        {}, "reviewers.example", "t-1");
  EXPECT_EQ(absolute.result(), http::status::bad_request);
  EXPECT_EQ(
      absolute.body(),
      R"json({"error":"Bad Request","reason":"the request target must be a path (origin-form)"})json");
  EXPECT_EQ(nonces(), 0);

  Request twice(http::verb::get, "/api/v1/whoami", 11);
  twice.insert(http::field::host, "reviewers.example");
  twice.insert(http::field::host, "other.example");
  std::promise<Response> answered;
  handle_request(std::move(twice), RequestContext{Side::reviewer, true, {}}, *services_,
                 [&](Response response) { answered.set_value(std::move(response)); });
  EXPECT_EQ(answered.get_future().get().body(),
            R"({"error":"Bad Request","reason":"Host must be sent once"})");

  EXPECT_EQ(send_signed(http::verb::get, "/api/v1/whoami", {}, "[::1]:8444", "ok").result(),
            http::status::ok);
  EXPECT_EQ(nonces(), 1);
}

TEST_F(SignedRequests, ANoteWithoutAnInstalledBundleIs503AndUsesItsNonce) {
  const std::string notes = "/api/v1/review/submissions/" + std::string(32, 'a') + "/notes";
  const Response refused =
      send_signed(http::verb::post, notes, "age-encryption.org/v1\n", "reviewers.example", "n-1");
  EXPECT_EQ(refused.result(), http::status::service_unavailable);
  EXPECT_EQ(refused.body(),
            R"({"error":"Service Unavailable","reason":"no recipient bundle installed"})");
  EXPECT_EQ(nonces(), 1);
}

TEST_F(SignedRequests, ANoteWhenTheInstalledBundleCannotBeReadIs500AndChangesNothing) {
  // Not a bundle: the server reads it at start and cannot parse it.
  exec(
      "INSERT INTO bundles (version, bytes, signature, installed_at) VALUES (1, x'7b7d', "
      "'sig', 0);");
  services_ = std::make_unique<Services>(config_, *store_);
  ASSERT_FALSE(services_->installed_bundle.has_value());
  const std::string notes = "/api/v1/review/submissions/" + std::string(32, 'a') + "/notes";
  const Response failed =
      send_signed(http::verb::post, notes, "age-encryption.org/v1\n", "reviewers.example", "n-1");
  EXPECT_EQ(failed.result(), http::status::internal_server_error);
  EXPECT_EQ(failed.body(), R"({"error":"Internal Server Error"})");
  EXPECT_EQ(nonces(), 0);
}

}  // namespace
}  // namespace tipline::server::reviewer_api
