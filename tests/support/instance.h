// Test support: a tipline-server instance on loopback, its database, and the stock age CLI.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"
#include "tipline/storage/blobs.h"
#include "tipline/storage/database.h"

namespace tipline::testing {

// An instance made by `tipline-server init` in <folder>/instance, served with its log in
// <folder>/serve.log. Assertions inside record failures of the test that calls them.
class Instance {
 public:
  // Nothing is made yet; `server` is the tipline-server binary.
  Instance(const std::filesystem::path& folder, std::string server);

  // Runs `tipline-server init` (with --demo when demo is true); a fatal failure if it fails.
  void init(bool demo);
  // Writes `overlay` to test.toml in the instance, serves it, waits until both listeners
  // listen and reads their ports from the log. A running server from before is replaced.
  void start(const std::string& overlay);
  // Sends SIGTERM and expects the server to exit with 0 within the deadline.
  void stop(std::chrono::seconds deadline = std::chrono::seconds(15));

  // The instance folder.
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // The server started last (start() first).
  [[nodiscard]] Child& server() const { return *server_; }
  // The ports the listeners announced, 0 before start().
  [[nodiscard]] int source_port() const { return source_port_; }
  [[nodiscard]] int reviewer_port() const { return reviewer_port_; }
  // https://localhost:<source port><path>.
  [[nodiscard]] std::string url(const std::string& path) const;
  // The instance's self-signed TLS certificate, to trust in requests.
  [[nodiscard]] std::filesystem::path certificate() const;
  // The server's log file, and its text.
  [[nodiscard]] const std::filesystem::path& log_file() const { return log_file_; }
  [[nodiscard]] std::string log() const;

  // Opens the instance database with its key file (expects both to open).
  [[nodiscard]] storage::Database open_database() const;

 private:
  std::filesystem::path path_;
  std::filesystem::path log_file_;
  std::string server_binary_;
  std::unique_ptr<Child> server_;
  int source_port_ = 0;
  int reviewer_port_ = 0;
};

// The whole blob's bytes (expects every read to succeed).
std::string read_blob(storage::Database& db, storage::BlobId blob);

// Seals `plain` with the stock age CLI (`age -e -r …`) to every recipient into the file
// `sealed`, the plaintext written next to it with the extension .txt; expects success.
void age_seal(const std::filesystem::path& sealed, std::string_view plain,
              const std::vector<std::string>& recipients);

// Runs the stock age CLI with `arguments` in a pseudo-terminal made by script(1) and types
// the demo reviewer's passphrase (demo-offline-keys of `instance`) at its prompt: age reads
// passphrases only from a terminal. Expects exit code 0.
void age_with_demo_passphrase(const std::filesystem::path& instance,
                              const std::vector<std::string>& arguments,
                              std::chrono::seconds deadline = std::chrono::seconds(60));

// Standard base64 with padding, on one line.
std::string base64(std::string_view bytes);

}  // namespace tipline::testing
