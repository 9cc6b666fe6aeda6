// Test support: requests to the reviewer API (docs/reviewer-api.md), signed as
// crypto/request_signature.h says, over HTTPS with libcurl.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/process.h"
#include "tipline/crypto/request_signature.h"

namespace tipline::testing {

// Now in Unix seconds, and a fresh random nonce.
std::int64_t unix_now();
std::string fresh_nonce();

// The Content-Digest, Signature-Input and Signature header lines that sign `method`, `url`
// and `body` as `keyid` with `key`.
std::vector<std::string> signature_headers(const crypto::request_signature::SigningKey& key,
                                           const std::string& keyid, const std::string& method,
                                           const std::string& url, const std::string& body,
                                           std::int64_t created, const std::string& nonce);

// A reviewer: their id and signing key, and where the reviewer listener is.
struct ReviewerClient {
  std::string id;
  crypto::request_signature::SigningKey key = crypto::request_signature::SigningKey::generate();
  int port = 0;
  std::filesystem::path ca_file;

  [[nodiscard]] std::string url(const std::string& target) const;
  // A request signed now with a fresh nonce; `extra` headers are sent but not signed.
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::vector<std::string>& extra = {}) const;
};

}  // namespace tipline::testing
