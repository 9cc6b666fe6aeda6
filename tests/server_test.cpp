// The init / check / serve / shutdown cycle of the real tipline-server binary on loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "support/instance.h"
#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
const std::string kReview = TIPLINE_REVIEW_BINARY;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(server_.init(true)); }

  // A configuration in the instance folder; its relative paths name the instance's files.
  fs::path write_config(const std::string& text, const std::string& name = "test.toml") {
    fs::path file = instance_ / name;
    std::ofstream(file) << text;
    return file;
  }

  // Starts serve with both listeners on free ports and waits until both listen.
  // The server is the instance's until the next start().
  Child* start(const std::string& extra = "") {
    server_.start("[server]\nlog_level = \"debug\"\n" + extra +
                  (contains(extra, "[source]") ? "" : "[source]\nport = 0\n") +
                  "[reviewer]\nport = 0\n");
    return &server_.server();
  }

  std::string url(int port, const std::string& path) const {
    return "https://localhost:" + std::to_string(port) + path;
  }
  fs::path certificate() const { return server_.certificate(); }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  const fs::path instance_ = server_.path();
};

TEST_F(ServerTest, InitCreatesAPrivateInstance) {
  EXPECT_EQ(mode_of(instance_), 0700u);
  EXPECT_EQ(mode_of(instance_ / "database.key"), 0600u);
  EXPECT_EQ(mode_of(instance_ / "tls/private-key.pem"), 0600u);
  EXPECT_EQ(mode_of(instance_ / "tipline.db"), 0600u);
  EXPECT_EQ(mode_of(instance_ / "instance-salt"), 0644u);
  EXPECT_EQ(mode_of(instance_ / "tls/certificate.pem"), 0644u);
  std::ifstream config(instance_ / "tipline.toml");
  std::string first_line;
  std::getline(config, first_line);
  EXPECT_TRUE(contains(first_line, "DEMO INSTANCE")) << first_line;
}

