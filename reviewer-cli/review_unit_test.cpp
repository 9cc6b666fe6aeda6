// Unit tests of tipline-review's parts: the case folder and its index, ID prefixes and
// filters, CSV, report counting, terminal text, file type sniffing, tables, server URLs and
// the recipient bundle check; the client's transport and messages and sync's and audit's
// handling of a hostile or broken server (fake_server.h); and a listing of 10,000
// submissions from the index alone.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>

#include "case_folder.h"
#include "client.h"
#include "command_support.h"
#include "commands.h"
#include "csv.h"
#include "fake_case.h"
#include "fake_server.h"
#include "recipient_bundle.h"
#include "report_counts.h"
#include "selection.h"
#include "sniff.h"
#include "support/process.h"
#include "table.h"
#include "terminal_text.h"

namespace tipline::review {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using tipline::testing::TempDir;

Submission submission(std::string id, std::string day, std::string status = "new") {
  Submission s;
  s.id = std::move(id);
  s.received_day = std::move(day);
  s.status = std::move(status);
  return s;
}

Index index_of(std::initializer_list<Submission> list) {
  Index index;
  for (const Submission& s : list) index.submissions.emplace(s.id, s);
  return index;
}

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? (info.st_mode & 07777) : ~0U;
}

TEST(CaseFolderTest, CreatesPrivateFolderAndRefusesAnExistingOne) {
  const TempDir dir;
  const fs::path root = dir.path() / "case";
  auto created = CaseFolder::create(root, {"https://example.org", "alice", "socks5h://x:9050", {}});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(mode_of(root), 0700U);
  EXPECT_EQ(mode_of(root / "case.json"), 0600U);
  auto again = CaseFolder::create(root, {"https://example.org", "bob", "", {}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, CaseErrc::exists);

  auto opened = CaseFolder::open(root);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->settings().server, "https://example.org");
  EXPECT_EQ(opened->settings().reviewer, "alice");
  EXPECT_EQ(opened->settings().proxy, "socks5h://x:9050");
  EXPECT_FALSE(opened->settings().identity);
}

TEST(CaseFolderTest, MissingFolderIsReportedAsMissing) {
  const TempDir dir;
  auto opened = CaseFolder::open(dir.path() / "nothing");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, CaseErrc::missing);
}

TEST(CaseFolderTest, IndexRoundTripsEverything) {
  const TempDir dir;
  auto folder = CaseFolder::create(dir.path() / "case", {"https://example.org", "alice", "", {}});
  ASSERT_TRUE(folder);
  auto empty = folder->load_index();
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->cursor, 0);
  EXPECT_TRUE(empty->submissions.empty());

  Submission s = submission("0123456789abcdef0123456789abcdef", "2026-11-30", "in_review");
  s.change_seq = 12;
  s.assignee = "alice";
  s.labels = {"urgent", "family-pressure"};
  s.report = {17, 1234};
  s.attachments = {{18, 99}};
  s.notes = {{3, "bob", 1764470000, {19, 300}}};
  Index index;
  index.cursor = 14;
  index.submissions.emplace(s.id, s);
  ASSERT_TRUE(folder->save_index(index));
  EXPECT_EQ(mode_of(dir.path() / "case" / "index.json"), 0600U);

  auto loaded = folder->load_index();
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->cursor, 14);
  ASSERT_EQ(loaded->submissions.size(), 1U);
  const Submission& back = loaded->submissions.begin()->second;
  EXPECT_EQ(json::serialize(submission_to_json(back)), json::serialize(submission_to_json(s)));
}

TEST(CaseFolderTest, DamagedIndexIsReported) {
  const TempDir dir;
  auto folder = CaseFolder::create(dir.path() / "case", {"https://example.org", "alice", "", {}});
  ASSERT_TRUE(folder);
  tipline::testing::write_file(dir.path() / "case" / "index.json", "{\"format\":");
  auto loaded = folder->load_index();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, CaseErrc::damaged);
}

