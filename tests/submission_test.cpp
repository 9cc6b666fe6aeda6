// The source API against the real tipline-server on loopback: the published recipient
// bundle, and reports encrypted by the stock age CLI, checked and stored durably.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "support/process.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/database.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;

// The value of "key":"…" in a flat JSON text; the escapes Boost.JSON writes for text.
std::string json_string(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  std::size_t at = json.find(marker);
  if (at == std::string::npos) return {};
  std::string value;
  for (at += marker.size(); at < json.size() && json[at] != '"'; ++at) {
    if (json[at] == '\\' && at + 1 < json.size()) {
      ++at;
      value += json[at] == 'n' ? '\n' : json[at] == 't' ? '\t' : json[at];
    } else {
      value += json[at];
    }
  }
  return value;
}

class SubmissionTest : public ::testing::Test {
 protected:
  void start(bool demo) {
    instance_ = dir_.path() / "instance";
    std::vector<std::string> init = {kServer, "init", instance_.string()};
    if (demo) init.emplace_back("--demo");
    const Outcome made = run(init);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    const fs::path config = instance_ / "test.toml";
    write_file(config, "[source]\nport = 0\n[reviewer]\nport = 0\n");
    server_ = std::make_unique<Child>(
        std::vector<std::string>{kServer, "serve", "--config", config.string()},
        dir_.path() / "serve.log");
    const auto lines = server_->wait_for_lines("\"event\":\"listening\"", 2, seconds(20));
    ASSERT_EQ(lines.size(), 2u) << server_->stderr_text();
    for (const auto& line : lines) {
      if (contains(line, "\"listener\":\"source\"")) port_ = json_int(line, "port");
    }
  }

  HttpResult get(const std::string& path) {
    return https_request(url(path), instance_ / "tls/certificate.pem");
  }
  HttpResult post(const std::string& path, const std::string& body) {
    return https_request(url(path), instance_ / "tls/certificate.pem",
                         {"Content-Type: application/json"}, body);
  }
  std::string url(const std::string& path) const {
    return "https://localhost:" + std::to_string(port_) + path;
  }

  // A report sealed by the stock age CLI to `recipients`, as {"report": BASE64}.
  std::string sealed_report(const std::vector<std::string>& recipients, const std::string& text,
                            std::string* ciphertext) {
    const std::string age = find_tool("age");
    EXPECT_FALSE(age.empty()) << "age must be installed (scripts/setup installs it)";
    const fs::path plain = dir_.path() / "report.txt";
    const fs::path sealed = dir_.path() / "report.age";
    fs::remove(sealed);
    write_file(plain, text);
    std::vector<std::string> command = {age, "-e", "-o", sealed.string()};
    for (const auto& recipient : recipients) {
      command.emplace_back("-r");
      command.push_back(recipient);
    }
    command.push_back(plain.string());
    const Outcome encrypted = run(command);
    EXPECT_EQ(encrypted.exit_code, 0) << describe(command, encrypted);
    *ciphertext = read_file(sealed);
    const Outcome encoded = run({find_tool("base64"), "-w0", sealed.string()});
    return "{\"report\":\"" + encoded.out + "\"}";
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
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(seconds(15)), 0) << server_->stderr_text();
    auto key = storage::read_key_file(instance_ / "database.key");
    EXPECT_TRUE(key.has_value());
    auto db = storage::Database::open(instance_ / "tipline.db", *key,
                                      storage::Database::Mode::open_existing);
    EXPECT_TRUE(db.has_value()) << db.error().message;
    auto query = db->prepare(
        "SELECT s.report_blob_id, b.sealed_to_bundle FROM submissions s "
        "JOIN blobs b ON b.id = s.report_blob_id WHERE s.public_id = ?;");
    EXPECT_TRUE(query.has_value());
    auto row = query->bind(id).step();
    EXPECT_TRUE(row.has_value() && *row) << "no submission " << id;
    if (!row || !*row) return {};
    *sealed_to = query->integer(1);
    const storage::BlobId blob = query->integer(0);
    std::string bytes;
    std::vector<std::byte> buffer(65536);
    while (true) {
      auto n = storage::read_blob(*db, blob, bytes.size(), buffer);
      EXPECT_TRUE(n.has_value());
      if (!n || *n == 0) return bytes;
      bytes.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
  }

  TempDir dir_;
  fs::path instance_;
  std::unique_ptr<Child> server_;
  int port_ = 0;
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
