// `tipline-review file ...`: age files like the stock tool, on Tipline's crypto library.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "exit_codes.h"

namespace tipline::review {

struct FileOptions {
  std::filesystem::path input;   // empty: standard input
  std::filesystem::path output;  // empty: standard output
  std::optional<std::filesystem::path> passphrase_file;
  std::vector<std::string> recipients;
  std::vector<std::filesystem::path> identity_files;
  bool passphrase = false;
  bool armor = false;
};

[[nodiscard]] int file_keygen(const FileOptions& options);
[[nodiscard]] int file_encrypt(const FileOptions& options);
[[nodiscard]] int file_decrypt(const FileOptions& options);

}  // namespace tipline::review
