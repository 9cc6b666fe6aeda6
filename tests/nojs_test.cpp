// The no-JavaScript report flow against the real tipline-server on loopback: a form posted
// as multipart/form-data with files (as a browser with JavaScript off sends it), sealed by the
// server and opened with the stock age CLI; the codename check; CSRF; limits; and no
// plaintext in the database files.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "support/instance.h"
#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
constexpr std::size_t kMiB = std::size_t{1} << 20;
// The CSRF cookie over TLS; over plain HTTP it has no __Host- prefix.
const std::string kCsrfCookie = "__Host-tipline_csrf";

void write_random_file(const fs::path& file, std::size_t size, unsigned seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  write_file(file, bytes);
}

// The value of an HTML input named `name` in `page`.
std::string input_value(const std::string& page, const std::string& name) {
  const std::string marker = "name=\"" + name + "\" value=\"";
  const std::size_t at = page.find(marker);
  if (at == std::string::npos) return {};
  const std::size_t start = at + marker.size();
  return page.substr(start, page.find('"', start) - start);
}

struct Field {
  std::string name;
  std::string value;
  fs::path file;  // set: a file part read from this path
};

size_t append_to(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

class NojsTest : public ::testing::Test {
 protected:
  void start(const std::string& limits = "") {
    ASSERT_NO_FATAL_FAILURE(server_.init(true));
    server_.start("[source]\nport = 0\n[reviewer]\nport = 0\n[limits]\n" + limits);
  }

  std::string url(const std::string& path) const { return server_.url(path); }

  // GET /report: the CSRF token of its cookie, checked to be the form's field as well.
  std::string form_token() {
    const HttpResult page = https_request(url("/report"), server_.certificate());
    EXPECT_EQ(page.status, 200) << page.body;
    const std::string marker = kCsrfCookie + "=";
    const std::size_t at = page.headers.find(marker);
    EXPECT_NE(at, std::string::npos) << page.headers;
    if (at == std::string::npos) return {};
    std::string token = page.headers.substr(at + marker.size(), 64);
    EXPECT_EQ(input_value(page.body, "csrf_token"), token);
    return token;
  }

  // A multipart/form-data POST through libcurl's mime API, files streamed from disk, with a
  // Content-Length as browsers send it. chunked: without one, so that a size limit is met in
  // the middle of the body.
  HttpResult post_form(const std::string& cookie, const std::vector<Field>& fields,
                       bool chunked = false) {
    HttpResult result;
    CURL* curl = curl_easy_init();
    curl_mime* mime = curl_mime_init(curl);
    for (const Field& field : fields) {
      curl_mimepart* part = curl_mime_addpart(mime);
      curl_mime_name(part, field.name.c_str());
      if (field.file.empty()) {
        curl_mime_data(part, field.value.data(), field.value.size());
      } else {
        curl_mime_filedata(part, field.file.c_str());
      }
    }
    curl_slist* headers = nullptr;
    if (!cookie.empty())
      headers = curl_slist_append(headers, ("Cookie: " + kCsrfCookie + "=" + cookie).c_str());
    if (chunked) headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(curl, CURLOPT_URL, url("/report").c_str());
    curl_easy_setopt(curl, CURLOPT_CAINFO, server_.certificate().c_str());
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_to);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 240L);
    const CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) result.error = curl_easy_strerror(code);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    curl_slist_free_all(headers);
    curl_mime_free(mime);
    curl_easy_cleanup(curl);
    return result;
  }

  HttpResult post_codename(const std::string& cookie, const std::string& body,
                           const std::string& cookie_name = kCsrfCookie) {
    return https_request(url("/codename"), server_.certificate(),
                         {"Content-Type: application/x-www-form-urlencoded",
                          "Cookie: " + cookie_name + "=" + cookie},
                         body);
  }

  std::vector<Field> answers(const std::string& token, const std::string& what) {
    return {{"csrf_token", token, {}},
            {"what_happened", what, {}},
            {"when.year", "2024", {}},
            {"when.month", "03", {}},
            {"country", "NL", {}}};
  }

  void stop() { server_.stop(seconds(30)); }

  storage::Database open_database() { return server_.open_database(); }

  static std::int64_t count(storage::Database& db, const std::string& sql) {
    auto query = db.prepare(sql);
    EXPECT_TRUE(query.has_value());
    auto row = query->step();
    EXPECT_TRUE(row.has_value() && *row);
    return query->integer(0);
  }

  static std::vector<storage::BlobId> ids(storage::Database& db, const std::string& sql) {
    auto query = db.prepare(sql);
    EXPECT_TRUE(query.has_value());
    std::vector<storage::BlobId> found;
    while (true) {
      auto row = query->step();
      EXPECT_TRUE(row.has_value());
      if (!row || !*row) return found;
      found.push_back(query->integer(0));
    }
  }

  // Writes the blob to a file and opens it with the stock age CLI and the demo reviewer's
  // passphrase-protected identity, as a reviewer would.
  std::string open_with_age(storage::Database& db, storage::BlobId blob, const std::string& name) {
    const fs::path sealed = dir_.path() / (name + ".age");
    write_file(sealed, read_blob(db, blob));
    const fs::path opened = dir_.path() / (name + ".opened");
    age_with_demo_passphrase(
        server_.path(),
        {"-d", "-i", (server_.path() / "demo-offline-keys/reviewer.agekey").string(), "-o",
         opened.string(), sealed.string()},
        seconds(120));
    return read_file(opened);
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  const fs::path instance_ = server_.path();
};

