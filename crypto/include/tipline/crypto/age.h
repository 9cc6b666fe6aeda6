// age v1 (https://c2sp.org/age): streaming encryption and decryption in bounded memory.
//
// The whole API is two interfaces and a few verbs. A Recipient wraps a file key into
// stanzas, an Identity unwraps one; x25519:: and scrypt:: provide both. Encryptor and
// Decryptor stream: the caller pushes bytes in and a Sink receives the output, 64 KiB
// chunks at a time, so neither side ever holds a whole file.
//
// The Decryptor releases each chunk only once it has authenticated, but a stream that fails
// later has already released the chunks before the failure; callers that must be
// all-or-nothing (the reviewer CLI's `-o FILE`) discard their output on error.
// Thread safety: Encryptor and Decryptor are single-threaded objects; recipients and
// identities are immutable and may be shared between threads.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "tipline/crypto/error.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::age {

inline constexpr std::size_t kFileKeyBytes = 16;
// A header larger than this is refused: it bounds the memory an untrusted file can claim.
inline constexpr std::size_t kMaxHeaderBytes = std::size_t{256} * 1024;

struct Stanza {
  std::string type;
  std::vector<std::string> args;
  std::vector<std::uint8_t> body;
};

class Recipient {
 public:
  virtual ~Recipient() = default;
  [[nodiscard]] virtual std::vector<Stanza> wrap(const Secret& file_key) const = 0;
  // True for recipients that must be the only one in a file (scrypt).
  [[nodiscard]] virtual bool must_be_alone() const { return false; }
};

class Identity {
 public:
  virtual ~Identity() = default;
  // The file key when the stanza is for this identity and opens with it; nullopt when it is
  // another type or does not open; Errc::header_malformed when the stanza is malformed.
  // stanza_count lets scrypt refuse to be mixed with other stanzas.
  [[nodiscard]] virtual tl::expected<std::optional<Secret>, Error> unwrap(
      const Stanza& stanza, std::size_t stanza_count) const = 0;
};

struct Header {
  std::vector<Stanza> stanzas;
  std::array<std::uint8_t, 32> mac{};

  // Parses a header from the start of a file. Returns nullopt (not an error) while the
  // bytes end before the header does and are still under kMaxHeaderBytes. On success
  // `size` is the header's length in bytes, up to and including the MAC line's newline.
  struct Parsed;
  [[nodiscard]] static tl::expected<std::optional<Parsed>, Error> parse(
      std::span<const std::uint8_t> bytes);
  // The canonical encoding; parse(serialize()) reproduces it byte for byte.
  [[nodiscard]] std::string serialize() const;
};

struct Header::Parsed {
  Header header;
  std::size_t size = 0;
};

// For the server, which holds no identity: the header has exactly `count` X25519 stanzas
// and no stanza of another type.
[[nodiscard]] tl::expected<void, Error> check_x25519_stanzas(const Header& header,
                                                             std::size_t count);

using Sink = std::function<tl::expected<void, Error>(std::span<const std::uint8_t>)>;

class Encryptor {
 public:
  // Writes the header to the sink at once. recipients must not be empty, and a recipient
  // that must be alone is the only one (both asserted).
  [[nodiscard]] static tl::expected<Encryptor, Error> create(
      std::span<const Recipient* const> recipients, Sink sink);

  [[nodiscard]] tl::expected<void, Error> write(std::span<const std::uint8_t> plaintext);
  // Seals the final chunk. Call exactly once; nothing may be written after it.
  [[nodiscard]] tl::expected<void, Error> finish();

  Encryptor(Encryptor&&) noexcept;
  Encryptor& operator=(Encryptor&&) noexcept;
  ~Encryptor();

 private:
  struct State;
  explicit Encryptor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class Decryptor {
 public:
  // identities are borrowed and must outlive the Decryptor.
  Decryptor(std::span<const Identity* const> identities, Sink sink);

  // Errors: header_malformed, no_match, header_mac_mismatch, payload_corrupt, or the
  // sink's own error. After an error the Decryptor accepts nothing more.
  [[nodiscard]] tl::expected<void, Error> write(std::span<const std::uint8_t> ciphertext);
  // The end of the file: checks the last chunk was final and releases it.
  [[nodiscard]] tl::expected<void, Error> finish();
  // The parsed header, once write() has seen all of it.
  [[nodiscard]] const Header* header() const;

  Decryptor(Decryptor&&) noexcept;
  Decryptor& operator=(Decryptor&&) noexcept;
  ~Decryptor();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Key rotation: a new header sealing the same file key to new recipients, valid for the
// unchanged payload that follows the old header. file_start holds at least the old header.
struct Rewrapped {
  std::string header;           // the new header, to write in place of the old one
  std::size_t old_header_size;  // bytes of file_start the new header replaces
};
[[nodiscard]] tl::expected<Rewrapped, Error> rewrap(std::span<const std::uint8_t> file_start,
                                                    std::span<const Identity* const> identities,
                                                    std::span<const Recipient* const> recipients);

// ASCII armor (PEM, label "AGE ENCRYPTED FILE"), strict as age defines it.
// True when the bytes, after optional leading whitespace, begin the armor's first line.
[[nodiscard]] bool looks_armored(std::span<const std::uint8_t> start);

class ArmorWriter {
 public:
  explicit ArmorWriter(Sink sink);
  [[nodiscard]] tl::expected<void, Error> write(std::span<const std::uint8_t> bytes);
  [[nodiscard]] tl::expected<void, Error> finish();

 private:
  Sink sink_;
  std::vector<std::uint8_t> pending_;  // fewer than 48 bytes: one 64-column line's worth
  bool started_ = false;
};

class ArmorReader {
 public:
  explicit ArmorReader(Sink sink);
  // Errors: armor_malformed, or the sink's own error.
  [[nodiscard]] tl::expected<void, Error> write(std::span<const std::uint8_t> text);
  [[nodiscard]] tl::expected<void, Error> finish();

 private:
  [[nodiscard]] tl::expected<void, Error> line(std::string_view content);

  enum class Stage { leading_space, body, trailing_space, failed };
  Sink sink_;
  std::string line_;
  Stage stage_ = Stage::leading_space;
  bool short_line_seen_ = false;
  std::size_t leading_space_ = 0;
};

}  // namespace tipline::crypto::age
