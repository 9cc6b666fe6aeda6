// TLS for the listeners: server contexts and self-signed certificates for new instances.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <tl/expected.hpp>

#include "tipline/crypto/secret.h"

namespace tipline::server {

// A TLS 1.2/1.3 server context with forward-secret AEAD suites only and no session
// tickets. The error names the file that failed and why.
[[nodiscard]] tl::expected<std::unique_ptr<boost::asio::ssl::context>, std::string>
make_tls_context(const std::filesystem::path& certificate,
                 const std::filesystem::path& private_key);

struct SelfSignedCertificate {
  std::string certificate_pem;
  crypto::Secret private_key_pem;
};

// An ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1, valid for a year.
[[nodiscard]] tl::expected<SelfSignedCertificate, std::string> make_self_signed_certificate();

}  // namespace tipline::server
