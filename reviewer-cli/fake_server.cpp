#include "fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>

#include "case_folder.h"

namespace tipline::review::testing {
namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("fake server: ") + what);
}

struct SslFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(SSL* ssl) const { SSL_free(ssl); }
  void operator()(BIO* bio) const { BIO_free(bio); }
};

void add_extension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  check(extension != nullptr && X509_add_ext(certificate, extension, -1) == 1, "extension");
  X509_EXTENSION_free(extension);
}

// Reads a request head (up to the blank line); "" when the peer closes first.
std::string read_head(SSL* ssl) {
  std::string head;
  char buffer[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    const int n = SSL_read(ssl, buffer, sizeof buffer);
    if (n <= 0) return {};
    head.append(buffer, static_cast<std::size_t>(n));
  }
  return head.substr(0, head.find("\r\n\r\n") + 2);
}

}  // namespace

FakeServer::FakeServer(const std::filesystem::path& certificate_file, Handler handler)
    : handler_(std::move(handler)) {
  // A client that gives up mid-answer (as the tests make it) must not kill the test with
  // SIGPIPE when the server writes on.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<EVP_PKEY, SslFree> key(EVP_EC_gen("P-256"));
  check(key != nullptr, "key");
  std::unique_ptr<X509, SslFree> certificate(X509_new());
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 86400);
  X509_set_pubkey(certificate.get(), key.get());
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), name);
  add_extension(certificate.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(certificate.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  check(X509_sign(certificate.get(), key.get(), EVP_sha256()) > 0, "sign");

  std::unique_ptr<BIO, SslFree> pem(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(pem.get(), certificate.get()) == 1, "PEM");
  char* data = nullptr;
  const long length = BIO_get_mem_data(pem.get(), &data);
  check(replace_file(certificate_file, std::string_view(data, static_cast<std::size_t>(length)))
            .has_value(),
        "writing the certificate");

  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  check(context != nullptr, "SSL_CTX");
  context_ = context;
  check(SSL_CTX_use_certificate(context, certificate.get()) == 1 &&
            SSL_CTX_use_PrivateKey(context, key.get()) == 1,
        "certificate");

  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  check(listener_ >= 0 &&
            ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::listen(listener_, 16) == 0 &&
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) == 0,
        "listen");
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeServer::~FakeServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) ::close(listener_);
  SSL_CTX_free(static_cast<SSL_CTX*>(context_));
}

std::vector<std::string> FakeServer::requests() const {
  const std::lock_guard lock(mutex_);
  return requests_;
}

void FakeServer::serve() {
  while (!stop_) {
    pollfd ready{listener_, POLLIN, 0};
    if (::poll(&ready, 1, 50) <= 0) continue;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    // A client that stalls must not hang the test.
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const std::unique_ptr<SSL, SslFree> ssl(SSL_new(static_cast<SSL_CTX*>(context_)));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) == 1) {
      // Keep-alive: answer requests until the client closes (curl opens a new connection
      // whenever the answer said "Connection: close").
      for (std::string head = read_head(ssl.get()); !head.empty() && !stop_;
           head = read_head(ssl.get())) {
        {
          const std::lock_guard lock(mutex_);
          requests_.push_back(head);
        }
        const std::string response = handler_(head);
        SSL_write(ssl.get(), response.data(), static_cast<int>(response.size()));
        if (response.find("Connection: close") != std::string::npos) break;
      }
      SSL_shutdown(ssl.get());
    }
    ::close(fd);
  }
}

std::string http_response(std::string_view status, std::string_view headers, std::string_view body,
                          long announced) {
  const std::size_t length = announced < 0 ? body.size() : static_cast<std::size_t>(announced);
  std::string response = "HTTP/1.1 " + std::string(status) + "\r\n" + std::string(headers) +
                         "Content-Length: " + std::to_string(length) + "\r\n";
  // A short body only ends as a broken transfer when the connection closes after it.
  if (announced >= 0) response += "Connection: close\r\n";
  return response + "\r\n" + std::string(body);
}

}  // namespace tipline::review::testing
