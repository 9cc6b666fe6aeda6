#include "tipline/crypto/age.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string_view>
#include <utility>

#include "base64.h"
#include "hkdf.h"
#include "stanza.h"
#include "stream.h"

namespace tipline::crypto::age {
namespace {

constexpr std::string_view kVersionLine = "age-encryption.org/v1";
constexpr std::string_view kMacPrefix = "---";
constexpr std::size_t kBodyColumns = 64;
constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kNonceBytes = 16;

tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

tl::unexpected<Error> malformed(std::string what) {
  return fail(Errc::header_malformed, "malformed age header: " + std::move(what));
}

bool is_argument(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x21 && c <= 0x7e;  // VCHAR
  });
}

// Everything the MAC covers: the header up to and including "---".
std::string serialize_for_mac(const Header& header) {
  std::string out(kVersionLine);
  out += '\n';
  for (const auto& stanza : header.stanzas) {
    out += "-> " + stanza.type;
    for (const auto& arg : stanza.args) out += ' ' + arg;
    out += '\n';
    const std::string body = base64::encode(stanza.body, base64::Padding::none);
    // Full 64-column lines, then one shorter line, which is empty when the body fills them.
    std::size_t at = 0;
    for (; body.size() - at >= kBodyColumns; at += kBodyColumns) {
      out.append(body, at, kBodyColumns);
      out += '\n';
    }
    out.append(body, at);
    out += '\n';
  }
  out += kMacPrefix;
  return out;
}

std::array<std::uint8_t, kMacBytes> header_mac(const Secret& file_key, std::string_view covered) {
  const Secret key = hkdf_sha256(file_key.expose(), {}, "header", kMacBytes);
  std::array<std::uint8_t, kMacBytes> mac{};
  crypto_auth_hmacsha256(mac.data(), reinterpret_cast<const unsigned char*>(covered.data()),
                         covered.size(), key.expose().data());
  return mac;
}

bool mac_matches(const Secret& file_key, std::string_view covered,
                 const std::array<std::uint8_t, kMacBytes>& mac) {
  const Secret key = hkdf_sha256(file_key.expose(), {}, "header", kMacBytes);
  return crypto_auth_hmacsha256_verify(mac.data(),
                                       reinterpret_cast<const unsigned char*>(covered.data()),
                                       covered.size(), key.expose().data()) == 0;
}

