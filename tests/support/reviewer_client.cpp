#include "support/reviewer_client.h"

#include <curl/curl.h>
#include <sodium.h>

#include <chrono>

#include "tipline/crypto/secret.h"

namespace tipline::testing {
namespace {

namespace signing = crypto::request_signature;

std::size_t append(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

}  // namespace

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

HttpResult http_request(const std::string& method, const std::string& url,
                        const std::filesystem::path& ca_file,
                        const std::vector<std::string>& headers, const std::string& body) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  // No "Expect: 100-continue": the server answers it only for streamed bodies.
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  } else {
    result.error = error;
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
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
