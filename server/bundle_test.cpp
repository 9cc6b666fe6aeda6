// Recipient bundles: verification, every malformation refused with its message, and the
// install rules (newer versions only, never an expired bundle).
#include "bundle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"
#include "tipline/crypto/secret.h"
#include "tipline/storage/database.h"
#include "tipline/storage/store.h"

namespace tipline::server::bundle {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;

constexpr sys_days kIssued = sys_days(2026y / 11 / 29);
constexpr sys_days kExpires = sys_days(2027y / 5 / 29);

std::int64_t seconds_at(sys_days day) {
  return std::chrono::duration_cast<std::chrono::seconds>(day.time_since_epoch()).count();
}

class BundleTest : public ::testing::Test {
 protected:
  BundleTest() {
    for (const char* id : {"reviewer-a-2026-11", "reviewer.b_2"}) {
      recipients_.push_back({id, crypto::x25519::Identity::generate().recipient()});
    }
  }

  [[nodiscard]] Signed make(std::int64_t version, sys_days issued = kIssued,
                            sys_days expires = kExpires) const {
    return sign(version, issued, expires, recipients_, root_);
  }

  // `bytes` signed by the root key with this trusted comment.
  [[nodiscard]] std::string signature_of(const std::string& bytes,
                                         const std::string& comment) const {
    return root_.sign({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, comment)
        .to_file_text();
  }

  // A bundle of version 7 around `recipients` (JSON), with the other fields replaceable.
  [[nodiscard]] static std::string json(const std::string& recipients,
                                        const std::string& fields =
                                            R"("format":"tipline-bundle/1","version":7,)"
                                            R"("issued":"2026-11-29","expires":"2027-05-29")") {
    return "{" + fields + R"(,"recipients":)" + recipients + "}";
  }

  [[nodiscard]] std::string recipient_json(std::size_t index, const std::string& id) const {
    return R"({"id":")" + id + R"(","age":")" + recipients_[index].age.to_string() + R"("})";
  }

  // Verifies `bytes` signed with the right comment for version 7 and expects a refusal.
  void expect_malformed(const std::string& bytes, const std::string& message) const {
    const auto parsed = parse_and_verify(bytes, signature_of(bytes, "tipline-bundle version 7"),
                                         root_.public_key());
    ASSERT_FALSE(parsed) << bytes;
    EXPECT_EQ(parsed.error().code, Errc::malformed) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(message), std::string::npos)
        << "expected \"" << message << "\" in: " << parsed.error().message;
  }

  static void expect_error(const tl::expected<Bundle, Error>& parsed, Errc code,
                           const std::string& message) {
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, code) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(message), std::string::npos)
        << "expected \"" << message << "\" in: " << parsed.error().message;
  }

  crypto::minisign::SecretKey root_ = crypto::minisign::SecretKey::generate();
  std::vector<Recipient> recipients_;
};

TEST_F(BundleTest, AcceptsASignedBundle) {
  const Signed made = make(7);
  EXPECT_EQ(made.bytes.back(), '\n');
  EXPECT_NE(made.signature_text.find("trusted comment: tipline-bundle version 7\n"),
            std::string::npos)
      << made.signature_text;
  const auto bundle = parse_and_verify(made.bytes, made.signature_text, root_.public_key());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->version, 7);
  EXPECT_EQ(bundle->issued, kIssued);
  EXPECT_EQ(bundle->expires, kExpires);
  ASSERT_EQ(bundle->recipients.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(bundle->recipients[i].id, recipients_[i].id);
    EXPECT_EQ(bundle->recipients[i].age.bytes(), recipients_[i].age.bytes());
  }
  EXPECT_EQ(bundle->bytes, made.bytes);
  EXPECT_EQ(bundle->signature_text, made.signature_text);
  const auto sealing = age_recipients(*bundle);
  ASSERT_EQ(sealing.size(), 2u);
  EXPECT_EQ(sealing[1], &bundle->recipients[1].age);
}

TEST_F(BundleTest, WritesTheContractFormat) {
  const Signed made = make(7);
  EXPECT_EQ(made.bytes, R"({"format":"tipline-bundle/1","version":7,"issued":"2026-11-29",)"
                        R"("expires":"2027-05-29","recipients":[{"id":"reviewer-a-2026-11",)"
                        R"("age":")" +
                            recipients_[0].age.to_string() + R"("},{"id":"reviewer.b_2","age":")" +
                            recipients_[1].age.to_string() + "\"}]}\n");
  EXPECT_EQ(trusted_comment(12), "tipline-bundle version 12");
}

