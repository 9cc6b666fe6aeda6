// The whole source side against a real tipline-server on loopback, through the stock curl
// CLI: every route, answered with every status it can give, carries the security headers
// (design §5); and nothing a source's client sends about itself — addresses, User-Agent,
// X-Forwarded-For and friends — reaches the logs (at debug level) or the database.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "support/instance.h"
#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;

const std::string kServer = TIPLINE_SERVER_BINARY;

// Values no part of the server has any reason to keep. The client addresses are loopback
// addresses other than the listener's own 127.0.0.1, so none can appear for another reason.
const std::string kUserAgent = "CanaryAgent/7.3 (uaCANARYua)";
const std::string kForwardedFor = "198.51.100.73, xffCANARYxff";
const std::vector<std::string> kClientAddresses = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};
const std::vector<std::string> kCanaries = {"uaCANARYua",    "CanaryAgent",  "xffCANARYxff",
                                            "198.51.100.73", "realipCANARY", "viaCANARY",
                                            "127.0.0.2",     "127.0.0.3",    "127.0.0.4"};

struct Reply {
  int status = 0;
  std::string headers;  // lower-cased
  std::string body;
};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

class SourceSideTest : public ::testing::Test {
 protected:
  // A demo instance (bundle installed) over TLS, or an instance without a bundle over
  // plain HTTP, as behind an onion service, announcing an onion address.
  void start(bool demo, const std::string& limits = {}) {
    tls_ = demo;
    ASSERT_NO_FATAL_FAILURE(server_.init(demo));
    std::string overlay =
        "[server]\nlog_level = \"debug\"\n[reviewer]\nport = 0\n[source]\nport = 0\n";
    if (!demo) overlay += "transport = \"http\"\nonion_location = \"http://" + kOnion + "\"\n";
    overlay += limits;
    server_.start(overlay);
  }

  fs::path log_file() const { return server_.log_file(); }

  // One request with the stock curl, from the next client address, with the canary headers.
  Reply request(const std::string& method, const std::string& path,
                std::vector<std::string> extra = {}, bool reviewer = false) {
    const fs::path headers = dir_.path() / "headers.txt";
    const fs::path body = dir_.path() / "body.txt";
    fs::remove(headers);
    fs::remove(body);
    const std::string scheme = tls_ || reviewer ? "https" : "http";
    const int port = reviewer ? server_.reviewer_port() : server_.source_port();
    std::vector<std::string> command = {find_tool("curl"),
                                        "-sS",
                                        "--max-time",
                                        "60",
                                        "-o",
                                        body.string(),
                                        "-D",
                                        headers.string(),
                                        "-w",
                                        "%{http_code}",
                                        "--interface",
                                        kClientAddresses[next_address_++ % kClientAddresses.size()],
                                        "-A",
                                        kUserAgent,
                                        "-H",
                                        "X-Forwarded-For: " + kForwardedFor,
                                        "-H",
                                        "X-Real-IP: realipCANARY",
                                        "-H",
                                        "Forwarded: for=\"[2001:db8::73]\";by=viaCANARY",
                                        "-H",
                                        "Via: 1.1 viaCANARY",
                                        "-b",
                                        jar().string(),
                                        "-c",
                                        jar().string()};
    if (scheme == "https") {
      command.insert(command.end(), {"--cacert", server_.certificate().string()});
    }
    if (method == "HEAD") {
      command.emplace_back("-I");
    } else {
      command.insert(command.end(), {"-X", method});
    }
    command.insert(command.end(), extra.begin(), extra.end());
    command.push_back(scheme + "://localhost:" + std::to_string(port) + path);
    const Outcome outcome = run(command);
    Reply reply;
    reply.status = static_cast<int>(std::strtol(outcome.out.c_str(), nullptr, 10));
    reply.headers = lower(read_file(headers));
    if (fs::exists(body)) reply.body = read_file(body);
    EXPECT_NE(reply.status, 0) << describe(command, outcome);
    check_headers(method + " " + path, reply, reviewer);
    statuses_[reply.status].push_back(method + " " + path);
    return reply;
  }

