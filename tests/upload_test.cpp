// Sources, drafts and tus 1.0.0 uploads against the real tipline-server on loopback (plain
// HTTP, as behind a Tor onion service): registration and login, the tus core, creation,
// termination and expiration, every refusal, a PATCH broken mid-way and resumed, a
// submission with attachments sealed by the stock age CLI and opened by it again, and the
// stock tus-js-client.
#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/instance.h"
#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
constexpr std::size_t kMiB = std::size_t{1024} * 1024;

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator());
  return bytes;
}

// Byte-for-byte equality that reports sizes rather than dumping binary.
::testing::AssertionResult same(const std::string& stored, const std::string& sent) {
  if (stored == sent) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "stored " << stored.size() << " bytes differ from the " << sent.size() << " bytes sent";
}

struct Reply {
  int status = 0;
  std::string head;  // status line and header fields
  std::string body;

  // The value of a header field (name case-insensitive), or "" when absent.
  [[nodiscard]] std::string header(const std::string& name) const {
    for (const std::string& line : lines_of(head)) {
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos || colon != name.size()) continue;
      if (std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (!value.empty() && value.back() == '\r') value.pop_back();
        return value;
      }
    }
    return {};
  }
};

Reply parse_reply(const std::string& raw) {
  Reply reply;
  const std::size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return reply;
  reply.status = std::stoi(raw.substr(9, 3));
  reply.head = raw.substr(0, end);
  reply.body = raw.substr(end + 4);
  return reply;
}

const std::vector<std::string> kTus = {"Tus-Resumable: 1.0.0"};

class UploadTest : public ::testing::Test {
 protected:
  // `limits`: more lines for the [limits] section.
  void start(bool demo, const std::string& limits = "") {
    ASSERT_NO_FATAL_FAILURE(server_.init(demo));
    server_.start(
        "[source]\nport = 0\ntransport = \"http\"\n[reviewer]\nport = 0\n"
        "[server]\nlog_level = \"debug\"\n[limits]\nuploads_per_draft = 2\n" +
        limits);
  }