// Finds the file key (identity-major, first match wins, as the reference implementation),
// then checks the MAC over the header's own bytes.
tl::expected<Secret, Error> open_header(const Header& header, std::string_view covered,
                                        std::span<const Identity* const> identities) {
  const bool has_scrypt = std::any_of(header.stanzas.begin(), header.stanzas.end(),
                                      [](const Stanza& s) { return s.type == "scrypt"; });
  if (has_scrypt && header.stanzas.size() != 1) {
    return malformed("an scrypt stanza must be the only stanza");
  }
  for (const Identity* identity : identities) {
    for (const Stanza& stanza : header.stanzas) {
      auto unwrapped = identity->unwrap(stanza, header.stanzas.size());
      if (!unwrapped) return tl::unexpected(unwrapped.error());
      if (!*unwrapped) continue;
      Secret file_key = std::move(**unwrapped);
      if (!mac_matches(file_key, covered, header.mac)) {
        return fail(Errc::header_mac_mismatch, "the age header MAC does not verify");
      }
      return file_key;
    }
  }
  return fail(Errc::no_match, "no identity matched any of the file's recipients");
}

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The bytes the MAC covers in a parsed header of `size` bytes: all but " <43 base64>\n".
std::string_view mac_covered(std::span<const std::uint8_t> file, std::size_t size) {
  constexpr std::size_t kMacLineTail = 1 + 43 + 1;
  return as_text(file.first(size - kMacLineTail));
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

tl::expected<std::optional<Header::Parsed>, Error> Header::parse(
    std::span<const std::uint8_t> bytes) {
  const std::string_view text = as_text(bytes);
  std::size_t at = 0;
  // The next line without its newline; nullopt when it is not complete yet.
  auto next_line = [&]() -> std::optional<std::string_view> {
    const std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    return line;
  };
  auto incomplete = [&]() -> tl::expected<std::optional<Parsed>, Error> {
    if (text.size() >= kMaxHeaderBytes) return malformed("larger than 256 KiB");
    return std::nullopt;
  };

  const auto version = next_line();
  if (!version) {
    // Refuse early what cannot become an age header, rather than wait for 256 KiB.
    const std::string_view start = text.substr(0, kVersionLine.size());
    if (kVersionLine.substr(0, start.size()) != start) return malformed("not an age file");
    return incomplete();
  }
  if (*version != kVersionLine) {
    if (version->starts_with("age-encryption.org/")) return malformed("unsupported version");
    return malformed("not an age file");
  }

  Header header;
  for (;;) {
    const auto line = next_line();
    if (!line) return incomplete();
    if (line->starts_with("-> ")) {
      Stanza stanza;
      std::string_view rest = line->substr(3);
      for (;;) {
        const std::size_t space = rest.find(' ');
        const std::string_view word = rest.substr(0, space);
        if (!is_argument(word)) return malformed("invalid stanza argument");
        (stanza.type.empty() ? stanza.type : stanza.args.emplace_back()) = std::string(word);
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
      }
      for (;;) {
        const auto body_line = next_line();
        if (!body_line) return incomplete();
        if (body_line->size() > kBodyColumns) return malformed("stanza body line too long");
        auto decoded = base64::decode(*body_line, base64::Padding::none);
        if (!decoded) return malformed("stanza body is not canonical base64");
        stanza.body.insert(stanza.body.end(), decoded->begin(), decoded->end());
        if (body_line->size() < kBodyColumns) break;
      }
      header.stanzas.push_back(std::move(stanza));
    } else if (line->starts_with(kMacPrefix)) {
      if (header.stanzas.empty()) return malformed("no recipient stanza");
      if (!line->starts_with("--- ")) return malformed("MAC line");
      auto mac = base64::decode(line->substr(4), base64::Padding::none);
      if (!mac || mac->size() != kMacBytes) return malformed("MAC is not 32 bytes of base64");
      std::copy(mac->begin(), mac->end(), header.mac.begin());
      return Parsed{std::move(header), at};
    } else {
      return malformed("unexpected line");
    }
  }
}

std::string Header::serialize() const {
  return serialize_for_mac(*this) + ' ' + base64::encode(mac, base64::Padding::none) + '\n';
}

tl::expected<void, Error> check_x25519_stanzas(const Header& header, std::size_t count) {
  for (const Stanza& stanza : header.stanzas) {
    if (stanza.type != "X25519") {
      return malformed("unexpected stanza type \"" + stanza.type + "\"");
    }
  }
  if (header.stanzas.size() != count) {
    return malformed("expected " + std::to_string(count) + " X25519 stanzas, found " +
                     std::to_string(header.stanzas.size()));
  }
  return {};
}

namespace stanza {

std::vector<std::uint8_t> seal_file_key(const Secret& wrap_key, const Secret& file_key) {
  assert(wrap_key.size() == kWrapKeyBytes && file_key.size() == kFileKeyBytes);
  const std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  std::vector<std::uint8_t> body(kBodyBytes);
  crypto_aead_chacha20poly1305_ietf_encrypt(body.data(), nullptr, file_key.expose().data(),
                                            file_key.size(), nullptr, 0, nullptr, nonce.data(),
                                            wrap_key.expose().data());
  return body;
}

std::optional<Secret> open_file_key(const Secret& wrap_key, std::span<const std::uint8_t> body) {
  assert(wrap_key.size() == kWrapKeyBytes && body.size() == kBodyBytes);
  const std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  Secret file_key(kFileKeyBytes);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(file_key.expose().data(), nullptr, nullptr,
                                                body.data(), body.size(), nullptr, 0, nonce.data(),
                                                wrap_key.expose().data()) != 0) {
    return std::nullopt;
  }
  return file_key;
}

}  // namespace stanza

// ---- Encryptor ----

struct Encryptor::State {
  Sink sink;
  stream::Cipher cipher;
  Secret chunk{stream::kChunkBytes};  // plaintext waiting to be sealed
  std::size_t filled = 0;
  std::vector<std::uint8_t> sealed =
      std::vector<std::uint8_t>(stream::kChunkBytes + stream::kTagBytes);
  bool finished = false;

  State(Sink s, const Secret& payload_key) : sink(std::move(s)), cipher(payload_key) {}

  tl::expected<void, Error> seal(bool last) {
    cipher.seal(chunk.expose().first(filled), last, sealed.data());
    const std::size_t size = filled + stream::kTagBytes;
    filled = 0;
    return sink(std::span<const std::uint8_t>(sealed).first(size));
  }
};

