// Passphrases for tipline-review: from the terminal without echo, or from a file for scripts.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "tipline/crypto/secret.h"

namespace tipline::review {

// Where passphrases come from: the first line of `file` (without its newline) when set,
// otherwise the controlling terminal (/dev/tty) with echo off.
class PassphraseSource {
 public:
  explicit PassphraseSource(std::optional<std::filesystem::path> file) : file_(std::move(file)) {}

  // Errors are messages for the user (no terminal, unreadable file, empty passphrase).
  [[nodiscard]] tl::expected<crypto::Secret, std::string> read(const std::string& prompt) const;
  // For new passphrases: asks twice on a terminal and refuses a mismatch.
  [[nodiscard]] tl::expected<crypto::Secret, std::string> read_new(const std::string& prompt) const;

 private:
  std::optional<std::filesystem::path> file_;
};

}  // namespace tipline::review
