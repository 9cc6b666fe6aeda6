#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>
#include <string_view>

#include "bundle.h"
#include "questionnaire.h"
#include "tipline/config/config.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/minisign.h"
#include "tipline/crypto/scrypt.h"
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
    "reviewer.agekey           a reviewer identity (age X25519), encrypted with a passphrase\n"
    "                          as `tipline-review file keygen -p` writes it; `age -d -i\n"
    "                          reviewer.agekey FILE` asks for the passphrase and opens what\n"
    "                          is sealed to it\n"
    "reviewer-passphrase.txt   that passphrase (only a throwaway demo writes it down)\n"
    "organisation-root.key     the organisation root signing key (minisign, unencrypted)\n"
    "organisation-root.pub     its public key, which the server pins (a copy is in the\n"
    "                          instance folder, where the configuration expects it)\n"
    "bundle-1.json             the recipient bundle (version 1: the demo reviewer), signed\n"
    "bundle-1.json.minisig     with the root key and installed in the database\n"
    "\n"
    "To try key rotation, write bundle-2.json with \"version\":2 and sign it:\n"
    "  minisign -S -s organisation-root.key -t \"tipline-bundle version 2\" -m bundle-2.json\n"
    "  tipline-server keys install --config ../tipline.toml bundle-2.json   (server stopped)\n";

// Days a demo bundle is valid for: long enough to play with, short enough to show expiry.
constexpr int kDemoBundleDays = 180;
constexpr std::string_view kDemoReviewerId = "demo-reviewer";

// A passphrase of 24 characters from a 32-letter alphabet without look-alikes (120 bits),
// in groups of four joined by dashes (part of it), then a newline as the file holds it.
crypto::Secret demo_passphrase_line() {
  constexpr std::string_view kAlphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  constexpr std::size_t kGroups = 6;
  constexpr std::size_t kGroupLength = 4;
  const crypto::Secret random = crypto::Secret::random(kGroups * kGroupLength);
  crypto::Secret line(kGroups * (kGroupLength + 1));
  std::size_t out = 0;
  for (std::size_t i = 0; i < random.size(); ++i) {
    if (i > 0 && i % kGroupLength == 0) line.expose()[out++] = '-';
    // 256 is a multiple of 32, so the low five bits are uniform.
    line.expose()[out++] = static_cast<std::uint8_t>(kAlphabet[random.expose()[i] & 31U]);
  }
  line.expose()[out] = '\n';
  return line;
}

// The identity file encrypted to `passphrase` and armored, as `tipline-review file keygen
// -p` writes it, so that the stock `age -d -i` opens it too.
tl::expected<std::string, Error> lock_identity(const crypto::Secret& identity_file,
                                               crypto::Secret passphrase) {
  std::string armored;
  crypto::age::ArmorWriter armor(
      [&armored](std::span<const std::uint8_t> bytes) -> tl::expected<void, crypto::Error> {
        armored.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        return {};
      });
  const crypto::scrypt::Recipient lock(std::move(passphrase));
  const crypto::age::Recipient* recipients[] = {&lock};
  auto encryptor = crypto::age::Encryptor::create(
      recipients, [&armor](std::span<const std::uint8_t> bytes) { return armor.write(bytes); });
  tl::expected<void, crypto::Error> done =
      encryptor ? encryptor->write(identity_file.expose()) : tl::unexpected(encryptor.error());
  if (done) done = encryptor->finish();
  if (done) done = armor.finish();
  if (!done) return tl::unexpected(Error{Errc::instance, done.error().message});
  return armored;
}

// Writes the demo offline keys to dir and installs a bundle signed with them in the store;
// instance_dir gets the root public key that the configuration pins.
tl::expected<void, Error> write_demo_offline_keys(const fs::path& dir, const fs::path& instance_dir,
                                                  storage::Store& store) {
  if (auto made = make_private_directory(dir); !made) return made;
  if (auto written = write_new_file(dir / "README.txt", kDemoKeysReadme, 0644); !written) {
    return written;
  }

  const auto identity = crypto::x25519::Identity::generate();
  const crypto::Secret passphrase_line = demo_passphrase_line();
  if (auto written =
          write_new_file(dir / "reviewer-passphrase.txt", passphrase_line.expose(), 0600);
      !written) {
    return written;
  }
  crypto::Secret unlock(passphrase_line.size() - 1);
  std::copy_n(passphrase_line.expose().begin(), unlock.size(), unlock.expose().begin());
  auto locked = lock_identity(crypto::x25519::identity_file_text(identity), std::move(unlock));
  if (!locked) return tl::unexpected(locked.error());
  if (auto written = write_new_file(dir / "reviewer.agekey", *locked, 0600); !written) {
    return written;
  }

  const auto root = crypto::minisign::SecretKey::generate();
  const crypto::Secret root_file =
      root.to_unencrypted_file_text("tipline demo organisation root key (DEMO ONLY)");
  if (auto written = write_new_file(dir / "organisation-root.key", root_file.expose(), 0600);
      !written) {
    return written;
  }
  const std::string public_key = root.public_key().to_file_text();
  for (const fs::path& file :
       {dir / "organisation-root.pub", instance_dir / "organisation-root.pub"}) {
    if (auto written = write_new_file(file, public_key, 0644); !written) return written;
  }

  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const server::bundle::Recipient reviewer{std::string(kDemoReviewerId), identity.recipient()};
  const auto made = server::bundle::sign(1, today, today + std::chrono::days(kDemoBundleDays),
                                         {&reviewer, 1}, root);
  if (auto written = write_new_file(dir / "bundle-1.json", made.bytes, 0644); !written) {
    return written;
  }
  if (auto written = write_new_file(dir / "bundle-1.json.minisig", made.signature_text, 0644);
      !written) {
    return written;
  }
  // Installed the way `keys install` does it, so the demo proves that path.
  auto verified =
      server::bundle::parse_and_verify(made.bytes, made.signature_text, root.public_key());
  if (!verified) return tl::unexpected(Error{Errc::instance, verified.error().message});
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (auto installed = server::bundle::install(store, *verified, now); !installed) {
    return tl::unexpected(Error{Errc::database, installed.error().message});
  }
  return {};
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
  // The store runs every migration, so the full schema is on disk once it is open.
  auto store = storage::Store::open(dir / "tipline.db", *key, storage::Database::Mode::create_new);
  if (!store) return tl::unexpected(Error{Errc::database, store.error().message});
  if (demo) return write_demo_offline_keys(dir / "demo-offline-keys", dir, **store);
  return {};
}

tl::expected<void, Error> check_instance(const config::Config& config) {
  // The questionnaire is read again for every form; a broken one is refused here, with its
  // problems, rather than found by a witness as a form that never appears.
  if (auto questionnaire = form::load_questionnaire(config.questionnaire_file); !questionnaire) {
    return tl::unexpected(Error{Errc::input, questionnaire.error().message});
  }
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
