#include "identities.h"

#include <algorithm>

#include "output.h"
#include "tipline/crypto/scrypt.h"

namespace tipline::review {
namespace {

namespace age = crypto::age;
using crypto::Errc;

// Identity files are small; the cap keeps one in a single secret buffer, never copied.
constexpr std::size_t kMaxIdentityFile = std::size_t{64} * 1024;

// Collects bytes into secret memory, up to kMaxIdentityFile.
class SecretCollector {
 public:
  tl::expected<void, crypto::Error> add(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > buffer_.size() - used_) {
      return tl::unexpected(crypto::Error{Errc::io, "identity file larger than 64 KiB"});
    }
    std::copy(bytes.begin(), bytes.end(), buffer_.expose().begin() + static_cast<long>(used_));
    used_ += bytes.size();
    return {};
  }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const {
    return buffer_.expose().first(used_);
  }

 private:
  crypto::Secret buffer_{kMaxIdentityFile};
  std::size_t used_ = 0;
};

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
    SecretCollector raw;
    auto read = read_chunks(file, [&](std::span<const std::uint8_t> bytes) {
      if (auto added = raw.add(bytes); !added) {
        return tl::expected<void, std::string>(tl::unexpect,
                                               file.string() + ": " + added.error().message);
      }
      return tl::expected<void, std::string>{};
    });
    if (!read) return tl::unexpected(read.error());
    const std::string_view start(reinterpret_cast<const char*>(raw.bytes().data()),
                                 std::min<std::size_t>(raw.bytes().size(), 32));
    std::optional<SecretCollector> opened;
    if (start.starts_with("age-encryption.org/") || age::looks_armored(raw.bytes())) {
      auto passphrase = passphrases.read("Passphrase for identity file " + file.string());
      if (!passphrase) return tl::unexpected(passphrase.error());
      const crypto::scrypt::Identity unlock(std::move(*passphrase));
      const age::Identity* unlocks[] = {&unlock};
      opened.emplace();
      DecryptPipeline pipeline(
          unlocks, [&](std::span<const std::uint8_t> bytes) { return opened->add(bytes); });
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
