#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>
#include <string_view>

#include "tipline/config/config.h"
#include "tipline/crypto/minisign.h"
#include "tipline/crypto/secret.h"
#include "tipline/crypto/x25519.h"
#include "tipline/server/server.h"
#include "tipline/storage/database.h"
#include "tipline/storage/maintenance.h"
#include "tipline/storage/store.h"
#include "tls.h"

namespace tipline::server {
namespace {

namespace fs = std::filesystem;

tl::unexpected<Error> instance_error(const fs::path& file, std::string_view what) {
  return tl::unexpected(Error{Errc::instance, file.string() + ": " + std::string(what)});
}

std::string errno_text(int error) { return std::strerror(error); }

// Creates file with exactly these bytes and mode; never replaces an existing file.
tl::expected<void, Error> write_new_file(const fs::path& file, std::span<const std::uint8_t> bytes,
                                         mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return instance_error(file, "cannot create: " + errno_text(errno));
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    written += static_cast<std::size_t>(n);
  }
  const bool complete = written == bytes.size() && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const std::string reason = errno_text(errno);
  ::close(fd);
  if (!complete) {
    ::unlink(file.c_str());
    return instance_error(file, "cannot write: " + reason);
  }
  return {};
}

tl::expected<void, Error> write_new_file(const fs::path& file, std::string_view text, mode_t mode) {
  return write_new_file(file, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                        mode);
}

tl::expected<void, Error> make_private_directory(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return instance_error(dir, "cannot create folder: " + errno_text(errno));
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return instance_error(dir, "is not a folder");
  if (!fs::is_empty(dir, ec) || ec) {
    return instance_error(dir, "is not empty; init never overwrites an existing instance");
  }
  return {};
}

constexpr std::string_view kDemoNotice =
    "# DEMO INSTANCE: made by `tipline-server init --demo` for trying Tipline out on one\n"
    "# machine. Never use it for real reports: create a production instance with\n"
    "# `tipline-server init DIR` and keep offline keys off the server.\n\n";

constexpr std::string_view kDemoKeysReadme =
    "DEMO ONLY. These are the offline keys of a demo instance, kept on the server so that\n"
    "Tipline can be tried on one machine. A real instance never has them on the server:\n"
    "reviewer identities live on reviewers' machines, the organisation root key offline.\n"
    "\n"
    "reviewer.agekey         a reviewer identity (age X25519, as age-keygen writes it);\n"
    "                        `age -d -i reviewer.agekey FILE` opens what is sealed to it\n"
    "organisation-root.key   the organisation root signing key (minisign, unencrypted)\n"
    "organisation-root.pub   its public key, which the server pins\n";

tl::expected<void, Error> write_demo_offline_keys(const fs::path& dir) {
  if (auto made = make_private_directory(dir); !made) return made;
  if (auto written = write_new_file(dir / "README.txt", kDemoKeysReadme, 0644); !written) {
    return written;
  }
  const auto identity = crypto::x25519::Identity::generate();
  const crypto::Secret identity_file = crypto::x25519::identity_file_text(identity);
  if (auto written = write_new_file(dir / "reviewer.agekey", identity_file.expose(), 0600);
      !written) {
    return written;
  }
  const auto root = crypto::minisign::SecretKey::generate();
  const crypto::Secret root_file =
      root.to_unencrypted_file_text("tipline demo organisation root key (DEMO ONLY)");
  if (auto written = write_new_file(dir / "organisation-root.key", root_file.expose(), 0600);
      !written) {
    return written;
  }
  return write_new_file(dir / "organisation-root.pub", root.public_key().to_file_text(), 0644);
}

}  // namespace

tl::expected<void, Error> init_instance(const fs::path& dir, bool demo) {
  if (auto made = make_private_directory(dir); !made) return made;
  if (auto made = make_private_directory(dir / "tls"); !made) return made;

  std::string config_text(config::sample());
  if (demo) config_text.insert(0, kDemoNotice);
  if (auto written = write_new_file(dir / "tipline.toml", config_text, 0600); !written) {
    return written;
  }

  const crypto::Secret salt = crypto::Secret::random(32);
  const crypto::Secret salt_hex = salt.to_hex();
  const std::string salt_line(reinterpret_cast<const char*>(salt_hex.expose().data()),
                              salt_hex.size());
  if (auto written = write_new_file(dir / "instance-salt", salt_line + "\n", 0644); !written) {
    return written;
  }

  auto certificate = make_self_signed_certificate();
  if (!certificate) return tl::unexpected(Error{Errc::tls, certificate.error()});
  if (auto written =
          write_new_file(dir / "tls/certificate.pem", certificate->certificate_pem, 0644);
      !written) {
    return written;
  }
  if (auto written =
          write_new_file(dir / "tls/private-key.pem", certificate->private_key_pem.expose(), 0600);
      !written) {
    return written;
  }

  const fs::path key_file = dir / "database.key";
  if (auto created = storage::create_key_file(key_file); !created) {
    return tl::unexpected(Error{Errc::instance, created.error().message});
  }
  auto key = storage::read_key_file(key_file);
  if (!key) return tl::unexpected(Error{Errc::database, key.error().message});
  // The store runs every migration; closing it right away leaves the full schema on disk.
  if (auto store =
          storage::Store::open(dir / "tipline.db", *key, storage::Database::Mode::create_new);
      !store) {
    return tl::unexpected(Error{Errc::database, store.error().message});
  }
  if (demo) return write_demo_offline_keys(dir / "demo-offline-keys");
  return {};
}

tl::expected<void, Error> check_instance(const config::Config& config) {
  auto key = storage::read_key_file(config.database_key_file);
  if (!key) return tl::unexpected(Error{Errc::database, key.error().message});
  // Read-only and without the lock, so it also checks the database of a running server.
  if (auto checked = storage::check(config.database_file, *key); !checked) {
    return tl::unexpected(Error{Errc::database, checked.error().message});
  }
  for (const config::Listener* listener : {&config.source, &config.reviewer}) {
    if (listener == &config.source && listener->transport != config::Transport::tls) continue;
    if (auto tls = make_tls_context(listener->tls_certificate, listener->tls_private_key); !tls) {
      return tl::unexpected(Error{Errc::tls, tls.error()});
    }
  }
  return {};
}

}  // namespace tipline::server
