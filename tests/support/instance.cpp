#include "support/instance.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::string shell_quoted(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

Instance::Instance(const fs::path& folder, std::string server)
    : path_(folder / "instance"),
      log_file_(folder / "serve.log"),
      server_binary_(std::move(server)) {}

void Instance::init(bool demo) {
  std::vector<std::string> init = {server_binary_, "init", path_.string()};
  if (demo) init.emplace_back("--demo");
  const Outcome made = run(init);
  ASSERT_EQ(made.exit_code, 0) << made.err;
}

void Instance::start(const std::string& overlay) {
  const fs::path config = path_ / "test.toml";
  write_file(config, overlay);
  server_.reset();
  server_ = std::make_unique<Child>(
      std::vector<std::string>{server_binary_, "serve", "--config", config.string()}, log_file_);
  const auto lines = server_->wait_for_lines("\"event\":\"listening\"", 2, seconds(20));
  ASSERT_EQ(lines.size(), 2u) << server_->stderr_text();
  for (const auto& line : lines) {
    if (contains(line, "\"listener\":\"source\"")) source_port_ = json_int(line, "port");
    if (contains(line, "\"listener\":\"reviewer\"")) reviewer_port_ = json_int(line, "port");
  }
}

void Instance::stop(seconds deadline) {
  server_->signal(SIGTERM);
  EXPECT_EQ(server_->wait(deadline), 0) << server_->stderr_text();
}

std::string Instance::url(const std::string& path) const {
  return "https://localhost:" + std::to_string(source_port_) + path;
}

fs::path Instance::certificate() const { return path_ / "tls/certificate.pem"; }

std::string Instance::log() const { return read_file(log_file_); }

storage::Database Instance::open_database() const {
  auto key = storage::read_key_file(path_ / "database.key");
  EXPECT_TRUE(key.has_value());
  auto db =
      storage::Database::open(path_ / "tipline.db", *key, storage::Database::Mode::open_existing);
  EXPECT_TRUE(db.has_value()) << db.error().message;
  return std::move(*db);
}

std::string read_blob(storage::Database& db, storage::BlobId blob) {
  std::string bytes;
  std::vector<std::byte> buffer(std::size_t{1} << 20);
  while (true) {
    auto n = storage::read_blob(db, blob, bytes.size(), buffer);
    EXPECT_TRUE(n.has_value());
    if (!n || *n == 0) return bytes;
    bytes.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
}

void age_seal(const fs::path& sealed, std::string_view plain,
              const std::vector<std::string>& recipients) {
  const std::string age = find_tool("age");
  EXPECT_FALSE(age.empty()) << "age must be installed (scripts/setup installs it)";
  const fs::path in = fs::path(sealed).replace_extension(".txt");
  fs::remove(sealed);
  write_file(in, plain);
  std::vector<std::string> command = {age, "-e"};
  for (const auto& recipient : recipients) command.insert(command.end(), {"-r", recipient});
  command.insert(command.end(), {"-o", sealed.string(), in.string()});
  const Outcome outcome = run(command);
  EXPECT_EQ(outcome.exit_code, 0) << describe(command, outcome);
}

void age_with_demo_passphrase(const fs::path& instance, const std::vector<std::string>& arguments,
                              seconds deadline) {
  const std::string age = find_tool("age");
  const std::string script = find_tool("script");
  EXPECT_FALSE(age.empty() || script.empty()) << "age and util-linux script must be installed";
  std::string age_command = shell_quoted(age);
  for (const auto& argument : arguments) age_command += " " + shell_quoted(argument);
  const fs::path passphrase = instance / "demo-offline-keys/reviewer-passphrase.txt";
  const std::vector<std::string> argv = {"/bin/sh", "-c",
                                         "(sleep 1; cat " + shell_quoted(passphrase.string()) +
                                             ") | SHELL=/bin/sh " + shell_quoted(script) +
                                             " -qec " + shell_quoted(age_command) + " /dev/null"};
  const Outcome outcome = run(argv, deadline);
  EXPECT_EQ(outcome.exit_code, 0) << describe(argv, outcome);
}

std::string base64(std::string_view bytes) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t at = 0; at < bytes.size(); at += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - at);
    std::uint32_t group = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      group = group << 8 | (i < n ? static_cast<std::uint8_t>(bytes[at + i]) : 0u);
    }
    for (std::size_t i = 0; i < 4; ++i) {
      out += i <= n ? kAlphabet[(group >> (18 - 6 * i)) & 63] : '=';
    }
  }
  return out;
}

}  // namespace tipline::testing
