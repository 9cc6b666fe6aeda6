#include "identities.h"

#include <string_view>

#include "output.h"
#include "secret_collector.h"
#include "tipline/crypto/scrypt.h"

namespace tipline::review {
namespace {

namespace age = crypto::age;
using crypto::Errc;

// Identity files are small; the cap keeps one in a single secret buffer, never copied.
constexpr std::size_t kMaxIdentityFile = std::size_t{64} * 1024;
constexpr std::string_view kIdentityTooLarge = "identity file larger than 64 KiB";

}  // namespace

tl::expected<void, crypto::Error> DecryptPipeline::write(std::span<const std::uint8_t> bytes) {
  if (!decided_) {
    decided_ = true;
    if (age::looks_armored(bytes)) {
      armor_.emplace(
          [this](std::span<const std::uint8_t> binary) { return decryptor_.write(binary); });
    }
  }
  return armor_ ? armor_->write(bytes) : decryptor_.write(bytes);
}

tl::expected<void, crypto::Error> DecryptPipeline::finish() {
  if (armor_) {
    if (auto done = armor_->finish(); !done) return done;
  }
  return decryptor_.finish();
}

tl::expected<std::vector<crypto::x25519::Identity>, std::string> load_identities(
    std::span<const std::filesystem::path> files, const PassphraseSource& passphrases) {
  std::vector<crypto::x25519::Identity> identities;
  for (const auto& file : files) {
    SecretCollector raw(kMaxIdentityFile);
    auto read = read_chunks(
        file, [&](std::span<const std::uint8_t> bytes) -> tl::expected<void, std::string> {
          if (!raw.add(bytes)) {
            return tl::unexpected(file.string() + ": " + std::string(kIdentityTooLarge));
          }
          return {};
        });
    if (!read) return tl::unexpected(read.error());
    const std::string_view start = raw.text().substr(0, 32);
    std::optional<SecretCollector> opened;
    if (start.starts_with("age-encryption.org/") || age::looks_armored(raw.bytes())) {
      auto passphrase = passphrases.read("Passphrase for identity file " + file.string());
      if (!passphrase) return tl::unexpected(passphrase.error());
      const crypto::scrypt::Identity unlock(std::move(*passphrase));
      const age::Identity* unlocks[] = {&unlock};
      opened.emplace(kMaxIdentityFile);
      DecryptPipeline pipeline(
          unlocks, [&](std::span<const std::uint8_t> bytes) -> tl::expected<void, crypto::Error> {
            if (!opened->add(bytes)) {
              return tl::unexpected(crypto::Error{Errc::io, std::string(kIdentityTooLarge)});
            }
            return {};
          });
      auto done = pipeline.write(raw.bytes());
      if (done) done = pipeline.finish();
      if (!done) {
        const bool wrong = done.error().code == Errc::no_match;
        return tl::unexpected(
            file.string() + ": " +
            (wrong ? "wrong passphrase for this identity file" : done.error().message));
      }
    }
    auto parsed = crypto::x25519::parse_identity_file(opened ? opened->bytes() : raw.bytes());
    if (!parsed) return tl::unexpected(file.string() + ": " + parsed.error().message);
    for (auto& identity : *parsed) identities.push_back(std::move(identity));
  }
  return identities;
}

}  // namespace tipline::review
