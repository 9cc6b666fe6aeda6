// The source API against the real tipline-server on loopback: the published recipient
// bundle, and reports encrypted by the stock age CLI, checked and stored durably.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/instance.h"
#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;

const std::string kServer = TIPLINE_SERVER_BINARY;

class SubmissionTest : public ::testing::Test {
 protected:
  void start(bool demo) {
    ASSERT_NO_FATAL_FAILURE(server_.init(demo));
    server_.start("[source]\nport = 0\n[reviewer]\nport = 0\n");
  }

  HttpResult get(const std::string& path) {
    return https_request(server_.url(path), server_.certificate());
  }
  HttpResult post(const std::string& path, const std::string& body) {
    return https_request(server_.url(path), server_.certificate(),
                         {"Content-Type: application/json"}, body);
  }

  // A report sealed by the stock age CLI to `recipients`, as {"report": BASE64}.
  std::string sealed_report(const std::vector<std::string>& recipients, const std::string& text,
                            std::string* ciphertext) {
    const fs::path sealed = dir_.path() / "report.age";
    age_seal(sealed, text, recipients);
    *ciphertext = read_file(sealed);
    return "{\"report\":\"" + base64(*ciphertext) + "\"}";
  }

  std::string demo_recipient() {
    const HttpResult keys = get("/api/v1/keys");
    EXPECT_EQ(keys.status, 200) << keys.body;
    const std::string bundle = json_string(keys.body, "bundle");
    const std::size_t at = bundle.find("age1");
    return at == std::string::npos ? std::string() : bundle.substr(at, 62);
  }

  // Stops the server and reads the stored report of submission `id` from the database.
  std::string stored_report(const std::string& id, std::int64_t* sealed_to) {
    server_.stop();
    storage::Database db = server_.open_database();
    auto query = db.prepare(
        "SELECT s.report_blob_id, b.sealed_to_bundle FROM submissions s "
        "JOIN blobs b ON b.id = s.report_blob_id WHERE s.public_id = ?;");
    EXPECT_TRUE(query.has_value());
    auto row = query->bind(id).step();
    EXPECT_TRUE(row.has_value() && *row) << "no submission " << id;
    if (!row || !*row) return {};
    *sealed_to = query->integer(1);
    return read_blob(db, query->integer(0));
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  const fs::path instance_ = server_.path();
};

TEST_F(SubmissionTest, KeysPublishesTheSignedBundleByteForByte) {
  start(true);
  const HttpResult keys = get("/api/v1/keys");
  ASSERT_EQ(keys.status, 200) << keys.body;
  EXPECT_EQ(json_string(keys.body, "bundle"),
            read_file(instance_ / "demo-offline-keys/bundle-1.json"));
  EXPECT_EQ(json_string(keys.body, "signature"),
            read_file(instance_ / "demo-offline-keys/bundle-1.json.minisig"));
  EXPECT_EQ(demo_recipient().size(), 62u);
}

TEST_F(SubmissionTest, AReportSealedByStockAgeIsStoredExactlyAfterTheCommit) {
  start(true);
  std::string ciphertext;
  const std::string body = sealed_report(
      {demo_recipient()}, "Men from the 'service centre' visited my parents.", &ciphertext);
  const HttpResult posted = post("/api/v1/submissions", body);
  ASSERT_EQ(posted.status, 201) << posted.body;
  const std::string id = json_string(posted.body, "id");
  ASSERT_EQ(id.size(), 32u) << posted.body;
  std::int64_t sealed_to = 0;
  EXPECT_EQ(stored_report(id, &sealed_to), ciphertext);
  EXPECT_EQ(sealed_to, 1) << "the report records the bundle version it is sealed to";
}

TEST_F(SubmissionTest, ReportsNotSealedToTheBundleAreRefused) {
  start(true);
  std::string ciphertext;
  const Outcome other = run({find_tool("age-keygen")});
  const std::string stranger = other.err.substr(other.err.find("age1"), 62);
  // Two recipients where the bundle has one: someone else could read it.
  const HttpResult extra =
      post("/api/v1/submissions", sealed_report({demo_recipient(), stranger}, "x", &ciphertext));
  EXPECT_EQ(extra.status, 400) << extra.body;
  EXPECT_TRUE(contains(extra.body, "not an age file sealed to the current recipients"));
  for (const std::string bad : {"{}", "[1]", "{\"report\":\"!!!\"}", "{\"report\":\"aGVsbG8=\"}",
                                "{\"report\":\"aGVsbG8=\",\"extra\":1}"}) {
    const HttpResult refused = post("/api/v1/submissions", bad);
    EXPECT_EQ(refused.status, 400) << bad << " -> " << refused.body;
  }
  const HttpResult get_instead = get("/api/v1/submissions");
  EXPECT_EQ(get_instead.status, 405);
}

TEST_F(SubmissionTest, WithoutABundleTheTipLineSaysItIsNotAcceptingReports) {
  start(false);
  const HttpResult keys = get("/api/v1/keys");
  EXPECT_EQ(keys.status, 503);
  EXPECT_TRUE(contains(keys.body, "this tip line is not accepting reports yet")) << keys.body;
  const HttpResult page = get("/");
  EXPECT_EQ(page.status, 503);
  EXPECT_TRUE(contains(page.body, "this tip line is not accepting reports yet")) << page.body;
  const HttpResult posted = post("/api/v1/submissions", "{\"report\":\"aGVsbG8=\"}");
  EXPECT_EQ(posted.status, 503) << posted.body;
}

TEST_F(SubmissionTest, TheLandingPageAndItsStylesheetAreServed) {
  start(true);
  const HttpResult page = get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(contains(page.body, "<html")) << page.body;
  EXPECT_TRUE(contains(page.headers, "text/html")) << page.headers;
  const HttpResult css = get("/static/style.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_TRUE(contains(css.headers, "text/css")) << css.headers;
  EXPECT_EQ(get("/static/missing.css").status, 404);
}

}  // namespace
}  // namespace tipline::testing
