#include "tipline/crypto/minisign.h"

#include <sodium.h>

#include <algorithm>
#include <istream>
#include <new>
#include <optional>
#include <stdexcept>
#include <vector>

namespace tipline::crypto::minisign {
namespace {

constexpr std::string_view kCommentPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedCommentPrefix = "trusted comment: ";
constexpr std::array<std::uint8_t, 2> kSignatureAlgorithm = {'E', 'd'};
constexpr std::array<std::uint8_t, 2> kPrehashedAlgorithm = {'E', 'D'};
constexpr std::array<std::uint8_t, 2> kKdfAlgorithm = {'S', 'c'};
constexpr std::array<std::uint8_t, 2> kNoKdfAlgorithm = {0, 0};
constexpr std::array<std::uint8_t, 2> kChecksumAlgorithm = {'B', '2'};
constexpr std::size_t kKeyIdSize = 8;

// minisign reads the comment line with fgets() into 1024 bytes, so the line and its newline
// must fit in 1023 characters or the rest of it is taken for the key.
constexpr std::size_t kMaxCommentSize = 1024 - 1 - kCommentPrefix.size() - 1;
// The same for the trusted comment line of a signature, read into 8192 bytes.
constexpr std::size_t kMaxTrustedCommentSize = 8192 - 1 - kTrustedCommentPrefix.size() - 1;

constexpr std::size_t kPublicKeyBlobSize =
    kSignatureAlgorithm.size() + kKeyIdSize + crypto_sign_PUBLICKEYBYTES;
constexpr std::size_t kSignatureBlobSize =
    kPrehashedAlgorithm.size() + kKeyIdSize + crypto_sign_BYTES;
// Secret key blob: sig_alg, kdf_alg, cksum_alg, kdf_salt, kdf_opslimit, kdf_memlimit, then
// key_id, sk and checksum, the part a passphrase encrypts.
constexpr std::size_t kKdfAlgorithmOffset = 2;
constexpr std::size_t kChecksumAlgorithmOffset = 4;
constexpr std::size_t kSaltOffset = 6;
constexpr std::size_t kOpslimitOffset = kSaltOffset + crypto_pwhash_scryptsalsa208sha256_SALTBYTES;
constexpr std::size_t kMemlimitOffset = kOpslimitOffset + 8;
constexpr std::size_t kKeyIdOffset = kMemlimitOffset + 8;
constexpr std::size_t kSecretKeyOffset = kKeyIdOffset + kKeyIdSize;
constexpr std::size_t kChecksumOffset = kSecretKeyOffset + crypto_sign_SECRETKEYBYTES;
constexpr std::size_t kSecretKeyBlobSize = kChecksumOffset + crypto_generichash_BYTES;

// minisign (and rsign) write exactly these limits. Larger ones could only come from a hostile
// or broken file, and would have us spend unbounded memory (memlimit) or time (scrypt's
// parallelism grows with opslimit) before the checksum could tell anything was wrong.
constexpr std::uint64_t kOpslimit = crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE;
constexpr std::uint64_t kMemlimit = crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE;

constexpr std::size_t kChunkSize = std::size_t{64} * 1024;

using Digest = std::array<std::uint8_t, crypto_generichash_BYTES_MAX>;

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

std::uint64_t load_little_endian(std::span<const std::uint8_t, 8> bytes) {
  std::uint64_t value = 0;
  for (auto byte = bytes.rbegin(); byte != bytes.rend(); ++byte) {
    value = (value << 8) | *byte;
  }
  return value;
}

void store_little_endian(std::uint64_t value, std::span<std::uint8_t, 8> bytes) {
  for (auto& byte : bytes) {
    byte = static_cast<std::uint8_t>(value & 0xffU);
    value >>= 8;
  }
}

bool has_at(std::span<const std::uint8_t> bytes, std::size_t offset,
            const std::array<std::uint8_t, 2>& expected) {
  return std::ranges::equal(expected, bytes.subspan(offset, expected.size()));
}

// Throws unless minisign can read the comment back: one line of at most max_size bytes, and
// no NUL, since minisign handles comments as C strings.
void check_comment(std::string_view comment, std::size_t max_size) {
  if (comment.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos ||
      comment.size() > max_size) {
    throw std::invalid_argument("minisign comment must be one line of at most " +
                                std::to_string(max_size) + " bytes, without NUL");
  }
}

// The first count lines of text without their LF or CRLF endings (the last may lack its
// newline), or nullopt if there are fewer or anything but blank space follows them.
std::optional<std::vector<std::string_view>> split_lines(std::string_view text, std::size_t count) {
  std::vector<std::string_view> lines;
  while (lines.size() < count) {
    if (text.empty()) return std::nullopt;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    while (line.ends_with('\r')) line.remove_suffix(1);  // as minisign trims them
    lines.push_back(line);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
  if (text.find_first_not_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
  return lines;
}

// Decodes line, which must be the padded base64 of exactly out.size() bytes; wrong_length is
// the error code for text that is not that long.
tl::expected<void, Error> decode_base64(std::string_view line, std::span<std::uint8_t> out,
                                        Errc wrong_length, const std::string& what) {
  if (line.size() != base64_size_with_nul(out.size()) - 1) {
    return failure(wrong_length, what + " has the wrong length");
  }
  std::size_t size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), line.data(), line.size(), nullptr, &size, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != line.data() + line.size()) {
    return failure(Errc::malformed_encoding, what + " is not base64");
  }
  // Base64 padding can make the right text length decode to fewer bytes.
  if (size != out.size()) return failure(wrong_length, what + " has the wrong length");
  return {};
}

std::string to_base64(std::span<const std::uint8_t> bytes) {
  std::string base64(base64_size_with_nul(bytes.size()), '\0');
  sodium_bin2base64(base64.data(), base64.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  base64.pop_back();
  return base64;
}

std::size_t key_file_size(std::string_view comment) {
  return kCommentPrefix.size() + comment.size() + 1 + base64_size_with_nul(kSecretKeyBlobSize);
}

// Writes the comment line and the base64 line of a secret key file into out, of
// key_file_size(comment) bytes. The NUL sodium_bin2base64 writes after the base64 lands where
// the final newline goes, so no other buffer ever holds the encoded key.
void write_key_file(std::string_view comment, std::span<const std::uint8_t> blob,
                    std::span<std::uint8_t> out) {
  auto next = std::copy(kCommentPrefix.begin(), kCommentPrefix.end(), out.begin());
  next = std::copy(comment.begin(), comment.end(), next);
  *next++ = '\n';
  const auto base64_offset = static_cast<std::size_t>(next - out.begin());
  sodium_bin2base64(reinterpret_cast<char*>(out.data() + base64_offset), out.size() - base64_offset,
                    blob.data(), blob.size(), sodium_base64_VARIANT_ORIGINAL);
  out.back() = '\n';
}

// BLAKE2b-256 of sig_alg || key_id || sk, from a secret key blob in the clear.
void compute_checksum(std::span<const std::uint8_t> blob, std::uint8_t* out) {
  crypto_generichash_state state{};
  crypto_generichash_init(&state, nullptr, 0, crypto_generichash_BYTES);
  crypto_generichash_update(&state, blob.data(), kSignatureAlgorithm.size());
  // key_id and sk are adjacent in the blob.
  crypto_generichash_update(&state, blob.data() + kKeyIdOffset,
                            kKeyIdSize + crypto_sign_SECRETKEYBYTES);
  crypto_generichash_final(&state, out, crypto_generichash_BYTES);
  sodium_memzero(&state, sizeof state);
}

// XORs key_id, sk and checksum with scrypt output for the passphrase and the blob's salt;
// the same call encrypts and decrypts. Throws std::bad_alloc when scrypt gets no memory.
void apply_kdf(std::span<std::uint8_t> blob, const Secret& passphrase, std::uint64_t opslimit,
               std::uint64_t memlimit) {
  Secret stream(kSecretKeyBlobSize - kKeyIdOffset);
  const auto pad = stream.expose();
  const auto password = passphrase.expose();
  if (crypto_pwhash_scryptsalsa208sha256(
          pad.data(), pad.size(), reinterpret_cast<const char*>(password.data()), password.size(),
          blob.data() + kSaltOffset, opslimit, memlimit) != 0) {
    throw std::bad_alloc();
  }
  for (std::size_t i = 0; i < pad.size(); ++i) {
    blob[kKeyIdOffset + i] ^= pad[i];
  }
}

// The secret key blob in the clear: algorithms, key_id, sk and checksum, the rest zero.
Secret clear_key_blob(const std::array<std::uint8_t, kKeyIdSize>& key_id, const Secret& key) {
  Secret blob(kSecretKeyBlobSize);
  const auto bytes = blob.expose();
  std::copy(kSignatureAlgorithm.begin(), kSignatureAlgorithm.end(), bytes.begin());
  std::copy(kChecksumAlgorithm.begin(), kChecksumAlgorithm.end(),
            bytes.begin() + kChecksumAlgorithmOffset);
  std::copy(key_id.begin(), key_id.end(), bytes.begin() + kKeyIdOffset);
  std::copy(key.expose().begin(), key.expose().end(), bytes.begin() + kSecretKeyOffset);
  compute_checksum(bytes, bytes.data() + kChecksumOffset);
  return blob;
}

// What the global signature signs: the signature, then the trusted comment.
std::vector<std::uint8_t> comment_signed_bytes(const std::array<std::uint8_t, 64>& signature,
                                               std::string_view trusted_comment) {
  std::vector<std::uint8_t> bytes(signature.begin(), signature.end());
  bytes.insert(bytes.end(), trusted_comment.begin(), trusted_comment.end());
  return bytes;
}

// Calls consume with successive chunks of stream up to its end; false if it failed before.
template <typename Consume>
bool read_chunks(std::istream& stream, Consume consume) {
  std::vector<char> chunk(kChunkSize);
  while (stream) {
    stream.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    consume(std::span(reinterpret_cast<const std::uint8_t*>(chunk.data()),
                      static_cast<std::size_t>(stream.gcount())));
  }
  return stream.eof() && !stream.bad();
}

tl::unexpected<Error> read_failure() {
  return failure(Errc::io, "reading the message failed before its end");
}

Digest prehash(std::span<const std::uint8_t> message) {
  Digest digest{};
  crypto_generichash(digest.data(), digest.size(), message.data(), message.size(), nullptr, 0);
  return digest;
}

tl::expected<Digest, Error> prehash(std::istream& message) {
  crypto_generichash_state state{};
  crypto_generichash_init(&state, nullptr, 0, crypto_generichash_BYTES_MAX);
  if (!read_chunks(message, [&state](std::span<const std::uint8_t> chunk) {
        crypto_generichash_update(&state, chunk.data(), chunk.size());
      })) {
    return read_failure();
  }
  Digest digest{};
  crypto_generichash_final(&state, digest.data(), digest.size());
  return digest;
}

}  // namespace

tl::expected<Signature, Error> Signature::parse(std::string_view file_text) {
  const auto lines = split_lines(file_text, 4);
  if (!lines) return failure(Errc::malformed_signature, "minisign signature is not four lines");
  if (!(*lines)[0].starts_with(kCommentPrefix)) {
    return failure(Errc::malformed_signature, "minisign signature has no untrusted comment line");
  }
  if (!(*lines)[2].starts_with(kTrustedCommentPrefix)) {
    return failure(Errc::malformed_signature, "minisign signature has no trusted comment line");
  }

  std::array<std::uint8_t, kSignatureBlobSize> blob{};
  Signature signature;
  if (auto decoded =
          decode_base64((*lines)[1], blob, Errc::malformed_signature, "minisign signature");
      !decoded) {
    return tl::unexpected(std::move(decoded.error()));
  }
  if (auto decoded = decode_base64((*lines)[3], signature.global_signature_,
                                   Errc::malformed_signature, "minisign global signature");
      !decoded) {
    return tl::unexpected(std::move(decoded.error()));
  }
  if (has_at(blob, 0, kPrehashedAlgorithm)) {
    signature.prehashed_ = true;
  } else if (has_at(blob, 0, kSignatureAlgorithm)) {
    signature.prehashed_ = false;
  } else {
    return failure(Errc::wrong_key_type,
                   "minisign signature is neither a prehashed (\"ED\") nor a legacy (\"Ed\") one");
  }
  const auto key_id_begin = blob.begin() + kPrehashedAlgorithm.size();
  std::copy_n(key_id_begin, kKeyIdSize, signature.key_id_.begin());
  std::copy_n(key_id_begin + kKeyIdSize, crypto_sign_BYTES, signature.signature_.begin());
  signature.untrusted_comment_ = (*lines)[0].substr(kCommentPrefix.size());
  signature.trusted_comment_ = (*lines)[2].substr(kTrustedCommentPrefix.size());
  return signature;
}

std::string Signature::to_file_text() const {
  std::array<std::uint8_t, kSignatureBlobSize> blob{};
  const auto& algorithm = prehashed_ ? kPrehashedAlgorithm : kSignatureAlgorithm;
  auto out = std::copy(algorithm.begin(), algorithm.end(), blob.begin());
  out = std::copy(key_id_.begin(), key_id_.end(), out);
  std::copy(signature_.begin(), signature_.end(), out);
  return std::string(kCommentPrefix) + untrusted_comment_ + "\n" + to_base64(blob) + "\n" +
         std::string(kTrustedCommentPrefix) + trusted_comment_ + "\n" +
         to_base64(global_signature_) + "\n";
}

std::uint64_t Signature::key_id() const { return load_little_endian(key_id_); }

tl::expected<PublicKey, Error> PublicKey::parse(std::string_view file_text) {
  const auto lines = split_lines(file_text, 2);
  if (!lines || !(*lines)[0].starts_with(kCommentPrefix)) {
    return failure(Errc::malformed_key,
                   "minisign public key file is not an untrusted comment line and a key line");
  }
  std::array<std::uint8_t, kPublicKeyBlobSize> blob{};
  if (auto decoded = decode_base64((*lines)[1], blob, Errc::malformed_key, "minisign public key");
      !decoded) {
    return tl::unexpected(std::move(decoded.error()));
  }
  if (!has_at(blob, 0, kSignatureAlgorithm)) {
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
  return std::string(kCommentPrefix) + "minisign public key " + upper_hex(key_id()) + "\n" +
         to_base64(blob) + "\n";
}

std::uint64_t PublicKey::key_id() const { return load_little_endian(key_id_); }

tl::expected<std::string, Error> PublicKey::verify(std::span<const std::uint8_t> message,
                                                   const Signature& signature) const {
  initialize();
  if (auto matched = check_key_id(signature); !matched) {
    return tl::unexpected(std::move(matched.error()));
  }
  if (!signature.prehashed_) return check_signatures(message, signature);
  return check_signatures(prehash(message), signature);
}

tl::expected<std::string, Error> PublicKey::verify(std::istream& message,
                                                   const Signature& signature) const {
  initialize();
  // Before reading, so that a signature by another key fails without reading a large file.
  if (auto matched = check_key_id(signature); !matched) {
    return tl::unexpected(std::move(matched.error()));
  }
  if (signature.prehashed_) {
    const auto digest = prehash(message);
    if (!digest) return tl::unexpected(digest.error());
    return check_signatures(*digest, signature);
  }
  std::vector<std::uint8_t> whole;
  if (!read_chunks(message, [&whole](std::span<const std::uint8_t> chunk) {
        whole.insert(whole.end(), chunk.begin(), chunk.end());
      })) {
    return read_failure();
  }
  return check_signatures(whole, signature);
}

tl::expected<void, Error> PublicKey::check_key_id(const Signature& signature) const {
  if (signature.key_id_ != key_id_) {
    return failure(Errc::key_mismatch, "the signature was made by key " +
                                           upper_hex(signature.key_id()) + ", not by key " +
                                           upper_hex(key_id()));
  }
  return {};
}

tl::expected<std::string, Error> PublicKey::check_signatures(
    std::span<const std::uint8_t> signed_bytes, const Signature& signature) const {
  if (crypto_sign_verify_detached(signature.signature_.data(), signed_bytes.data(),
                                  signed_bytes.size(), key_.data()) != 0) {
    return failure(Errc::bad_signature, "the signature does not match the message");
  }
  const std::vector<std::uint8_t> comment_bytes =
      comment_signed_bytes(signature.signature_, signature.trusted_comment_);
  if (crypto_sign_verify_detached(signature.global_signature_.data(), comment_bytes.data(),
                                  comment_bytes.size(), key_.data()) != 0) {
    return failure(Errc::bad_trusted_comment,
                   "the trusted comment or its signature has been altered");
  }
  return signature.trusted_comment_;
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

tl::expected<SecretKey, Error> SecretKey::parse(std::string_view file_text,
                                                const Secret& passphrase) {
  initialize();
  const auto lines = split_lines(file_text, 2);
  if (!lines || !(*lines)[0].starts_with(kCommentPrefix)) {
    return failure(Errc::malformed_key,
                   "minisign secret key file is not an untrusted comment line and a key line");
  }
  Secret blob(kSecretKeyBlobSize);
  const auto bytes = blob.expose();
  if (auto decoded = decode_base64((*lines)[1], bytes, Errc::malformed_key, "minisign secret key");
      !decoded) {
    return tl::unexpected(std::move(decoded.error()));
  }
  if (!has_at(bytes, 0, kSignatureAlgorithm) ||
      !has_at(bytes, kChecksumAlgorithmOffset, kChecksumAlgorithm)) {
    return failure(Errc::wrong_key_type,
                   "minisign secret key is not an Ed25519 (\"Ed\") key with a \"B2\" checksum");
  }

  if (has_at(bytes, kKdfAlgorithmOffset, kKdfAlgorithm)) {
    const std::uint64_t opslimit =
        load_little_endian(bytes.subspan<kOpslimitOffset, sizeof(std::uint64_t)>());
    const std::uint64_t memlimit =
        load_little_endian(bytes.subspan<kMemlimitOffset, sizeof(std::uint64_t)>());
    if (opslimit > kOpslimit || memlimit > kMemlimit) {
      return failure(Errc::malformed_key,
                     "minisign secret key asks for more scrypt work than minisign ever uses");
    }
    apply_kdf(bytes, passphrase, opslimit, memlimit);
    Secret checksum(crypto_generichash_BYTES);
    compute_checksum(bytes, checksum.expose().data());
    if (sodium_memcmp(checksum.expose().data(), bytes.data() + kChecksumOffset, checksum.size()) !=
        0) {
      return failure(Errc::wrong_passphrase, "wrong passphrase for the minisign secret key");
    }
  } else if (!has_at(bytes, kKdfAlgorithmOffset, kNoKdfAlgorithm)) {
    return failure(Errc::wrong_key_type,
                   "minisign secret key is encrypted with something other than scrypt (\"Sc\")");
  }
  // Unencrypted keys carry no checksum worth reading (`minisign -G -W` writes zeros), so
  // corruption shows here instead: sk is seed || public key, and both must agree.
  std::array<std::uint8_t, kKeyIdSize> key_id{};
  std::copy_n(bytes.begin() + kKeyIdOffset, key_id.size(), key_id.begin());
  Secret key(crypto_sign_SECRETKEYBYTES);
  std::copy_n(bytes.begin() + kSecretKeyOffset, key.size(), key.expose().begin());
  Secret rederived(crypto_sign_SECRETKEYBYTES);
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> unused_public_key{};
  crypto_sign_seed_keypair(unused_public_key.data(), rederived.expose().data(),
                           key.expose().data());
  if (sodium_memcmp(rederived.expose().data(), key.expose().data(), key.size()) != 0) {
    return failure(Errc::malformed_key, "minisign secret key does not match its public half");
  }
  return SecretKey(key_id, std::move(key));
}

PublicKey SecretKey::public_key() const {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> key{};
  crypto_sign_ed25519_sk_to_pk(key.data(), key_.expose().data());
  return PublicKey(key_id_, key);
}

Secret SecretKey::to_unencrypted_file_text(std::string_view untrusted_comment) const {
  check_comment(untrusted_comment, kMaxCommentSize);
  const Secret blob = clear_key_blob(key_id_, key_);
  Secret text(key_file_size(untrusted_comment));
  write_key_file(untrusted_comment, blob.expose(), text.expose());
  return text;
}

std::string SecretKey::to_encrypted_file_text(const Secret& passphrase,
                                              std::string_view untrusted_comment) const {
  initialize();
  check_comment(untrusted_comment, kMaxCommentSize);
  Secret blob = clear_key_blob(key_id_, key_);
  const auto bytes = blob.expose();
  std::copy(kKdfAlgorithm.begin(), kKdfAlgorithm.end(), bytes.begin() + kKdfAlgorithmOffset);
  randombytes_buf(bytes.data() + kSaltOffset, crypto_pwhash_scryptsalsa208sha256_SALTBYTES);
  store_little_endian(kOpslimit, bytes.subspan<kOpslimitOffset, sizeof(std::uint64_t)>());
  store_little_endian(kMemlimit, bytes.subspan<kMemlimitOffset, sizeof(std::uint64_t)>());
  apply_kdf(bytes, passphrase, kOpslimit, kMemlimit);
  std::string text(key_file_size(untrusted_comment), '\0');
  write_key_file(untrusted_comment, bytes,
                 std::span(reinterpret_cast<std::uint8_t*>(text.data()), text.size()));
  return text;
}

Signature SecretKey::sign(std::span<const std::uint8_t> message, std::string_view trusted_comment,
                          std::string_view untrusted_comment) const {
  initialize();
  check_comment(trusted_comment, kMaxTrustedCommentSize);
  check_comment(untrusted_comment, kMaxCommentSize);
  return sign_digest(prehash(message), trusted_comment, untrusted_comment);
}

tl::expected<Signature, Error> SecretKey::sign(std::istream& message,
                                               std::string_view trusted_comment,
                                               std::string_view untrusted_comment) const {
  initialize();
  check_comment(trusted_comment, kMaxTrustedCommentSize);
  check_comment(untrusted_comment, kMaxCommentSize);
  const auto digest = prehash(message);
  if (!digest) return tl::unexpected(digest.error());
  return sign_digest(*digest, trusted_comment, untrusted_comment);
}

Signature SecretKey::sign_digest(std::span<const std::uint8_t> digest,
                                 std::string_view trusted_comment,
                                 std::string_view untrusted_comment) const {
  Signature signature;
  signature.key_id_ = key_id_;
  crypto_sign_detached(signature.signature_.data(), nullptr, digest.data(), digest.size(),
                       key_.expose().data());
  const std::vector<std::uint8_t> comment_bytes =
      comment_signed_bytes(signature.signature_, trusted_comment);
  crypto_sign_detached(signature.global_signature_.data(), nullptr, comment_bytes.data(),
                       comment_bytes.size(), key_.expose().data());
  signature.untrusted_comment_ = untrusted_comment;
  signature.trusted_comment_ = trusted_comment;
  return signature;
}

}  // namespace tipline::crypto::minisign