TEST_F(NojsTest, AFormWithFilesIsSealedOnReceiptAndOpensWithStockAge) {
  ASSERT_FALSE(find_tool("age").empty() || find_tool("script").empty())
      << "age and util-linux script must be installed";
  start();
  const fs::path small = dir_.path() / "note.txt";
  write_file(small, "x");
  const fs::path medium = dir_.path() / "photo.jpg";
  write_random_file(medium, kMiB + 777, 1);
  const fs::path large = dir_.path() / "recording.ogg";
  write_random_file(large, 50 * kMiB, 2);

  const std::string token = form_token();
  std::vector<Field> fields = answers(token, "Men from the 'service centre' visited my parents.");
  fields.push_back({"incident_type", "surveillance", {}});
  for (const fs::path& file : {small, medium, large}) fields.push_back({"attachments", {}, file});
  const auto started = std::chrono::steady_clock::now();
  const HttpResult posted = post_form(token, fields);
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  std::printf("[ timing ] POST /report with 51 MiB of files: %.2f s\n", elapsed.count());
  ASSERT_EQ(posted.status, 200) << posted.error << posted.body;
  EXPECT_TRUE(contains(posted.body, "Your codename")) << posted.body;
  const std::string codename = input_value(posted.body, "codename_shown");
  EXPECT_EQ(codename.size(), 29u) << posted.body;

  stop();
  storage::Database db = open_database();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM submissions WHERE source_id IS NOT NULL"), 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM blobs WHERE sealed_to_bundle = 1 AND complete = 1"), 4);
  const auto report = ids(db, "SELECT report_blob_id FROM submissions");
  ASSERT_EQ(report.size(), 1u);
  const std::string document = open_with_age(db, report[0], "report");
  EXPECT_TRUE(contains(document,
                       R"({"format":"tipline-report/1","answers":{"what_happened":)"
                       R"("Men from the 'service centre' visited my parents.","when":"2024-03",)"
                       R"("country":"NL","incident_type":["surveillance"]}})"))
      << document;
  const auto files = ids(db, "SELECT blob_id FROM attachments ORDER BY position");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(open_with_age(db, files[0], "small"), read_file(small));
  EXPECT_TRUE(open_with_age(db, files[1], "medium") == read_file(medium));
  EXPECT_TRUE(open_with_age(db, files[2], "large") == read_file(large));
}

TEST_F(NojsTest, TheCodenameMustBeRetypedBeforeThePageLetsGo) {
  start();
  const std::string token = form_token();
  const HttpResult posted = post_form(token, answers(token, "They follow me."));
  ASSERT_EQ(posted.status, 200) << posted.body;
  const std::string shown = input_value(posted.body, "codename_shown");
  ASSERT_EQ(shown.size(), 29u);
  std::string retyped = shown;
  for (char& c : retyped) c = c == ' ' ? '-' : c;
  std::string wrong = retyped;
  wrong[3] = wrong[3] == '7' ? '8' : '7';
  const std::string fields = "csrf_token=" + token + "&codename_shown=" + retyped;

  const HttpResult mismatch = post_codename(token, fields + "&codename=" + wrong);
  EXPECT_EQ(mismatch.status, 200);
  EXPECT_TRUE(contains(mismatch.body, "does not match")) << mismatch.body;
  EXPECT_EQ(input_value(mismatch.body, "codename_shown"), shown);
  const HttpResult matched = post_codename(token, fields + "&codename=" + retyped);
  EXPECT_EQ(matched.status, 200);
  EXPECT_TRUE(contains(matched.body, "your report was sent")) << matched.body;
  EXPECT_EQ(post_codename(std::string(64, 'a'), fields + "&codename=" + retyped).status, 403);
  // Over TLS only the __Host- cookie counts.
  EXPECT_EQ(post_codename(token, fields + "&codename=" + retyped, "tipline_csrf").status, 403);
}