  // One request on its own connection; the server closes it after the response.
  Reply request(const std::string& method, const std::string& path,
                const std::vector<std::string>& headers = {}, const std::string& body = {}) {
    std::string text =
        method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    for (const auto& header : headers) text += header + "\r\n";
    if (!body.empty() || method == "POST" || method == "PATCH") {
      text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    RawConnection connection(server_.source_port());
    connection.send(text + "\r\n" + body);
    return parse_reply(connection.receive_all(seconds(20)));
  }
  Reply post_json(const std::string& path, const std::string& body) {
    return request("POST", path, {"Content-Type: application/json"}, body);
  }

  std::string demo_recipient() {
    const Reply keys = request("GET", "/api/v1/keys");
    EXPECT_EQ(keys.status, 200) << keys.body;
    const std::size_t at = keys.body.find("age1");
    return at == std::string::npos ? std::string() : keys.body.substr(at, 62);
  }

  std::string new_draft(const std::string& body = "{}") {
    const Reply made = post_json("/api/v1/drafts", body);
    EXPECT_EQ(made.status, 201) << made.body;
    return json_string(made.body, "draft");
  }

  // `plain` sealed by the stock age CLI to the served bundle's recipient.
  std::string seal(const std::string& plain, const std::string& name) {
    const fs::path out = dir_.path() / (name + ".age");
    age_seal(out, plain, {demo_recipient()});
    return read_file(out);
  }

  // Random bytes sealed to exactly `size` bytes: an age file is its header, a 16-byte
  // nonce, then each 64 KiB of the plaintext (the last may be shorter) and a 16-byte tag.
  std::string seal_exactly(std::size_t size, unsigned seed, const std::string& name) {
    constexpr std::size_t kNonce = 16;
    constexpr std::size_t kTag = 16;
    constexpr std::size_t kChunk = std::size_t{64} * 1024;
    const std::string probe = seal("x", name + "-probe");
    const std::size_t header = probe.size() - kNonce - 1 - kTag;
    const std::size_t payload = size - header - kNonce;
    const std::size_t chunks = (payload + kChunk + kTag - 1) / (kChunk + kTag);
    std::string sealed = seal(random_bytes(payload - chunks * kTag, seed), name);
    EXPECT_EQ(sealed.size(), size);
    return sealed;
  }

  // POST /api/v1/uploads for `length` bytes on `draft`: the upload's path, or "".
  std::string create_upload(const std::string& draft, std::size_t length) {
    const Reply created =
        request("POST", "/api/v1/uploads",
                {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(length),
                 "Upload-Metadata: filename " + base64("secret.jpg") + ",draft " + base64(draft)});
    EXPECT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(created.header("Tus-Resumable"), "1.0.0");
    return created.header("Location");
  }

  Reply patch(const std::string& path, std::size_t offset, const std::string& bytes) {
    return request("PATCH", path,
                   {"Tus-Resumable: 1.0.0", "Content-Type: application/offset+octet-stream",
                    "Upload-Offset: " + std::to_string(offset)},
                   bytes);
  }

  // The offset HEAD reports once it stops moving: a broken PATCH is committed after the
  // connection closes, by the server, on its own time.
  std::size_t settled_offset(const std::string& path, std::size_t length) {
    std::size_t offset = 0;
    for (int tries = 0; tries < 50; ++tries) {
      std::this_thread::sleep_for(milliseconds(100));
      const std::size_t now = offset_of(path);
      if (now == length || (now == offset && tries >= 10)) return now;
      offset = now;
    }
    return offset;
  }

  std::size_t offset_of(const std::string& path) {
    const Reply head = request("HEAD", path, kTus);
    EXPECT_EQ(head.status, 200) << head.head;
    return head.header("Upload-Offset").empty() ? 0 : std::stoul(head.header("Upload-Offset"));
  }

  // Uploads `bytes` in `pieces` PATCHes; true if every one was accepted.
  bool upload(const std::string& path, const std::string& bytes, std::size_t pieces) {
    const std::size_t step = (bytes.size() + pieces - 1) / pieces;
    for (std::size_t offset = 0; offset < bytes.size(); offset += step) {
      const Reply sent = patch(path, offset, bytes.substr(offset, step));
      EXPECT_EQ(sent.status, 204) << sent.body;
      const std::size_t reached = std::min(bytes.size(), offset + step);
      EXPECT_EQ(sent.header("Upload-Offset"), std::to_string(reached));
      if (sent.status != 204) return false;
    }
    return true;
  }

  void stop() { server_.stop(); }

  // With the server stopped (or sharing the WAL): the database.
  storage::Database open_database() { return server_.open_database(); }

  // The blob of the upload at `path` (/api/v1/uploads/ID), or "" if there is none.
  static std::string upload_blob(storage::Database& db, const std::string& path, bool* complete) {
    auto query = db.prepare(
        "SELECT b.id, b.complete FROM uploads u JOIN blobs b ON b.id = u.blob_id "
        "WHERE u.public_id = ?;");
    EXPECT_TRUE(query.has_value());
    auto row = query->bind(path.substr(path.rfind('/') + 1)).step();
    if (!row || !*row) return {};
    *complete = query->integer(1) == 1;
    return read_blob(db, query->integer(0));
  }

  static std::int64_t count(storage::Database& db, const std::string& table) {
    auto query = db.prepare("SELECT count(*) FROM " + table + ";");
    EXPECT_TRUE(query.has_value());
    auto row = query->step();
    EXPECT_TRUE(row.has_value() && *row);
    return query->integer(0);
  }

  // The demo reviewer identity, its passphrase removed by the stock age CLI (which reads a
  // passphrase only from a terminal: script(1) gives it one).
  fs::path open_identity() {
    fs::path identity = dir_.path() / "reviewer.identity";
    age_with_demo_passphrase(server_.path(),
                             {"-d", "-o", identity.string(),
                              (server_.path() / "demo-offline-keys/reviewer.agekey").string()});
    return identity;
  }

  std::string decrypt(const fs::path& identity, const std::string& sealed,
                      const std::string& name) {
    const fs::path in = dir_.path() / (name + ".stored.age");
    write_file(in, sealed);
    const std::vector<std::string> command = {find_tool("age"), "-d", "-i", identity.string(),
                                              in.string()};
    const Outcome opened = run(command);
    EXPECT_EQ(opened.exit_code, 0) << describe(command, opened);
    return opened.out;
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
};

TEST_F(UploadTest, SourcesRegisterLogInAndMakeDrafts) {
  start(true);
  const std::string secret = base64(random_bytes(32, 1));
  const std::string recipient = demo_recipient();
  const std::string body =
      "{\"login_secret\":\"" + secret + "\",\"recipient\":\"" + recipient + "\"}";
  EXPECT_EQ(post_json("/api/v1/sources", body).status, 201);
  const Reply again = post_json("/api/v1/sources", body);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_TRUE(contains(again.body, "already registered")) << again.body;
  for (const std::string& bad : {
           std::string("not json"),
           "{\"login_secret\":\"" + base64(random_bytes(31, 2)) + "\",\"recipient\":\"" +
               recipient + "\"}",
           "{\"login_secret\":\"" + base64(random_bytes(32, 3)) + "\",\"recipient\":\"age1x\"}",
           "{\"login_secret\":\"" + base64(random_bytes(32, 3)) + "\"}",
           "{\"login_secret\":\"" + base64(random_bytes(32, 3)) + "\",\"recipient\":\"" +
               recipient + "\",\"name\":\"x\"}",
       }) {
    const Reply refused = post_json("/api/v1/sources", bad);
    EXPECT_EQ(refused.status, 400) << bad << " -> " << refused.body;
    EXPECT_TRUE(contains(refused.body, "\"error\":")) << refused.body;
  }

  const std::string login = "{\"login_secret\":\"" + secret + "\"}";
  EXPECT_EQ(post_json("/api/v1/sources/login", login).status, 200);
  const std::string stranger = "{\"login_secret\":\"" + base64(random_bytes(32, 4)) + "\"}";
  EXPECT_EQ(post_json("/api/v1/sources/login", stranger).status, 401);
  EXPECT_EQ(post_json("/api/v1/sources/login", "{\"login_secret\":\"short\"}").status, 400);
  EXPECT_EQ(request("GET", "/api/v1/sources/login").status, 405);

  const std::string anonymous = new_draft();
  EXPECT_TRUE(std::regex_match(anonymous, std::regex("[0-9a-f]{64}"))) << anonymous;
  EXPECT_NE(new_draft(login), anonymous);
  EXPECT_EQ(post_json("/api/v1/drafts", stranger).status, 401);
  EXPECT_EQ(post_json("/api/v1/drafts", "{\"x\":1}").status, 400);
  EXPECT_EQ(post_json("/api/v1/drafts", "[]").status, 400);

  const std::string log = server_.log();
  for (const std::string& secret_text : {secret, anonymous, recipient}) {
    EXPECT_FALSE(contains(log, secret_text)) << "logged: " << secret_text;
  }
}

TEST_F(UploadTest, WithoutABundleNothingIsAccepted) {
  start(false);
  EXPECT_EQ(post_json("/api/v1/drafts", "{}").status, 503);
  const Reply source =
      post_json("/api/v1/sources", "{\"login_secret\":\"" + base64(random_bytes(32, 1)) +
                                       "\",\"recipient\":\"age1x\"}");
  EXPECT_EQ(source.status, 503);
  EXPECT_TRUE(contains(source.body, "not accepting reports yet")) << source.body;
  const Reply created = request("POST", "/api/v1/uploads",
                                {"Tus-Resumable: 1.0.0", "Upload-Length: 10",
                                 "Upload-Metadata: draft " + base64(std::string(64, 'a'))});
  EXPECT_EQ(created.status, 503) << created.body;
}

TEST_F(UploadTest, TusCreationHeadPatchDeleteAndOptions) {
  start(true);
  const Reply options = request("OPTIONS", "/api/v1/uploads");
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(options.header("Tus-Resumable"), "1.0.0");
  EXPECT_EQ(options.header("Tus-Version"), "1.0.0");
  EXPECT_EQ(options.header("Tus-Extension"), "creation,termination,expiration");
  EXPECT_EQ(options.header("Tus-Max-Size"), std::to_string(std::uint64_t{4} << 30));

  const std::string draft = new_draft();
  const std::string sealed = seal(random_bytes(std::size_t{300} * 1024, 5), "attachment");
  const std::string path = create_upload(draft, sealed.size());
  ASSERT_TRUE(std::regex_match(path, std::regex("/api/v1/uploads/[0-9a-f]{32}"))) << path;

  const Reply head = request("HEAD", path, kTus);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Upload-Offset"), "0");
  EXPECT_EQ(head.header("Upload-Length"), std::to_string(sealed.size()));
  EXPECT_EQ(head.header("Cache-Control"), "no-store");
  EXPECT_EQ(head.header("Tus-Resumable"), "1.0.0");
  EXPECT_TRUE(std::regex_match(
      head.header("Upload-Expires"),
      std::regex(
          "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:00:00 GMT")))
      << head.header("Upload-Expires");

  ASSERT_TRUE(upload(path, sealed, 3));
  EXPECT_EQ(offset_of(path), sealed.size());
  const Reply after = patch(path, sealed.size(), "");
  EXPECT_EQ(after.status, 409) << "a complete upload takes no more bytes: " << after.body;

  const std::string doomed = create_upload(draft, 1000);
  EXPECT_EQ(request("DELETE", doomed, kTus).status, 204);
  EXPECT_EQ(request("HEAD", doomed, kTus).status, 404);
  EXPECT_EQ(request("DELETE", doomed, kTus).status, 404);
  EXPECT_EQ(request("HEAD", "/api/v1/uploads/not-an-id", kTus).status, 404);

  stop();
  storage::Database db = open_database();
  bool complete = false;
  EXPECT_TRUE(same(upload_blob(db, path, &complete), sealed));
  EXPECT_TRUE(complete);
  EXPECT_EQ(count(db, "uploads"), 1) << "the deleted upload is gone";
  EXPECT_EQ(count(db, "blobs"), 1) << "and so is its blob";
}

TEST_F(UploadTest, TusRefusalsHaveTheirStatusCodes) {
  start(true);
  const std::string draft = new_draft();
  const std::string sealed = seal("a small file", "small");
  const std::string path = create_upload(draft, sealed.size());

  // 412: no or another tus version, with the versions spoken.
  for (const Reply& refused :
       {request("POST", "/api/v1/uploads", {"Upload-Length: 10"}),
        request("HEAD", path, {"Tus-Resumable: 0.2.2"}),
        request("PATCH", path,
                {"Content-Type: application/offset+octet-stream", "Upload-Offset: 0"}, "x"),
        request("DELETE", path)}) {
    EXPECT_EQ(refused.status, 412) << refused.head;
    EXPECT_EQ(refused.header("Tus-Version"), "1.0.0");
  }
  // 415, 409, 413 on PATCH.
  EXPECT_EQ(request("PATCH", path,
                    {"Tus-Resumable: 1.0.0", "Content-Type: application/octet-stream",
                     "Upload-Offset: 0"},
                    "x")
                .status,
            415);
  EXPECT_EQ(patch(path, 1, "x").status, 409);
  EXPECT_EQ(patch(path, 0, sealed + "x").status, 413);
  EXPECT_EQ(offset_of(path), 0u);
  // Creation: too large, no draft, unknown draft, bad length, too many for the draft.
  const auto create = [&](const std::string& length, const std::string& metadata) {
    return request(
        "POST", "/api/v1/uploads",
        {"Tus-Resumable: 1.0.0", "Upload-Length: " + length, "Upload-Metadata: " + metadata});
  };
  const std::string with_draft = "draft " + base64(draft);
  EXPECT_EQ(create(std::to_string((std::uint64_t{4} << 30) + 1), with_draft).status, 413);
  EXPECT_EQ(create("100", "filename " + base64("x.jpg")).status, 400);
  EXPECT_EQ(create("100", "draft " + base64(std::string(64, 'a'))).status, 404);
  EXPECT_EQ(create("-1", with_draft).status, 400);
  EXPECT_EQ(create("0", with_draft).status, 400);
  (void)create_upload(draft, 100);  // the second of uploads_per_draft = 2
  const Reply third = create("100", with_draft);
  EXPECT_EQ(third.status, 403) << third.body;
  EXPECT_TRUE(contains(third.body, "as many uploads")) << third.body;

  // A file that is not age is refused when its last byte arrives, and deleted.
  const std::string other = create_upload(new_draft(), 4000);
  const Reply refused = patch(other, 0, random_bytes(4000, 6));
  EXPECT_EQ(refused.status, 400);
  EXPECT_TRUE(contains(refused.body, "not an age file sealed to the current recipients"))
      << refused.body;
  EXPECT_EQ(request("HEAD", other, kTus).status, 404);
}

TEST_F(UploadTest, ABrokenPatchKeepsWhatWasCommittedAndResumes) {
  start(true);
  const std::string sealed = seal(random_bytes(3 * kMiB, 7), "large");
  const std::string path = create_upload(new_draft(), sealed.size());
  const std::size_t sent = kMiB + kMiB / 2;
  {
    // Chunked, as a client streaming a file of unknown size sends it.
    RawConnection connection(server_.source_port());
    std::string text = "PATCH " + path +
                       " HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n"
                       "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    constexpr std::size_t kChunk = std::size_t{256} * 1024;
    for (std::size_t at = 0; at < sent; at += kChunk) {
      text += "40000\r\n" + sealed.substr(at, kChunk) + "\r\n";
    }
    connection.send(text);
    std::this_thread::sleep_for(milliseconds(500));  // read and committed in part
  }                                                  // closed mid-body
  std::size_t offset = 0;
  for (int tries = 0; tries < 50; ++tries) {
    std::this_thread::sleep_for(milliseconds(100));
    const std::size_t now = offset_of(path);
    if (now == offset && now > 0) break;
    offset = now;
  }
  EXPECT_GE(offset, kMiB) << "the first MiB was committed while the body arrived";
  EXPECT_LE(offset, sent);
  // The rest from there, in PATCHes under the session's 1 MiB Content-Length limit.
  for (constexpr std::size_t kPiece = std::size_t{512} * 1024; offset < sealed.size();
       offset += kPiece) {
    const Reply rest = patch(path, offset, sealed.substr(offset, kPiece));
    ASSERT_EQ(rest.status, 204) << rest.body;
    EXPECT_EQ(rest.header("Upload-Offset"),
              std::to_string(std::min(sealed.size(), offset + kPiece)));
  }

  stop();
  storage::Database db = open_database();
  bool complete = false;
  EXPECT_TRUE(same(upload_blob(db, path, &complete), sealed));
  EXPECT_TRUE(complete);
}

// A PATCH whose body arrived whole, the connection broken before the body ended: the last
// byte is committed only together with the completion check, so HEAD never offers an
// upload at its full length that a submission would then refuse as unfinished.
TEST_F(UploadTest, APatchBrokenRightAfterItsLastByteLeavesAUsableUpload) {
  start(true);
  // Chunked bodies that never send the last chunk, which ends the body, but one byte past
  // the file before the connection closes. Sized to a whole number of read pieces
  // (read_buffer_bytes, 64 KiB): the server takes a piece once it is full and more body
  // follows, so the last byte reaches the upload. For 320 KiB it is committed when the
  // broken stream goes, for 1 MiB by the flush of a full buffer.
  const std::string destroyed = seal_exactly(std::size_t{5} * 64 * 1024, 11, "destroyed");
  const std::string flushed = seal_exactly(kMiB, 12, "flushed");
  // With a Content-Length, closed at once without reading the answer.
  const std::string sized = seal(random_bytes(std::size_t{200} * 1024, 13), "sized");
  const std::string first_draft = new_draft();
  const std::string second_draft = new_draft();
  const std::vector<std::pair<std::string, std::string>> uploads = {
      {create_upload(first_draft, destroyed.size()), destroyed},
      {create_upload(first_draft, flushed.size()), flushed},
      {create_upload(second_draft, sized.size()), sized}};
  const std::string head =
      " HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n"
      "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n";
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& [path, file] = uploads[i];
    RawConnection connection(server_.source_port());
    std::string text = "PATCH " + path + head + "Transfer-Encoding: chunked\r\n\r\n";
    constexpr std::size_t kChunk = std::size_t{64} * 1024;
    for (std::size_t at = 0; at < file.size(); at += kChunk) {
      text += "10000\r\n" + file.substr(at, kChunk) + "\r\n";
    }
    text += "1\r\nx\r\n";
    connection.send(text);
    std::this_thread::sleep_for(milliseconds(300));
  }
  {
    RawConnection connection(server_.source_port());
    connection.send("PATCH " + uploads[2].first + head +
                    "Content-Length: " + std::to_string(sized.size()) + "\r\n\r\n" + sized);
  }
  for (const auto& [path, file] : uploads) {
    const std::size_t offset = settled_offset(path, file.size());
    EXPECT_LE(offset, file.size());
    if (offset < file.size()) {
      // Fewer bytes were kept: a PATCH from there completes the upload.
      const Reply rest = patch(path, offset, file.substr(offset));
      ASSERT_EQ(rest.status, 204) << rest.body;
      EXPECT_EQ(rest.header("Upload-Offset"), std::to_string(file.size()));
    }
  }
  EXPECT_EQ(offset_of(uploads[0].first), destroyed.size()) << "the bytes were all kept";
  EXPECT_EQ(offset_of(uploads[1].first), flushed.size()) << "the bytes were all kept";

  const auto id_of = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  const std::string report = base64(seal("see attached", "report"));
  const Reply both =
      post_json("/api/v1/submissions", "{\"report\":\"" + report + "\",\"draft\":\"" + first_draft +
                                           "\",\"uploads\":[\"" + id_of(uploads[0].first) +
                                           "\",\"" + id_of(uploads[1].first) + "\"]}");
  EXPECT_EQ(both.status, 201) << "the uploads are usable: " << both.body;
  const Reply one = post_json("/api/v1/submissions", "{\"report\":\"" + report + "\",\"draft\":\"" +
                                                         second_draft + "\",\"uploads\":[\"" +
                                                         id_of(uploads[2].first) + "\"]}");
  EXPECT_EQ(one.status, 201) << "the upload is usable: " << one.body;

  stop();
  storage::Database db = open_database();
  auto query = db.prepare(
      "SELECT count(*) FROM attachments a JOIN blobs b ON b.id = a.blob_id WHERE b.complete = 1;");
  ASSERT_TRUE(query.has_value());
  ASSERT_TRUE(query->step().value_or(false));
  EXPECT_EQ(query->integer(0), 3);
}

// An upload expired in the last minutes, before the sweep (every ten minutes) removed it,
// is not attached.
TEST_F(UploadTest, AnExpiredUploadIsNotAttached) {
  start(true);
  const std::string draft = new_draft();
  const std::string sealed = seal("a photo", "photo");
  const std::string path = create_upload(draft, sealed.size());
  ASSERT_TRUE(upload(path, sealed, 1));
  {
    // The database is shared (WAL): the upload expires now, while the server runs.
    storage::Database db = open_database();
    const auto hour = std::chrono::duration_cast<std::chrono::hours>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    auto expire = db.prepare("UPDATE uploads SET expires_hour = ? WHERE public_id = ?;");
    ASSERT_TRUE(expire.has_value());
    expire->bind(static_cast<std::int64_t>(hour), path.substr(path.rfind('/') + 1));
    ASSERT_TRUE(expire->run().has_value());
  }
  const std::string body = "{\"report\":\"" + base64(seal("see attached", "report")) +
                           "\",\"draft\":\"" + draft + "\",\"uploads\":[\"" +
                           path.substr(path.rfind('/') + 1) + "\"]}";
  const Reply refused = post_json("/api/v1/submissions", body);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_TRUE(contains(refused.body, "an upload listed has expired")) << refused.body;
  const Reply without =
      post_json("/api/v1/submissions", "{\"report\":\"" + base64(seal("no files", "report2")) +
                                           "\",\"draft\":\"" + draft + "\"}");
  EXPECT_EQ(without.status, 201) << "nothing was stored by the refusal: " << without.body;
}

// Drafts are limited per minute (each may take limits.uploads_per_draft uploads), and the
// bytes of all uploads not yet submitted are bounded, so nobody fills the disk.
TEST_F(UploadTest, DraftsPastTheRateLimitAreRefused) {
  start(true, "drafts_per_minute = 3\n");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(new_draft().size(), 64u);
  const Reply refused = post_json("/api/v1/drafts", "{}");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_TRUE(contains(refused.body, "\"error\":\"the tip line is making many drafts"))
      << refused.body;
}

TEST_F(UploadTest, UploadsPastThePendingBytesAreRefused) {
  start(true, "pending_upload_bytes = 1048576\n");
  const std::string first_draft = new_draft();
  const std::string second_draft = new_draft();
  const auto create = [&](const std::string& draft, std::size_t length) {
    return request("POST", "/api/v1/uploads",
                   {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(length),
                    "Upload-Metadata: draft " + base64(draft)});
  };
  const std::string first = create_upload(first_draft, std::size_t{600} * 1024);
  const Reply over = create(second_draft, std::size_t{500} * 1024);
  EXPECT_EQ(over.status, 507) << over.body;
  EXPECT_EQ(over.header("Tus-Resumable"), "1.0.0");
  EXPECT_TRUE(contains(over.body, "as many pending uploads as it can")) << over.body;
  // Up to the limit exactly, then not one byte more, whichever draft asks.
  (void)create_upload(second_draft, std::size_t{424} * 1024);
  EXPECT_EQ(create(second_draft, 1).status, 507);
  EXPECT_EQ(create(first_draft, 1).status, 507);
  // A deleted upload gives its room back.
  EXPECT_EQ(request("DELETE", first, kTus).status, 204);
  (void)create_upload(second_draft, std::size_t{500} * 1024);
}

TEST_F(UploadTest, ASubmissionLinksTwoAttachmentsThatStockAgeOpens) {
  start(true);
  const std::string draft = new_draft();
  const std::string report_text = "They photographed our meeting.";
  const std::string photo = random_bytes(std::size_t{700} * 1024, 8);
  const std::string letter = "The letter they sent my mother.";
  const std::string sealed_report = seal(report_text, "report");
  const std::string sealed_photo = seal(photo, "photo");
  const std::string sealed_letter = seal(letter, "letter");
  const std::string first = create_upload(draft, sealed_photo.size());
  const std::string second = create_upload(draft, sealed_letter.size());
  ASSERT_TRUE(upload(first, sealed_photo, 2));
  const auto id_of = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  const auto body = [&](const std::string& token, const std::string& uploads) {
    return "{\"report\":\"" + base64(sealed_report) + "\",\"draft\":\"" + token +
           "\",\"uploads\":[" + uploads + "]}";
  };
  const std::string both = "\"" + id_of(first) + "\",\"" + id_of(second) + "\"";

  const Reply unfinished = post_json("/api/v1/submissions", body(draft, both));
  EXPECT_EQ(unfinished.status, 409) << unfinished.body;
  ASSERT_TRUE(upload(second, sealed_letter, 1));
  const Reply strange =
      post_json("/api/v1/submissions", body(draft, "\"" + std::string(32, 'a') + "\""));
  EXPECT_EQ(strange.status, 400) << strange.body;
  const Reply other_draft = post_json("/api/v1/submissions", body(new_draft(), both));
  EXPECT_EQ(other_draft.status, 400) << other_draft.body;
  const Reply twice = post_json("/api/v1/submissions", body(draft, both + "," + both));
  EXPECT_EQ(twice.status, 400) << twice.body;
  const Reply no_draft = post_json("/api/v1/submissions",
                                   "{\"report\":\"" + base64(sealed_report) + "\",\"uploads\":[]}");
  EXPECT_EQ(no_draft.status, 400) << no_draft.body;

  const Reply posted = post_json("/api/v1/submissions", body(draft, both));
  ASSERT_EQ(posted.status, 201) << posted.body;
  const std::string id = json_string(posted.body, "id");
  EXPECT_EQ(post_json("/api/v1/submissions", body(draft, both)).status, 400)
      << "a draft is used once";
  EXPECT_EQ(request("HEAD", first, kTus).status, 404) << "linked uploads are no longer uploads";

  stop();
  storage::Database db = open_database();
  auto query = db.prepare(
      "SELECT s.report_blob_id, a.blob_id FROM submissions s JOIN attachments a "
      "ON a.submission_id = s.id WHERE s.public_id = ? ORDER BY a.position;");
  ASSERT_TRUE(query.has_value());
  query->bind(id);
  std::vector<std::string> attachments;
  std::string report;
  while (true) {
    auto row = query->step();
    ASSERT_TRUE(row.has_value());
    if (!*row) break;
    report = read_blob(db, query->integer(0));
    attachments.push_back(read_blob(db, query->integer(1)));
  }
  ASSERT_EQ(attachments.size(), 2u);
  EXPECT_TRUE(same(report, sealed_report));
  EXPECT_TRUE(same(attachments[0], sealed_photo));
  EXPECT_TRUE(same(attachments[1], sealed_letter));
  EXPECT_EQ(count(db, "uploads"), 0);
  EXPECT_EQ(count(db, "drafts"), 1) << "only the other draft is left";

  const fs::path identity = open_identity();
  EXPECT_EQ(decrypt(identity, report, "report"), report_text);
  EXPECT_TRUE(same(decrypt(identity, attachments[0], "photo"), photo));
  EXPECT_EQ(decrypt(identity, attachments[1], "letter"), letter);
}

TEST_F(UploadTest, TusJsClientUploadsAbortsAndResumes) {
  const std::string node = find_tool("node");
  ASSERT_FALSE(node.empty()) << "node must be installed (scripts/setup installs it)";
  const fs::path script = fs::path(TIPLINE_SOURCE_DIR) / "tests/tus/upload.mjs";
  ASSERT_TRUE(fs::exists(fs::path(TIPLINE_SOURCE_DIR) / "web/node_modules/tus-js-client"))
      << "run npm ci in web/ (scripts/setup does)";
  start(true);
  const std::string sealed = seal(random_bytes(3 * kMiB, 9), "interop");
  const fs::path file = dir_.path() / "interop.age";
  const std::vector<std::string> command = {
      node, script.string(), "http://127.0.0.1:" + std::to_string(server_.source_port()),
      new_draft(), file.string()};
  const Outcome uploaded = run(command, seconds(120));
  ASSERT_EQ(uploaded.exit_code, 0) << describe(command, uploaded);
  const std::string url = json_string(uploaded.out, "url");
  ASSERT_TRUE(contains(url, "/api/v1/uploads/")) << uploaded.out;
  EXPECT_GE(json_int(uploaded.out, "accepted"), 1024 * 1024) << "aborted after two PATCHes";
  EXPECT_EQ(json_int(uploaded.out, "resumedFrom"), json_int(uploaded.out, "accepted"))
      << "resumed where the server's HEAD said, not restarted";
  EXPECT_EQ(offset_of(url.substr(url.find("/api/"))), sealed.size());
  EXPECT_FALSE(contains(server_.log(), "witness-photo")) << "metadata is never logged";

  stop();
  storage::Database db = open_database();
  bool complete = false;
  EXPECT_TRUE(same(upload_blob(db, url, &complete), sealed));
  EXPECT_TRUE(complete);
}

}  // namespace
}  // namespace tipline::testing