TEST_F(BundleTest, AcceptsPrettyPrintedJson) {
  const std::string bytes =
      "{\n  \"format\": \"tipline-bundle/1\",\n  \"version\": 7,\n"
      "  \"issued\": \"2026-11-29\",\n  \"expires\": \"2027-05-29\",\n"
      "  \"recipients\": [\n    " +
      recipient_json(0, "a") + "\n  ]\n}\n";
  const auto bundle =
      parse_and_verify(bytes, signature_of(bytes, "tipline-bundle version 7"), root_.public_key());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->recipients.at(0).id, "a");
}

TEST_F(BundleTest, RefusesBadSignatures) {
  const Signed made = make(7);
  expect_error(parse_and_verify(made.bytes, "not a signature", root_.public_key()), Errc::signature,
               "not a minisign signature file");

  const auto other = crypto::minisign::SecretKey::generate();
  expect_error(parse_and_verify(made.bytes, made.signature_text, other.public_key()),
               Errc::signature, "not by the organisation root key");

  std::string altered = made.bytes;
  altered[altered.find("2027")] = '3';
  expect_error(parse_and_verify(altered, made.signature_text, root_.public_key()), Errc::signature,
               "the signature does not match the bundle");

  std::string comment = made.signature_text;
  comment.replace(comment.find("version 7"), 9, "version 8");
  expect_error(parse_and_verify(made.bytes, comment, root_.public_key()), Errc::signature,
               "trusted comment was altered");
}

TEST_F(BundleTest, RefusesATrustedCommentNamingAnotherVersion) {
  const Signed made = make(7);
  expect_error(parse_and_verify(made.bytes, signature_of(made.bytes, "tipline-bundle version 6"),
                                root_.public_key()),
               Errc::signature,
               "trusted comment is \"tipline-bundle version 6\", but a bundle of version 7 is "
               "signed with \"tipline-bundle version 7\"");
  expect_error(parse_and_verify(made.bytes, signature_of(made.bytes, "tipline-bundle version 7 "),
                                root_.public_key()),
               Errc::signature, "trusted comment is");
}

TEST_F(BundleTest, RefusesWhatIsNotABundle) {
  expect_malformed("[1,2]", "not a JSON object");
  expect_malformed("{\"format\":", "not JSON");
  expect_malformed(json("[" + recipient_json(0, "a") + "]") + "x", "not JSON");
  const std::string huge(kMaxBytes + 1, ' ');
  expect_error(parse_and_verify(huge, "", root_.public_key()), Errc::malformed,
               "larger than 65536 bytes");
}

TEST_F(BundleTest, RefusesUnknownAndMissingKeys) {
  const std::string one = "[" + recipient_json(0, "a") + "]";
  expect_malformed(json(one, R"("format":"tipline-bundle/1","version":7,"issued":"2026-11-29",)"
                             R"("expires":"2027-05-29","comment":"hi")"),
                   "the bundle has the unknown key \"comment\"");
  expect_malformed(json(one, R"("format":"tipline-bundle/1","version":7,"issued":"2026-11-29")"),
                   "the bundle lacks the key \"expires\"");
  expect_malformed(
      json(R"([{"id":"a","age":")" + recipients_[0].age.to_string() + R"(","role":"admin"}])"),
      "recipient 1 has the unknown key \"role\"");
  expect_malformed(json(R"([{"id":"a"}])"), "recipient 1 lacks the key \"age\"");
}

TEST_F(BundleTest, RefusesABadFormatOrVersion) {
  const std::string one = "[" + recipient_json(0, "a") + "]";
  const std::string dates = R"("issued":"2026-11-29","expires":"2027-05-29")";
  expect_malformed(json(one, R"("format":"tipline-bundle/2","version":7,)" + dates),
                   "\"format\" must be \"tipline-bundle/1\", not \"tipline-bundle/2\"");
  for (const char* version : {"0", "-3", "7.0", "\"7\"", "18446744073709551615"}) {
    expect_malformed(
        json(one, R"("format":"tipline-bundle/1","version":)" + std::string(version) + "," + dates),
        "\"version\" must be a positive integer");
  }
}

TEST_F(BundleTest, RefusesBadDates) {
  const std::string one = "[" + recipient_json(0, "a") + "]";
  const auto with_dates = [&](const std::string& issued, const std::string& expires) {
    return json(one, R"("format":"tipline-bundle/1","version":7,"issued":)" + issued +
                         R"(,"expires":)" + expires);
  };
  expect_malformed(with_dates("\"2026-02-30\"", "\"2027-05-29\""),
                   "\"issued\" must be a date written YYYY-MM-DD, not \"2026-02-30\"");
  expect_malformed(with_dates("\"2026-11-29\"", "\"2027-5-29\""),
                   "\"expires\" must be a date written YYYY-MM-DD");
  expect_malformed(with_dates("\"2026-11-29\"", "20270529"), "\"expires\" must be a date");
  expect_malformed(with_dates("\"2026-11-29T00:00\"", "\"2027-05-29\""),
                   "\"issued\" must be a date");
  expect_malformed(with_dates("\"2026-11-29\"", "\"2026-11-29\""),
                   "\"expires\" (2026-11-29) must be after \"issued\" (2026-11-29)");
}

