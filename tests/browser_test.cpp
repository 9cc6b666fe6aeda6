// Real browsers against the real tipline-server: Debian's Chromium, headless, driven by
// playwright-core (tests/browser/driver.mjs) over TLS on loopback. A report with three files
// sent with JavaScript off and through the JavaScript layer, what was stored opened with the
// stock age CLI and compared with what was sent; no request leaves the server's origin and
// no CSP violation; Uyghur pages right to left; axe-core on every page, with screenshots in
// <build>/artifacts/browser.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "support/instance.h"
#include "support/process.h"

// Boost.JSON's compiled part, in this test alone (the server and tipline-review each have
// their own).
#include <boost/json/src.hpp>

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
const fs::path kSource = TIPLINE_SOURCE_DIR;
const fs::path kArtifacts = TIPLINE_BROWSER_ARTIFACTS;
const std::string kChromium = "/usr/bin/chromium";
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr int kSkipped = 77;  // the driver's exit status when the server lacks a feature yet

// Byte-for-byte equality that reports sizes rather than dumping binary.
::testing::AssertionResult same(const std::string& opened, const std::string& sent) {
  if (opened == sent) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "opened " << opened.size() << " bytes differ from the " << sent.size() << " bytes sent";
}

// `size` random bytes, written to `file` and returned.
std::string write_random_file(const fs::path& file, std::size_t size, unsigned seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (std::size_t at = 0; at < size; at += 8) {
    const std::uint64_t word = random();
    for (std::size_t i = 0; i < 8 && at + i < size; ++i) {
      bytes[at + i] = static_cast<char>(word >> (8 * i));
    }
  }
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out.good()) << file;
  return bytes;
}

// --- A small JPEG that tells where it was taken --------------------------------------------

void put16(std::string& out, unsigned value) {
  out += static_cast<char>((value >> 8) & 0xff);
  out += static_cast<char>(value & 0xff);
}
void put32(std::string& out, std::uint32_t value) {
  put16(out, value >> 16);
  put16(out, value & 0xffff);
}

// A TIFF IFD entry (big-endian): tag, type, count and the value or its offset.
void entry(std::string& out, unsigned tag, unsigned type, std::uint32_t count,
           std::uint32_t value_or_offset) {
  put16(out, tag);
  put16(out, type);
  put32(out, count);
  put32(out, value_or_offset);
}

// The GPS IFD pointer entry of IFD0 (tag 0x8825, LONG, 1) as it sits in the file, and the
// latitude 43°47'36" N as three RATIONALs: neither may survive cleaning.
const std::string kGpsPointer("\x88\x25\x00\x04\x00\x00\x00\x01", 8);
std::string latitude_rationals() {
  std::string bytes;
  for (const std::uint32_t value : {43u, 1u, 47u, 1u, 3600u, 100u}) put32(bytes, value);
  return bytes;
}

// The APP1 Exif segment: IFD0 with the camera's make and a GPS IFD with the latitude and
// longitude of Ürümqi.
std::string exif_segment() {
  constexpr unsigned kByte = 1;
  constexpr unsigned kAscii = 2;
  constexpr unsigned kLong = 4;
  constexpr unsigned kRational = 5;
  std::string tiff = "MM";
  put16(tiff, 42);
  put32(tiff, 8);                                      // IFD0 follows the header
  constexpr std::uint32_t kMake = 8 + 2 + 2 * 12 + 4;  // after IFD0
  constexpr std::uint32_t kGps = kMake + 8;            // after "Tipline\0"
  constexpr std::uint32_t kLatitude = kGps + 2 + 5 * 12 + 4;
  constexpr std::uint32_t kLongitude = kLatitude + 24;
  put16(tiff, 2);
  entry(tiff, 0x010f, kAscii, 8, kMake);  // Make
  entry(tiff, 0x8825, kLong, 1, kGps);    // GPSInfo
  put32(tiff, 0);
  tiff += std::string("Tipline\0", 8);
  put16(tiff, 5);
  entry(tiff, 0x0000, kByte, 4, 0x02020000);   // GPSVersionID 2.2.0.0
  entry(tiff, 0x0001, kAscii, 2, 0x4e000000);  // GPSLatitudeRef "N"
  entry(tiff, 0x0002, kRational, 3, kLatitude);
  entry(tiff, 0x0003, kAscii, 2, 0x45000000);  // GPSLongitudeRef "E"
  entry(tiff, 0x0004, kRational, 3, kLongitude);
  put32(tiff, 0);
  tiff += latitude_rationals();
  for (const std::uint32_t value : {87u, 1u, 36u, 1u, 1200u, 100u}) put32(tiff, value);
  std::string segment("\xff\xe1");
  put16(segment, static_cast<unsigned>(2 + 6 + tiff.size()));
  return segment + std::string("Exif\0\0", 6) + tiff;
}

