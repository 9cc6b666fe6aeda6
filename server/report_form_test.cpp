// The no-JavaScript report flow without a network: the form page, the streamed POST /report
// against a real store in a temporary folder, and POST /codename.
#include "report_form.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../storage/test_support.h"
#include "bundle.h"
#include "support/process.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/minisign.h"
#include "tipline/crypto/padding.h"
#include "tipline/crypto/x25519.h"
#include "tipline/storage/maintenance.h"

namespace tipline::server::report_form {
namespace {

namespace http = boost::beast::http;
using testing::contains;

constexpr std::string_view kBoundary = "----TiplineTestBoundary7MA4YWxk";

struct Part {
  std::string name;
  std::optional<std::string> filename;
  std::string data;
};

std::string multipart_body(const std::vector<Part>& parts) {
  std::string body;
  for (const Part& part : parts) {
    body += "--" + std::string(kBoundary) + "\r\nContent-Disposition: form-data; name=\"" +
            part.name + "\"";
    if (part.filename) {
      body += "; filename=\"" + *part.filename + "\"\r\nContent-Type: application/octet-stream";
    }
    body += "\r\n\r\n" + part.data + "\r\n";
  }
  return body + "--" + std::string(kBoundary) + "--\r\n";
}

std::string bytes_text(std::size_t size, std::uint64_t seed) {
  const auto bytes = storage::test::pattern(size, seed);
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The codename shown on a codename page, in display form.
std::string shown_codename(const std::string& page) {
  const std::string marker = "<p class=\"codename\" translate=\"no\" dir=\"ltr\">";
  const std::size_t at = page.find(marker);
  if (at == std::string::npos) return {};
  return page.substr(at + marker.size(), 29);
}

class ReportFormTest : public storage::test::StorageTest {
 protected:
  void SetUp() override {
    store_ = create_store();
    ASSERT_TRUE(store_);
    testing::write_file(dir_ / "instance-salt", std::string(64, 'a') + "\n");
    config_.instance_salt_file = dir_ / "instance-salt";
    config_.limits.form_parts = 8;
    config_.limits.form_part_bytes = std::uint64_t{4} << 20;
    config_.limits.form_bytes = std::uint64_t{16} << 20;
    config_.limits.submissions_per_minute = 1000;
    services_ = std::make_unique<Services>(config_, *store_);
  }

  void install_bundle() {
    const auto root = crypto::minisign::SecretKey::generate();
    const std::vector<bundle::Recipient> recipients = {{"reviewer", reviewer_.recipient()}};
    const auto issued = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    const auto made = bundle::sign(3, issued - std::chrono::days(1), issued + std::chrono::days(30),
                                   recipients, root);
    auto verified = bundle::parse_and_verify(made.bytes, made.signature_text, root.public_key());
    ASSERT_TRUE(verified.has_value()) << verified.error().message;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    ASSERT_TRUE(bundle::install(*store_, *verified, now).has_value());
    services_ = std::make_unique<Services>(config_, *store_);  // it reads the bundle once
  }

  // The CSRF cookie's name on the transport of context_.
  std::string cookie_name() const { return context_.tls ? "__Host-tipline_csrf" : "tipline_csrf"; }

  // A token as GET /report sets it.
  std::string token() {
    const Response page = report_page(11, false, context_, *services_);
    const std::string cookie(page[http::field::set_cookie]);
    return cookie.substr(cookie.find('=') + 1, 64);
  }

  RequestHeader post_header(const std::string& cookie_token,
                            const std::string& content_type = "multipart/form-data; boundary=" +
                                                              std::string(kBoundary)) {
    RequestHeader header;
    header.method(http::verb::post);
    header.target("/report");
    header.version(11);
    header.set(http::field::content_type, content_type);
    if (!cookie_token.empty())
      header.set(http::field::cookie, "a=b; " + cookie_name() + "=" + cookie_token);
    return header;
  }

  // Feeds `body` in pieces, waiting for each `next` as the session does; a refusal if one
  // came.
  static std::optional<Response> feed(BodyStream& stream, std::string_view body,
                                      std::size_t piece = std::size_t{64} * 1024) {
    for (std::size_t at = 0; at < body.size(); at += piece) {
      std::promise<std::optional<Response>> taken;
      const std::string_view part = body.substr(at, piece);
      stream.consume({reinterpret_cast<const std::uint8_t*>(part.data()), part.size()},
                     [&](std::optional<Response> refusal) { taken.set_value(std::move(refusal)); });
      if (auto refusal = taken.get_future().get()) return refusal;
    }
    return std::nullopt;
  }

  static Response finish(BodyStream& stream) {
    std::promise<Response> answered;
    stream.finish([&](Response response) { answered.set_value(std::move(response)); });
    return answered.get_future().get();
  }

  // Feeds the body in pieces, then finishes.
  Response post(const std::string& cookie_token, const std::string& body,
                Services* services = nullptr, std::size_t piece = std::size_t{64} * 1024) {
    StreamStart start = start_report(post_header(cookie_token), context_,
                                     services != nullptr ? *services : *services_);
    if (auto* refused = std::get_if<Response>(&start)) return std::move(*refused);
    auto stream = std::move(std::get<std::unique_ptr<BodyStream>>(start));
    if (auto refusal = feed(*stream, body, piece)) return std::move(*refusal);
    return finish(*stream);
  }

  Response confirm(const std::string& cookie_token, const std::string& body,
                   std::thread::id* answered_on = nullptr) {
    Request request(http::verb::post, "/codename", 11);
    request.set(http::field::content_type, "application/x-www-form-urlencoded");
    if (!cookie_token.empty()) request.set(http::field::cookie, cookie_name() + "=" + cookie_token);
    request.body() = body;
    std::promise<Response> answered;
    confirm_codename(request, context_, *services_, [&](Response response) {
      if (answered_on != nullptr) *answered_on = std::this_thread::get_id();
      answered.set_value(std::move(response));
    });
    return answered.get_future().get();
  }

  std::int64_t count(std::string_view sql) {
    // Queued deletions run before this write returns.
    EXPECT_TRUE(
        store_->write([](storage::Database&) -> tl::expected<int, storage::Error> { return 0; })
            .get()
            .has_value());
    auto counted =
        store_->read([&](storage::Database& db) { return storage::test::count_rows(db, sql); });
    EXPECT_TRUE(counted.has_value());
    return counted.value_or(-1);
  }

  std::string decrypt_blob(storage::BlobId blob) {
    auto sealed =
        store_->read([&](storage::Database& db) { return storage::test::read_whole(db, blob); });
    EXPECT_TRUE(sealed.has_value());
    std::string plain;
    const crypto::age::Identity* identities[] = {&reviewer_};
    crypto::age::Decryptor decryptor(identities, [&](std::span<const std::uint8_t> chunk) {
      plain.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      return tl::expected<void, crypto::Error>();
    });
    EXPECT_TRUE(
        decryptor.write({reinterpret_cast<const std::uint8_t*>(sealed->data()), sealed->size()}));
    EXPECT_TRUE(decryptor.finish());
    return plain;
  }

  std::vector<storage::BlobId> blob_ids(std::string_view sql) {
    auto ids = store_->read(
        [&](storage::Database& db) -> tl::expected<std::vector<storage::BlobId>, storage::Error> {
          auto query = db.prepare(sql);
          if (!query) return tl::unexpected(query.error());
          std::vector<storage::BlobId> found;
          while (true) {
            auto row = query->step();
            if (!row) return tl::unexpected(row.error());
            if (!*row) return found;
            found.push_back(query->integer(0));
          }
        });
    EXPECT_TRUE(ids.has_value());
    return ids.value_or(std::vector<storage::BlobId>{});
  }

  std::vector<Part> report_parts(const std::string& csrf) {
    return {{"csrf_token", std::nullopt, csrf},
            {"what_happened", std::nullopt, "Two men came to my parents' flat.\r\nTwice."},
            {"country", std::nullopt, "NL"}};
  }

  config::Config config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Services> services_;
  crypto::x25519::Identity reviewer_ = crypto::x25519::Identity::generate();
  RequestContext context_{Side::source, true, {}};
};

TEST_F(ReportFormTest, WithoutABundleTheFormSaysItIsNotAcceptingReports) {
  const Response page = report_page(11, false, context_, *services_);
  EXPECT_EQ(page.result(), http::status::service_unavailable);
  EXPECT_TRUE(contains(page.body(), "not accepting reports yet"));
  EXPECT_EQ(post("0123", "").result(), http::status::service_unavailable);
}

TEST_F(ReportFormTest, TheFormCarriesAFreshTokenInACookieAndAsItsFirstField) {
  install_bundle();
  const Response page = report_page(11, false, context_, *services_);
  ASSERT_EQ(page.result(), http::status::ok);
  const std::string cookie(page[http::field::set_cookie]);
  // Over TLS the __Host- prefix: Secure, Path=/ and no Domain, or the browser drops it.
  const std::string prefix = "__Host-tipline_csrf=";
  ASSERT_TRUE(cookie.starts_with(prefix)) << cookie;
  const std::string value = cookie.substr(prefix.size(), 64);
  EXPECT_EQ(value.find_first_not_of("0123456789abcdef"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.substr(prefix.size() + 64), "; Path=/; HttpOnly; SameSite=Strict; Secure");
  EXPECT_FALSE(contains(cookie, "Domain"));
  const std::string& body = page.body();
  const std::size_t field =
      body.find("<input type=\"hidden\" name=\"csrf_token\" value=\"" + value + "\">");
  ASSERT_NE(field, std::string::npos);
  EXPECT_LT(body.find("<form"), field);
  EXPECT_EQ(body.find("name=", body.find("<form")), body.find("name=\"csrf_token\""))
      << "the token must be the first part the browser sends";
  EXPECT_TRUE(contains(body, "the server encrypts them as they arrive"));
  EXPECT_NE(token(), value) << "every form gets its own token";

  const RequestContext plain{Side::source, false, {}};
  const Response over_http = report_page(11, false, plain, *services_);
  const std::string plain_cookie(over_http[http::field::set_cookie]);
  EXPECT_TRUE(plain_cookie.starts_with("tipline_csrf=")) << plain_cookie;
  EXPECT_TRUE(plain_cookie.ends_with("; Path=/; HttpOnly; SameSite=Strict")) << plain_cookie;
}

TEST_F(ReportFormTest, EachTransportAcceptsOnlyItsOwnCookieName) {
  install_bundle();
  const std::string csrf = token();
  auto post_with = [&](const std::string& cookie) {
    RequestHeader header = post_header("");
    header.set(http::field::cookie, cookie);
    StreamStart start = start_report(header, context_, *services_);
    if (auto* refused = std::get_if<Response>(&start)) return refused->result();
    auto stream = std::move(std::get<std::unique_ptr<BodyStream>>(start));
    if (auto refusal = feed(*stream, multipart_body(report_parts(csrf)))) return refusal->result();
    return finish(*stream).result();
  };
  auto confirm_with = [&](const std::string& cookie) {
    Request request(http::verb::post, "/codename", 11);
    request.set(http::field::cookie, cookie);
    request.body() = "csrf_token=" + csrf + "&codename_shown=0&codename=0";
    std::promise<Response> answered;
    confirm_codename(request, context_, *services_,
                     [&](Response response) { answered.set_value(std::move(response)); });
    return answered.get_future().get().result();
  };
  // Over TLS (context_): only __Host-tipline_csrf.
  EXPECT_EQ(post_with("tipline_csrf=" + csrf), http::status::forbidden);
  EXPECT_EQ(confirm_with("tipline_csrf=" + csrf), http::status::forbidden);
  EXPECT_EQ(post_with("__Host-tipline_csrf=" + csrf), http::status::ok);
  // A known codename_shown is not needed to get past the cookie: 400, not 403.
  EXPECT_EQ(confirm_with("__Host-tipline_csrf=" + csrf), http::status::bad_request);

  // Over plain HTTP (the onion service): only tipline_csrf.
  context_.tls = false;
  EXPECT_EQ(post_with("__Host-tipline_csrf=" + csrf), http::status::forbidden);
  EXPECT_EQ(confirm_with("__Host-tipline_csrf=" + csrf), http::status::forbidden);
  EXPECT_EQ(post_with("tipline_csrf=" + csrf), http::status::ok);
  EXPECT_EQ(confirm_with("tipline_csrf=" + csrf), http::status::bad_request);
  EXPECT_EQ(count("SELECT COUNT(*) FROM submissions"), 2);
}

// `db purge` may run beside the server and deletes finished blobs that nothing owns, so a
// blob must not be finished before the transaction that links it to its submission.
TEST_F(ReportFormTest, NoBlobIsFinishedBeforeTheSubmissionIsRecorded) {
  install_bundle();
  const std::string csrf = token();
  const std::string small = "a small file, sealed before the first batch is written";
  const std::string large = bytes_text((std::size_t{3} << 20) + 999, 11);
  std::vector<Part> parts = report_parts(csrf);
  parts.push_back({"attachments", "small.txt", small});
  parts.push_back({"attachments", "large.bin", large});
  const std::string body = multipart_body(parts);

  StreamStart start = start_report(post_header(csrf), context_, *services_);
  auto stream = std::move(std::get<std::unique_ptr<BodyStream>>(start));
  // Past the small file and well into the large one: batches have been written.
  const std::size_t first = body.size() / 2;
  ASSERT_FALSE(feed(*stream, std::string_view(body).substr(0, first)).has_value());
  EXPECT_GE(count("SELECT COUNT(*) FROM blobs"), 2) << "both files have blobs by now";
  EXPECT_GT(count("SELECT COUNT(*) FROM blob_chunks"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs WHERE complete = 1"), 0);

  // `tipline-server db purge` from another process, in the middle of the stream.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto purged = storage::purge(database_, key_, {std::nullopt, now});
  ASSERT_TRUE(purged.has_value() || purged.error().code == storage::Errc::in_use)
      << purged.error().message;
  if (purged) {
    EXPECT_EQ(purged->blobs, 0);
  }

  ASSERT_FALSE(feed(*stream, std::string_view(body).substr(first)).has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs WHERE complete = 1"), 0);
  const Response response = finish(*stream);
  ASSERT_EQ(response.result(), http::status::ok) << response.body();
  stream.reset();
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs WHERE complete = 0"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs WHERE complete = 1"), 3);
  const auto files = blob_ids("SELECT blob_id FROM attachments ORDER BY position");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(decrypt_blob(files[0]), small);
  EXPECT_TRUE(decrypt_blob(files[1]) == large);
  // And a purge after the commit keeps what the submission owns.
  const auto after = storage::purge(database_, key_, {std::nullopt, now});
  ASSERT_TRUE(after.has_value() || after.error().code == storage::Errc::in_use);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs"), 3);
}

// scrypt takes 64 MiB: derivations run on their own bounded pool, and past the bound both
// posts answer 503 at once with a page, storing nothing.
TEST_F(ReportFormTest, BusyDerivationsAnswer503AndRunOffTheCallingThread) {
  install_bundle();
  const std::string csrf = token();
  const Response stored = post(csrf, multipart_body(report_parts(csrf)));
  ASSERT_EQ(stored.result(), http::status::ok);
  std::string shown = shown_codename(stored.body());
  std::replace(shown.begin(), shown.end(), ' ', '-');
  const std::string fields = "csrf_token=" + csrf + "&codename_shown=" + shown;

  std::thread::id answered_on;
  EXPECT_TRUE(contains(confirm(csrf, fields + "&codename=" + shown, &answered_on).body(),
                       "report was sent"));
  EXPECT_NE(answered_on, std::this_thread::get_id()) << "scrypt must not run on the I/O thread";

  const std::size_t limit = set_derivation_limit_for_testing(0);
  EXPECT_GE(limit, 1u);
  const Response busy_confirm = confirm(csrf, fields + "&codename=" + shown);
  EXPECT_EQ(busy_confirm.result(), http::status::service_unavailable);
  EXPECT_TRUE(contains(busy_confirm.body(), "<html"));
  EXPECT_TRUE(contains(busy_confirm.body(), "busy"));
  std::vector<Part> parts = report_parts(csrf);
  parts.push_back({"attachments", "f", bytes_text((std::size_t{2} << 20) + 5, 4)});
  const Response busy_report = post(csrf, multipart_body(parts));
  EXPECT_EQ(busy_report.result(), http::status::service_unavailable);
  EXPECT_TRUE(contains(busy_report.body(), "busy"));
  EXPECT_EQ(set_derivation_limit_for_testing(limit), 0u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM submissions"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs"), 1) << "the refused report left no blob";

  EXPECT_EQ(post(csrf, multipart_body(parts)).result(), http::status::ok);
  EXPECT_EQ(count("SELECT COUNT(*) FROM submissions"), 2);
}

TEST_F(ReportFormTest, RefusesBeforeTheBodyWhatCannotBeAReport) {
  install_bundle();
  const std::string csrf = token();
  auto refused = [&](const RequestHeader& header) {
    StreamStart start = start_report(header, context_, *services_);
    EXPECT_TRUE(std::holds_alternative<Response>(start));
    return std::holds_alternative<Response>(start) ? std::get<Response>(start).result()
                                                   : http::status::ok;
  };
  EXPECT_EQ(refused(post_header(csrf, "application/json")), http::status::unsupported_media_type);
  EXPECT_EQ(refused(post_header(csrf, "multipart/form-data")), http::status::bad_request);
  EXPECT_EQ(refused(post_header("")), http::status::forbidden);
  EXPECT_EQ(refused(post_header("not-a-token")), http::status::forbidden);

  config::Config strict = config_;
  strict.limits.submissions_per_minute = 1;
  Services limited(strict, *store_);
  EXPECT_EQ(post(csrf, multipart_body(report_parts(csrf)), &limited).result(), http::status::ok);
  StreamStart second = start_report(post_header(csrf), context_, limited);
  ASSERT_TRUE(std::holds_alternative<Response>(second));
  EXPECT_EQ(std::get<Response>(second).result(), http::status::too_many_requests);
  EXPECT_TRUE(contains(std::get<Response>(second).body(), "<html"));
}

TEST_F(ReportFormTest, StoresTheReportAndEachFileSealedToTheBundle) {
  install_bundle();
  const std::string csrf = token();
  const std::string small = "a";
  const std::string large = bytes_text((std::size_t{3} << 20) + 12345, 7);  // several batches
  std::vector<Part> parts = report_parts(csrf);
  parts.push_back({"attachments", "", ""});  // a file input left empty
  parts.push_back({"attachments", "secret-name.txt", small});
  parts.push_back({"attachments", "C:\\photos\\where.jpg", large});
  parts.push_back({"attachments", "empty.txt", ""});  // a chosen file that is empty
  const Response response = post(csrf, multipart_body(parts), nullptr, 5000);
  ASSERT_EQ(response.result(), http::status::ok) << response.body();
  const std::string codename = shown_codename(response.body());
  EXPECT_EQ(codename.size(), 29u);
  EXPECT_TRUE(contains(response.body(),
                       "<input type=\"hidden\" name=\"codename_shown\" value=\"" + codename));

  EXPECT_EQ(count("SELECT COUNT(*) FROM submissions WHERE source_id IS NOT NULL"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sources"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs WHERE complete = 1 AND sealed_to_bundle = 3"), 4);
  const auto report = blob_ids("SELECT report_blob_id FROM submissions");
  ASSERT_EQ(report.size(), 1u);
  const std::string padded = decrypt_blob(report[0]);
  const auto document =
      crypto::padding::unpad({reinterpret_cast<const std::uint8_t*>(padded.data()), padded.size()});
  ASSERT_TRUE(document.has_value());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(document->data()), document->size()),
            R"({"format":"tipline-report/1","answers":{"what_happened":)"
            R"("Two men came to my parents' flat.\nTwice.","country":"NL"}})");
  const auto files = blob_ids("SELECT blob_id FROM attachments ORDER BY position");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(decrypt_blob(files[0]), small);
  EXPECT_TRUE(decrypt_blob(files[1]) == large);
  EXPECT_EQ(decrypt_blob(files[2]), "");
}

TEST_F(ReportFormTest, TheCodenamePageSwitchesLanguageWithoutLosingTheCodename) {
  install_bundle();
  const std::string csrf = token();
  const Response stored = post(csrf, multipart_body(report_parts(csrf)));
  ASSERT_EQ(stored.result(), http::status::ok);
  const std::string shown = shown_codename(stored.body());
  std::string plus = shown;
  std::replace(plus.begin(), plus.end(), ' ', '+');
  // What a language's form in the switch posts: the shown codename and the switch, no retyped
  // codename. The page comes back in the language of its URL, with no mismatch notice.
  context_.language = {"ug", false};
  const Response switched =
      confirm(csrf, "csrf_token=" + csrf + "&codename_shown=" + plus + "&switch_language=1");
  EXPECT_EQ(switched.result(), http::status::ok);
  EXPECT_TRUE(switched.body().starts_with("<!DOCTYPE html>\n<html lang=\"ug\" dir=\"rtl\">"));
  EXPECT_EQ(shown_codename(switched.body()), shown);
  EXPECT_FALSE(contains(switched.body(), "role=\"alert\""));
  EXPECT_TRUE(contains(switched.body(), "action=\"/codename?lang=ug\""));
  // The switch only echoes what the form sent: no derivation, no store, so it cannot fail on
  // a busy pool or a store error and lose the codename. A malformed one is still refused, a
  // well-formed unknown one is checked when it is retyped.
  EXPECT_EQ(confirm(csrf, "csrf_token=" + csrf + "&codename_shown=1234&switch_language=1").result(),
            http::status::bad_request);
  const Response unknown =
      confirm(csrf, "csrf_token=" + csrf +
                        "&codename_shown=0000+0000+0000+0000+0000+0000&switch_language=1");
  EXPECT_EQ(unknown.result(), http::status::ok);
  EXPECT_EQ(confirm(csrf, "csrf_token=" + csrf +
                              "&codename_shown=0000+0000+0000+0000+0000+0000&codename=0000+0000+"
                              "0000+0000+0000+0000")
                .result(),
            http::status::bad_request);
  // Without the form's cookie, no page at all.
  EXPECT_EQ(
      confirm("another", "csrf_token=" + csrf + "&codename_shown=" + plus + "&switch_language=1")
          .result(),
      http::status::forbidden);
}

TEST_F(ReportFormTest, RefusedAnswersAreExplainedInThePageLanguage) {
  install_bundle();
  context_.language = {"ru", false};
  const std::string csrf = token();
  std::vector<Part> missing = {{"csrf_token", std::nullopt, csrf}};
  const Response refused = post(csrf, multipart_body(missing));
  EXPECT_EQ(refused.result(), http::status::bad_request);
  EXPECT_TRUE(contains(refused.body(), "<html lang=\"ru\""));
  EXPECT_TRUE(contains(refused.body(), "Пожалуйста, ответьте на вопрос «Что произошло?»."))
      << refused.body();
  EXPECT_TRUE(contains(refused.body(), "Ошибка 400"));
  const Response expired = post("", multipart_body(missing));
  EXPECT_EQ(expired.result(), http::status::forbidden);
  EXPECT_TRUE(contains(expired.body(), "Срок действия этой формы истёк"));
}

TEST_F(ReportFormTest, TheRetypedCodenameMustMatchTheOneShown) {
  install_bundle();
  const std::string csrf = token();
  const Response stored = post(csrf, multipart_body(report_parts(csrf)));
  ASSERT_EQ(stored.result(), http::status::ok);
  const std::string shown = shown_codename(stored.body());
  std::string dashed = shown;
  std::replace(dashed.begin(), dashed.end(), ' ', '-');
  std::string plus = shown;
  std::replace(plus.begin(), plus.end(), ' ', '+');
  std::string wrong = plus;
  wrong[0] = wrong[0] == '1' ? '2' : '1';
  const std::string fields = "csrf_token=" + csrf + "&codename_shown=" + plus;

  const Response mismatch = confirm(csrf, fields + "&codename=" + wrong);
  EXPECT_EQ(mismatch.result(), http::status::ok);
  EXPECT_TRUE(contains(mismatch.body(), "does not match"));
  EXPECT_EQ(shown_codename(mismatch.body()), shown);
  EXPECT_TRUE(contains(confirm(csrf, fields).body(), "does not match"));

  const Response matched = confirm(csrf, fields + "&codename=" + dashed);
  EXPECT_EQ(matched.result(), http::status::ok);
  EXPECT_TRUE(contains(matched.body(), "your report was sent"));
  // %2D is a dash, encoded.
  std::string escaped = dashed;
  for (std::size_t at = escaped.find('-'); at != std::string::npos; at = escaped.find('-', at)) {
    escaped.replace(at, 1, "%2D");
  }
  EXPECT_TRUE(contains(confirm(csrf, fields + "&codename=" + escaped).body(), "report was sent"));

  EXPECT_EQ(confirm(csrf, "csrf_token=" + std::string(64, '0') + "&codename_shown=" + plus +
                              "&codename=" + plus)
                .result(),
            http::status::forbidden);
  EXPECT_EQ(confirm("", fields + "&codename=" + plus).result(), http::status::forbidden);
  // A malformed codename, and a well-formed one that no source has: neither is shown.
  const Response unknown = confirm(csrf, "csrf_token=" + csrf +
                                             "&codename_shown=00000000000000000000000000000000"
                                             "&codename=000000000000000000000000");
  EXPECT_EQ(unknown.result(), http::status::bad_request);
  const Response stranger =
      confirm(csrf, "csrf_token=" + csrf + "&codename_shown=000000000000000000000000&codename=0");
  EXPECT_EQ(stranger.result(), http::status::bad_request);
  EXPECT_FALSE(contains(stranger.body(), "0000 0000"));
}

TEST_F(ReportFormTest, AWrongOrMisplacedTokenStoresNothing) {
  install_bundle();
  const std::string csrf = token();
  const std::string file = bytes_text(std::size_t{2} << 20, 3);
  std::vector<Part> forged = report_parts(std::string(64, 'f'));
  forged.push_back({"attachments", "x", file});
  EXPECT_EQ(post(csrf, multipart_body(forged)).result(), http::status::forbidden);

  std::vector<Part> late = {{"what_happened", std::nullopt, "x"},
                            {"csrf_token", std::nullopt, csrf}};
  EXPECT_EQ(post(csrf, multipart_body(late)).result(), http::status::forbidden);
  std::vector<Part> longer = report_parts(csrf + "0");
  EXPECT_EQ(post(csrf, multipart_body(longer)).result(), http::status::forbidden);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM submissions"), 0);
}

TEST_F(ReportFormTest, AFormOverALimitLeavesNoBlobBehind) {
  install_bundle();
  const std::string csrf = token();
  // Too large a file, refused after its first batches were written.
  std::vector<Part> parts = report_parts(csrf);
  parts.push_back({"attachments", "ok", "fine"});
  parts.push_back({"attachments", "big", bytes_text((std::size_t{4} << 20) + 1, 9)});
  const Response too_large = post(csrf, multipart_body(parts));
  EXPECT_EQ(too_large.result(), http::status::payload_too_large);
  EXPECT_TRUE(contains(too_large.body(), "<html"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blob_chunks"), 0);

  std::vector<Part> many = report_parts(csrf);
  for (int i = 0; i < 6; ++i) many.push_back({"attachments", "f", bytes_text(700000, i)});
  EXPECT_EQ(post(csrf, multipart_body(many)).result(), http::status::payload_too_large);

  std::vector<Part> wordy = report_parts(csrf);
  wordy[1].data = std::string(std::size_t{1} << 20, 'x');
  EXPECT_EQ(post(csrf, multipart_body(wordy)).result(), http::status::payload_too_large);

  // A body cut short: the stream goes without finish(), as when a connection breaks.
  {
    StreamStart start = start_report(post_header(csrf), context_, *services_);
    auto stream = std::move(std::get<std::unique_ptr<BodyStream>>(start));
    const std::string body = multipart_body(parts).substr(0, std::size_t{3} << 20);
    for (std::size_t at = 0; at < body.size(); at += 65536) {
      std::promise<std::optional<Response>> taken;
      const std::string_view piece = std::string_view(body).substr(at, 65536);
      stream->consume(
          {reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size()},
          [&](std::optional<Response> refusal) { taken.set_value(std::move(refusal)); });
      ASSERT_FALSE(taken.get_future().get().has_value());
    }
    EXPECT_GT(count("SELECT COUNT(*) FROM blobs"), 0) << "batches are written as they fill";
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM submissions"), 0);
}

TEST_F(ReportFormTest, BadAnswersAndBrokenFormsAreRefusedWithAPage) {
  install_bundle();
  const std::string csrf = token();
  std::vector<Part> unknown = report_parts(csrf);
  unknown.push_back({"favourite_colour", std::nullopt, "blue"});
  const Response refused = post(csrf, multipart_body(unknown));
  EXPECT_EQ(refused.result(), http::status::bad_request);
  EXPECT_TRUE(contains(std::string(refused[http::field::content_type]), "text/html"));

  std::vector<Part> missing = {{"csrf_token", std::nullopt, csrf}};
  EXPECT_EQ(post(csrf, multipart_body(missing)).result(), http::status::bad_request);
  std::vector<Part> file_as_answer = report_parts(csrf);
  file_as_answer[1].filename = "a.txt";
  EXPECT_EQ(post(csrf, multipart_body(file_as_answer)).result(), http::status::bad_request);
  const std::string body = multipart_body(report_parts(csrf));
  EXPECT_EQ(post(csrf, body.substr(0, body.size() - 10)).result(), http::status::bad_request);
  EXPECT_EQ(count("SELECT COUNT(*) FROM blobs"), 0);
}

}  // namespace
}  // namespace tipline::server::report_form
