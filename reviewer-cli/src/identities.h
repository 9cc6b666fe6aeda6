// Reading age identity files as the stock `age -d -i` does, including passphrase-protected
// ones (an identity file encrypted to a passphrase, binary or armored).
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "passphrase.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/x25519.h"

namespace tipline::review {

// Runs bytes through a Decryptor, removing the ASCII armor first when the input starts as
// armor (decided on the first write).
class DecryptPipeline {
 public:
  DecryptPipeline(std::span<const crypto::age::Identity* const> identities, crypto::age::Sink sink)
      : decryptor_(identities, std::move(sink)) {}

  [[nodiscard]] tl::expected<void, crypto::Error> write(std::span<const std::uint8_t> bytes);
  [[nodiscard]] tl::expected<void, crypto::Error> finish();

 private:
  crypto::age::Decryptor decryptor_;
  std::optional<crypto::age::ArmorReader> armor_;
  bool decided_ = false;
};

// Every identity in the files, in order. A passphrase-protected file asks `passphrases` for
// its passphrase. Errors are messages naming the file, e.g. "FILE: wrong passphrase for this
// identity file"; they never quote the file's content.
[[nodiscard]] tl::expected<std::vector<crypto::x25519::Identity>, std::string> load_identities(
    std::span<const std::filesystem::path> files, const PassphraseSource& passphrases);

}  // namespace tipline::review
