// tipline-review against a real tipline-server: a demo instance, a case made with `init`
// and registered with `tipline-server reviewers add`, reports (one with a 9 MiB attachment,
// so blobs come in more than one 8 MiB range) posted through the source API, then every
// command of the reviewer's day, and `show`/`decrypt` again without a network (unshare -n).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <random>

#include "recipient_bundle.h"
#include "support/instance.h"
#include "support/process.h"
#include "support/reviewer_client.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/minisign.h"
#include "tipline/crypto/padding.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
const std::string kReview = TIPLINE_REVIEW_BINARY;

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string pseudo_random(std::size_t size) {
  std::mt19937_64 engine(size);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(engine() & 0xff);
  return bytes;
}

std::string header(const HttpResult& result, std::string_view name) {
  for (const std::string& line : lines_of(result.headers)) {
    if (line.size() > name.size() && strncasecmp(line.c_str(), name.data(), name.size()) == 0 &&
        line[name.size()] == ':') {
      std::string value = line.substr(name.size() + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      return value;
    }
  }
  return {};
}

// The bytes of a hex text.
std::string from_hex(std::string_view hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return bytes;
}

// A 1x1 grey JPEG (JFIF, no metadata), as GdkPixbuf saves it.
const std::string kPlainJpeg = from_hex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a1816"
    "16183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c6567"
    "63ffdb0043011112121815182f1a1a2f63423842636363636363636363636363636363636363636363636363"
    "6363636363636363636363636363636363636363636363636363ffc000110800010001030122000211010311"
    "01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303"
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024"
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566"
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7"
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400"
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407"
    "05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a"
    "162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9"
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100"
    "02110311003f0028a28a00ffd9");

// The JPEG above with an Exif APP1 segment (big-endian TIFF) carrying a GPS position: IFD0
// with one GPSInfo pointer, and a GPS IFD with GPSLatitudeRef "N" and GPSLatitude 52/1
// 22/1 3123/100, i.e. 52 deg 22' 31.23" N.
std::string jpeg_with_gps() {
  const auto u16 = [](unsigned v) { return std::string{char(v >> 8), char(v & 0xff)}; };
  const auto u32 = [&u16](unsigned v) { return u16(v >> 16) + u16(v & 0xffff); };
  std::string tiff = "MM" + u16(42) + u32(8);
  tiff += u16(1) + u16(0x8825) + u16(4) + u32(1) + u32(26) + u32(0);      // IFD0 at 8
  tiff += u16(2) + u16(1) + u16(2) + u32(2) + std::string("N\0\0\0", 4);  // GPS IFD at 26
  tiff += u16(2) + u16(5) + u32(3) + u32(56) + u32(0);
  tiff += u32(52) + u32(1) + u32(22) + u32(1) + u32(3123) + u32(100);  // at 56
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const std::string segment = "\xFF\xE1" + u16(static_cast<unsigned>(payload.size() + 2)) + payload;
  return kPlainJpeg.substr(0, 2) + segment + kPlainJpeg.substr(2);
}

