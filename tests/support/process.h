// Test support: temporary folders, child processes and HTTPS requests over loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tipline::testing {

// A fresh folder under the system temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Outcome {
  int exit_code = -1;  // -1 when killed by a signal or still running at the deadline
  std::string out;
  std::string err;
};

// Runs a program to completion (killed after the deadline) and captures its output.
Outcome run(const std::vector<std::string>& argv,
            std::chrono::seconds deadline = std::chrono::seconds(60));

// The command line, shell-quoted, and everything the program printed, for assertion messages.
std::string describe(const std::vector<std::string>& argv, const Outcome& outcome);

// The executable's path in $PATH, or "" when there is none.
std::string find_tool(const std::string& name);

// The file's bytes, or "" when it cannot be read.
std::string read_file(const std::filesystem::path& file);
// Replaces the file's contents with text; throws when it cannot be written.
void write_file(const std::filesystem::path& file, std::string_view text);
// The lines of a text, without their newlines.
std::vector<std::string> lines_of(const std::string& text);

[[nodiscard]] inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// The permission bits of a file (07777), or ~0u if it cannot be stat'ed.
[[nodiscard]] unsigned mode_of(const std::filesystem::path& file);

// A program running in the background with its stderr going to a file.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& stderr_file);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // kills the child if it still runs

  void signal(int number) const;
  // The exit code once it exits within the deadline; nullopt if it did not.
  std::optional<int> wait(std::chrono::milliseconds deadline);
  // Waits until the stderr file holds count lines containing needle; their texts.
  std::vector<std::string> wait_for_lines(const std::string& needle, std::size_t count,
                                          std::chrono::milliseconds deadline) const;
  [[nodiscard]] std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path stderr_file_;
};

struct HttpResult {
  long status = 0;  // 0 when no response
  std::string body;
  std::string headers;
  std::string error;
  long local_port = 0;  // the client's own port, to prove the server never logs it
};

// One HTTPS request with libcurl, with any method and a body of any bytes (sent when not
// empty or when the method is POST; never with "Expect: 100-continue"), trusting only
// ca_file and verifying the host name.
HttpResult http_request(const std::string& method, const std::string& url,
                        const std::filesystem::path& ca_file,
                        const std::vector<std::string>& headers, const std::string& body,
                        bool tls12_only = false);

// A GET, or a POST when post_body is not empty.
HttpResult https_request(const std::string& url, const std::filesystem::path& ca_file,
                         const std::vector<std::string>& headers = {},
                         const std::string& post_body = {}, bool tls12_only = false);

// A loopback TCP port nothing listens on (bound, then closed). Throws if none can be bound.
int closed_loopback_port();

// A plain TCP connection to 127.0.0.1:port for raw HTTP.
class RawConnection {
 public:
  explicit RawConnection(int port);
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection();
  void send(const std::string& bytes) const;
  // Everything received until the peer closes or the deadline passes.
  [[nodiscard]] std::string receive_all(std::chrono::milliseconds deadline) const;

 private:
  int fd_ = -1;
};

// The integer after "key": in a JSON line.
int json_int(const std::string& line, const std::string& key);
// The value of "key":"…" in a flat JSON text, its escapes undone; "" when absent.
std::string json_string(const std::string& json, const std::string& key);

}  // namespace tipline::testing