TEST(CaseFolderTest, SubmissionIdsThatCouldNameAPathAreRefused) {
  const char* entry =
      R"({"id":"ID","received_day":"2026-11-30","change_seq":1,"status":"new",)"
      R"("assignee":null,"labels":[],"report":{"blob":1,"size":2},"attachments":[],"notes":[]})";
  for (const char* id : {"../../../../etc/passwd", "0123456789ABCDEF0123456789ABCDEF",
                         "0123456789abcdef", "0123456789abcdef0123456789abcdeg"}) {
    std::string text = entry;
    text.replace(text.find("ID"), 2, id);
    EXPECT_FALSE(submission_from_json(json::parse(text))) << id;
  }
  std::string good = entry;
  good.replace(good.find("ID"), 2, "0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(submission_from_json(json::parse(good)));
}

TEST(SelectionTest, ResolvesUniquePrefixesOnly) {
  const Index index = index_of({submission("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "2026-10-02"),
                                submission("0a1b99990000111122223333444455a5", "2026-11-15"),
                                submission("f00dcafe0123456789abcdef01234567", "2026-11-20")});
  auto unique = resolve_id(index, "0a1b2");
  ASSERT_TRUE(unique) << unique.error();
  EXPECT_EQ((*unique)->id, "0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  auto upper = resolve_id(index, "F00D");
  ASSERT_TRUE(upper) << upper.error();
  EXPECT_EQ((*upper)->id, "f00dcafe0123456789abcdef01234567");
  EXPECT_TRUE(resolve_id(index, "f00dcafe0123456789abcdef01234567"));

  auto ambiguous = resolve_id(index, "0a1b");
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().find("ambiguous"), std::string::npos) << ambiguous.error();
  auto short_prefix = resolve_id(index, "f00");
  ASSERT_FALSE(short_prefix);
  EXPECT_NE(short_prefix.error().find("4 to 32"), std::string::npos) << short_prefix.error();
  EXPECT_FALSE(resolve_id(index, "zzzz"));
  auto none = resolve_id(index, "abcd");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("no submission"), std::string::npos);
}

TEST(SelectionTest, FiltersAndOrdersByDay) {
  Submission a = submission("aaaa0000000000000000000000000000", "2026-11-20", "closed");
  a.labels = {"urgent"};
  a.assignee = "bob";
  Submission b = submission("bbbb0000000000000000000000000000", "2026-10-02");
  Submission c = submission("cccc0000000000000000000000000000", "2026-11-15");
  c.labels = {"urgent", "x"};
  const Index index = index_of({a, b, c});
  const auto ids = [&index](const Filter& filter) {
    std::string text;
    for (const Submission* s : select(index, filter)) text += s->id.substr(0, 4) + " ";
    return text;
  };
  Filter filter;
  EXPECT_EQ(ids(filter), "bbbb cccc aaaa ");
  filter.label = "urgent";
  EXPECT_EQ(ids(filter), "cccc aaaa ");
  filter = {};
  filter.status = "new";
  EXPECT_EQ(ids(filter), "bbbb cccc ");
  filter = {};
  filter.assignee = "bob";
  EXPECT_EQ(ids(filter), "aaaa ");
  filter = {};
  filter.since = "2026-11-15";
  EXPECT_EQ(ids(filter), "cccc aaaa ");
  filter = {};
  filter.until = "2026-11-15";
  EXPECT_EQ(ids(filter), "bbbb cccc ");
  filter.since = "2026-11-16";
  EXPECT_EQ(ids(filter), "");
}

TEST(CsvTest, QuotesAndGuardsAgainstFormulas) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("=1+2"), "'=1+2");
  EXPECT_EQ(csv_field("+31 6"), "'+31 6");
  EXPECT_EQ(csv_field("-5"), "'-5");
  EXPECT_EQ(csv_field("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_field("\tx"), "'\tx");
  EXPECT_EQ(csv_field("=HYPERLINK(\"a\",\"b\")"), "\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\"");
  EXPECT_EQ(csv_field("a=b"), "a=b");
  EXPECT_EQ(csv_row({"a", "b,c", ""}), "a,\"b,c\",\r\n");
}

TEST(ReportCountsTest, CountsTypesCountriesAndMonths) {
  Counts counts;
  count_report(counts, json::parse(R"({"incident_type":["surveillance","online_threats"],
      "country":"NL","when":"2026-09"})")
                           .get_object());
  count_report(counts, json::parse(R"({"incident_type":["surveillance"],"country":"DE",
      "when":"2026"})")
                           .get_object());
  count_report(counts, json::parse(R"({"incident_type":[],"country":"nl",
      "when":"2026-13"})")
                           .get_object());
  count_report(counts, json::parse(R"({"what_happened":"x"})").get_object());
  EXPECT_EQ(counts.reports, 4U);
  EXPECT_EQ(counts_csv(counts),
            "dimension,value,count\r\n"
            "incident_type,surveillance,2\r\n"
            "incident_type,unknown,2\r\n"
            "incident_type,online_threats,1\r\n"
            "country,unknown,2\r\n"
            "country,DE,1\r\n"
            "country,NL,1\r\n"
            "month,2026,1\r\n"
            "month,2026-09,1\r\n"
            "month,unknown,2\r\n");
  EXPECT_EQ(json::serialize(counts_json(counts).at("month")),
            R"([{"value":"2026","count":1},{"value":"2026-09","count":1},)"
            R"({"value":"unknown","count":2}])");
}

