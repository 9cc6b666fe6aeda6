#include "output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace tipline::review {

tl::expected<Output, std::string> Output::open(const std::filesystem::path& path, mode_t mode) {
  if (path.empty()) return Output(STDOUT_FILENO, {}, {});
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return tl::unexpected(path.string() + ": exists; refusing to overwrite it");
  }
  std::string pattern = path.string() + ".partial-XXXXXX";
  const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) return tl::unexpected(path.string() + ": cannot create: " + std::strerror(errno));
  ::fchmod(fd, mode);
  return Output(fd, path, pattern);
}

Output::Output(Output&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      final_path_(std::move(other.final_path_)),
      temporary_(std::exchange(other.temporary_, {})) {}

Output::~Output() {
  if (!temporary_.empty()) {
    ::close(fd_);
    ::unlink(temporary_.c_str());
  }
}

tl::expected<void, std::string> Output::write(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return tl::unexpected((final_path_.empty() ? "standard output" : final_path_.string()) +
                            ": " + std::strerror(errno));
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

tl::expected<void, std::string> Output::commit() {
  if (temporary_.empty()) return {};
  // No fsync: like any tool writing a file (and the stock age), durability is left to the
  // system; what matters here is that a failed run never leaves a file behind.
  if (::close(fd_) != 0) {
    return tl::unexpected(final_path_.string() + ": " + std::strerror(errno));
  }
  fd_ = -1;
  // link() fails if the destination appeared meanwhile, so nothing is ever overwritten.
  if (::link(temporary_.c_str(), final_path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary_.c_str());
    temporary_.clear();
    return tl::unexpected(final_path_.string() + ": " + reason);
  }
  ::unlink(temporary_.c_str());
  temporary_.clear();
  return {};
}

}  // namespace tipline::review