// Entropy-coded bits, with 0xFF bytes stuffed and the last byte padded with ones.
class BitWriter {
 public:
  void put(std::uint32_t bits, unsigned count) {
    for (unsigned i = count; i-- > 0;) {
      byte_ = static_cast<std::uint8_t>(byte_ << 1 | ((bits >> i) & 1));
      if (++filled_ == 8) flush();
    }
  }
  std::string finish() {
    while (filled_ != 0) put(1, 1);
    return out_;
  }

 private:
  void flush() {
    out_ += static_cast<char>(byte_);
    if (byte_ == 0xff) out_ += '\0';
    byte_ = 0;
    filled_ = 0;
  }
  std::string out_;
  std::uint8_t byte_ = 0;
  unsigned filled_ = 0;
};

// A valid baseline JPEG, 16×16 grey in four shades, its APP1 Exif holding a GPS position.
// Built by hand: the standard DC Huffman table (ITU T.81 K.3) and an AC table that only
// needs end-of-block.
std::string jpeg_with_location() {
  std::string jpeg("\xff\xd8", 2);
  jpeg += std::string("\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 18);
  jpeg += exif_segment();
  jpeg += std::string("\xff\xdb\x00\x43\x00", 5) + std::string(64, '\x01');         // DQT, all 1
  jpeg += std::string("\xff\xc0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00", 13);  // SOF0
  const std::string dc_counts("\x00\x01\x05\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00",
                              16);
  jpeg += std::string("\xff\xc4\x00\x1f\x00", 5) + dc_counts +
          std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", 12);
  const std::string ac_counts("\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                              16);
  jpeg += std::string("\xff\xc4\x00\x15\x10", 5) + ac_counts + std::string("\x00\x01", 2);
  jpeg += std::string("\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", 10);  // SOS
  // The standard DC codes of categories 8 and 9, then the difference's low bits (negative
  // differences minus one); the AC table's code for end-of-block is a single 0.
  BitWriter bits;
  int previous = 0;
  for (const int dc : {-256, 0, 256, 128}) {
    const int difference = dc - previous;
    previous = dc;
    const unsigned magnitude = static_cast<unsigned>(difference < 0 ? -difference : difference);
    const unsigned category = magnitude >= 256 ? 9 : 8;
    bits.put(category == 9 ? 0b1111110 : 0b111110, category == 9 ? 7 : 6);
    bits.put(static_cast<std::uint32_t>(difference < 0 ? difference - 1 : difference) &
                 ((1u << category) - 1),
             category);
    bits.put(0, 1);
  }
  return jpeg + bits.finish() + std::string("\xff\xd9", 2);
}

struct Segment {
  unsigned marker = 0;
  std::string bytes;  // the marker, its length and its payload
};

// The marker segments before the first scan; `scan` gets the rest, from SOS to the end.
std::vector<Segment> jpeg_segments(const std::string& jpeg, std::string* scan) {
  std::vector<Segment> segments;
  std::size_t at = 2;
  while (at + 4 <= jpeg.size() && static_cast<unsigned char>(jpeg[at]) == 0xff) {
    const unsigned marker = static_cast<unsigned char>(jpeg[at + 1]);
    if (marker == 0xda) {
      *scan = jpeg.substr(at);
      return segments;
    }
    const std::size_t length = static_cast<std::size_t>(static_cast<unsigned char>(jpeg[at + 2]))
                                   << 8 |
                               static_cast<unsigned char>(jpeg[at + 3]);
    segments.push_back({marker, jpeg.substr(at, 2 + length)});
    at += 2 + length;
  }
  scan->clear();
  return segments;
}

// The segments that make the picture: all but APPn (0xE0-0xEF) and COM (0xFE).
bool image_segment(unsigned marker) { return (marker < 0xe0 || marker > 0xef) && marker != 0xfe; }

// `cleaned` is `original` without its Exif: a JPEG with no APP1 segment and no trace of the
// GPS data, that keeps every image segment of the original (tables, frame header) and
// whose scan, SOS to EOI, is the original's byte for byte.
::testing::AssertionResult cleaned_of(const std::string& cleaned, const std::string& original) {
  if (!cleaned.starts_with("\xff\xd8") || !cleaned.ends_with("\xff\xd9")) {
    return ::testing::AssertionFailure() << "no SOI ... EOI: not a JPEG";
  }
  for (const std::string& trace : {std::string("Exif\0\0", 6), kGpsPointer, latitude_rationals()}) {
    if (contains(cleaned, trace)) {
      return ::testing::AssertionFailure() << "the Exif GPS data is still there";
    }
  }
  std::string cleaned_scan;
  std::string original_scan;
  const auto kept = jpeg_segments(cleaned, &cleaned_scan);
  std::vector<Segment> expected;
  for (Segment& segment : jpeg_segments(original, &original_scan)) {
    if (image_segment(segment.marker)) expected.push_back(std::move(segment));
  }
  if (cleaned_scan != original_scan) {
    return ::testing::AssertionFailure() << "the image data from SOS to EOI changed";
  }
  for (const Segment& segment : kept) {
    if (segment.marker == 0xe1) return ::testing::AssertionFailure() << "an APP1 segment is left";
  }
  for (const Segment& segment : expected) {
    if (std::none_of(kept.begin(), kept.end(),
                     [&](const Segment& k) { return k.bytes == segment.bytes; })) {
      return ::testing::AssertionFailure()
             << "segment 0xff" << std::hex << segment.marker << " is missing or changed";
    }
  }
  return ::testing::AssertionSuccess();
}

// The report document in a padded plaintext (m || 0x80 || zeros), parsed.
json::value report_document(const std::string& padded) {
  const std::size_t end = padded.find_last_not_of('\0');
  EXPECT_TRUE(end != std::string::npos && static_cast<unsigned char>(padded[end]) == 0x80)
      << "not padded";
  if (end == std::string::npos) return {};
  boost::system::error_code error;
  json::value document = json::parse(padded.substr(0, end), error);
  EXPECT_FALSE(error) << padded.substr(0, end);
  return document;
}

class BrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(find_tool("node").empty()) << "node must be installed (scripts/setup)";
    ASSERT_TRUE(fs::exists(kChromium)) << kChromium << " must be installed (scripts/setup)";
    ASSERT_TRUE(fs::exists(kSource / "web/node_modules/playwright-core") &&
                fs::exists(kSource / "web/node_modules/axe-core"))
        << "run npm ci in web/ (scripts/setup does)";
    ASSERT_FALSE(find_tool("age").empty() || find_tool("script").empty())
        << "age and util-linux script must be installed";
    ASSERT_NO_FATAL_FAILURE(server_.init(true));
    ASSERT_NO_FATAL_FAILURE(server_.start("[source]\nport = 0\n[reviewer]\nport = 0\n"));
  }

  // The origin the browser opens; an address, not "localhost", so that it never tries ::1.
  std::string origin() const {
    return "https://127.0.0.1:" + std::to_string(server_.source_port());
  }

  // Runs tests/browser/driver.mjs; its own deadline comes first, so that it closes Chromium.
  Outcome drive(const std::string& scenario, const std::vector<fs::path>& files, seconds deadline) {
    std::vector<std::string> command = {find_tool("node"),
                                        (kSource / "tests/browser/driver.mjs").string(),
                                        scenario,
                                        "--base",
                                        origin(),
                                        "--artifacts",
                                        kArtifacts.string(),
                                        "--deadline",
                                        std::to_string(deadline.count())};
    for (const fs::path& file : files) command.push_back(file.string());
    const auto started = std::chrono::steady_clock::now();
    Outcome outcome = run(command, deadline + seconds(60));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    std::printf("[ timing ] browser scenario %s: %.1f s\n", scenario.c_str(), took.count());
    for (const std::string& line : lines_of(outcome.out)) {
      if (line.starts_with("note: ")) std::printf("[   note ] %s\n", line.c_str() + 6);
    }
    last_command_ = describe(command, outcome);
    return outcome;
  }

  // The driver's RESULT line, parsed; a failure (and null) when it has none.
  json::object result_of(const Outcome& outcome) {
    for (const std::string& line : lines_of(outcome.out)) {
      if (!line.starts_with("RESULT ")) continue;
      boost::system::error_code error;
      json::value parsed = json::parse(line.substr(7), error);
      if (!error && parsed.is_object()) return parsed.as_object();
    }
    ADD_FAILURE() << "no RESULT line: " << last_command_;
    return {};
  }

  // The driver's reason when it skipped the scenario, else nullopt.
  static std::optional<std::string> skipped(const Outcome& outcome) {
    if (outcome.exit_code == kSkipped) return outcome.out;
    return std::nullopt;
  }

  // Chromium decodes the file as an image of that size.
  void expect_decodes(const fs::path& file, std::int64_t width, std::int64_t height) {
    const Outcome decoded = drive("decode", {file}, seconds(60));
    ASSERT_EQ(decoded.exit_code, 0) << last_command_;
    const json::object size = result_of(decoded);
    EXPECT_EQ(size.contains("width") ? size.at("width").as_int64() : 0, width) << last_command_;
    EXPECT_EQ(size.contains("height") ? size.at("height").as_int64() : 0, height) << last_command_;
  }

  // The three files of a report: a short note, a photo with its position, 100 MB of noise.
  void make_files() {
    note_ = write_file_of(dir_.path() / "note.txt", "Notes from the meeting at the embassy.\n");
    photo_ = write_file_of(dir_.path() / "photo-with-location.jpg", jpeg_with_location());
    recording_bytes_ = write_random_file(recording_, 100 * kMiB, 42);
  }
  fs::path write_file_of(const fs::path& file, const std::string& bytes) {
    write_file(file, bytes);
    return file;
  }

  // With the server stopped: the one submission's report and attachments, opened with the
  // stock age CLI and the demo reviewer's identity (its passphrase removed by age first).
  void open_submission(std::string* report, std::vector<std::string>* attachments) {
    server_.stop(seconds(30));
    storage::Database db = server_.open_database();
    const auto reports = ids(db, "SELECT report_blob_id FROM submissions");
    ASSERT_EQ(reports.size(), 1u) << "one submission";
    const auto files = ids(db, "SELECT blob_id FROM attachments ORDER BY position");
    const fs::path identity = dir_.path() / "reviewer.identity";
    age_with_demo_passphrase(server_.path(),
                             {"-d", "-o", identity.string(),
                              (server_.path() / "demo-offline-keys/reviewer.agekey").string()});
    *report = open_blob(db, reports[0], identity, "report");
    for (std::size_t i = 0; i < files.size(); ++i) {
      attachments->push_back(open_blob(db, files[i], identity, "attachment-" + std::to_string(i)));
    }
  }

  static std::vector<storage::BlobId> ids(storage::Database& db, const std::string& sql) {
    auto query = db.prepare(sql);
    EXPECT_TRUE(query.has_value());
    std::vector<storage::BlobId> found;
    while (query) {
      auto row = query->step();
      EXPECT_TRUE(row.has_value());
      if (!row || !*row) break;
      found.push_back(query->integer(0));
    }
    return found;
  }

  // The blob opened by the stock age CLI with the plain identity file.
  std::string open_blob(storage::Database& db, storage::BlobId blob, const fs::path& identity,
                        const std::string& name) {
    const fs::path sealed = dir_.path() / (name + ".age");
    const fs::path opened = dir_.path() / (name + ".opened");
    write_file(sealed, read_blob(db, blob));
    const std::vector<std::string> command = {
        find_tool("age"), "-d", "-i", identity.string(), "-o", opened.string(), sealed.string()};
    const Outcome outcome = run(command, seconds(120));
    EXPECT_EQ(outcome.exit_code, 0) << describe(command, outcome);
    std::string bytes = read_file(opened);
    fs::remove(sealed);
    fs::remove(opened);
    return bytes;
  }

  // The document holds exactly the answers the driver gave.
  static void expect_answers(const json::value& document, const json::object& result) {
    ASSERT_TRUE(document.is_object()) << document;
    EXPECT_EQ(document.as_object().contains("format") ? document.at("format") : json::value(),
              json::value("tipline-report/1"))
        << document;
    ASSERT_TRUE(result.contains("answers")) << json::serialize(result);
    EXPECT_EQ(document.as_object().contains("answers") ? document.at("answers") : json::value(),
              result.at("answers"))
        << "stored: " << document << "\ntyped: " << result.at("answers");
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
  std::string last_command_;
  fs::path note_;
  fs::path photo_;
  fs::path recording_ = dir_.path() / "recording-100mb.bin";
  std::string recording_bytes_;
};

// Requirement: with JavaScript off, a form with three files (one of 100 MB) reaches the
// codename page and the submitted page, and reviewers open exactly what was sent.
TEST_F(BrowserTest, WithoutJavaScriptTheReportAndItsFilesReachTheReviewersIntact) {
  make_files();
  expect_decodes(photo_, 16, 16);
  const Outcome driven = drive("nojs", {note_, photo_, recording_}, seconds(420));
  ASSERT_EQ(driven.exit_code, 0) << last_command_;
  const json::object result = result_of(driven);
  if (result.contains("seconds")) {
    std::printf("[ timing ] no-JavaScript POST /report with 100 MiB of files: %.1f s\n",
                result.at("seconds").to_number<double>());
  }

  std::string report;
  std::vector<std::string> attachments;
  ASSERT_NO_FATAL_FAILURE(open_submission(&report, &attachments));
  expect_answers(report_document(report), result);
  ASSERT_EQ(attachments.size(), 3u);
  EXPECT_TRUE(same(attachments[0], read_file(note_)));
  // The server seals files as they come: it does not clean photos.
  EXPECT_TRUE(same(attachments[1], read_file(photo_)));
  EXPECT_TRUE(same(attachments[2], recording_bytes_));
}

// Requirement: with JavaScript on, the browser encrypts and uploads (tus); the 100 MB upload
// survives the network going away and a pause, and the photo loses its position but not a
// pixel. Skipped while the JavaScript layer is not there.
TEST_F(BrowserTest, WithJavaScriptUploadsSurviveAnOutageAndPhotosLoseTheirLocation) {
  make_files();
  const Outcome driven = drive("js", {note_, photo_, recording_}, seconds(420));
  if (const auto reason = skipped(driven)) GTEST_SKIP() << *reason;
  ASSERT_EQ(driven.exit_code, 0) << last_command_;
  const json::object result = result_of(driven);
  std::printf(
      "[ result ] %s\n",
      json::serialize(result.contains("upload") ? result.at("upload") : json::value()).c_str());

  std::string report;
  std::vector<std::string> attachments;
  ASSERT_NO_FATAL_FAILURE(open_submission(&report, &attachments));
  expect_answers(report_document(report), result);
  ASSERT_EQ(attachments.size(), 3u);
  EXPECT_TRUE(same(attachments[0], read_file(note_)));
  EXPECT_TRUE(cleaned_of(attachments[1], read_file(photo_)));
  EXPECT_TRUE(same(attachments[2], recording_bytes_));
  const fs::path cleaned = dir_.path() / "cleaned.jpg";
  write_file(cleaned, attachments[1]);
  expect_decodes(cleaned, 16, 16);
}

// Requirement: a browser that lacks what the JavaScript layer needs falls back to the
// no-JavaScript path and says so; the report still goes through.
TEST_F(BrowserTest, ABrowserThatCannotEncryptKeepsTheNoJavaScriptFormAndSaysSo) {
  const Outcome driven = drive("fallback", {}, seconds(180));
  EXPECT_EQ(driven.exit_code, 0) << last_command_;
}

// Requirement: ?lang=ug gives Uyghur, right to left. Skipped while ?lang= is ignored.
TEST_F(BrowserTest, UyghurPagesAreRightToLeft) {
  const Outcome driven = drive("rtl", {}, seconds(120));
  if (const auto reason = skipped(driven)) GTEST_SKIP() << *reason;
  EXPECT_EQ(driven.exit_code, 0) << last_command_;
}

// Requirement: no serious or critical axe-core violation on any page, in English and in
// Uyghur; screenshots of each for people to look at.
TEST_F(BrowserTest, EveryPagePassesAxeInEnglishAndUyghur) {
  const Outcome driven = drive("pages", {}, seconds(300));
  std::printf("[ artifacts ] screenshots in %s\n", kArtifacts.c_str());
  EXPECT_EQ(driven.exit_code, 0) << last_command_;
}

}  // namespace
}  // namespace tipline::testing