TEST(ReportCountsTest, HtmlIsSelfContainedAndEscaped) {
  Counts counts;
  count_report(counts,
               json::parse(R"({"incident_type":["<script>alert(1)</script>"],"country":"NL"})")
                   .get_object());
  const std::string html = counts_html(counts, "Reports & \"counts\"");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("Reports &amp; &quot;counts&quot;"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  for (const char* external : {"src=", "href=", "http://", "https://", "url("}) {
    // The SVG namespace is the one URL, and it is never fetched.
    std::string rest = html;
    for (std::size_t at = rest.find("http://www.w3.org/2000/svg"); at != std::string::npos;
         at = rest.find("http://www.w3.org/2000/svg")) {
      rest.erase(at, 26);
    }
    EXPECT_EQ(rest.find(external), std::string::npos) << external;
  }
}

TEST(TerminalTextTest, NeutralisesControlSequences) {
  EXPECT_EQ(terminal_safe("plain text"), "plain text");
  EXPECT_EQ(terminal_safe("\x1B[31mred\x1B[0m"), "\xE2\x90\x9B[31mred\xE2\x90\x9B[0m");
  EXPECT_EQ(terminal_safe("bell\x07"), "bell\xE2\x90\x87");
  EXPECT_EQ(terminal_safe("del\x7F"), "del\xE2\x90\xA1");
  // C1 CSI (U+009B) and a right-to-left override (U+202E).
  EXPECT_EQ(terminal_safe("\xC2\x9B"
                          "2J"),
            "\xEF\xBF\xBD"
            "2J");
  EXPECT_EQ(terminal_safe("a\xE2\x80\xAE"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  // Invalid UTF-8: a lone continuation byte, an overlong slash, a truncated sequence.
  EXPECT_EQ(terminal_safe("\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(terminal_safe("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(terminal_safe("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(terminal_safe("line\nbreak\r"),
            "line\xE2\x90\x8A"
            "break\xE2\x90\x8D");
  EXPECT_EQ(terminal_safe("line\nbreak", true), "line\nbreak");
  EXPECT_EQ(terminal_safe("tab\there"), "tab here");
  EXPECT_EQ(terminal_safe("Zürich, 北京"), "Zürich, 北京");
}

TEST(TerminalTextTest, MeasuresAndTruncatesByColumns) {
  EXPECT_EQ(display_width("abc"), 3U);
  EXPECT_EQ(display_width("Zürich"), 6U);
  EXPECT_EQ(display_width("北京"), 4U);
  EXPECT_EQ(truncate_to_width("abcdef", 6), "abcdef");
  EXPECT_EQ(truncate_to_width("abcdef", 4), "abc\xE2\x80\xA6");
  EXPECT_EQ(truncate_to_width("北京市", 4), "北\xE2\x80\xA6");
  EXPECT_EQ(fold_case("ÄBC Привет ΣΑ"), "äbc привет σα");
  EXPECT_EQ(humanize("incident_type"), "Incident type");
}

TEST(SniffTest, NamesFilesByTheirFirstBytes) {
  const auto sniff = [](std::string_view bytes) {
    return std::string(
        sniff_extension({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
  };
  using namespace std::string_view_literals;
  EXPECT_EQ(sniff("\xFF\xD8\xFF\xE0\0\x10JFIF"sv), "jpg");
  EXPECT_EQ(sniff("\x89PNG\r\n\x1A\n\0\0\0\rIHDR"sv), "png");
  EXPECT_EQ(sniff("RIFF\x24\0\0\0WEBPVP8 "sv), "webp");
  EXPECT_EQ(sniff("RIFF\x24\0\0\0WAVEfmt "sv), "bin");
  EXPECT_EQ(sniff("GIF89a\x01\0"sv), "gif");
  EXPECT_EQ(sniff("%PDF-1.7\n"sv), "pdf");
  EXPECT_EQ(sniff("PK\x03\x04\x14\0"sv), "zip");
  EXPECT_EQ(sniff("\0\0\0\x20"
                  "ftypisom"sv),
            "mp4");
  EXPECT_EQ(sniff("hello world"sv), "bin");
  EXPECT_EQ(sniff(""sv), "bin");
  EXPECT_EQ(sniff("\xFF\xD8"sv), "bin");
}

TEST(TableTest, ShrinksColumnsInOrderToFit) {
  const std::vector<Column> columns = {
      {"ID", false, 0, 4}, {"NAME", false, 1, 4}, {"N", true, 0, 1}};
  const std::vector<std::vector<std::string>> rows = {{"a1", "a rather long name", "7"},
                                                      {"b2", "short", "12"}};
  EXPECT_EQ(render_table(columns, rows, 0),
            "ID  NAME                 N\n"
            "a1  a rather long name   7\n"
            "b2  short               12\n");
  EXPECT_EQ(render_table(columns, rows, 16),
            "ID  NAME       N\n"
            "a1  a rathe…   7\n"
            "b2  short     12\n");
  for (const std::string& line : tipline::testing::lines_of(render_table(columns, rows, 16))) {
    EXPECT_LE(display_width(line), 16U) << line;
  }
}

TEST(ClientTest, NormalisesServerUrls) {
  EXPECT_EQ(normalise_server_url("https://example.org/").value(), "https://example.org");
  EXPECT_EQ(normalise_server_url("https://example.org:443").value(), "https://example.org");
  EXPECT_EQ(normalise_server_url("https://127.0.0.1:8444/").value(), "https://127.0.0.1:8444");
  EXPECT_EQ(normalise_server_url("https://abc.onion/").value(), "https://abc.onion");
  // Signatures cover the exact URL: a path prefix could never verify.
  EXPECT_FALSE(normalise_server_url("https://abc.onion/tipline/"));
  EXPECT_FALSE(normalise_server_url("https://example.org/api"));
  EXPECT_EQ(normalise_server_url("https://[::1]:8444").value(), "https://[::1]:8444");
  EXPECT_FALSE(normalise_server_url("http://example.org"));
  EXPECT_FALSE(normalise_server_url("https://example.org/?x=1"));
  EXPECT_FALSE(normalise_server_url("https://user@example.org"));
  EXPECT_FALSE(normalise_server_url("not a url"));
}

// An environment variable set for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

Client client_for(const std::string& server, const std::optional<fs::path>& ca_file,
                  const std::string& proxy) {
  ClientOptions options;
  options.server = server;
  options.reviewer = "alice";
  options.ca_file = ca_file;
  options.proxy = proxy;
  options.connect_timeout_seconds = 10;
  options.stall_timeout_seconds = 10;
  return {options, crypto::request_signature::SigningKey::generate()};
}

std::string local_url(int port) { return "https://127.0.0.1:" + std::to_string(port); }

TEST(ClientTest, TheCaseProxyIsTheOnlyRouteWhateverNoProxySays) {
  const TempDir dir;
  const testing::FakeServer server(dir.path() / "server.pem", [](const std::string&) {
    return testing::http_response("200 OK", "", R"({"id":"alice"})");
  });
  Request request;
  request.target = "/api/v1/whoami";
  // Without a proxy the request reaches the server: the setup works.
  const auto direct =
      client_for(local_url(server.port()), dir.path() / "server.pem", "").send(request);
  ASSERT_TRUE(direct) << direct.error().message;
  EXPECT_EQ(direct->status, 200);
  ASSERT_EQ(server.connections(), 1);

  // NO_PROXY='*' must not send a Tor reviewer out directly: the proxy (closed) is the only way.
  const ScopedEnv upper("NO_PROXY", "*");
  const ScopedEnv lower("no_proxy", "*");
  const std::string proxy =
      "socks5h://127.0.0.1:" + std::to_string(tipline::testing::closed_loopback_port());
  const auto proxied =
      client_for(local_url(server.port()), dir.path() / "server.pem", proxy).send(request);
  ASSERT_FALSE(proxied);
  EXPECT_EQ(proxied.error().code, kUnreachable) << proxied.error().message;
  EXPECT_EQ(server.connections(), 1) << "the request bypassed the proxy";
}

TEST(ClientTest, ProxiesInTheEnvironmentAreIgnored) {
  const TempDir dir;
  // Stands in for a proxy someone set in the environment: it must never be contacted.
  const testing::FakeServer proxy(dir.path() / "proxy.pem", [](const std::string&) {
    return testing::http_response("200 Connection established", "", "");
  });
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  const ScopedEnv https("https_proxy", proxy_url.c_str());
  const ScopedEnv upper_https("HTTPS_PROXY", proxy_url.c_str());
  const ScopedEnv all("ALL_PROXY", proxy_url.c_str());
  const ScopedEnv lower_all("all_proxy", proxy_url.c_str());
  Request request;
  request.target = "/api/v1/whoami";
  const auto sent =
      client_for(local_url(tipline::testing::closed_loopback_port()), std::nullopt, "")
          .send(request);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, kUnreachable) << sent.error().message;
  EXPECT_EQ(proxy.connections(), 0) << "an environment proxy was used";
}

TEST(ClientTest, ServerReasonsReachTheTerminalNeutralised) {
  const Client client = client_for("https://example.org", std::nullopt, "");
  const std::string escape = "\xE2\x90\x9B";  // U+241B, the visible stand-in for ESC
  Response response;
  response.status = 404;
  response.body = R"({"error":"Not Found","reason":"gone\u001b[2J\u001b]0;owned\u0007"})";
  const Failure not_found = client.status_failure(response, "submission 0a1b2c3d");
  EXPECT_EQ(not_found.code, kNotFound);
  EXPECT_EQ(not_found.message, "submission 0a1b2c3d: not found on the server (gone" + escape +
                                   "[2J" + escape + "]0;owned\xE2\x90\x87)");

  response.status = 401;
  response.body = R"({"reason":"bad\r\nsignature\u009b31m"})";
  const Failure refused = client.status_failure(response, "the change list");
  EXPECT_EQ(refused.code, kSignatureRefused);
  EXPECT_EQ(refused.message.find_first_of("\r\n\x1B"), std::string::npos) << refused.message;
  EXPECT_EQ(refused.message.find("\xC2\x9B"), std::string::npos) << refused.message;

  response.status = 500;
  response.body = json::serialize(json::object{{"error", std::string(100000, 'x') + "\x1B"}});
  const Failure error = client.status_failure(response, "the audit log");
  EXPECT_EQ(error.code, kServerError);
  EXPECT_LT(error.message.size(), 400U) << "a long reason is cut";
  EXPECT_EQ(error.message.find('\x1B'), std::string::npos);
}

TEST(CommandSupportTest, FailuresAndWarningsAreNeutralisedOnTheirWayOut) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(report_failure({kServerError, "the server said \x1B[31mred"}), kServerError);
  warn("beep\x07");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "tipline-review: the server said \xE2\x90\x9B[31mred\n"
            "tipline-review: warning: beep\xE2\x90\x87\n");
}

// The fake case folder (fake_case.h), its server a FakeServer whose certificate it trusts.
class HostileServerTest : public ::testing::Test {
 protected:
  void start(testing::FakeServer::Handler handler) {
    server_.emplace(dir_.path() / "server.pem", std::move(handler));
    testing::build_fake_case(dir_.path(), server_->port());
    fs::copy_file(dir_.path() / "server.pem", case_dir() / "server-ca.pem");
  }
  [[nodiscard]] fs::path case_dir() const { return dir_.path() / "case"; }
  // Requests for targets starting with `prefix`.
  [[nodiscard]] std::size_t requests_for(std::string_view prefix) const {
    std::size_t count = 0;
    for (const std::string& head : server_->requests()) {
      if (head.starts_with("GET " + std::string(prefix))) ++count;
    }
    return count;
  }
  // The number after "since=" in a request head.
  static std::int64_t since(const std::string& head) {
    const std::size_t at = head.find("since=");
    return at == std::string::npos ? 0 : std::stoll(head.substr(at + 6));
  }
  // Answers with no recipient bundle installed: sync goes on with a warning.
  static bool is_keys(const std::string& head) { return head.starts_with("GET /api/v1/keys "); }
  static std::string no_bundle() {
    return testing::http_response("503 Service Unavailable", "", "{}");
  }

  const TempDir dir_;
  std::optional<testing::FakeServer> server_;
};

TEST_F(HostileServerTest, SyncStopsWhenMorePagesComeWithoutProgress) {
  // Always "more", the cursor one up and nothing in the page: without a check sync asks
  // forever (the fake gives up after 50 pages so that a failing test does not hang).
  std::atomic<int> pages = 0;
  start([&pages](const std::string& head) {
    if (is_keys(head)) return no_bundle();
    const bool more = ++pages < 50;
    return testing::http_response("200 OK", "",
                                  R"({"submissions":[],"deleted":[],"cursor":)" +
                                      std::to_string(since(head) + 1) + R"(,"more":)" +
                                      (more ? "true" : "false") + "}");
  });
  EXPECT_EQ(run_sync(case_dir()), kServerError);
  EXPECT_EQ(requests_for("/api/v1/review/submissions"), 1U);
}

TEST_F(HostileServerTest, SyncRefusesACursorThatIsNotThePagesLastChange) {
  std::atomic<int> pages = 0;
  start([&pages](const std::string& head) {
    if (is_keys(head)) return no_bundle();
    const std::int64_t seq = since(head) + 1;
    const bool more = ++pages < 50;
    return testing::http_response(
        "200 OK", "",
        R"({"submissions":[],"deleted":[{"id":"abcdef0123456789abcdef0123456789","change_seq":)" +
            std::to_string(seq) + R"(}],"cursor":)" + std::to_string(seq + 5) + R"(,"more":)" +
            (more ? "true" : "false") + "}");
  });
  EXPECT_EQ(run_sync(case_dir()), kServerError);
  EXPECT_EQ(requests_for("/api/v1/review/submissions"), 1U);
}

TEST_F(HostileServerTest, AuditStopsWhenMorePagesComeWithoutProgress) {
  std::atomic<int> pages = 0;
  start([&pages](const std::string& head) {
    const bool more = ++pages < 50;
    return testing::http_response("200 OK", "",
                                  R"({"entries":[],"cursor":)" + std::to_string(since(head) + 1) +
                                      R"(,"more":)" + (more ? "true" : "false") + "}");
  });
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run_audit(case_dir(), true), kServerError);
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(requests_for("/api/v1/review/audit"), 1U);
}

// A resumed download of the first submission's attachment: the case holds its first 100
// bytes in attachment-1.age.partial, and the server answers the rest as `blob` says.
class ResumeTest : public HostileServerTest {
 protected:
  void start_resume(std::function<std::string(const std::string& whole)> blob) {
    start([this, blob = std::move(blob)](const std::string& head) {
      if (is_keys(head)) return no_bundle();
      if (head.starts_with("GET /api/v1/review/blobs/")) return blob(whole_);
      return testing::http_response("200 OK", "",
                                    R"({"submissions":[],"deleted":[],"cursor":)" +
                                        std::to_string(since(head)) + R"(,"more":false})");
    });
    const auto folder = CaseFolder::open(case_dir());
    ASSERT_TRUE(folder);
    sealed_ = folder->attachment_file(std::string(testing::kFirstId), 1);
    whole_ = tipline::testing::read_file(sealed_);
    ASSERT_GT(whole_.size(), 200U);
    fs::remove(sealed_);
    tipline::testing::write_file(partial(), whole_.substr(0, 100));
  }
  [[nodiscard]] fs::path partial() const { return sealed_.string() + ".partial"; }
  [[nodiscard]] std::string tail_range() const {
    return "Content-Range: bytes 100-" + std::to_string(whole_.size() - 1) + "/" +
           std::to_string(whole_.size()) + "\r\n";
  }

  fs::path sealed_;
  std::string whole_;
};

TEST_F(ResumeTest, AResumedDownloadCompletes) {
  start_resume([this](const std::string& whole) {
    return testing::http_response("206 Partial Content", tail_range(), whole.substr(100));
  });
  EXPECT_EQ(run_sync(case_dir()), kSuccess);
  EXPECT_EQ(tipline::testing::read_file(sealed_), whole_);
  EXPECT_FALSE(fs::exists(partial()));
}

TEST_F(ResumeTest, ABrokenTransferLeavesOnlyTheCheckedBytes) {
  // The right range, cut off after 50 of its bytes.
  start_resume([this](const std::string& whole) {
    return testing::http_response("206 Partial Content", tail_range(), whole.substr(100, 50),
                                  static_cast<long>(whole.size() - 100));
  });
  EXPECT_EQ(run_sync(case_dir()), kUnreachable);
  EXPECT_EQ(tipline::testing::read_file(partial()), whole_.substr(0, 100));
}

TEST_F(ResumeTest, AnotherRangeIsRefusedBeforeAByteIsWritten) {
  // The blob's start where its rest was asked for, and then a broken transfer: the check
  // at the end of the answer never comes.
  start_resume([](const std::string& whole) {
    return testing::http_response("206 Partial Content",
                                  "Content-Range: bytes 0-" + std::to_string(whole.size() - 101) +
                                      "/" + std::to_string(whole.size()) + "\r\n",
                                  "garbage garbage garbage", static_cast<long>(whole.size() - 100));
  });
  EXPECT_EQ(run_sync(case_dir()), kServerError);
  EXPECT_EQ(tipline::testing::read_file(partial()), whole_.substr(0, 100));
}

TEST_F(ResumeTest, AWholeBlobIsRefusedWhenItsRestWasAskedFor) {
  start_resume([](const std::string& whole) {
    return testing::http_response("200 OK", "", std::string(whole.size(), 'x'));
  });
  EXPECT_EQ(run_sync(case_dir()), kServerError);
  EXPECT_EQ(tipline::testing::read_file(partial()), whole_.substr(0, 100));
}

class BundleTest : public ::testing::Test {
 protected:
  static std::string answer(std::string_view bundle, const crypto::minisign::Signature& signature) {
    return json::serialize(
        json::object{{"version", 3}, {"bundle", bundle}, {"signature", signature.to_file_text()}});
  }
  const crypto::minisign::SecretKey root_ = crypto::minisign::SecretKey::generate();
  const crypto::x25519::Identity identity_ = crypto::x25519::Identity::generate();
  std::string bundle_ = R"({"format":"tipline-bundle/1","version":3,"issued":"2026-11-29",)"
                        R"("expires":"2027-05-29","recipients":[{"id":"a","age":")" +
                        identity_.recipient().to_string() + "\"}]}\n";
  static std::span<const std::uint8_t> bytes(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
  }
};

TEST_F(BundleTest, AcceptsTheRootKeysSignature) {
  const auto key = root_.public_key();
  auto parsed = parse_keys_answer(
      answer(bundle_, root_.sign(bytes(bundle_), "tipline-bundle version 3")), &key);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->verified);
  EXPECT_EQ(parsed->version, 3);
  ASSERT_EQ(parsed->recipients.size(), 1U);
  EXPECT_EQ(parsed->recipients[0].to_string(), identity_.recipient().to_string());
}

TEST_F(BundleTest, RefusesAnotherKeyAnAlteredBundleOrAnotherVersion) {
  const auto key = root_.public_key();
  const auto other = crypto::minisign::SecretKey::generate();
  const auto by_other = parse_keys_answer(
      answer(bundle_, other.sign(bytes(bundle_), "tipline-bundle version 3")), &key);
  ASSERT_FALSE(by_other);
  EXPECT_EQ(by_other.error().code, kBundleMismatch);

  const auto signature = root_.sign(bytes(bundle_), "tipline-bundle version 3");
  std::string altered = bundle_;
  altered.replace(altered.find("\"a\""), 3, "\"b\"");
  const auto tampered = parse_keys_answer(answer(altered, signature), &key);
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().code, kBundleMismatch);

  const auto wrong_version = parse_keys_answer(
      answer(bundle_, root_.sign(bytes(bundle_), "tipline-bundle version 2")), &key);
  ASSERT_FALSE(wrong_version);
  EXPECT_EQ(wrong_version.error().code, kBundleMismatch);

  // A bundle without its expiry date is malformed.
  std::string undated = bundle_;
  undated.replace(undated.find(R"("expires":"2027-05-29",)"), 23, "");
  const auto no_expiry = parse_keys_answer(answer(undated, signature), nullptr);
  ASSERT_FALSE(no_expiry);
  EXPECT_EQ(no_expiry.error().code, kServerError);

  // Without a root key nothing is verified, and the result says so.
  const auto unverified = parse_keys_answer(answer(bundle_, signature), nullptr);
  ASSERT_TRUE(unverified);
  EXPECT_FALSE(unverified->verified);
}

TEST_F(BundleTest, ExpiresOnItsExpiryDayAsOnTheServer) {
  const auto parsed = parse_keys_answer(answer(bundle_, root_.sign(bytes(bundle_), "c")), nullptr);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->expires, "2027-05-29");
  EXPECT_FALSE(bundle_expired(*parsed, "2027-05-28"));
  EXPECT_TRUE(bundle_expired(*parsed, "2027-05-29"));
  EXPECT_TRUE(bundle_expired(*parsed, "2031-01-01"));
  EXPECT_EQ(today_utc().size(), 10U);
}

// `list` reads one index file: 10,000 submissions list without a ciphertext beside them (a
// listing that opened them would fail outright). Its speed is measured by
// scripts/bench-review, not here: timed tests fail on a loaded machine.
TEST(ListTest, TenThousandSubmissionsListFromTheIndexAlone) {
  const TempDir dir;
  testing::build_large_index(dir.path() / "case", 10000);
  const std::vector<std::string> argv = {TIPLINE_REVIEW_BINARY, "--case",
                                         (dir.path() / "case").string(), "list"};
  const auto outcome = tipline::testing::run(argv);
  ASSERT_EQ(outcome.exit_code, 0) << tipline::testing::describe(argv, outcome);
  EXPECT_EQ(tipline::testing::lines_of(outcome.out).size(), 10001U);
}

}  // namespace
}  // namespace tipline::review