Encryptor::Encryptor(std::unique_ptr<State> state) : state_(std::move(state)) {}
Encryptor::Encryptor(Encryptor&&) noexcept = default;
Encryptor& Encryptor::operator=(Encryptor&&) noexcept = default;
Encryptor::~Encryptor() = default;

tl::expected<Encryptor, Error> Encryptor::create(std::span<const Recipient* const> recipients,
                                                 Sink sink) {
  assert(!recipients.empty());
  assert(recipients.size() == 1 ||
         std::none_of(recipients.begin(), recipients.end(),
                      [](const Recipient* r) { return r->must_be_alone(); }));
  const Secret file_key = Secret::random(kFileKeyBytes);
  Header header;
  for (const Recipient* recipient : recipients) {
    for (auto& stanza : recipient->wrap(file_key)) header.stanzas.push_back(std::move(stanza));
  }
  header.mac = header_mac(file_key, serialize_for_mac(header));
  if (auto sent = sink(as_bytes(header.serialize())); !sent) return tl::unexpected(sent.error());

  std::array<std::uint8_t, kNonceBytes> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  if (auto sent = sink(nonce); !sent) return tl::unexpected(sent.error());
  const Secret payload_key = hkdf_sha256(file_key.expose(), nonce, "payload", stream::kKeyBytes);
  return Encryptor(std::make_unique<State>(std::move(sink), payload_key));
}

tl::expected<void, Error> Encryptor::write(std::span<const std::uint8_t> plaintext) {
  assert(!state_->finished);
  State& s = *state_;
  while (!plaintext.empty()) {
    // A full chunk is sealed only once more data arrives: the last chunk may be full, and
    // a non-empty payload never ends with an empty chunk.
    if (s.filled == stream::kChunkBytes) {
      if (auto sealed = s.seal(false); !sealed) return sealed;
    }
    const std::size_t take = std::min(plaintext.size(), stream::kChunkBytes - s.filled);
    std::memcpy(s.chunk.expose().data() + s.filled, plaintext.data(), take);
    s.filled += take;
    plaintext = plaintext.subspan(take);
  }
  return {};
}

tl::expected<void, Error> Encryptor::finish() {
  assert(!state_->finished);
  state_->finished = true;
  return state_->seal(true);
}

// ---- Decryptor ----

struct Decryptor::State {
  enum class Stage { header, nonce, payload, done, failed };

  std::span<const Identity* const> identities;
  Sink sink;
  Stage stage = Stage::header;
  std::vector<std::uint8_t> pending;  // header bytes, then nonce bytes, then ciphertext
  std::optional<Header> header;
  Secret file_key{0};
  std::optional<stream::Cipher> cipher;
  Secret plaintext{stream::kChunkBytes};
  bool final_seen = false;

  tl::expected<void, Error> failed(Error error) {
    stage = Stage::failed;
    pending.clear();
    return tl::unexpected(std::move(error));
  }

  // Opens the chunk at the front of pending. A full-size chunk may be the last one, so it
  // is tried as non-final, then as final; a shorter one can only be final.
  tl::expected<void, Error> open_chunk(std::size_t size) {
    const auto sealed = std::span<const std::uint8_t>(pending).first(size);
    const bool full = size == stream::kChunkBytes + stream::kTagBytes;
    if (full && cipher->open(sealed, false, plaintext.expose().data())) {
      final_seen = false;
    } else if (cipher->open(sealed, true, plaintext.expose().data())) {
      final_seen = true;
    } else {
      return failed({Errc::payload_corrupt, "the age payload is corrupt or truncated"});
    }
    const std::size_t plain_size = size - stream::kTagBytes;
    if (final_seen && plain_size == 0 && cipher->chunks() > 1) {
      return failed({Errc::payload_corrupt, "the age payload ends with an empty chunk"});
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(size));
    if (auto sent = sink(plaintext.expose().first(plain_size)); !sent) {
      return failed(sent.error());
    }
    return {};
  }

