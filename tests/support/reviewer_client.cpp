#include "support/reviewer_client.h"

#include <sodium.h>

#include <chrono>

#include "tipline/crypto/secret.h"

namespace tipline::testing {

namespace signing = crypto::request_signature;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string fresh_nonce() {
  crypto::initialize();
  unsigned char random[16];
  randombytes_buf(random, sizeof random);
  char hex[sizeof random * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, random, sizeof random);
  return hex;
}

std::vector<std::string> signature_headers(const signing::SigningKey& key, const std::string& keyid,
                                           const std::string& method, const std::string& url,
                                           const std::string& body, std::int64_t created,
                                           const std::string& nonce) {
  const std::string digest = signing::content_digest(body);
  const signing::Fields fields = signing::sign(key, keyid, {method, url, digest}, created, nonce);
  return {"Content-Digest: " + digest, "Signature-Input: " + fields.signature_input,
          "Signature: " + fields.signature};
}

std::string ReviewerClient::url(const std::string& target) const {
  return "https://localhost:" + std::to_string(port) + target;
}

HttpResult ReviewerClient::request(const std::string& method, const std::string& target,
                                   const std::string& body,
                                   const std::vector<std::string>& extra) const {
  std::vector<std::string> headers =
      signature_headers(key, id, method, url(target), body, unix_now(), fresh_nonce());
  headers.insert(headers.end(), extra.begin(), extra.end());
  return http_request(method, url(target), ca_file, headers, body);
}

}  // namespace tipline::testing
