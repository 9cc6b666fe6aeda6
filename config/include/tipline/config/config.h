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
  std::size_t body_bytes = 0;  // any body not covered by a limit below (API JSON)
  std::size_t max_connections = 0;
  std::size_t read_buffer_bytes = 0;  // one read from a connection
  std::uint64_t report_bytes = 0;     // one encrypted report (age file)
  std::uint64_t upload_bytes = 0;     // one resumable upload (Upload-Length)
  std::size_t uploads_per_draft = 0;  // attachments of one submission
  // Upload-Length summed over every upload not yet part of a submission, the new one too.
  std::uint64_t pending_upload_bytes = 0;
  std::uint64_t form_bytes = 0;         // one no-JavaScript form post, all parts
  std::size_t form_parts = 0;           // parts of one form post
  std::uint64_t form_part_bytes = 0;    // one part (one attached file) of a form post
  unsigned submissions_per_minute = 0;  // across all sources: a global token bucket
  unsigned drafts_per_minute = 0;       // POST /api/v1/drafts, likewise
  std::chrono::hours upload_expiry{0};  // an unfinished upload or draft is dropped after it
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
  // The onion address announced in an Onion-Location header on the source side ("": none).
  std::string onion_location;
  // The report form's questions (TOML); empty means the built-in incident questionnaire.
  std::filesystem::path questionnaire_file;
  Listener reviewer;
  // The organisation root public key (minisign) that recipient bundles must be signed by.
  // Read when a bundle is installed; the file need not exist before then.
  std::filesystem::path root_public_key_file;
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
