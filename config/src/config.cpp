#include "tipline/config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace tipline::config {
namespace {

namespace fs = std::filesystem;

// Collects every problem so one run of `check` shows them all.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void add(std::string_view key, std::string_view what) {
    lines_.push_back(file_ + ": " + std::string(key) + ": " + std::string(what));
  }
  [[nodiscard]] bool empty() const { return lines_.empty(); }
  [[nodiscard]] std::string joined() const {
    std::string text;
    for (const auto& line : lines_) text += (text.empty() ? "" : "\n") + line;
    return text;
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Reads one [section], remembering which keys it consumed so the rest can be refused.
class Section {
 public:
  Section(const toml::table& root, std::string name, Problems& problems)
      : name_(std::move(name)), problems_(problems) {
    if (const toml::node* node = root.get(name_)) {
      table_ = node->as_table();
      if (table_ == nullptr) {
        problems_.add(name_,
                      std::string("expected a table, got ") + std::string(type_name(node->type())));
      }
    }
  }
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  ~Section() {
    if (table_ == nullptr) return;
    for (const auto& [key, value] : *table_) {
      if (!known_.contains(std::string(key.str()))) {
        problems_.add(name_ + "." + std::string(key.str()), "unknown key");
      }
    }
  }

  std::string text(std::string_view key, std::string fallback) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    if (const auto* value = node->as_string()) return value->get();
    wrong_type(key, "a string", *node);
    return fallback;
  }

  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) {
    const toml::node* node = find(key);
    if (node == nullptr) return fallback;
    const auto* value = node->as_integer();
    if (value == nullptr) {
      wrong_type(key, "an integer", *node);
      return fallback;
    }
    if (value->get() < min || value->get() > max) {
      problems_.add(path(key), "must be from " + std::to_string(min) + " to " +
                                   std::to_string(max) + ", got " + std::to_string(value->get()));
      return fallback;
    }
    return value->get();
  }

  [[nodiscard]] std::string path(std::string_view key) const {
    return name_ + "." + std::string(key);
  }

 private:
  const toml::node* find(std::string_view key) {
    known_.emplace(key);
    return table_ == nullptr ? nullptr : table_->get(key);
  }
  void wrong_type(std::string_view key, std::string_view expected, const toml::node& node) {
    problems_.add(path(key), "expected " + std::string(expected) + ", got " +
                                 std::string(type_name(node.type())));
  }

  std::string name_;
  Problems& problems_;
  const toml::table* table_ = nullptr;
  std::set<std::string, std::less<>> known_;
};

bool is_ip_address(const std::string& text, bool* loopback) {
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    *loopback = (ntohl(v4.s_addr) >> 24) == 127;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    *loopback = IN6_IS_ADDR_LOOPBACK(&v6);
    return true;
  }
  return false;
}

std::string errno_text(int error) { return std::strerror(error); }

// A file the server will read: it must exist, be a regular file and be readable by us.
// Key files (secret = true) must also be closed to group and others.
void check_file(const fs::path& file, bool secret, const std::string& key, Problems& problems) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    problems.add(key, "cannot read " + file.string() + ": " + errno_text(errno));
    return;
  }
  struct stat info {};
  const int stat_result = ::fstat(fd, &info);
  ::close(fd);
  if (stat_result != 0 || !S_ISREG(info.st_mode)) {
    problems.add(key, file.string() + " is not a regular file");
    return;
  }
  if (secret && (info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    problems.add(key, file.string() + " has mode " + mode +
                          "; a key file must not be accessible by group or others (chmod 600 " +
                          file.string() + ")");
  }
}

fs::path resolve(const fs::path& base, const std::string& value) {
  const fs::path path(value);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}

