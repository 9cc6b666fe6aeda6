#include "tipline/crypto/minisign.h"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace tipline::crypto::minisign {
namespace {

constexpr std::string_view kCommentPrefix = "untrusted comment: ";
constexpr std::array<std::uint8_t, 2> kSignatureAlgorithm = {'E', 'd'};
constexpr std::array<std::uint8_t, 2> kChecksumAlgorithm = {'B', '2'};
constexpr std::size_t kKeyIdSize = 8;

// minisign reads the comment line with fgets() into 1024 bytes, so the line and its newline
// must fit in 1023 characters or the rest of it is taken for the key.
constexpr std::size_t kMaxCommentSize = 1024 - 1 - kCommentPrefix.size() - 1;

constexpr std::size_t kPublicKeyBlobSize =
    kSignatureAlgorithm.size() + kKeyIdSize + crypto_sign_PUBLICKEYBYTES;
// Secret key blob: sig_alg, kdf_alg, cksum_alg, kdf_salt, kdf_opslimit, kdf_memlimit, then
// key_id, sk and checksum.
constexpr std::size_t kChecksumAlgorithmOffset = 4;
constexpr std::size_t kKeyIdOffset = 2 + 2 + 2 + 32 + 8 + 8;
constexpr std::size_t kSecretKeyOffset = kKeyIdOffset + kKeyIdSize;
constexpr std::size_t kChecksumOffset = kSecretKeyOffset + crypto_sign_SECRETKEYBYTES;
constexpr std::size_t kSecretKeyBlobSize = kChecksumOffset + crypto_generichash_BYTES;

// Base64 text size for n bytes, with padding and with room for sodium_bin2base64's NUL.
constexpr std::size_t base64_size_with_nul(std::size_t n) {
  return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

tl::unexpected<Error> failure(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

std::string upper_hex(std::uint64_t value) {
  constexpr std::string_view kDigits = "0123456789ABCDEF";
  std::string hex(16, '0');
  for (auto digit = hex.rbegin(); digit != hex.rend(); ++digit, value >>= 4) {
    *digit = kDigits[value & 0xfU];
  }
  return hex;
}

}  // namespace

tl::expected<PublicKey, Error> PublicKey::parse(std::string_view file_text) {
  const std::size_t comment_end = file_text.find('\n');
  if (!file_text.starts_with(kCommentPrefix) || comment_end == std::string_view::npos) {
    return failure(Errc::malformed_key, "minisign public key file has no untrusted comment line");
  }
  const std::string_view rest = file_text.substr(comment_end + 1);
  const std::size_t line_end = rest.find('\n');
  std::string_view line = rest.substr(0, line_end);
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  if (line_end != std::string_view::npos &&
      rest.find_first_not_of(" \t\r\n", line_end) != std::string_view::npos) {
    return failure(Errc::malformed_key, "minisign public key file has more than two lines");
  }
  if (line.size() != base64_size_with_nul(kPublicKeyBlobSize) - 1) {
    return failure(Errc::malformed_key, "minisign public key has the wrong length");
  }

  std::array<std::uint8_t, kPublicKeyBlobSize> blob{};
  std::size_t blob_size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(blob.data(), blob.size(), line.data(), line.size(), nullptr, &blob_size,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != line.data() + line.size()) {
    return failure(Errc::malformed_encoding, "minisign public key is not base64");
  }
  // Base64 padding can make the right text length decode to fewer bytes.
  if (blob_size != blob.size()) {
    return failure(Errc::malformed_key, "minisign public key has the wrong length");
  }
  if (!std::equal(kSignatureAlgorithm.begin(), kSignatureAlgorithm.end(), blob.begin())) {
    return failure(Errc::wrong_key_type, "minisign public key is not an Ed25519 (\"Ed\") key");
  }
  std::array<std::uint8_t, kKeyIdSize> key_id{};
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> key{};
  const auto key_id_begin = blob.begin() + kSignatureAlgorithm.size();
  std::copy_n(key_id_begin, key_id.size(), key_id.begin());
  std::copy_n(key_id_begin + key_id.size(), key.size(), key.begin());
  return PublicKey(key_id, key);
}

std::string PublicKey::to_file_text() const {
  std::array<std::uint8_t, kPublicKeyBlobSize> blob{};
  auto out = std::copy(kSignatureAlgorithm.begin(), kSignatureAlgorithm.end(), blob.begin());
  out = std::copy(key_id_.begin(), key_id_.end(), out);
  std::copy(key_.begin(), key_.end(), out);
  std::string base64(base64_size_with_nul(blob.size()), '\0');
  sodium_bin2base64(base64.data(), base64.size(), blob.data(), blob.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  base64.pop_back();
  return std::string(kCommentPrefix) + "minisign public key " + upper_hex(key_id()) + "\n" +
         base64 + "\n";
}

std::uint64_t PublicKey::key_id() const {
  std::uint64_t id = 0;
  for (auto byte = key_id_.rbegin(); byte != key_id_.rend(); ++byte) {
    id = (id << 8) | *byte;
  }
  return id;
}

SecretKey SecretKey::generate() {
  initialize();
  std::array<std::uint8_t, kKeyIdSize> key_id{};
  randombytes_buf(key_id.data(), key_id.size());
  Secret key(crypto_sign_SECRETKEYBYTES);
  // The public half is also the tail of the secret key, where public_key() finds it.
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> unused_public_key{};
  crypto_sign_keypair(unused_public_key.data(), key.expose().data());
  return SecretKey(key_id, std::move(key));
}

PublicKey SecretKey::public_key() const {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> key{};
  crypto_sign_ed25519_sk_to_pk(key.data(), key_.expose().data());
  return PublicKey(key_id_, key);
}

Secret SecretKey::to_unencrypted_file_text(std::string_view untrusted_comment) const {
  if (untrusted_comment.find_first_of("\r\n") != std::string_view::npos ||
      untrusted_comment.size() > kMaxCommentSize) {
    throw std::invalid_argument("minisign comment must be one line of at most 1003 bytes");
  }

  // Zero-filled, which is what an unencrypted key has for kdf_alg, the salt and the limits.
  Secret blob(kSecretKeyBlobSize);
  const auto bytes = blob.expose();
  std::copy(kSignatureAlgorithm.begin(), kSignatureAlgorithm.end(), bytes.begin());
  std::copy(kChecksumAlgorithm.begin(), kChecksumAlgorithm.end(),
            bytes.begin() + kChecksumAlgorithmOffset);
  std::copy(key_id_.begin(), key_id_.end(), bytes.begin() + kKeyIdOffset);
  std::copy(key_.expose().begin(), key_.expose().end(), bytes.begin() + kSecretKeyOffset);

  // BLAKE2b-256 of sig_alg || key_id || sk; key_id and sk are adjacent in the blob.
  crypto_generichash_state state{};
  crypto_generichash_init(&state, nullptr, 0, crypto_generichash_BYTES);
  crypto_generichash_update(&state, bytes.data(), kSignatureAlgorithm.size());
  crypto_generichash_update(&state, bytes.data() + kKeyIdOffset,
                            kKeyIdSize + crypto_sign_SECRETKEYBYTES);
  crypto_generichash_final(&state, bytes.data() + kChecksumOffset, crypto_generichash_BYTES);
  sodium_memzero(&state, sizeof state);

  // The base64 goes straight into the text; the NUL sodium_bin2base64 writes after it lands
  // where the final newline goes, so no other buffer ever holds the encoded key.
  const std::size_t comment_size = kCommentPrefix.size() + untrusted_comment.size() + 1;
  Secret text(comment_size + base64_size_with_nul(bytes.size()));
  const auto out = text.expose();
  auto next = std::copy(kCommentPrefix.begin(), kCommentPrefix.end(), out.begin());
  next = std::copy(untrusted_comment.begin(), untrusted_comment.end(), next);
  *next = '\n';
  sodium_bin2base64(reinterpret_cast<char*>(out.data() + comment_size), out.size() - comment_size,
                    bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.back() = '\n';
  return text;
}

}  // namespace tipline::crypto::minisign
