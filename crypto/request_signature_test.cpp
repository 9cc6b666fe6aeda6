#include "tipline/crypto/request_signature.h"

#include <gtest/gtest.h>

#include <string>

namespace tipline::crypto::request_signature {
namespace {

constexpr std::int64_t kNow = 1764470000;
constexpr std::string_view kUri = "https://127.0.0.1:8444/api/v1/review/submissions?since=3";
constexpr std::string_view kBody = R"({"status":"closed"})";

struct Signed {
  std::string digest;
  Fields fields;
};

Signed sign_request(const SigningKey& key, std::string_view method, std::string_view uri,
                    std::string_view body, std::int64_t created = kNow,
                    std::string_view nonce = "n-1", std::string_view keyid = "alice") {
  Signed result;
  result.digest = content_digest(body);
  result.fields = sign(key, keyid, Message{method, uri, result.digest}, created, nonce);
  return result;
}

tl::expected<Parameters, Error> check(const Signed& request, std::string_view method,
                                      std::string_view uri, std::string_view body,
                                      const PublicKey& key, std::int64_t now = kNow) {
  return verify(request.fields.signature_input, request.fields.signature,
                Message{method, uri, request.digest},
                std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()), key,
                now);
}

// RFC 9530 Appendix B, and the digest of nothing (a GET).
TEST(RequestSignature, ContentDigestMatchesRfc9530) {
  EXPECT_EQ(content_digest(std::string_view(R"({"hello": "world"})")),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
  EXPECT_EQ(content_digest(std::string_view()),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
}

TEST(RequestSignature, ASignedRequestVerifiesAndNamesItsSigner) {
  const SigningKey key = SigningKey::generate();
  const Signed request = sign_request(key, "POST", kUri, kBody);
  EXPECT_EQ(request.fields.signature_input,
            R"(tipline=("@method" "@target-uri" "content-digest");created=1764470000;)"
            R"(nonce="n-1";keyid="alice";alg="ed25519")");
  auto verified = check(request, "POST", kUri, kBody, key.public_key());
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->keyid, "alice");
  EXPECT_EQ(verified->nonce, "n-1");
  EXPECT_EQ(verified->created, kNow);
}

TEST(RequestSignature, AnyAlterationOrAnotherKeyIsRefused) {
  const SigningKey key = SigningKey::generate();
  const Signed request = sign_request(key, "POST", kUri, kBody);
  const PublicKey& public_key = key.public_key();
  const auto refused_as = [](const tl::expected<Parameters, Error>& result, Errc code) {
    return !result && result.error().code == code;
  };
  EXPECT_TRUE(refused_as(check(request, "GET", kUri, kBody, public_key), Errc::bad_signature));
  EXPECT_TRUE(
      refused_as(check(request, "POST", "https://127.0.0.1:8444/api/v1/review/submissions?since=4",
                       kBody, public_key),
                 Errc::bad_signature));
  EXPECT_TRUE(refused_as(check(request, "POST", kUri, R"({"status":"spam"})", public_key),
                         Errc::bad_signature));
  EXPECT_TRUE(refused_as(check(request, "POST", kUri, kBody, SigningKey::generate().public_key()),
                         Errc::bad_signature));

  // The parameters are signed too: a changed created, nonce or keyid breaks the signature.
  for (const auto& [from, to] : {std::pair{"created=1764470000", "created=1764470001"},
                                 std::pair{"nonce=\"n-1\"", "nonce=\"n-2\""},
                                 std::pair{"keyid=\"alice\"", "keyid=\"bob\""}}) {
    Signed altered = request;
    std::string& input = altered.fields.signature_input;
    input.replace(input.find(from), std::string_view(from).size(), to);
    EXPECT_TRUE(refused_as(check(altered, "POST", kUri, kBody, public_key), Errc::bad_signature))
        << to;
  }
  // A Content-Digest that is true for another body than the one received.
  Signed other_digest = sign_request(key, "POST", kUri, "{}");
  EXPECT_TRUE(
      refused_as(check(other_digest, "POST", kUri, kBody, public_key), Errc::bad_signature));
}

TEST(RequestSignature, CreatedMustBeWithinFiveMinutesOfTheClock) {
  const SigningKey key = SigningKey::generate();
  const Signed request = sign_request(key, "GET", kUri, "");
  for (const std::int64_t skew : {-300, 0, 300}) {
    EXPECT_TRUE(check(request, "GET", kUri, "", key.public_key(), kNow + skew)) << skew;
  }
  for (const std::int64_t skew : {-301, 301, 86400}) {
    auto result = check(request, "GET", kUri, "", key.public_key(), kNow + skew);
    ASSERT_FALSE(result) << skew;
    EXPECT_EQ(result.error().code, Errc::stale_signature);
  }
}

TEST(RequestSignature, OnlyThisProfileParses) {
  const SigningKey key = SigningKey::generate();
  const Signed request = sign_request(key, "GET", kUri, "");
  const std::string& signature = request.fields.signature;
  const std::string params = R"(;created=1764470000;nonce="n";keyid="a";alg="ed25519")";
  for (const std::string& input : {
           std::string(R"(sig1=("@method" "@target-uri" "content-digest"))") + params,
           std::string(R"(tipline=("@method" "@target-uri"))") + params,
           std::string(R"(tipline=("@target-uri" "@method" "content-digest"))") + params,
           std::string(R"(tipline=("@method" "@target-uri" "content-digest");)") +
               R"(nonce="n";created=1764470000;keyid="a";alg="ed25519")",
           std::string(R"(tipline=("@method" "@target-uri" "content-digest");created=-5;)") +
               R"(nonce="n";keyid="a";alg="ed25519")",
           std::string(R"(tipline=("@method" "@target-uri" "content-digest");created=1;)") +
               R"(nonce="n n";keyid="a";alg="ed25519")",
           std::string(R"(tipline=("@method" "@target-uri" "content-digest");created=1;)") +
               R"(nonce="n";keyid="";alg="ed25519")",
           std::string(R"(tipline=("@method" "@target-uri" "content-digest");created=1;)") +
               R"(nonce="n";keyid="a";alg="rsa-pss-sha512")",
           std::string(R"(tipline=("@method" "@target-uri" "content-digest"))") + params +
               R"(;expires=1)",
           std::string(R"(tipline=("@method" "@target-uri" "content-digest");created=1;)") +
               R"(nonce=")" + std::string(65, 'n') + R"(";keyid="a";alg="ed25519")",
       }) {
    auto parsed = parse(input, signature);
    ASSERT_FALSE(parsed) << input;
    EXPECT_EQ(parsed.error().code, Errc::malformed_signature) << input;
  }
  const std::string& input = request.fields.signature_input;
  for (const std::string& bad_signature :
       {std::string(), std::string("sig1") + signature.substr(7), signature.substr(0, 20) + ":",
        std::string("tipline=:AAAA:"), signature + ":"}) {
    auto parsed = parse(input, bad_signature);
    ASSERT_FALSE(parsed) << bad_signature;
    EXPECT_EQ(parsed.error().code, Errc::malformed_signature) << bad_signature;
  }
}

TEST(RequestSignature, KeyFilesRoundTripAndPublicKeysAreCheckedText) {
  const SigningKey key = SigningKey::generate();
  const Secret text = key.serialize();
  const std::string_view file(reinterpret_cast<const char*>(text.expose().data()), text.size());
  EXPECT_TRUE(file.starts_with("TIPLINE-SIGNING-KEY-1\n"));
  EXPECT_EQ(file.size(), 22U + 64U + 1U);
  auto parsed = SigningKey::parse(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->public_key(), key.public_key());

  for (const std::string& bad :
       {std::string("TIPLINE-SIGNING-KEY-2\n") + std::string(64, 'a'),
        std::string("TIPLINE-SIGNING-KEY-1\n") + std::string(63, 'a'),
        std::string("TIPLINE-SIGNING-KEY-1\n") + std::string(64, 'g'), std::string(64, 'a')}) {
    auto refused = SigningKey::parse(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, Errc::malformed_key);
  }

  const std::string public_text = encode_public_key(key.public_key());
  EXPECT_EQ(public_text.size(), 44U);
  auto public_key = parse_public_key(public_text);
  ASSERT_TRUE(public_key);
  EXPECT_EQ(*public_key, key.public_key());
  for (const std::string& bad :
       {public_text.substr(0, 43), public_text + "A", std::string("not base64!"), std::string()}) {
    EXPECT_FALSE(parse_public_key(bad)) << bad;
  }
}

}  // namespace
}  // namespace tipline::crypto::request_signature
