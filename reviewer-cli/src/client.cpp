#include "client.h"

#include <curl/curl.h>

#include <boost/json.hpp>
#include <ctime>
#include <mutex>

#include "terminal_text.h"

namespace tipline::review {
namespace {

namespace json = boost::json;
namespace signature = crypto::request_signature;

// Error answers are short; a change list page of 1000 entries stays well below this.
constexpr std::size_t kMaxCollectedBody = std::size_t{64} << 20;
// A refusal's reason is a few words; a longer one is cut for the terminal.
constexpr std::size_t kMaxReasonWidth = 200;

struct CurlDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
  void operator()(char* text) const { curl_free(text); }
};
template <class T>
using CurlPointer = std::unique_ptr<T, CurlDeleter>;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one transfer collects through libcurl's callbacks.
struct Transfer {
  CURL* handle = nullptr;
  const BodySink* sink = nullptr;
  const HeadCheck* head_check = nullptr;
  bool head_checked = false;
  Response response;
  std::optional<std::string> sink_error;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t length = size * count;
  long status = 0;
  curl_easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &status);
  if (transfer.sink != nullptr && (status == 200 || status == 206)) {
    // The headers are complete by the first body byte: judge them before the sink stores
    // anything, so that bytes of an unwanted answer never land anywhere.
    if (transfer.head_check != nullptr && !transfer.head_checked) {
      transfer.head_checked = true;
      if (auto accepted = (*transfer.head_check)(status, transfer.response.content_range);
          !accepted) {
        transfer.sink_error = accepted.error();
        return 0;
      }
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    if (auto taken = (*transfer.sink)({bytes, length}); !taken) {
      transfer.sink_error = taken.error();
      return 0;  // aborts the transfer
    }
    return length;
  }
  if (transfer.response.body.size() + length > kMaxCollectedBody) {
    transfer.too_large = true;
    return 0;
  }
  transfer.response.body.append(data, length);
  return length;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  // A new status line (after a proxy's CONNECT answer or a 1xx): forget the earlier fields.
  if (line.starts_with("HTTP/")) transfer.response.content_range.clear();
  constexpr std::string_view kName = "content-range:";
  if (line.size() > kName.size()) {
    std::string name(line.substr(0, kName.size()));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      transfer.response.content_range = value;
    }
  }
  return size * count;
}

std::string hex_nonce() {
  const crypto::Secret random = crypto::Secret::random(16);
  const crypto::Secret hex = random.to_hex();
  return {reinterpret_cast<const char*>(hex.expose().data()), hex.size()};
}

bool is_tls_error(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return true;
    default:
      return false;
  }
}

bool is_unreachable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_PROXY:
      return true;
    default:
      return false;
  }
}

// The server's reason for a 401, and what the reviewer can do about it.
std::string refusal_advice(std::string_view reason, const std::string& reviewer,
                           const std::string& public_key) {
  if (reason == "stale signature") {
    return "check this machine's clock: it must be within 5 minutes of the server's";
  }
  if (reason == "unknown reviewer") {
    return "the server does not know the reviewer \"" + reviewer +
           "\": an administrator registers it with `tipline-server reviewers add " + reviewer +
           " --key " + public_key + "`";
  }
  if (reason == "reviewer disabled") {
    return "an administrator disabled the reviewer \"" + reviewer + "\"";
  }
  if (reason == "bad signature") {
    return "the server holds another key for \"" + reviewer + "\" (" + public_key +
           " is this case's), or something on the way altered the request";
  }
  if (reason == "replayed nonce") return "try again";
  return "something on the way (a proxy?) may have altered the request";
}

}  // namespace

void Client::EasyHandleDeleter::operator()(CURL* handle) const { curl_easy_cleanup(handle); }

Client::Client(ClientOptions options, signature::SigningKey key)
    : options_(std::move(options)), key_(std::move(key)) {
  global_init();
}

