#include "process.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

pid_t spawn(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds deadline) {
  const auto end = Clock::now() + deadline;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (Clock::now() > end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::size_t append(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

std::string quoted(const std::string& word) {
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "tipline-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

Outcome run(const std::vector<std::string>& argv, std::chrono::seconds deadline) {
  const TempDir scratch;
  const pid_t pid = spawn(argv, scratch.path() / "out", scratch.path() / "err");
  Outcome outcome;
  if (auto code = wait_for(pid, deadline)) {
    outcome.exit_code = *code;
  } else {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  outcome.out = read_file(scratch.path() / "out");
  outcome.err = read_file(scratch.path() / "err");
  return outcome;
}

std::string describe(const std::vector<std::string>& argv, const Outcome& outcome) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += quoted(arg);
  }
  return text + "\nexit code " + std::to_string(outcome.exit_code) + "\nstdout:\n" + outcome.out +
         "\nstderr:\n" + outcome.err;
}

std::string find_tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream directories(path == nullptr ? "" : path);
  for (std::string directory; std::getline(directories, directory, ':');) {
    const fs::path candidate = fs::path(directory.empty() ? "." : directory) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

unsigned mode_of(const fs::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return ~0u;
  return info.st_mode & 07777;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

Child::Child(const std::vector<std::string>& argv, const fs::path& stderr_file)
    : stderr_file_(stderr_file) {
  pid_ = spawn(argv, "/dev/null", stderr_file);
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Child::signal(int number) const { ::kill(pid_, number); }

std::optional<int> Child::wait(std::chrono::milliseconds deadline) {
  auto code = wait_for(pid_, deadline);
  if (code) pid_ = -1;
  return code;
}

std::vector<std::string> Child::wait_for_lines(const std::string& needle, std::size_t count,
                                               std::chrono::milliseconds deadline) const {
  const auto end = Clock::now() + deadline;
  for (;;) {
    std::vector<std::string> found;
    std::istringstream lines(stderr_text());
    for (std::string line; std::getline(lines, line);) {
      if (line.find(needle) != std::string::npos) found.push_back(line);
    }
    if (found.size() >= count || Clock::now() > end) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Child::stderr_text() const { return read_file(stderr_file_); }

HttpResult http_request(const std::string& method, const std::string& url, const fs::path& ca_file,
                        const std::vector<std::string>& headers, const std::string& body,
                        bool tls12_only) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  // No "Expect: 100-continue": the server answers it only for streamed bodies.
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  // CURL_SSLVERSION_MAX_TLSv1_2 is CURL_SSLVERSION_TLSv1_2 shifted into the upper half.
  const long tls12 = CURL_SSLVERSION_TLSv1_2;
  const long tls13 = CURL_SSLVERSION_TLSv1_3;
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, tls12_only ? (tls12 | (tls12 << 16)) : tls13);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    curl_easy_getinfo(curl, CURLINFO_LOCAL_PORT, &result.local_port);
  } else {
    result.error = error;
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

HttpResult https_request(const std::string& url, const fs::path& ca_file,
                         const std::vector<std::string>& headers, const std::string& post_body,
                         bool tls12_only) {
  return http_request(post_body.empty() ? "GET" : "POST", url, ca_file, headers, post_body,
                      tls12_only);
}

int closed_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = fd >= 0 &&
                     ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (fd >= 0) ::close(fd);
  if (!bound) throw std::runtime_error("cannot bind a loopback port");
  return ntohs(address.sin_port);
}

RawConnection::RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
}

RawConnection::~RawConnection() { ::close(fd_); }

void RawConnection::send(const std::string& bytes) const {
  if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("send failed");
  }
}

std::string RawConnection::receive_all(std::chrono::milliseconds deadline) const {
  const auto end = Clock::now() + deadline;
  std::string received;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return received;
    pollfd ready{fd_, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return received;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return received;
    received.append(chunk, static_cast<std::size_t>(n));
  }
}

int json_int(const std::string& line, const std::string& key) {
  const std::string marker = "\"" + key + "\":";
  const auto at = line.find(marker);
  if (at == std::string::npos) throw std::runtime_error("no " + key + " in " + line);
  return std::stoi(line.substr(at + marker.size()));
}

std::string json_string(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  std::size_t at = json.find(marker);
  if (at == std::string::npos) return {};
  std::string value;
  for (at += marker.size(); at < json.size() && json[at] != '"'; ++at) {
    if (json[at] == '\\' && at + 1 < json.size()) {
      ++at;
      value += json[at] == 'n' ? '\n' : json[at] == 't' ? '\t' : json[at];
    } else {
      value += json[at];
    }
  }
  return value;
}

}  // namespace tipline::testing
