#include "tls.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace tipline::server {
namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

struct Deleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(BIO* bio) const { BIO_free(bio); }
  void operator()(BIGNUM* number) const { BN_free(number); }
};
template <class T>
using Owned = std::unique_ptr<T, Deleter>;

bool add_extension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return false;
  const bool added = X509_add_ext(certificate, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

}  // namespace

tl::expected<std::unique_ptr<boost::asio::ssl::context>, std::string> make_tls_context(
    const std::filesystem::path& certificate, const std::filesystem::path& private_key) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2 suites; TLS 1.3 keeps OpenSSL's defaults, which are all AEAD and forward secret.
  if (SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return tl::unexpected("cannot set TLS cipher list: " + openssl_error());
  }
  if (SSL_CTX_use_certificate_chain_file(native, certificate.c_str()) != 1) {
    return tl::unexpected("cannot load TLS certificate " + certificate.string() + ": " +
                          openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return tl::unexpected("cannot load TLS private key " + private_key.string() + ": " +
                          openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return tl::unexpected("TLS private key " + private_key.string() +
                          " does not match certificate " + certificate.string());
  }
  return context;
}

tl::expected<SelfSignedCertificate, std::string> make_self_signed_certificate() {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Owned<X509> certificate(X509_new());
  Owned<BIGNUM> serial(BN_new());
  if (!key || !certificate || !serial)
    return tl::unexpected("cannot make a key: " + openssl_error());

  X509* cert = certificate.get();
  X509_NAME* name = X509_get_subject_name(cert);
  const bool built =
      X509_set_version(cert, 2) == 1 &&
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr &&
      X509_gmtime_adj(X509_getm_notBefore(cert), 0) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 60 * 60) != nullptr &&
      X509_set_pubkey(cert, key.get()) == 1 &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                 0) == 1 &&
      X509_set_issuer_name(cert, name) == 1 &&
      add_extension(cert, NID_basic_constraints, "critical,CA:FALSE") &&
      add_extension(cert, NID_key_usage, "critical,digitalSignature") &&
      add_extension(cert, NID_ext_key_usage, "serverAuth") &&
      add_extension(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") &&
      X509_sign(cert, key.get(), EVP_sha256()) > 0;
  if (!built) return tl::unexpected("cannot make a certificate: " + openssl_error());

  Owned<BIO> cert_bio(BIO_new(BIO_s_mem()));
  Owned<BIO> key_bio(BIO_new(BIO_s_secmem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return tl::unexpected("cannot encode the certificate: " + openssl_error());
  }
  char* data = nullptr;
  const long cert_size = BIO_get_mem_data(cert_bio.get(), &data);
  SelfSignedCertificate result{std::string(data, static_cast<std::size_t>(cert_size)),
                               crypto::Secret(0)};
  const long key_size = BIO_get_mem_data(key_bio.get(), &data);
  result.private_key_pem = crypto::Secret(static_cast<std::size_t>(key_size));
  std::copy_n(data, key_size, result.private_key_pem.expose().begin());
  return result;
}

}  // namespace tipline::server
