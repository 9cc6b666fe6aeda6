// Typed server configuration, loaded from a TOML file and validated as a whole.
//
// load() reports every problem it finds, each naming the file, the key and what is wrong:
// unknown keys, wrong types, out-of-range values, missing files, and key files that group
// or others could read. Relative paths in the file are resolved against its folder.
// Thread safety: load() is reentrant; a Config is a plain value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace tipline::config {

enum class Transport { tls, plain_http };

struct Listener {
  std::string address;
  std::uint16_t port = 0;  // 0: the system picks a free port (the bound port is logged)
  Transport transport = Transport::tls;
  std::filesystem::path tls_certificate;
  std::filesystem::path tls_private_key;
};

struct Limits {
  std::size_t header_bytes = 0;
  std::size_t body_bytes = 0;
  std::size_t max_connections = 0;
  std::chrono::seconds handshake_timeout{0};
  std::chrono::seconds idle_timeout{0};
  std::chrono::seconds read_timeout{0};
  std::chrono::seconds write_timeout{0};
  std::chrono::seconds shutdown_grace{0};
};

enum class LogLevel { debug, info, warn, error };

struct Config {
  std::filesystem::path file;  // the file this was loaded from
  std::filesystem::path instance_salt_file;
  std::filesystem::path database_file;
  std::filesystem::path database_key_file;
  Listener source;
  Listener reviewer;
  unsigned threads = 0;  // resolved: never 0 after load()
  Limits limits;
  LogLevel log_level = LogLevel::info;
};

enum class Errc {
  unreadable,  // the file cannot be read
  syntax,      // the file is not valid TOML
  invalid,     // valid TOML, but keys, types, values or referenced files are wrong
};

struct Error {
  Errc code;
  std::string message;  // one line per problem, each "FILE: KEY: what is wrong"
};

[[nodiscard]] tl::expected<Config, Error> load(const std::filesystem::path& file);

// The commented sample configuration: documents every key and its default. `init` writes
// it as a new instance's tipline.toml, so its relative paths name the instance's files.
[[nodiscard]] std::string_view sample();

}  // namespace tipline::config
