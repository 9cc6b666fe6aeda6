#pragma once

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace tipline::review {

template <class Chunk>
tl::expected<void, std::string> read_chunks(const std::filesystem::path& path, Chunk&& chunk) {
  constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
  const int fd = path.empty() ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(path.string() + ": " + std::strerror(errno));
  // No bigger than the file: a 1 MiB buffer for each small report of a search adds up to
  // gigabytes of zero-filling. Pipes and empty files report no size.
  struct stat info {};
  const bool sized = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0;
  std::vector<std::uint8_t> buffer(
      sized ? std::min(static_cast<std::size_t>(info.st_size), kChunkBytes) : kChunkBytes);
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
  // The bytes may be secret (identity and key files, notes, plaintext to encrypt);
  // sodium_memzero, unlike a plain fill, is never optimised away.
  sodium_memzero(buffer.data(), buffer.size());
  return result;
}

}  // namespace tipline::review
