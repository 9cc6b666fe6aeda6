#include "file_commands.h"

#include <iostream>
#include <memory>

#include "decryption.h"
#include "identities.h"
#include "output.h"
#include "passphrase.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/scrypt.h"
#include "tipline/crypto/x25519.h"

namespace tipline::review {
namespace {

namespace age = crypto::age;
using crypto::Errc;

int report(int code, const std::string& message) {
  std::cerr << "tipline-review: " << message << '\n';
  return code;
}

// Carries an I/O failure of ours through the crypto library's Sink, keeping its message.
age::Sink sink_to(Output& output) {
  return [&output](std::span<const std::uint8_t> bytes) -> tl::expected<void, crypto::Error> {
    if (auto written = output.write(bytes); !written) {
      return tl::unexpected(crypto::Error{Errc::io, written.error()});
    }
    return {};
  };
}

}  // namespace

int file_keygen(const FileOptions& options) {
  const auto identity = crypto::x25519::Identity::generate();
  const crypto::Secret text = crypto::x25519::identity_file_text(identity);
  auto output = Output::open(options.output, 0600);
  if (!output) return report(kFailure, output.error());

  if (options.passphrase) {
    auto passphrase =
        PassphraseSource(options.passphrase_file).read_new("New passphrase for the identity file");
    if (!passphrase) return report(kFailure, passphrase.error());
    const crypto::scrypt::Recipient lock(std::move(*passphrase));
    const age::Recipient* recipients[] = {&lock};
    age::ArmorWriter armor(sink_to(*output));
    auto encryptor =
        age::Encryptor::create(recipients, [&](auto bytes) { return armor.write(bytes); });
    tl::expected<void, crypto::Error> done =
        encryptor ? encryptor->write(text.expose()) : tl::unexpected(encryptor.error());
    if (done) done = encryptor->finish();
    if (done) done = armor.finish();
    if (!done) return report(kFailure, done.error().message);
  } else if (auto written = output->write(text.expose()); !written) {
    return report(kFailure, written.error());
  }
  if (auto committed = output->commit(); !committed) return report(kFailure, committed.error());
  if (!options.output.empty() || options.passphrase) {
    std::cerr << "Public key: " << identity.recipient().to_string() << '\n';
  }
  return kSuccess;
}

int file_encrypt(const FileOptions& options) {
  std::vector<std::unique_ptr<age::Recipient>> owned;
  if (options.passphrase) {
    if (!options.recipients.empty()) {
      return report(kUsage, "-p cannot be combined with -r: a passphrase file has one recipient");
    }
    auto passphrase = PassphraseSource(options.passphrase_file).read_new("Passphrase");
    if (!passphrase) return report(kFailure, passphrase.error());
    owned.push_back(std::make_unique<crypto::scrypt::Recipient>(std::move(*passphrase)));
  }
  for (const auto& text : options.recipients) {
    auto recipient = crypto::x25519::Recipient::parse(text);
    if (!recipient)
      return report(kUsage, "invalid recipient \"" + text + "\": " + recipient.error().message);
    owned.push_back(std::make_unique<crypto::x25519::Recipient>(std::move(*recipient)));
  }
  if (owned.empty()) return report(kUsage, "give at least one recipient with -r, or -p");
  std::vector<const age::Recipient*> recipients;
  recipients.reserve(owned.size());
  for (const auto& recipient : owned) recipients.push_back(recipient.get());

  auto output = Output::open(options.output, 0644);
  if (!output) return report(kFailure, output.error());
  std::optional<age::ArmorWriter> armor;
  age::Sink sink = sink_to(*output);
  if (options.armor) {
    armor.emplace(sink);
    sink = [&armor](std::span<const std::uint8_t> bytes) { return armor->write(bytes); };
  }
  auto encryptor = age::Encryptor::create(recipients, sink);
  if (!encryptor) return report(kFailure, encryptor.error().message);
  std::optional<crypto::Error> failure;
  auto read = read_chunks(options.input, [&](std::span<const std::uint8_t> bytes) {
    if (auto written = encryptor->write(bytes); !written) {
      failure = written.error();
      return tl::expected<void, std::string>(tl::unexpect, written.error().message);
    }
    return tl::expected<void, std::string>{};
  });
  if (!read) return report(kFailure, read.error());
  tl::expected<void, crypto::Error> done = encryptor->finish();
  if (done && armor) done = armor->finish();
  if (!done) return report(kFailure, done.error().message);
  if (auto committed = output->commit(); !committed) return report(kFailure, committed.error());
  return kSuccess;
}

int file_decrypt(const FileOptions& options) {
  auto loaded = load_identities(options.identity_files, PassphraseSource(options.passphrase_file));
  if (!loaded) return report(kFailure, loaded.error());
  std::vector<std::unique_ptr<age::Identity>> owned;
  for (auto& identity : *loaded) {
    owned.push_back(std::make_unique<crypto::x25519::Identity>(std::move(identity)));
  }
  if (owned.empty()) {
    // No identity: the file must be passphrase-encrypted, as with the stock `age -d`.
    auto passphrase = PassphraseSource(options.passphrase_file).read("Passphrase");
    if (!passphrase) return report(kFailure, passphrase.error());
    owned.push_back(std::make_unique<crypto::scrypt::Identity>(std::move(*passphrase)));
  }
  std::vector<const age::Identity*> identities;
  identities.reserve(owned.size());
  for (const auto& identity : owned) identities.push_back(identity.get());

  auto output = Output::open(options.output, 0600);
  if (!output) return report(kFailure, output.error());
  DecryptPipeline pipeline(identities, sink_to(*output));
  std::optional<crypto::Error> failure;
  auto read = read_chunks(options.input, [&](std::span<const std::uint8_t> bytes) {
    if (auto written = pipeline.write(bytes); !written) {
      failure = written.error();
      return tl::expected<void, std::string>(tl::unexpect, written.error().message);
    }
    return tl::expected<void, std::string>{};
  });
  if (!failure && read) {
    if (auto done = pipeline.finish(); !done) failure = done.error();
  }
  if (failure) return report(exit_code_of(failure->code), failure->message);
  if (!read) return report(kFailure, read.error());
  if (auto committed = output->commit(); !committed) return report(kFailure, committed.error());
  return kSuccess;
}

}  // namespace tipline::review