  tl::expected<void, Error> advance() {
    if (stage == Stage::header) {
      auto parsed = Header::parse(pending);
      if (!parsed) return failed(parsed.error());
      if (!*parsed) return {};
      const std::size_t size = (*parsed)->size;
      const std::string_view covered = mac_covered(pending, size);
      auto key = open_header((*parsed)->header, covered, identities);
      if (!key) return failed(key.error());
      file_key = std::move(*key);
      header = std::move((*parsed)->header);
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(size));
      stage = Stage::nonce;
    }
    if (stage == Stage::nonce) {
      if (pending.size() < kNonceBytes) return {};
      const Secret payload_key =
          hkdf_sha256(file_key.expose(), std::span<const std::uint8_t>(pending).first(kNonceBytes),
                      "payload", stream::kKeyBytes);
      cipher.emplace(payload_key);
      file_key = Secret(0);
      pending.erase(pending.begin(), pending.begin() + kNonceBytes);
      stage = Stage::payload;
    }
    constexpr std::size_t kSealed = stream::kChunkBytes + stream::kTagBytes;
    while (stage == Stage::payload && !pending.empty()) {
      if (final_seen) return failed({Errc::payload_corrupt, "data after the end of the age file"});
      if (pending.size() < kSealed) break;
      if (auto opened = open_chunk(kSealed); !opened) return opened;
    }
    return {};
  }
};

Decryptor::Decryptor(std::span<const Identity* const> identities, Sink sink)
    : state_(std::make_unique<State>()) {
  state_->identities = identities;
  state_->sink = std::move(sink);
}
Decryptor::Decryptor(Decryptor&&) noexcept = default;
Decryptor& Decryptor::operator=(Decryptor&&) noexcept = default;
Decryptor::~Decryptor() = default;

tl::expected<void, Error> Decryptor::write(std::span<const std::uint8_t> ciphertext) {
  State& s = *state_;
  if (s.stage == State::Stage::failed || s.stage == State::Stage::done) {
    return tl::unexpected(Error{Errc::payload_corrupt, "data after the end of the age file"});
  }
  // Feed in slices so that pending never grows far beyond one chunk.
  while (!ciphertext.empty()) {
    const std::size_t take = std::min<std::size_t>(ciphertext.size(), stream::kChunkBytes);
    s.pending.insert(s.pending.end(), ciphertext.begin(),
                     ciphertext.begin() + static_cast<std::ptrdiff_t>(take));
    ciphertext = ciphertext.subspan(take);
    if (auto advanced = s.advance(); !advanced) return advanced;
  }
  return {};
}

tl::expected<void, Error> Decryptor::finish() {
  State& s = *state_;
  if (s.stage == State::Stage::failed) {
    return tl::unexpected(Error{Errc::payload_corrupt, "the age file already failed"});
  }
  if (auto advanced = s.advance(); !advanced) return advanced;
  if (s.stage == State::Stage::header) {
    return s.failed({Errc::header_malformed, "malformed age header: the file ends in it"});
  }
  if (s.stage == State::Stage::nonce) {
    return s.failed({Errc::header_malformed, "malformed age header: the payload nonce is missing"});
  }
  if (!s.pending.empty()) {
    if (s.pending.size() < stream::kTagBytes) {
      return s.failed({Errc::payload_corrupt, "the age payload is truncated"});
    }
    if (auto opened = s.open_chunk(s.pending.size()); !opened) return opened;
  }
  if (!s.final_seen) return s.failed({Errc::payload_corrupt, "the age payload is truncated"});
  s.stage = State::Stage::done;
  return {};
}

const Header* Decryptor::header() const { return state_->header ? &*state_->header : nullptr; }

// ---- Re-wrapping ----

tl::expected<Rewrapped, Error> rewrap(std::span<const std::uint8_t> file_start,
                                      std::span<const Identity* const> identities,
                                      std::span<const Recipient* const> recipients) {
  assert(!recipients.empty());
  auto parsed = Header::parse(file_start);
  if (!parsed) return tl::unexpected(parsed.error());
  if (!*parsed) return malformed("the file ends in its header");
  const std::size_t size = (*parsed)->size;
  const std::string_view covered = mac_covered(file_start, size);
  auto file_key = open_header((*parsed)->header, covered, identities);
  if (!file_key) return tl::unexpected(file_key.error());

  Header header;
  for (const Recipient* recipient : recipients) {
    for (auto& stanza : recipient->wrap(*file_key)) header.stanzas.push_back(std::move(stanza));
  }
  header.mac = header_mac(*file_key, serialize_for_mac(header));
  return Rewrapped{header.serialize(), size};
}

}  // namespace tipline::crypto::age
