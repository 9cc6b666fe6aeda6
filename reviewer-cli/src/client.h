// The reviewer API client (docs/reviewer-api.md) over libcurl.
//
// Every request is signed with the case's online key in the profile of
// tipline/crypto/request_signature.h: a fresh random nonce, created = now, and @target-uri
// the exact URL handed to libcurl. Only https:// is spoken, redirects are not followed, the
// server certificate is checked against the case's CA file alone when it has one (else the
// system store), and the case's proxy (e.g. socks5h://127.0.0.1:9050 for Tor, which also
// resolves the onion name) replaces any proxy set in the environment; NO_PROXY is ignored.
// Every request goes through one libcurl handle, so the connection (TLS session, Tor
// stream) is reused: a handshake per request made sync an order of magnitude slower.
// Thread safety: one Client per thread.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "exit_codes.h"
#include "tipline/crypto/request_signature.h"

namespace tipline::review {

struct ClientOptions {
  std::string server;    // "https://host[:port]", no trailing slash
  std::string reviewer;  // the keyid
  std::optional<std::filesystem::path> ca_file;
  std::string proxy;                  // empty: connect directly
  long connect_timeout_seconds = 60;  // Tor circuits can take a while
  // A transfer that moves no byte for this long is abandoned (downloads resume later).
  long stall_timeout_seconds = 60;
};

struct Response {
  long status = 0;
  std::string body;           // unless a BodySink took it
  std::string content_range;  // the Content-Range field, when there is one
};

// Receives a 200 or 206 response's body as it arrives; an error aborts the transfer and
// becomes the request's failure (kFailure with its message).
using BodySink = std::function<tl::expected<void, std::string>(std::span<const std::uint8_t>)>;
// Judges a 200 or 206 answer's status and Content-Range once, before its first body byte
// reaches the BodySink; an error aborts the transfer as a sink's error does.
using HeadCheck =
    std::function<tl::expected<void, std::string>(long status, std::string_view content_range)>;

struct Request {
  std::string_view method = "GET";
  std::string target;  // path and query: "/api/v1/..."
  std::span<const std::uint8_t> body;
  std::string_view content_type;  // for a body
  std::string range;              // a Range field value, or empty
  const BodySink* sink = nullptr;
  const HeadCheck* head_check = nullptr;  // only with a sink
};

class Client {
 public:
  Client(ClientOptions options, crypto::request_signature::SigningKey key);

  // One signed request. Any HTTP status is a Response; errors are transport failures:
  // kUnreachable (connection, name, proxy, timeout, broken transfer), kTlsFailure,
  // kFailure (a sink's error, anything else).
  [[nodiscard]] tl::expected<Response, Failure> send(const Request& request) const;

  // A request that must be answered with status `expected`: its body. Any other status
  // becomes status_failure(); `what` names the request in messages.
  [[nodiscard]] tl::expected<std::string, Failure> send_expecting(const Request& request,
                                                                  long expected,
                                                                  std::string_view what) const;

  // What an unexpected status means for the user, with its exit code: 401 names the
  // server's reason and what to do about it (kSignatureRefused), 403 kForbidden, 404
  // kNotFound, anything else kServerError. The server's reason goes through terminal_safe.
  [[nodiscard]] Failure status_failure(const Response& response, std::string_view what) const;

  [[nodiscard]] const ClientOptions& options() const { return options_; }

 private:
  struct EasyHandleDeleter {
    void operator()(CURL* handle) const;
  };

  ClientOptions options_;
  crypto::request_signature::SigningKey key_;
  // Reset before each request; what it keeps between requests is the connection cache,
  // not anything a request sees, so send() stays const.
  mutable std::unique_ptr<CURL, EasyHandleDeleter> handle_;
};

// The server URL normalised as case.json keeps it ("https://host[:port]", the default port
// and a trailing slash dropped). Errors: not an https:// URL, or a URL with a path, query,
// fragment or credentials (signatures cover the exact URL, so a path prefix cannot work).
[[nodiscard]] tl::expected<std::string, std::string> normalise_server_url(std::string_view url);

}  // namespace tipline::review