  // Design §5: every response, whatever its status.
  void check_headers(const std::string& what, const Reply& reply, bool reviewer) const {
    const std::string context = what + " -> " + std::to_string(reply.status);
    for (const std::string header :
         {"content-security-policy: default-src 'none'", "referrer-policy: no-referrer",
          "x-content-type-options: nosniff", "cache-control: no-store",
          "cross-origin-opener-policy: same-origin", "cross-origin-resource-policy: same-origin",
          "permissions-policy: ", "x-frame-options: deny"}) {
      EXPECT_TRUE(contains(reply.headers, header)) << context << " lacks " << header;
    }
    for (const std::string directive :
         {"form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"}) {
      EXPECT_TRUE(contains(reply.headers, directive)) << context << " lacks " << directive;
    }
    EXPECT_FALSE(contains(reply.headers, "\nserver:")) << context;
    EXPECT_EQ(contains(reply.headers, "strict-transport-security:"), tls_ || reviewer) << context;
    EXPECT_EQ(contains(reply.headers, "onion-location: http://" + kOnion), !tls_ && !reviewer)
        << context;
  }

  fs::path jar() const { return dir_.path() / "cookies.txt"; }

  std::string sealed(const std::string& recipient, const std::string& text) {
    const fs::path out = dir_.path() / "sealed.age";
    age_seal(out, text, {recipient});
    return out.string();
  }

  static std::string base64_of(const std::string& file) { return base64(read_file(file)); }

  // Stops the server, then returns the decrypted text of every row of every table.
  std::string stop_and_dump_database() {
    server_.stop();
    storage::Database db = server_.open_database();
    std::vector<std::string> tables;
    auto names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table';");
    EXPECT_TRUE(names.has_value());
    while (true) {
      auto row = names->step();
      if (!row || !*row) break;
      tables.push_back(names->text(0));
    }
    EXPECT_GT(tables.size(), 10u);
    std::string dump;
    for (const auto& table : tables) {
      auto rows = db.prepare("SELECT * FROM \"" + table + "\";");
      EXPECT_TRUE(rows.has_value()) << table;
      if (!rows) continue;
      const int columns = rows->columns();
      while (true) {
        auto row = rows->step();
        if (!row || !*row) break;
        for (int column = 0; column < columns; ++column) {
          const auto bytes = rows->bytes(column);
          dump.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
          dump += '\n';
        }
      }
    }
    return dump;
  }

  const std::string kOnion = "tiplineexampleaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion";
  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  const fs::path instance_ = server_.path();
  bool tls_ = true;
  std::size_t next_address_ = 0;
  std::map<int, std::vector<std::string>> statuses_;
};

std::string first_match(const std::string& text, const std::string& pattern) {
  std::smatch match;
  return std::regex_search(text, match, std::regex(pattern)) ? match[1].str() : std::string();
}