TEST_F(ServerTest, DemoOfflineKeysWorkWithTheStockTools) {
  const fs::path keys = instance_ / "demo-offline-keys";
  EXPECT_EQ(mode_of(keys), 0700u);
  EXPECT_EQ(mode_of(keys / "reviewer.agekey"), 0600u);
  EXPECT_EQ(mode_of(keys / "organisation-root.key"), 0600u);
  EXPECT_TRUE(contains(read_file(keys / "README.txt"), "DEMO ONLY"));

  // The passphrase-protected reviewer identity is opened by stock age in
  // keys_command_test.cpp, which drives its passphrase prompt through a pseudo-terminal.
  const std::string minisign = find_tool("minisign");
  ASSERT_FALSE(minisign.empty()) << "minisign must be installed (scripts/setup installs it)";
  const fs::path plain = dir_.path() / "report.txt";
  write_file(plain, "what happened");
  const Outcome signed_ =
      run({minisign, "-S", "-s", (keys / "organisation-root.key").string(), "-m", plain.string()});
  ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
  const Outcome verified =
      run({minisign, "-V", "-p", (keys / "organisation-root.pub").string(), "-m", plain.string()});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST_F(ServerTest, OnlyDemoInstancesHoldOfflineKeys) {
  const fs::path real = dir_.path() / "real";
  ASSERT_EQ(run({kServer, "init", real.string()}).exit_code, 0);
  EXPECT_FALSE(fs::exists(real / "demo-offline-keys"));
  EXPECT_FALSE(contains(read_file(real / "tipline.toml"), "DEMO"));
}

TEST_F(ServerTest, InitNeverOverwrites) {
  const std::string key_before = read_file(instance_ / "database.key");
  const Outcome again = run({kServer, "init", instance_.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(contains(again.err, "is not empty; init never overwrites")) << again.err;
  EXPECT_EQ(read_file(instance_ / "database.key"), key_before);
}

TEST_F(ServerTest, CheckAcceptsTheNewInstance) {
  const Outcome check = run({kServer, "check", "--config", (instance_ / "tipline.toml").string()});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_TRUE(contains(check.out, "configuration valid")) << check.out;
}

TEST_F(ServerTest, CheckAndServeRefuseBadConfigurations) {
  struct Case {
    std::string config;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[source]\nprot = 8443\n", "source.prot: unknown key"},
      {"[limits]\nheader_bytes = \"big\"\n",
       "limits.header_bytes: expected an integer, got a string"},
      {"[source]\nport = 99999\n", "source.port: must be from 0 to 65535, got 99999"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string config = write_config(text).string();
    for (const char* verb : {"check", "serve"}) {
      const Outcome outcome = run({kServer, verb, "--config", config}, seconds(20));
      EXPECT_EQ(outcome.exit_code, 1) << verb << ' ' << text;
      EXPECT_TRUE(contains(outcome.err, config + ": " + expected)) << verb << ": " << outcome.err;
    }
  }
}

TEST_F(ServerTest, CheckAndServeRefuseABrokenQuestionnaireNamingTheProblem) {
  // "de" has no catalog: every form would fail, so neither verb may accept it.
  write_config(
      "[[question]]\nid = \"what\"\nlabel = { en = \"What happened?\", de = \"Was?\" }\n"
      "kind = \"text\"\n",
      "questions.toml");
  const std::string config =
      write_config("[source]\nquestionnaire = \"questions.toml\"\n").string();
  for (const char* verb : {"check", "serve"}) {
    const Outcome outcome = run({kServer, verb, "--config", config}, seconds(20));
    EXPECT_EQ(outcome.exit_code, 1) << verb << ": " << outcome.err;
    EXPECT_TRUE(contains(outcome.err, "unknown language tag \"de\""))
        << verb << ": " << outcome.err;
  }
}

TEST_F(ServerTest, CheckAndServeRefuseAKeyFileOthersCanRead) {
  fs::permissions(instance_ / "database.key", fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::add);
  const std::string config = (instance_ / "tipline.toml").string();
  for (const char* verb : {"check", "serve"}) {
    const Outcome outcome = run({kServer, verb, "--config", config}, seconds(20));
    EXPECT_EQ(outcome.exit_code, 1) << verb;
    EXPECT_TRUE(contains(outcome.err, "database.key_file: " +
                                          (instance_ / "database.key").string() + " has mode 0644"))
        << verb << ": " << outcome.err;
  }
}

TEST_F(ServerTest, ServeRefusesAWrongDatabaseKey) {
  fs::remove(instance_ / "database.key");
  const Outcome other = run({kServer, "init", (dir_.path() / "other").string()});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  fs::copy_file(dir_.path() / "other/database.key", instance_ / "database.key");
  const Outcome outcome =
      run({kServer, "serve", "--config", (instance_ / "tipline.toml").string()}, seconds(20));
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_TRUE(contains(outcome.err, "database key does not match this database")) << outcome.err;
}

TEST_F(ServerTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run({kServer}).exit_code, 2);
  EXPECT_EQ(run({kServer, "serve"}).exit_code, 2);
  EXPECT_EQ(run({kServer, "frobnicate"}).exit_code, 2);
  const Outcome help = run({kServer, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "init")) << help.out;
  for (const std::string& binary : {kServer, kReview}) {
    const Outcome version = run({binary, "--version"});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_TRUE(contains(version.out, fs::path(binary).filename().string() + " 0.")) << version.out;
  }
  EXPECT_EQ(run({kReview, "--no-such-flag"}).exit_code, 2);
}

TEST_F(ServerTest, ServesHealthzOverTlsOnBothListenersAndStopsOnSigterm) {
  auto server = start();
  for (const int port : {server_.source_port(), server_.reviewer_port()}) {
    for (const bool tls12 : {false, true}) {
      const HttpResult result = https_request(url(port, "/healthz"), certificate(), {}, {}, tls12);
      EXPECT_EQ(result.status, 200) << result.error;
      EXPECT_EQ(result.body, "{\"status\":\"ok\"}");
      EXPECT_TRUE(contains(result.headers, "Strict-Transport-Security")) << result.headers;
    }
  }
  server->signal(SIGTERM);
  EXPECT_EQ(server->wait(seconds(15)), 0) << server->stderr_text();
  EXPECT_TRUE(contains(server->stderr_text(), "\"event\":\"stopped\""));
}

TEST_F(ServerTest, SigintStopsTooAndPortsAreFreedAfterwards) {
  auto server = start("[source]\nport = 0\n");
  const int port = server_.source_port();
  server->signal(SIGINT);
  ASSERT_EQ(server->wait(seconds(15)), 0) << server->stderr_text();
  start("[source]\nport = " + std::to_string(port) + "\n");
  EXPECT_EQ(server_.source_port(), port);
  EXPECT_EQ(https_request(url(port, "/healthz"), certificate()).status, 200);
}

TEST_F(ServerTest, ServeNamesAnAddressAlreadyInUse) {
  start();
  // A second instance: a second server on the first one's database is refused earlier.
  const fs::path other = dir_.path() / "other";
  ASSERT_EQ(run({kServer, "init", other.string()}).exit_code, 0);
  const fs::path config = other / "clash.toml";
  std::ofstream(config) << "[source]\nport = " << server_.source_port()
                        << "\n[reviewer]\nport = 0\n";
  const Outcome second = run({kServer, "serve", "--config", config.string()}, seconds(20));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(contains(second.err, "cannot listen on 127.0.0.1 port " +
                                       std::to_string(server_.source_port()) +
                                       ": Address already in use"))
      << second.err;
  EXPECT_EQ(https_request(url(server_.source_port(), "/healthz"), certificate()).status, 200)
      << "the first server is unaffected";
}

TEST_F(ServerTest, LogsHoldNothingASourceSent) {
  auto server = start();
  const HttpResult plain = https_request(
      url(server_.source_port(), "/healthz?codename=MARKERQUERY"), certificate(),
      {"User-Agent: MARKERAGENT", "Authorization: Bearer MARKERTOKEN", "Cookie: s=MARKERCOOKIE"});
  EXPECT_EQ(plain.status, 200) << plain.error;
  const HttpResult posted = https_request(url(server_.source_port(), "/MARKERPATH"), certificate(),
                                          {}, "report=MARKERBODY");
  EXPECT_EQ(posted.status, 404);
  const HttpResult oversized = https_request(url(server_.source_port(), "/healthz"), certificate(),
                                             {"X-Pad: MARKERHEADER" + std::string(9000, 'a')});
  EXPECT_EQ(oversized.status, 431);
  server->signal(SIGTERM);
  ASSERT_EQ(server->wait(seconds(15)), 0);

  const std::string log = server->stderr_text();
  EXPECT_TRUE(contains(log, "\"channel\":\"source\"")) << "expected source-side debug lines";
  EXPECT_FALSE(contains(log, "MARKER")) << log;
  for (const long port : {plain.local_port, posted.local_port, oversized.local_port}) {
    EXPECT_FALSE(contains(log, std::to_string(port))) << port << '\n' << log;
  }
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (contains(line, "\"channel\":\"source\"")) {
      EXPECT_TRUE(contains(line, ":00:00Z\"")) << "source lines keep only the hour: " << line;
    }
  }
}

TEST_F(ServerTest, ShutdownFinishesARequestInFlight) {
  auto server =
      start("[source]\nport = 0\ntransport = \"http\"\n[limits]\nshutdown_grace_seconds = 30\n");
  RawConnection connection(server_.source_port());
  connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
  std::this_thread::sleep_for(milliseconds(300));  // let the server read the partial header
  server->signal(SIGTERM);
  ASSERT_EQ(server->wait_for_lines("shutdown_started", 1, seconds(10)).size(), 1u);
  connection.send("\r\n");
  const std::string response = connection.receive_all(seconds(10));
  EXPECT_TRUE(contains(response, "HTTP/1.1 200 OK")) << response;
  EXPECT_TRUE(contains(response, "Connection: close")) << response;
  EXPECT_EQ(server->wait(seconds(10)), 0) << server->stderr_text();
}

TEST_F(ServerTest, IdleConnectionsDoNotDelayShutdown) {
  auto server =
      start("[source]\nport = 0\ntransport = \"http\"\n[limits]\nshutdown_grace_seconds = 60\n");
  RawConnection idle(server_.source_port());
  idle.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_TRUE(contains(idle.receive_all(milliseconds(500)), "200 OK"));
  const auto started = std::chrono::steady_clock::now();
  server->signal(SIGTERM);
  EXPECT_EQ(server->wait(seconds(10)), 0) << server->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
}

TEST_F(ServerTest, ConnectionLimitAndIdleTimeoutAreEnforced) {
  auto server = start(
      "[source]\nport = 0\ntransport = \"http\"\n"
      "[limits]\nmax_connections = 2\nidle_timeout_seconds = 3\n");
  RawConnection first(server_.source_port());
  RawConnection second(server_.source_port());
  std::this_thread::sleep_for(milliseconds(300));  // both accepted and waiting
  const auto refused_at = std::chrono::steady_clock::now();
  RawConnection third(server_.source_port());
  third.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(third.receive_all(seconds(10)), "");
  EXPECT_LT(std::chrono::steady_clock::now() - refused_at, seconds(2)) << "closed at once";
  EXPECT_EQ(first.receive_all(seconds(10)), "") << "closed by the idle timeout";
  EXPECT_GE(std::chrono::steady_clock::now() - refused_at, milliseconds(2000));
  EXPECT_TRUE(contains(server->stderr_text(), "\"reason\":\"max_connections\""));
}

// Framing Beast 1.81 accepts and the server refuses itself: 400, then the connection closes,
// so nothing smuggled behind the request is read as another one.
TEST_F(ServerTest, AmbiguousFramingIsRefusedAndTheConnectionClosed) {
  start("[source]\nport = 0\ntransport = \"http\"\n");
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string request : {
           "POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
           "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
           "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
           "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
           "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
           "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
       }) {
    RawConnection connection(server_.source_port());
    const auto sent_at = std::chrono::steady_clock::now();
    connection.send(request + smuggled);
    const std::string response = connection.receive_all(seconds(10));
    EXPECT_TRUE(response.starts_with("HTTP/1.1 400 ")) << request << "\n" << response;
    EXPECT_TRUE(contains(response, "Connection: close")) << response;
    EXPECT_FALSE(contains(response, "200 OK")) << "the smuggled request was answered";
    EXPECT_LT(std::chrono::steady_clock::now() - sent_at, seconds(5)) << "closed at once";
  }
}

TEST_F(ServerTest, OtherMethodsAre405WithAllowAndAClosedConnection) {
  start("[source]\nport = 0\ntransport = \"http\"\n");
  for (const std::string method :
       {"PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"}) {
    RawConnection connection(server_.source_port());
    connection.send(method + " /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string response = connection.receive_all(seconds(10));
    if (method == "BREW") {
      // Not a method Beast knows: refused by the parser itself.
      EXPECT_TRUE(response.starts_with("HTTP/1.1 4")) << response;
    } else {
      EXPECT_TRUE(response.starts_with("HTTP/1.1 405 ")) << method << "\n" << response;
      EXPECT_TRUE(contains(response, "Allow: GET, HEAD")) << response;
    }
    EXPECT_TRUE(contains(response, "Content-Security-Policy")) << response;
    EXPECT_FALSE(contains(response, "200 OK")) << method;
  }
}

// A raw exchange: what came back, and whether the server closed within the deadline.
struct Exchange {
  std::string response;
  bool closed = false;
  std::chrono::steady_clock::duration took{};
};

Exchange exchange(int port, const std::string& request, std::chrono::milliseconds deadline) {
  RawConnection connection(port);
  const auto start = std::chrono::steady_clock::now();
  if (!request.empty()) connection.send(request);
  Exchange result;
  result.response = connection.receive_all(deadline);
  result.took = std::chrono::steady_clock::now() - start;
  result.closed = result.took < deadline;
  return result;
}

TEST_F(ServerTest, EveryRouteRefusesTheMethodsItDoesNotTakeWith405) {
  start("[source]\nport = 0\ntransport = \"http\"\n");
  struct Case {
    std::string method;
    std::string path;
    std::string allow;
  };
  for (const Case& route : std::vector<Case>{
           {"POST", "/", "GET, HEAD"},
           {"DELETE", "/healthz", "GET, HEAD"},
           {"POST", "/static/style.css", "GET, HEAD"},
           {"PUT", "/report", "GET, HEAD, POST"},
           {"GET", "/codename", "POST"},
           {"POST", "/api/v1/keys", "GET, HEAD"},
           {"GET", "/api/v1/sources", "POST"},
           {"GET", "/api/v1/sources/login", "POST"},
           {"GET", "/api/v1/drafts", "POST"},
           {"GET", "/api/v1/submissions", "POST"},
           {"PATCH", "/api/v1/uploads", "OPTIONS, POST"},
           {"POST", "/api/v1/uploads/0123", "OPTIONS, HEAD, PATCH, DELETE"},
           {"PUT", "/nowhere", "GET, HEAD, POST"},
       }) {
    const Exchange refused = exchange(server_.source_port(),
                                      route.method + " " + route.path +
                                          " HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
                                          "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                      seconds(10));
    const std::string what = route.method + " " + route.path + "\n" + refused.response;
    EXPECT_TRUE(refused.response.starts_with("HTTP/1.1 405 ")) << what;
    EXPECT_TRUE(contains(refused.response, "Allow: " + route.allow + "\r\n")) << what;
    EXPECT_TRUE(contains(refused.response, "Connection: close")) << what;
    EXPECT_FALSE(contains(refused.response, "200 OK")) << what;
    EXPECT_TRUE(refused.closed) << what;
  }
}

TEST_F(ServerTest, EveryLimitAnswersItsStatusAndClosesTheConnection) {
  auto server = start(
      "[source]\nport = 0\ntransport = \"http\"\n[limits]\nheader_bytes = 2048\n"
      "body_bytes = 1024\nreport_bytes = 1024\nform_bytes = 4096\nupload_bytes = 2048\n"
      "handshake_timeout_seconds = 1\nread_timeout_seconds = 1\nwrite_timeout_seconds = 1\n");
  const std::string next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  auto post = [](const std::string& path, const std::string& headers, std::size_t length) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + headers +
           "Content-Length: " + std::to_string(length) + "\r\n\r\n" + std::string(length, 'a');
  };
  struct Case {
    std::string what;
    std::string request;
    std::string status;
  };
  for (const Case& limit : std::vector<Case>{
           {"header_bytes",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Large: " + std::string(3000, 'h') + "\r\n\r\n", "431"},
           {"body_bytes", post("/api/v1/sources", "", 1025), "413"},
           {"body_bytes, chunked",
            "POST /api/v1/drafts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "800\r\n" +
                std::string(0x800, 'a') + "\r\n0\r\n\r\n",
            "413"},
           {"report_bytes", post("/api/v1/submissions", "", 8000), "413"},
           {"form_bytes",
            post("/report", "Content-Type: multipart/form-data; boundary=b\r\n", 4097), "413"},
           {"upload_bytes",
            post("/api/v1/uploads/0123", "Tus-Resumable: 1.0.0\r\n", 2049).replace(0, 4, "PATCH"),
            "413"},
       }) {
    const Exchange refused = exchange(server_.source_port(), limit.request + next, seconds(10));
    const std::string what = limit.what + "\n" + refused.response.substr(0, 300);
    EXPECT_TRUE(refused.response.starts_with("HTTP/1.1 " + limit.status + " ")) << what;
    EXPECT_TRUE(contains(refused.response, "Content-Security-Policy")) << what;
    EXPECT_FALSE(contains(refused.response, "200 OK")) << what;
    EXPECT_TRUE(refused.closed) << what;
  }

  // read_timeout: a body that stops coming; handshake_timeout: a TLS client that never
  // says hello. Both are closed after about a second, with nothing to answer.
  const Exchange stalled = exchange(
      server_.source_port(),
      "POST /api/v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", seconds(10));
  EXPECT_TRUE(stalled.closed);
  EXPECT_GE(stalled.took, milliseconds(900));
  const Exchange silent = exchange(server_.reviewer_port(), "", seconds(10));
  EXPECT_TRUE(silent.closed);
  EXPECT_GE(silent.took, milliseconds(900));

  // write_timeout: a client that sends many requests and reads no answer.
  {
    RawConnection greedy(server_.source_port());
    std::string requests;
    for (int i = 0; i < 4000; ++i) requests += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    greedy.send(requests);
    const auto closed = server->wait_for_lines("\"stage\":\"write\"", 1, seconds(20));
    EXPECT_EQ(closed.size(), 1u) << "no write timed out";
  }
}

}  // namespace
}  // namespace tipline::testing