Listener read_listener(Section& section, std::uint16_t default_port, bool allow_plain,
                       const fs::path& base, Problems& problems) {
  Listener listener;
  listener.address = section.text("address", "127.0.0.1");
  listener.port = static_cast<std::uint16_t>(section.integer("port", default_port, 0, 65535));
  if (allow_plain) {
    const std::string transport = section.text("transport", "tls");
    if (transport == "http") {
      listener.transport = Transport::plain_http;
    } else if (transport != "tls") {
      problems.add(section.path("transport"),
                   "must be \"tls\" or \"http\", got \"" + transport + "\"");
    }
  }
  listener.tls_certificate = resolve(base, section.text("tls_certificate", "tls/certificate.pem"));
  listener.tls_private_key = resolve(base, section.text("tls_private_key", "tls/private-key.pem"));

  bool loopback = false;
  if (!is_ip_address(listener.address, &loopback)) {
    problems.add(section.path("address"),
                 "must be an IPv4 or IPv6 address, got \"" + listener.address + "\"");
  } else if (listener.transport == Transport::plain_http && !loopback) {
    problems.add(section.path("transport"),
                 "plain HTTP is allowed only on a loopback address (behind a Tor onion service)");
  }
  if (listener.transport == Transport::tls) {
    check_file(listener.tls_certificate, false, section.path("tls_certificate"), problems);
    check_file(listener.tls_private_key, true, section.path("tls_private_key"), problems);
  }
  return listener;
}

std::chrono::seconds seconds(Section& section, std::string_view key, std::int64_t fallback,
                             std::int64_t min) {
  return std::chrono::seconds(section.integer(key, fallback, min, 3600));
}