TEST_F(BundleTest, RefusesBadRecipients) {
  expect_malformed(json("[]"), "\"recipients\" is empty");
  expect_malformed(json("{}"), "\"recipients\" must be an array");
  expect_malformed(json("[\"age1x\"]"), "recipient 1 must be an object");
  expect_malformed(json(R"([{"id":"a","age":"age1notakey"}])"),
                   "recipient \"a\": \"age\" is not an age X25519 recipient (age1...)");
  expect_malformed(json(R"([{"id":"a","age":7}])"), "recipient \"a\": \"age\" must be a string");
  expect_malformed(json("[" + recipient_json(0, "a") + "," + recipient_json(1, "a") + "]"),
                   "the recipient id \"a\" repeats");
  expect_malformed(json("[" + recipient_json(0, "a") + "," + recipient_json(0, "b") + "]"),
                   "recipient \"b\" repeats the key of an earlier recipient");
  for (const std::string& id :
       {std::string(), std::string("has space"), std::string("é"), std::string(65, 'x')}) {
    expect_malformed(json("[" + recipient_json(0, id) + "]"),
                     "recipient 1: \"id\" must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  std::string many = "[";
  for (std::size_t i = 0; i <= kMaxRecipients; ++i) {
    many += (i > 0 ? "," : "") + recipient_json(0, "r" + std::to_string(i));
  }
  expect_malformed(json(many + "]"), "\"recipients\" has 65 entries, more than the 64 allowed");
}

TEST_F(BundleTest, ExpiresOnItsExpiryDay) {
  const auto bundle = parse_and_verify(make(7).bytes, make(7).signature_text, root_.public_key());
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_FALSE(expired(*bundle, kExpires - std::chrono::days(1)));
  EXPECT_TRUE(expired(*bundle, kExpires));
  EXPECT_EQ(date_text(kExpires), "2027-05-29");
  EXPECT_EQ(date_text(sys_days(987y / 1 / 2)), "0987-01-02");
}

class BundleStoreTest : public BundleTest {
 protected:
  void SetUp() override {
    auto opened = storage::Store::open(dir_.path() / "tipline.db", crypto::Secret::random(32),
                                       storage::Database::Mode::create_new);
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  [[nodiscard]] Bundle verified(std::int64_t version) const {
    const Signed made = make(version);
    auto bundle = parse_and_verify(made.bytes, made.signature_text, root_.public_key());
    EXPECT_TRUE(bundle) << bundle.error().message;
    return std::move(*bundle);
  }

  tipline::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  const std::int64_t now_ = seconds_at(kIssued + std::chrono::days(2));
};

TEST_F(BundleStoreTest, InstallsOnlyNewerVersions) {
  const auto none = current(*store_);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(*none);

  ASSERT_TRUE(install(*store_, verified(3), now_));
  const auto same = install(*store_, verified(3), now_);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, Errc::not_newer);
  EXPECT_EQ(same.error().message, "bundle version 3 is not newer than the installed version 3");

  ASSERT_TRUE(install(*store_, verified(5), now_));
  const auto older = install(*store_, verified(4), now_);
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error().message, "bundle version 4 is not newer than the installed version 5");

  const auto latest = current(*store_);
  ASSERT_TRUE(latest) << latest.error().message;
  ASSERT_TRUE(*latest);
  const Bundle expected = verified(5);
  EXPECT_EQ((*latest)->version, 5);
  EXPECT_EQ((*latest)->bytes, expected.bytes);
  EXPECT_EQ((*latest)->signature_text, expected.signature_text);
  EXPECT_EQ((*latest)->expires, kExpires);
  ASSERT_EQ((*latest)->recipients.size(), 2u);
  EXPECT_EQ((*latest)->recipients[0].age.to_string(), recipients_[0].age.to_string());
}

TEST_F(BundleStoreTest, RefusesAnExpiredBundle) {
  const auto late = install(*store_, verified(2), seconds_at(kExpires) + 60);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::expired);
  EXPECT_EQ(late.error().message, "bundle version 2 expired on 2027-05-29: sign a newer one");
  EXPECT_TRUE(install(*store_, verified(2), seconds_at(kExpires) - 1));
}

}  // namespace
}  // namespace tipline::server::bundle
