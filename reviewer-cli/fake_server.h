// Test support: a hostile or broken reviewer API on loopback. An HTTPS server with a fresh
// self-signed certificate (for 127.0.0.1 and localhost) that answers each request with
// whatever bytes the test's handler returns, then closes the connection: a response cut
// short of its Content-Length is a broken transfer. One connection at a time.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tipline::review::testing {

class FakeServer {
 public:
  // The request's head ("GET /path HTTP/1.1\r\nHeader: ...") in, the raw response out.
  using Handler = std::function<std::string(const std::string& head)>;

  // Writes the certificate to `certificate_file`. Throws std::runtime_error on failure.
  FakeServer(const std::filesystem::path& certificate_file, Handler handler);
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  ~FakeServer();

  [[nodiscard]] int port() const { return port_; }
  // Every TCP connection accepted so far, TLS or not.
  [[nodiscard]] int connections() const { return connections_.load(); }
  // The heads of the requests answered so far.
  [[nodiscard]] std::vector<std::string> requests() const;

 private:
  void serve();

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  void* context_ = nullptr;  // SSL_CTX
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// A response with the given status line, extra header lines ("Name: value\r\n" each) and
// body; Content-Length is the body's unless `announced` says otherwise.
[[nodiscard]] std::string http_response(std::string_view status, std::string_view headers,
                                        std::string_view body, long announced = -1);

}  // namespace tipline::review::testing