TEST_F(NojsTest, WithoutTheMatchingTokenNothingIsStored) {
  start();
  const std::string token = form_token();
  const fs::path file = dir_.path() / "file.bin";
  write_random_file(file, 2 * kMiB, 3);
  std::vector<Field> fields = answers(token, "x");
  fields.push_back({"attachments", {}, file});
  const HttpResult no_cookie = post_form("", fields);
  EXPECT_EQ(no_cookie.status, 403) << no_cookie.error << no_cookie.body;
  const HttpResult other_cookie = post_form(std::string(64, '0'), fields);
  EXPECT_EQ(other_cookie.status, 403) << other_cookie.error << other_cookie.body;
  // A small form, sent whole before the refusal closes the connection: a client still
  // sending a large body may see the connection reset before it reads the answer.
  const fs::path small = dir_.path() / "small.bin";
  write_random_file(small, 1000, 7);
  std::vector<Field> forged = answers(std::string(64, '0'), "x");
  forged.push_back({"attachments", {}, small});
  const HttpResult refused = post_form(token, forged);
  EXPECT_EQ(refused.status, 403) << refused.error;
  EXPECT_TRUE(contains(refused.body, "<html")) << refused.body;
  stop();
  storage::Database db = open_database();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM blobs"), 0);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM submissions"), 0);
}

TEST_F(NojsTest, LimitsRefuseTheFormCloseTheConnectionAndLeaveNoBlob) {
  start("form_parts = 8\nform_part_bytes = 2621440\nform_bytes = 5242880\n");
  const std::string token = form_token();
  const fs::path small = dir_.path() / "small.bin";
  write_random_file(small, 1000, 4);
  const fs::path file = dir_.path() / "file.bin";
  write_random_file(file, 2 * kMiB, 5);
  const fs::path big = dir_.path() / "big.bin";
  write_random_file(big, 3 * kMiB - std::size_t{256} * 1024, 6);

  // Each limit is met near the end of its body, so that the client has sent it all and
  // reads the answer before the connection closes.
  auto expect_refused = [&](const std::vector<Field>& fields, bool chunked, bool page,
                            const char* what) {
    const HttpResult result = post_form(token, fields, chunked);
    EXPECT_EQ(result.status, 413) << what << ": " << result.error << result.body;
    EXPECT_TRUE(contains(result.headers, "Connection: close")) << what << ": " << result.headers;
    if (page) {
      EXPECT_TRUE(contains(result.body, "<html")) << what << ": " << result.body;
    }
  };
  std::vector<Field> many = answers(token, "x");
  for (int i = 0; i < 4; ++i) many.push_back({"attachments", {}, small});
  expect_refused(many, false, true, "too many parts");

  // Refused once the first file's batches are stored: they must go again.
  std::vector<Field> too_large = answers(token, "x");
  too_large.push_back({"attachments", {}, file});
  too_large.push_back({"attachments", {}, big});
  expect_refused(too_large, false, true, "a part too large");

  std::vector<Field> whole = answers(token, "x");
  for (int i = 0; i < 3; ++i) whole.push_back({"attachments", {}, file});
  expect_refused(whole, false, false, "a form too large, by its Content-Length");
  expect_refused(whole, true, false, "a form too large, found in the middle of a chunked body");

  stop();
  storage::Database db = open_database();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM blobs"), 0);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM blob_chunks"), 0);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM submissions"), 0);
}

// SQLCipher encrypts the database and its write-ahead log page by page: what a source sent
// must not appear in either file, while the server runs or after it stops.
TEST_F(NojsTest, NoPlaintextReachesTheDatabaseFiles) {
  start();
  const std::string canary = "CANARY-nojs-4f1c9e7a-plaintext";
  const fs::path file = dir_.path() / "canary.txt";
  write_file(file, "inside the file: " + canary + "\n");
  const std::string token = form_token();
  std::vector<Field> fields = answers(token, "in the answer: " + canary);
  fields.push_back({"attachments", {}, file});
  const HttpResult posted = post_form(token, fields);
  ASSERT_EQ(posted.status, 200) << posted.body;
  const std::string codename = input_value(posted.body, "codename_shown");
  std::string digits;
  for (const char c : codename) {
    if (c != ' ') digits += c;
  }
  ASSERT_EQ(digits.size(), 24u);
  auto expect_clean = [&](const char* when) {
    for (const char* name : {"tipline.db", "tipline.db-wal"}) {
      const std::string bytes = read_file(instance_ / name);
      EXPECT_FALSE(contains(bytes, canary)) << name << " " << when;
      EXPECT_FALSE(contains(bytes, "canary.txt")) << name << " " << when;
      EXPECT_FALSE(contains(bytes, digits)) << name << " " << when;
    }
    EXPECT_FALSE(contains(server_.log(), canary));
    EXPECT_FALSE(contains(server_.log(), token));
  };
  ASSERT_FALSE(read_file(instance_ / "tipline.db-wal").empty()) << "the WAL holds the commit";
  expect_clean("while serving");
  stop();
  expect_clean("after stopping");
}

}  // namespace
}  // namespace tipline::testing
