// Reading a case folder's ciphertexts with the reviewer's offline identity. Nothing here
// touches the network, so `show`, `decrypt`, `search`, `export` and `report` work on an
// air-gapped machine that holds only the identity file and a copy of the case folder.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "case_folder.h"
#include "exit_codes.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/secret.h"

namespace tipline::review {

// The exit code for a decryption error (10 to 14, or kFailure).
[[nodiscard]] int exit_code_of(crypto::Errc code);

struct KeySource {
  std::optional<std::filesystem::path> identity;  // else the case's identity setting
  std::optional<std::filesystem::path> passphrase_file;
};

// A plaintext in secret memory: the first `size` bytes of `buffer`, which may be longer, so
// that neither decrypting nor unpadding needs another, exactly sized copy.
struct SecretBytes {
  crypto::Secret buffer;
  std::size_t size = 0;

  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return buffer.expose().first(size); }
};

// The reviewer's identities, loaded once per command (the passphrase is asked once).
class Keyring {
 public:
  // Errors: no identity file given or configured (kUsage), unreadable file or wrong
  // passphrase (kFailure).
  [[nodiscard]] static tl::expected<Keyring, Failure> load(const CaseFolder& folder,
                                                           const KeySource& source);
  [[nodiscard]] std::span<const crypto::age::Identity* const> identities() const {
    return pointers_;
  }

 private:
  Keyring() = default;
  std::vector<std::unique_ptr<crypto::age::Identity>> owned_;
  std::vector<const crypto::age::Identity*> pointers_;
};

// Decrypts the age file `ciphertext`, giving the plaintext to `sink` chunk by chunk. A sink
// error stops it and comes back as the failure (its message as given).
[[nodiscard]] tl::expected<void, Failure> decrypt_file(const std::filesystem::path& ciphertext,
                                                       const Keyring& keyring,
                                                       const crypto::age::Sink& sink);
// The whole plaintext of a small age file, in secret memory.
[[nodiscard]] tl::expected<SecretBytes, Failure> decrypt_to_secret(
    const std::filesystem::path& ciphertext, const Keyring& keyring);

// The first `count` bytes of an age file's plaintext (fewer when it is shorter), decrypting
// only as much as that takes: enough to sniff a file's type.
[[nodiscard]] tl::expected<crypto::Secret, Failure> decrypt_prefix(
    const std::filesystem::path& ciphertext, const Keyring& keyring, std::size_t count);

// The unpadded tipline-report/1 document of a submission, exactly as the source sent it.
[[nodiscard]] tl::expected<SecretBytes, Failure> read_report_document(const CaseFolder& folder,
                                                                      const Submission& submission,
                                                                      const Keyring& keyring);
// The answers of a submission's report: its tipline-report/1 document, unpadded and parsed.
[[nodiscard]] tl::expected<boost::json::object, Failure> read_report(const CaseFolder& folder,
                                                                     const Submission& submission,
                                                                     const Keyring& keyring);
// A note's text: notes are UTF-8 text, padded as reports are, sealed to the bundle.
[[nodiscard]] tl::expected<std::string, Failure> read_note(const CaseFolder& folder,
                                                           const Submission& submission,
                                                           const NoteRef& note,
                                                           const Keyring& keyring);

}  // namespace tipline::review