class ReviewE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(server_.init(true));
    ASSERT_NO_FATAL_FAILURE(server_.start("[source]\nport = 0\n[reviewer]\nport = 0\n"));
    const HttpResult keys = https_request(server_.url("/api/v1/keys"), server_.certificate());
    ASSERT_EQ(keys.status, 200) << keys.body;
    auto bundle = review::parse_keys_answer(keys.body, nullptr);
    ASSERT_TRUE(bundle) << bundle.error().message;
    recipients_ = bundle->recipients;
  }

  [[nodiscard]] fs::path demo(const std::string& name) const {
    return server_.path() / "demo-offline-keys" / name;
  }
  [[nodiscard]] std::string reviewer_url() const {
    return "https://localhost:" + std::to_string(server_.reviewer_port());
  }

  Outcome review(const fs::path& case_dir, std::vector<std::string> args,
                 bool offline = false) const {
    std::vector<std::string> argv;
    if (offline) argv = {find_tool("unshare"), "-n"};
    argv.insert(argv.end(), {kReview, "--case", case_dir.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, seconds(120));
  }
  // The decrypting commands' key options for the demo identity.
  [[nodiscard]] std::vector<std::string> keys() const {
    return {"--passphrase-file", demo("reviewer-passphrase.txt").string()};
  }

  // `tipline-review init` for `reviewer`, registered with `role` unless role is empty; the
  // case folder.
  fs::path make_case(const std::string& reviewer, const std::string& role) {
    fs::path case_dir = dir_.path() / ("case-" + reviewer);
    const Outcome made = review(case_dir, {"init", "--server", reviewer_url(), "--reviewer",
                                           reviewer, "--ca-file", server_.certificate().string(),
                                           "--root-key", demo("organisation-root.pub").string(),
                                           "--identity", demo("reviewer.agekey").string()});
    EXPECT_EQ(made.exit_code, 0) << made.err;
    const std::size_t at = made.out.find("--key ");
    EXPECT_NE(at, std::string::npos) << made.out;
    const std::string key = made.out.substr(at + 6, 44);
    if (!role.empty()) {
      const Outcome added = run({kServer, "reviewers", "add", reviewer, "--key", key, "--role",
                                 role, "--config", (server_.path() / "tipline.toml").string()});
      EXPECT_EQ(added.exit_code, 0) << added.err;
    }
    return case_dir;
  }

  // `plaintext` sealed to the demo bundle, padded like a report when `pad`.
  [[nodiscard]] std::string seal(std::string_view plaintext, bool pad) const {
    std::vector<const crypto::age::Recipient*> recipients;
    for (const auto& recipient : recipients_) recipients.push_back(&recipient);
    std::string out;
    auto encryptor = crypto::age::Encryptor::create(recipients, [&out](auto bytes) {
      out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return tl::expected<void, crypto::Error>{};
    });
    EXPECT_TRUE(encryptor);
    const crypto::Secret padded = crypto::padding::pad(bytes_of(plaintext));
    EXPECT_TRUE(encryptor->write(pad ? padded.expose() : bytes_of(plaintext)));
    EXPECT_TRUE(encryptor->finish());
    return out;
  }

  // Posts a report (answers as JSON) with optional attachments uploaded by tus; its id.
  std::string submit(const std::string& answers, const std::vector<std::string>& attachments) {
    const std::string report =
        seal(R"({"format":"tipline-report/1","answers":)" + answers + "}", true);
    std::string body = "{\"report\":\"" + base64(report) + "\"";
    if (!attachments.empty()) {
      const HttpResult draft = https_request(server_.url("/api/v1/drafts"), server_.certificate(),
                                             {"Content-Type: application/json"}, "{}");
      EXPECT_EQ(draft.status, 201) << draft.body;
      const std::string token = json_string(draft.body, "draft");
      std::string uploads;
      for (const std::string& attachment : attachments) {
        const std::string sealed = seal(attachment, false);
        const HttpResult created =
            http_request("POST", server_.url("/api/v1/uploads"), server_.certificate(),
                         {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(sealed.size()),
                          "Upload-Metadata: draft " + base64(token)},
                         "");
        EXPECT_EQ(created.status, 201) << created.body;
        const std::string location = header(created, "Location");
        const HttpResult patched =
            http_request("PATCH", server_.url(location), server_.certificate(),
                         {"Tus-Resumable: 1.0.0", "Upload-Offset: 0",
                          "Content-Type: application/offset+octet-stream"},
                         sealed);
        EXPECT_EQ(patched.status, 204) << patched.body;
        uploads +=
            (uploads.empty() ? "\"" : ",\"") + location.substr(location.rfind('/') + 1) + "\"";
      }
      body += ",\"draft\":\"" + token + "\",\"uploads\":[" + uploads + "]";
    }
    const HttpResult posted =
        https_request(server_.url("/api/v1/submissions"), server_.certificate(),
                      {"Content-Type: application/json"}, body + "}");
    EXPECT_EQ(posted.status, 201) << posted.body;
    return json_string(posted.body, "id");
  }

  // The case's listing as JSON, by id.
  std::map<std::string, json::object> listing(const fs::path& case_dir) const {
    const Outcome listed = review(case_dir, {"list", "--json"});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    std::map<std::string, json::object> by_id;
    const json::value parsed = json::parse(listed.out);
    for (const json::value& entry : parsed.as_array()) {
      by_id[std::string(entry.at("id").as_string())] = entry.as_object();
    }
    return by_id;
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  std::vector<crypto::x25519::Recipient> recipients_;
};

TEST_F(ReviewE2eTest, AReviewersDayFromSyncToDelete) {
  const fs::path alice = make_case("alice", "admin");
  const fs::path bob = make_case("bob", "reviewer");
  const std::string attachment = "%PDF-1.7\n" + pseudo_random((std::size_t{9} << 20) + 4321);
  const std::string first =
      submit(R"({"what_happened":"Men from the consulate visited my mother.","when":"2026-09",)"
             R"("country":"NL","incident_type":["family_harassment"]})",
             {});
  const std::string second =
      submit(R"({"what_happened":"Calls asking me to go back.","country":"DE",)"
             R"("incident_type":["pressure_to_return","online_threats"]})",
             {attachment});
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());

  const Outcome synced = review(alice, {"sync"});
  ASSERT_EQ(synced.exit_code, 0) << synced.err;
  EXPECT_TRUE(contains(synced.out, "2 new")) << synced.out;
  auto entries = listing(alice);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[second].at("attachments").as_array().size(), 1U);
  const Outcome table = review(alice, {"list"});
  EXPECT_TRUE(contains(table.out, first.substr(0, 8))) << table.out;

  // An interrupted download resumes from its .partial file.
  const fs::path sealed = alice / "submissions" / second / "attachment-1.age";
  const std::string whole = read_file(sealed);
  ASSERT_GT(whole.size(), std::size_t{9} << 20);
  fs::remove(sealed);
  write_file(sealed.string() + ".partial", whole.substr(0, std::size_t{5} << 20));
  const Outcome resumed = review(alice, {"sync"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(contains(resumed.out, "1 files (4.")) << resumed.out;
  EXPECT_EQ(read_file(sealed), whole);
  EXPECT_FALSE(fs::exists(sealed.string() + ".partial"));

  // Reading needs the identity and the case folder only.
  // unshare -n needs root (CAP_SYS_ADMIN); the offline pass runs where it can.
  const bool can_unshare = ::geteuid() == 0 && !find_tool("unshare").empty() &&
                           run({find_tool("unshare"), "-n", "true"}).exit_code == 0;
  if (!can_unshare) std::cerr << "unshare -n is not available: reading offline is not tested\n";
  std::vector<bool> passes = {false};
  if (can_unshare) passes.push_back(true);
  for (const bool offline : passes) {
    std::vector<std::string> show = {"show", first.substr(0, 6)};
    for (const auto& arg : keys()) show.push_back(arg);
    const Outcome shown = review(alice, show, offline);
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_TRUE(contains(shown.out, "Men from the consulate visited my mother.")) << shown.out;
    EXPECT_TRUE(contains(shown.out, "Harassment of family members")) << shown.out;

    const fs::path out = dir_.path() / (offline ? "plain-offline" : "plain");
    std::vector<std::string> decrypt = {"decrypt", second.substr(0, 8), "--out", out.string()};
    for (const auto& arg : keys()) decrypt.push_back(arg);
    const Outcome decrypted = review(alice, decrypt, offline);
    ASSERT_EQ(decrypted.exit_code, 0) << decrypted.err;
    EXPECT_EQ(read_file(out / "attachment-1.pdf"), attachment);
    EXPECT_TRUE(contains(read_file(out / "report.json"), "Calls asking me to go back."));
    EXPECT_EQ(mode_of(out / "report.json"), 0600U);
    // A second run refuses to overwrite anything.
    EXPECT_EQ(review(alice, decrypt, offline).exit_code, 1);

    // search decrypts every report and finds the one that mentions the consulate.
    std::vector<std::string> search = {"search", "CONSULATE", "--json"};
    for (const auto& arg : keys()) search.push_back(arg);
    const Outcome found = review(alice, search, offline);
    ASSERT_EQ(found.exit_code, 0) << found.err;
    const json::value hits = json::parse(found.out);
    ASSERT_TRUE(hits.is_array()) << found.out;
    ASSERT_EQ(hits.as_array().size(), 1U) << found.out;
    EXPECT_TRUE(contains(json::serialize(hits), first)) << found.out;
  }

  // Triage, shared through the server.
  EXPECT_EQ(review(alice, {"status", first.substr(0, 8), "in_review"}).exit_code, 0);
  EXPECT_EQ(review(alice, {"label", first.substr(0, 8), "urgent", "family"}).exit_code, 0);
  EXPECT_EQ(review(alice, {"label", first.substr(0, 8), "family", "--remove"}).exit_code, 0);
  EXPECT_EQ(review(alice, {"assign", first.substr(0, 8), "bob"}).exit_code, 0);
  const Outcome noted = review(alice, {"note", first.substr(0, 8), "Spoke to the mother."});
  ASSERT_EQ(noted.exit_code, 0) << noted.err;
  const Outcome unknown_assignee = review(alice, {"assign", first.substr(0, 8), "nobody"});
  EXPECT_NE(unknown_assignee.exit_code, 0);

  const Outcome bob_synced = review(bob, {"sync"});
  ASSERT_EQ(bob_synced.exit_code, 0) << bob_synced.err;
  entries = listing(bob);
  const json::object& triaged = entries[first];
  EXPECT_EQ(triaged.at("status"), "in_review");
  EXPECT_EQ(triaged.at("assignee"), "bob");
  EXPECT_EQ(json::serialize(triaged.at("labels")), R"(["urgent"])");
  ASSERT_EQ(triaged.at("notes").as_array().size(), 1U);
  std::vector<std::string> show = {"show", first.substr(0, 8)};
  for (const auto& arg : keys()) show.push_back(arg);
  const Outcome bob_shown = review(bob, show);
  EXPECT_TRUE(contains(bob_shown.out, "Spoke to the mother.")) << bob_shown.out << bob_shown.err;
  EXPECT_TRUE(contains(bob_shown.out, "alice")) << bob_shown.out;

  // Admin only: the audit log.
  const Outcome audit = review(alice, {"audit", "--json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_TRUE(contains(audit.out, "\"action\":\"status\"")) << audit.out;
  EXPECT_TRUE(contains(audit.out, "\"action\":\"note\"")) << audit.out;
  const Outcome refused = review(bob, {"audit"});
  EXPECT_EQ(refused.exit_code, 23) << refused.err;

  // Export and counts.
  std::vector<std::string> exported = {"export", "--format", "csv", "--out",
                                       (dir_.path() / "export.csv").string()};
  for (const auto& arg : keys()) exported.push_back(arg);
  ASSERT_EQ(review(alice, exported).exit_code, 0);
  const std::string csv = read_file(dir_.path() / "export.csv");
  EXPECT_TRUE(contains(csv, first)) << csv;
  EXPECT_TRUE(contains(csv, "pressure_to_return; online_threats")) << csv;
  std::vector<std::string> report = {"report", "--csv", (dir_.path() / "counts.csv").string(),
                                     "--html", (dir_.path() / "counts.html").string()};
  for (const auto& arg : keys()) report.push_back(arg);
  ASSERT_EQ(review(alice, report).exit_code, 0);
  EXPECT_TRUE(contains(read_file(dir_.path() / "counts.csv"), "country,NL,1"));
  EXPECT_TRUE(contains(read_file(dir_.path() / "counts.html"), "<svg"));

  // Deleting reaches every reviewer's next sync.
  const Outcome deleted = review(alice, {"delete", second.substr(0, 8), "--yes"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_FALSE(listing(alice).contains(second));
  ASSERT_EQ(review(bob, {"sync"}).exit_code, 0);
  EXPECT_FALSE(listing(bob).contains(second));
  EXPECT_FALSE(fs::exists(bob / "submissions" / second));
  EXPECT_EQ(review(bob, {"status", second.substr(0, 8), "closed"}).exit_code, 4);
}

// `decrypt --clean`: the original attachment byte for byte, and beside it mat2's copy
// without the Exif segment and its GPS position.
TEST_F(ReviewE2eTest, DecryptCleanStripsGpsFromAJpeg) {
  if (find_tool("mat2").empty()) GTEST_SKIP() << "mat2 is not installed (Debian package mat2)";
  const std::string photo = jpeg_with_gps();
  const std::string gps_bytes = std::string("\0\0\x0C\x33\0\0\0\x64", 8);  // 3123/100
  ASSERT_TRUE(contains(photo, gps_bytes));
  const fs::path alice = make_case("alice", "reviewer");
  const std::string id =
      submit(R"({"what_happened":"A photo of the car.","country":"NL"})", {photo});
  ASSERT_FALSE(id.empty());
  const Outcome synced = review(alice, {"sync"});
  ASSERT_EQ(synced.exit_code, 0) << synced.err;

  const fs::path out = dir_.path() / "photo";
  std::vector<std::string> decrypt = {"decrypt", id.substr(0, 8), "--out", out.string(), "--clean"};
  for (const auto& arg : keys()) decrypt.push_back(arg);
  const Outcome decrypted = review(alice, decrypt);
  ASSERT_EQ(decrypted.exit_code, 0) << decrypted.out << decrypted.err;
  EXPECT_EQ(read_file(out / "attachment-1.jpg"), photo);
  ASSERT_TRUE(fs::exists(out / "attachment-1.cleaned.jpg")) << decrypted.out << decrypted.err;
  const std::string cleaned = read_file(out / "attachment-1.cleaned.jpg");
  EXPECT_TRUE(cleaned.starts_with("\xFF\xD8\xFF")) << "still a JPEG";
  EXPECT_FALSE(contains(cleaned, "Exif")) << "the Exif segment is still there";
  EXPECT_FALSE(contains(cleaned, gps_bytes)) << "the GPS latitude is still there";
  EXPECT_TRUE(contains(decrypted.out, "(metadata removed by mat2)")) << decrypted.out;
}

TEST_F(ReviewE2eTest, RefusesABundleNotSignedByTheRootKey) {
  const fs::path alice = make_case("alice", "reviewer");
  const auto other = crypto::minisign::SecretKey::generate();
  fs::remove(alice / "root.pub");
  write_file(alice / "root.pub", other.public_key().to_file_text());
  const Outcome synced = review(alice, {"sync"});
  EXPECT_EQ(synced.exit_code, 25) << synced.err;
  EXPECT_TRUE(contains(synced.err, "NOT SIGNED BY THE ORGANISATION ROOT KEY")) << synced.err;
  EXPECT_FALSE(fs::exists(alice / "bundle.json"));
}

TEST_F(ReviewE2eTest, NamesTheReasonForARefusedSignature) {
  const fs::path mallory = make_case("mallory", "");
  const Outcome synced = review(mallory, {"sync"});
  EXPECT_EQ(synced.exit_code, 22) << synced.err;
  EXPECT_TRUE(contains(synced.err, "the server refused the request signature: unknown reviewer"))
      << synced.err;
  EXPECT_TRUE(contains(synced.err, "tipline-server reviewers add mallory --key")) << synced.err;
}

}  // namespace
}  // namespace tipline::testing
