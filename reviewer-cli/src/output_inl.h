#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tipline::review {

template <class Chunk>
tl::expected<void, std::string> read_chunks(const std::filesystem::path& path, Chunk&& chunk) {
  const int fd = path.empty() ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(path.string() + ": " + std::strerror(errno));
  std::vector<std::uint8_t> buffer(1 << 20);
  tl::expected<void, std::string> result;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = tl::unexpected((path.empty() ? "standard input" : path.string()) + ": " +
                              std::strerror(errno));
      break;
    }
    if (n == 0) break;
    result = chunk(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
    if (!result) break;
  }
  if (!path.empty()) ::close(fd);
  return result;
}

}  // namespace tipline::review
