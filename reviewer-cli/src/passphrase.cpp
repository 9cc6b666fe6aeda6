#include "passphrase.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tipline::review {
namespace {

constexpr std::size_t kMaxPassphrase = 1024;

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Reads one line (up to kMaxPassphrase bytes) into secret memory, without the newline.
tl::expected<crypto::Secret, std::string> read_line(int fd) {
  crypto::Secret buffer(kMaxPassphrase);
  std::size_t length = 0;
  for (;;) {
    std::uint8_t byte = 0;
    const ssize_t n = ::read(fd, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return tl::unexpected(std::string("cannot read passphrase: ") + std::strerror(errno));
    if (n == 0 || byte == '\n') break;
    if (length == buffer.size()) return tl::unexpected(std::string("passphrase is too long"));
    buffer.expose()[length++] = byte;
  }
  if (length > 0 && buffer.expose()[length - 1] == '\r') --length;
  if (length == 0) return tl::unexpected(std::string("the passphrase is empty"));
  crypto::Secret passphrase(length);
  std::copy_n(buffer.expose().begin(), length, passphrase.expose().begin());
  return passphrase;
}

tl::expected<crypto::Secret, std::string> read_terminal(const std::string& prompt) {
  const Descriptor tty(::open("/dev/tty", O_RDWR | O_CLOEXEC));
  if (tty.get() < 0) {
    return tl::unexpected(
        std::string("no terminal to ask for the passphrase; give it with --passphrase-file FILE"));
  }
  termios original{};
  const bool is_terminal = ::tcgetattr(tty.get(), &original) == 0;
  if (is_terminal) {
    termios silent = original;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty.get(), TCSAFLUSH, &silent);
  }
  const std::string text = prompt + ": ";
  if (::write(tty.get(), text.data(), text.size()) < 0) {
    // The prompt is a courtesy; reading still works.
  }
  auto passphrase = read_line(tty.get());
  if (is_terminal) ::tcsetattr(tty.get(), TCSAFLUSH, &original);
  if (::write(tty.get(), "\n", 1) < 0) {
    // As above.
  }
  return passphrase;
}

}  // namespace

tl::expected<crypto::Secret, std::string> PassphraseSource::read(const std::string& prompt) const {
  if (!file_) return read_terminal(prompt);
  const Descriptor fd(::open(file_->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return tl::unexpected(file_->string() +
                          ": cannot read passphrase file: " + std::strerror(errno));
  }
  auto passphrase = read_line(fd.get());
  if (!passphrase) return tl::unexpected(file_->string() + ": " + passphrase.error());
  return passphrase;
}

tl::expected<crypto::Secret, std::string> PassphraseSource::read_new(
    const std::string& prompt) const {
  auto first = read(prompt);
  if (!first || file_) return first;
  auto second = read("Confirm " + prompt);
  if (!second) return second;
  if (first->size() != second->size() ||
      sodium_memcmp(first->expose().data(), second->expose().data(), first->size()) != 0) {
    return tl::unexpected(std::string("the passphrases do not match"));
  }
  return first;
}

}  // namespace tipline::review