tl::expected<Config, Error> parse(const std::string& text, const fs::path& file) {
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << file.string() << ':' << error.source().begin.line << ':'
            << error.source().begin.column << ": " << error.description();
    return tl::unexpected(Error{Errc::syntax, message.str()});
  }

  Problems problems(file.string());
  const fs::path base = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  Config config;
  config.file = file;
  {
    Section instance(root, "instance", problems);
    config.instance_salt_file = resolve(base, instance.text("salt_file", "instance-salt"));
    check_file(config.instance_salt_file, false, instance.path("salt_file"), problems);
  }
  {
    Section database(root, "database", problems);
    config.database_file = resolve(base, database.text("file", "tipline.db"));
    config.database_key_file = resolve(base, database.text("key_file", "database.key"));
    check_file(config.database_key_file, true, database.path("key_file"), problems);
  }
  {
    Section source(root, "source", problems);
    config.source = read_listener(source, 8443, true, base, problems);
    config.onion_location = source.text("onion_location", "");
    const std::string_view onion = config.onion_location;
    const std::size_t host = onion.find("://");
    const std::string_view rest =
        host == std::string_view::npos ? std::string_view() : onion.substr(host + 3);
    if (!onion.empty() && (!(onion.starts_with("http://") || onion.starts_with("https://")) ||
                           !rest.substr(0, rest.find('/')).ends_with(".onion"))) {
      problems.add(source.path("onion_location"),
                   "must be an http:// or https:// URL of a .onion host, got \"" +
                       config.onion_location + "\"");
    }
    const std::string questionnaire = source.text("questionnaire", "");
    if (!questionnaire.empty()) {
      config.questionnaire_file = resolve(base, questionnaire);
      check_file(config.questionnaire_file, false, source.path("questionnaire"), problems);
    }
  }
  {
    Section recipients(root, "recipients", problems);
    config.root_public_key_file =
        resolve(base, recipients.text("root_public_key", "organisation-root.pub"));
  }
  {
    Section reviewer(root, "reviewer", problems);
    config.reviewer = read_listener(reviewer, 8444, false, base, problems);
  }
  {
    Section server(root, "server", problems);
    config.threads = static_cast<unsigned>(server.integer("threads", 0, 0, 256));
    if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
    const std::string level = server.text("log_level", "info");
    if (level == "debug") {
      config.log_level = LogLevel::debug;
    } else if (level == "info") {
      config.log_level = LogLevel::info;
    } else if (level == "warn") {
      config.log_level = LogLevel::warn;
    } else if (level == "error") {
      config.log_level = LogLevel::error;
    } else {
      problems.add(server.path("log_level"),
                   "must be \"debug\", \"info\", \"warn\" or \"error\", got \"" + level + "\"");
    }
  }
  {
    Section limits(root, "limits", problems);
    auto& out = config.limits;
    // At most 64 KiB: Boost.Beast cannot hold a single header field of 64 KiB or more and
    // throws, so a larger limit would let one long field end the server.
    out.header_bytes = static_cast<std::size_t>(limits.integer("header_bytes", 8192, 1024, 65535));
    out.body_bytes = static_cast<std::size_t>(limits.integer("body_bytes", 1 << 20, 0, 16 << 20));
    out.max_connections =
        static_cast<std::size_t>(limits.integer("max_connections", 1024, 1, 100000));
    constexpr std::int64_t kKiB = 1024;
    constexpr std::int64_t kMiB = kKiB * kKiB;
    constexpr std::int64_t kGiB = kKiB * kMiB;
    out.read_buffer_bytes = static_cast<std::size_t>(
        limits.integer("read_buffer_bytes", 64 * kKiB, 4 * kKiB, 16 * kMiB));
    out.report_bytes =
        static_cast<std::uint64_t>(limits.integer("report_bytes", 8 * kMiB, kKiB, 256 * kMiB));
    out.upload_bytes =
        static_cast<std::uint64_t>(limits.integer("upload_bytes", 4 * kGiB, kKiB, 64 * kGiB));
    out.uploads_per_draft =
        static_cast<std::size_t>(limits.integer("uploads_per_draft", 20, 0, 1000));
    constexpr std::int64_t kTiB = kKiB * kGiB;
    out.pending_upload_bytes =
        static_cast<std::uint64_t>(limits.integer("pending_upload_bytes", 16 * kGiB, kMiB, kTiB));
    out.form_bytes =
        static_cast<std::uint64_t>(limits.integer("form_bytes", 256 * kMiB, kKiB, 64 * kGiB));
    out.form_parts = static_cast<std::size_t>(limits.integer("form_parts", 32, 1, 1000));
    out.form_part_bytes =
        static_cast<std::uint64_t>(limits.integer("form_part_bytes", 100 * kMiB, kKiB, 64 * kGiB));
    out.submissions_per_minute =
        static_cast<unsigned>(limits.integer("submissions_per_minute", 60, 1, 1000000));
    out.drafts_per_minute =
        static_cast<unsigned>(limits.integer("drafts_per_minute", 60, 1, 1000000));
    out.upload_expiry = std::chrono::hours(limits.integer("upload_expiry_hours", 24, 1, 720));
    out.handshake_timeout = seconds(limits, "handshake_timeout_seconds", 10, 1);
    out.idle_timeout = seconds(limits, "idle_timeout_seconds", 30, 1);
    out.read_timeout = seconds(limits, "read_timeout_seconds", 60, 1);
    out.write_timeout = seconds(limits, "write_timeout_seconds", 60, 1);
    out.shutdown_grace = seconds(limits, "shutdown_grace_seconds", 10, 0);
  }
  for (const auto& [key, value] : root) {
    static const std::set<std::string, std::less<>> kSections = {
        "instance", "database", "source", "reviewer", "recipients", "server", "limits"};
    if (!kSections.contains(key.str())) problems.add(key.str(), "unknown key");
  }
  if (config.source.port != 0 && config.source.port == config.reviewer.port &&
      config.source.address == config.reviewer.address) {
    problems.add("reviewer.port",
                 "must differ from source.port: the reviewer listener is never "
                 "reachable through the source listener");
  }

  if (!problems.empty()) return tl::unexpected(Error{Errc::invalid, problems.joined()});
  return config;
}

}  // namespace

tl::expected<Config, Error> load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return tl::unexpected(
        Error{Errc::unreadable, file.string() + ": cannot read: " + errno_text(errno)});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

}  // namespace tipline::config