tl::expected<Response, Failure> Client::send(const Request& request) const {
  const std::string url = options_.server + request.target;
  if (handle_) {
    curl_easy_reset(handle_.get());  // keeps the open connection, forgets every option
  } else {
    handle_.reset(curl_easy_init());
    if (!handle_) return tl::unexpected(Failure{kFailure, "libcurl cannot start"});
  }

  const std::string digest = signature::content_digest(request.body);
  const signature::Fields fields =
      signature::sign(key_, options_.reviewer, {request.method, url, digest},
                      static_cast<std::int64_t>(std::time(nullptr)), hex_nonce());
  curl_slist* raw_headers = nullptr;
  const auto add_header = [&raw_headers](const std::string& header) {
    raw_headers = curl_slist_append(raw_headers, header.c_str());
  };
  add_header("Content-Digest: " + digest);
  add_header("Signature-Input: " + fields.signature_input);
  add_header("Signature: " + fields.signature);
  add_header("Expect:");  // no 100-continue round trip
  if (!request.content_type.empty()) {
    add_header("Content-Type: " + std::string(request.content_type));
  }
  if (!request.range.empty()) add_header("Range: " + request.range);
  const CurlPointer<curl_slist> headers(raw_headers);

  Transfer transfer;
  transfer.handle = handle_.get();
  transfer.sink = request.sink;
  transfer.head_check = request.head_check;
  std::array<char, CURL_ERROR_SIZE> error_text{};
  CURL* h = handle_.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_USERAGENT, "tipline-review");
  // Always set: an empty proxy also keeps libcurl from using one from the environment
  // (http_proxy, https_proxy, ALL_PROXY).
  curl_easy_setopt(h, CURLOPT_PROXY, options_.proxy.c_str());
  // Always set, to "": no host bypasses the proxy. Unset, libcurl reads NO_PROXY/no_proxy
  // from the environment, and NO_PROXY='*' would send a Tor reviewer out directly, its
  // DNS resolving the server's name locally.
  curl_easy_setopt(h, CURLOPT_NOPROXY, "");
  if (options_.ca_file) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file->c_str());
    // Only the case's certificate: without this the system CA directory stays trusted
    // beside it, and any public CA could vouch for the server's name.
    curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_seconds);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text.data());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    const std::string method(request.method);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const CURLcode code = curl_easy_perform(h);
  if (transfer.sink_error) return tl::unexpected(Failure{kFailure, *transfer.sink_error});
  if (transfer.too_large) {
    return tl::unexpected(Failure{kServerError, url + ": the answer is unexpectedly large"});
  }
  if (code != CURLE_OK) {
    const std::string detail = error_text[0] != '\0' ? error_text.data() : "";
    if (is_tls_error(code)) {
      return tl::unexpected(Failure{
          kTlsFailure,
          "TLS failure with " + options_.server + ": " +
              (detail.empty() ? curl_easy_strerror(code) : detail) +
              (options_.ca_file ? " (the case trusts only " + options_.ca_file->string() + ")"
                                : " (give the server's certificate with "
                                  "`init --ca-file` if it is self-signed)")});
    }
    if (is_unreachable(code)) {
      // curl_easy_strerror, not the detail: the detail has timings, and the message
      // should read the same every time.
      std::string message =
          "cannot reach the server at " + options_.server + ": " + curl_easy_strerror(code);
      if (!options_.proxy.empty()) {
        message += " (through the proxy " + options_.proxy + ": is it running?)";
      }
      return tl::unexpected(Failure{kUnreachable, message});
    }
    return tl::unexpected(
        Failure{kFailure, url + ": " + (detail.empty() ? curl_easy_strerror(code) : detail)});
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  return std::move(transfer.response);
}

tl::expected<std::string, Failure> Client::send_expecting(const Request& request, long expected,
                                                          std::string_view what) const {
  auto response = send(request);
  if (!response) return tl::unexpected(response.error());
  if (response->status != expected) return tl::unexpected(status_failure(*response, what));
  return std::move(response->body);
}

Failure Client::status_failure(const Response& response, std::string_view what) const {
  std::error_code ec;
  const json::value body = json::parse(response.body, ec);
  std::string reason;
  if (!ec && body.is_object()) {
    for (const char* key : {"reason", "error"}) {
      if (const json::value* value = body.get_object().if_contains(key);
          value != nullptr && value->is_string() && reason.empty()) {
        // The server's words reach the terminal: never as control sequences, and short.
        reason = truncate_to_width(terminal_safe(value->get_string()), kMaxReasonWidth);
      }
    }
  }
  const std::string subject(what);
  switch (response.status) {
    case 401: {
      if (reason.empty()) reason = "no reason given";
      return {kSignatureRefused,
              "the server refused the request signature: " + reason + " \xE2\x80\x94 " +
                  refusal_advice(reason, options_.reviewer,
                                 signature::encode_public_key(key_.public_key()))};
    }
    case 403:
      return {kForbidden, subject + ": the server refused: this needs the admin role"};
    case 404:
      return {kNotFound,
              subject + ": not found on the server" + (reason.empty() ? "" : " (" + reason + ")")};
    default:
      return {kServerError, subject + ": the server answered " + std::to_string(response.status) +
                                (reason.empty() ? "" : ": " + reason)};
  }
}

tl::expected<std::string, std::string> normalise_server_url(std::string_view url) {
  const CurlPointer<CURLU> parsed(curl_url());
  const std::string text(url);
  if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return tl::unexpected("\"" + text + "\" is not a URL");
  }
  const auto part = [&parsed](CURLUPart which, unsigned flags) -> std::optional<std::string> {
    char* raw = nullptr;
    if (curl_url_get(parsed.get(), which, &raw, flags) != CURLUE_OK) return std::nullopt;
    const CurlPointer<char> owned(raw);
    return std::string(raw);
  };
  if (part(CURLUPART_SCHEME, 0) != "https") {
    return tl::unexpected(
        "the server URL must start with https:// (the reviewer API is TLS "
        "only), not \"" +
        text + "\"");
  }
  if (part(CURLUPART_QUERY, 0) || part(CURLUPART_FRAGMENT, 0) || part(CURLUPART_USER, 0)) {
    return tl::unexpected("the server URL must not have a query, fragment or user: \"" + text +
                          "\"");
  }
  const auto host = part(CURLUPART_HOST, 0);
  if (!host) return tl::unexpected("the server URL has no host: \"" + text + "\"");
  std::string normal = "https://" + *host;
  if (const auto port = part(CURLUPART_PORT, CURLU_NO_DEFAULT_PORT)) normal += ":" + *port;
  // The signature covers the exact URL, and the server verifies it against its own routes
  // (/api/...): behind a path prefix no request would verify.
  if (const std::string path = part(CURLUPART_PATH, 0).value_or("/"); path != "/") {
    return tl::unexpected("the server URL must be https://HOST[:PORT], without a path: \"" + text +
                          "\"");
  }
  return normal;
}

}  // namespace tipline::review