TEST_F(SourceSideTest, EveryRouteAndStatusHasTheHeadersAndNothingAboutTheClientIsKept) {
  // A small bucket, so that the test reaches 429 too.
  start(true, "[limits]\nsubmissions_per_minute = 4\n");

  // Pages, assets and refusals.
  EXPECT_EQ(request("GET", "/").status, 200);
  EXPECT_EQ(request("HEAD", "/").status, 200);
  EXPECT_EQ(request("GET", "/static/style.css").status, 200);
  EXPECT_EQ(request("GET", "/healthz").status, 200);
  EXPECT_EQ(request("GET", "/nowhere").status, 404);
  EXPECT_EQ(request("PUT", "/").status, 405);
  EXPECT_EQ(request("DELETE", "/api/v1/keys").status, 405);
  EXPECT_EQ(request("PATCH", "/report").status, 405);
  EXPECT_EQ(request("GET", "/", {}, true).status, 404);
  EXPECT_EQ(request("GET", "/healthz", {}, true).status, 200);

  // The API: a report sealed by the stock age CLI.
  const Reply keys = request("GET", "/api/v1/keys");
  ASSERT_EQ(keys.status, 200);
  const std::string recipient = first_match(keys.body, "(age1[a-z0-9]{58})");
  ASSERT_FALSE(recipient.empty()) << keys.body;
  const std::string report = base64_of(sealed(recipient, "what happened"));
  const std::vector<std::string> json = {"-H", "Content-Type: application/json"};
  auto with = [](std::vector<std::string> base, const std::vector<std::string>& more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  EXPECT_EQ(request("POST", "/api/v1/submissions",
                    with(json, {"--data-binary", "{\"report\":\"" + report + "\"}"}))
                .status,
            201);
  EXPECT_EQ(request("POST", "/api/v1/submissions", with(json, {"--data-binary", "{nope"})).status,
            400);

  // A source registers, logs in and opens a draft; a tus upload goes into it.
  write_file(dir_.path() / "secret.bin", std::string(32, '\x5a'));
  const std::string secret = base64_of((dir_.path() / "secret.bin").string());
  const Outcome identity = run({find_tool("age-keygen")});
  const std::string source_recipient = first_match(identity.err, "(age1[a-z0-9]{58})");
  ASSERT_FALSE(source_recipient.empty()) << identity.err;
  const std::string registration =
      "{\"login_secret\":\"" + secret + "\",\"recipient\":\"" + source_recipient + "\"}";
  EXPECT_EQ(request("POST", "/api/v1/sources", with(json, {"--data-binary", registration})).status,
            201);
  EXPECT_EQ(request("POST", "/api/v1/sources", with(json, {"--data-binary", registration})).status,
            409);
  const std::string login = "{\"login_secret\":\"" + secret + "\"}";
  EXPECT_EQ(request("POST", "/api/v1/sources/login", with(json, {"--data-binary", login})).status,
            200);
  EXPECT_EQ(
      request("POST", "/api/v1/sources/login",
              with(json, {"--data-binary", "{\"login_secret\":\"" + std::string(43, 'A') + "=\"}"}))
          .status,
      401);
  const Reply draft = request("POST", "/api/v1/drafts", with(json, {"--data-binary", login}));
  EXPECT_EQ(draft.status, 201);
  const std::string token = first_match(draft.body, "\"draft\":\"([0-9a-f]+)\"");
  ASSERT_FALSE(token.empty()) << draft.body;
  write_file(dir_.path() / "token.txt", token);
  const std::string token64 = base64_of((dir_.path() / "token.txt").string());

  const std::string attachment = sealed(recipient, std::string(200000, 'x'));
  const std::string length = std::to_string(fs::file_size(attachment));
  const std::vector<std::string> tus = {"-H", "Tus-Resumable: 1.0.0"};
  EXPECT_EQ(request("OPTIONS", "/api/v1/uploads").status, 204);
  EXPECT_EQ(request("POST", "/api/v1/uploads", {"-H", "Upload-Length: " + length}).status, 412);
  EXPECT_EQ(request("POST", "/api/v1/uploads",
                    with(tus, {"-H", "Upload-Length: 99999999999999", "-H",
                               "Upload-Metadata: draft " + token64}))
                .status,
            413);
  const Reply created = request(
      "POST", "/api/v1/uploads",
      with(tus, {"-H", "Upload-Length: " + length, "-H", "Upload-Metadata: draft " + token64}));
  ASSERT_EQ(created.status, 201);
  const std::string upload =
      first_match(created.headers, "location: [^\r\n]*/api/v1/uploads/([0-9a-f]+)");
  ASSERT_FALSE(upload.empty()) << created.headers;
  const std::string upload_path = "/api/v1/uploads/" + upload;
  EXPECT_EQ(request("PATCH", upload_path,
                    with(tus, {"-H", "Upload-Offset: 0", "-H", "Content-Type: text/plain",
                               "--data-binary", "@" + attachment}))
                .status,
            415);
  EXPECT_EQ(request("PATCH", upload_path,
                    with(tus, {"-H", "Upload-Offset: 5", "-H",
                               "Content-Type: application/offset+octet-stream", "--data-binary",
                               "@" + attachment}))
                .status,
            409);
  EXPECT_EQ(request("PATCH", upload_path,
                    with(tus, {"-H", "Upload-Offset: 0", "-H",
                               "Content-Type: application/offset+octet-stream", "--data-binary",
                               "@" + attachment}))
                .status,
            204);
  const Reply head = request("HEAD", upload_path, tus);
  EXPECT_EQ(head.status / 100, 2);
  EXPECT_TRUE(contains(head.headers, "upload-offset: " + length)) << head.headers;
  EXPECT_EQ(
      request("POST", "/api/v1/submissions",
              with(json, {"--data-binary", "{\"report\":\"" + report + "\",\"draft\":\"" + token +
                                               "\",\"uploads\":[\"" + upload + "\"]}"}))
          .status,
      201);

  // The no-JavaScript flow, with its CSRF cookie and field.
  const Reply form = request("GET", "/report");
  ASSERT_EQ(form.status, 200);
  const std::string csrf = first_match(form.body, "name=\"csrf_token\" value=\"([^\"]+)\"");
  ASSERT_FALSE(csrf.empty());
  write_file(dir_.path() / "file.txt", "an attached note");
  EXPECT_EQ(request("POST", "/report", {"-F", "csrf_token=wrong", "-F", "what_happened=something"})
                .status,
            403);
  const Reply codename_page =
      request("POST", "/report",
              {"-F", "csrf_token=" + csrf, "-F", "what_happened=something happened", "-F",
               "attachments=@" + (dir_.path() / "file.txt").string()});
  ASSERT_EQ(codename_page.status, 200) << codename_page.body;
  const std::string codename = first_match(codename_page.body, "class=\"codename\"[^>]*>([^<]+)<");
  ASSERT_FALSE(codename.empty()) << codename_page.body;
  EXPECT_EQ(request("POST", "/codename",
                    {"--data-urlencode", "csrf_token=" + csrf, "--data-urlencode",
                     "codename_shown=" + codename, "--data-urlencode", "codename=" + codename})
                .status,
            200);

  // Bodies over their limit, and the global submission bucket (4 a minute) running dry.
  write_file(dir_.path() / "large.json", "{\"x\":\"" + std::string(3 << 20, 'a') + "\"}");
  EXPECT_EQ(request("POST", "/api/v1/sources",
                    with(json, {"--data-binary", "@" + (dir_.path() / "large.json").string()}))
                .status,
            413);
  int refused = 0;
  for (int attempt = 0; attempt < 8 && refused == 0; ++attempt) {
    const Reply more = request("POST", "/api/v1/submissions",
                               with(json, {"--data-binary", "{\"report\":\"" + report + "\"}"}));
    if (more.status == 429) ++refused;
  }
  EXPECT_EQ(refused, 1);

  for (const int status : {200, 201, 204, 400, 401, 403, 404, 405, 409, 412, 413, 415, 429}) {
    EXPECT_TRUE(statuses_.contains(status)) << "no route answered " << status;
  }

  // Nothing about the client, nor the codename, nor the CSRF token, is kept anywhere.
  std::string digits;
  for (const char c : codename) {
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) digits += c;
  }
  std::vector<std::string> secrets = kCanaries;
  secrets.insert(secrets.end(), {digits, codename, csrf, token, secret});
  const std::string dump = stop_and_dump_database();
  const std::string log = read_file(log_file());
  ASSERT_TRUE(contains(log, "\"level\":\"debug\"")) << "the server must log at debug here";
  ASSERT_TRUE(contains(dump, "age-encryption.org/v1")) << "the dump must hold the reports";
  for (const auto& secret_text : secrets) {
    EXPECT_FALSE(contains(log, secret_text)) << secret_text << " is in the log";
    EXPECT_FALSE(contains(dump, secret_text)) << secret_text << " is in the database";
    for (const auto& file : {"tipline.db", "tipline.db-wal"}) {
      if (fs::exists(instance_ / file)) {
        EXPECT_FALSE(contains(read_file(instance_ / file), secret_text)) << file;
      }
    }
  }
}

TEST_F(SourceSideTest, WithoutABundleEverySourceRouteSaysSoOverPlainHttpWithOnionLocation) {
  start(false);
  EXPECT_EQ(request("GET", "/").status, 503);
  EXPECT_EQ(request("GET", "/report").status, 503);
  EXPECT_EQ(request("GET", "/api/v1/keys").status, 503);
  EXPECT_EQ(request("POST", "/report", {"-F", "csrf_token=x"}).status, 503);
  const std::vector<std::string> json = {"-H", "Content-Type: application/json", "--data-binary",
                                         "{}"};
  EXPECT_EQ(request("POST", "/api/v1/submissions", json).status, 503);
  EXPECT_EQ(request("POST", "/api/v1/drafts", json).status, 503);
  EXPECT_EQ(request("GET", "/healthz").status, 200);
  EXPECT_EQ(request("GET", "/healthz", {}, true).status, 200);
  const std::string log = read_file(log_file());
  for (const auto& canary : kCanaries) EXPECT_FALSE(contains(log, canary)) << canary;
}

}  // namespace
}  // namespace tipline::testing
