#include "decryption.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>

#include "identities.h"
#include "output.h"
#include "tipline/crypto/padding.h"
#include "tipline/crypto/x25519.h"

namespace tipline::review {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using crypto::Errc;

constexpr std::string_view kReportFormat = "tipline-report/1";

tl::unexpected<Failure> fail(int code, std::string message) {
  return tl::unexpected(Failure{code, std::move(message)});
}

std::string not_downloaded(const fs::path& file) {
  return file.string() + " is not in the case folder yet: run `tipline-review sync`";
}

}  // namespace

int exit_code_of(Errc code) {
  switch (code) {
    case Errc::no_match:
      return kNoIdentityMatched;
    case Errc::header_malformed:
      return kMalformedHeader;
    case Errc::armor_malformed:
      return kMalformedArmor;
    case Errc::header_mac_mismatch:
      return kHeaderMacMismatch;
    case Errc::payload_corrupt:
      return kPayloadCorrupt;
    default:
      return kFailure;
  }
}

tl::expected<Keyring, Failure> Keyring::load(const CaseFolder& folder, const KeySource& source) {
  const std::optional<fs::path> file =
      source.identity ? source.identity : folder.settings().identity;
  if (!file) {
    return fail(kUsage,
                "no identity file: give --identity FILE (or set one with `tipline-review init "
                "--identity FILE`)");
  }
  const fs::path files[] = {*file};
  auto loaded = load_identities(files, PassphraseSource(source.passphrase_file));
  if (!loaded) return fail(kFailure, loaded.error());
  Keyring keyring;
  for (auto& identity : *loaded) {
    keyring.owned_.push_back(std::make_unique<crypto::x25519::Identity>(std::move(identity)));
    keyring.pointers_.push_back(keyring.owned_.back().get());
  }
  return keyring;
}

tl::expected<void, Failure> decrypt_file(const fs::path& ciphertext, const Keyring& keyring,
                                         const crypto::age::Sink& sink) {
  std::error_code ec;
  if (!fs::exists(ciphertext, ec)) return fail(kFailure, not_downloaded(ciphertext));
  crypto::age::Decryptor decryptor(keyring.identities(), sink);
  std::optional<crypto::Error> failure;
  auto read = read_chunks(ciphertext, [&](std::span<const std::uint8_t> bytes) {
    if (auto written = decryptor.write(bytes); !written) {
      failure = written.error();
      return tl::expected<void, std::string>(tl::unexpect, written.error().message);
    }
    return tl::expected<void, std::string>{};
  });
  if (!failure && read) {
    if (auto done = decryptor.finish(); !done) failure = done.error();
  }
  if (failure) {
    if (failure->code == Errc::io) return fail(kFailure, failure->message);
    if (failure->code == Errc::no_match) {
      return fail(kNoIdentityMatched,
                  ciphertext.string() +
                      ": the identity cannot open it (sealed to other recipients, such as an "
                      "older bundle's?)");
    }
    return fail(exit_code_of(failure->code), ciphertext.string() + ": " + failure->message);
  }
  if (!read) return fail(kFailure, read.error());
  return {};
}

tl::expected<SecretBytes, Failure> decrypt_to_secret(const fs::path& ciphertext,
                                                     const Keyring& keyring) {
  struct stat info {};
  if (::stat(ciphertext.c_str(), &info) != 0) return fail(kFailure, not_downloaded(ciphertext));
  // The plaintext is shorter than the ciphertext, so that size bounds the buffer; it is
  // returned as is, with the length used, rather than copied to an exact fit.
  SecretBytes plaintext{crypto::Secret(static_cast<std::size_t>(info.st_size))};
  auto done = decrypt_file(ciphertext, keyring, [&](std::span<const std::uint8_t> bytes) {
    if (bytes.size() > plaintext.buffer.size() - plaintext.size) {
      return tl::expected<void, crypto::Error>(
          tl::unexpect, crypto::Error{Errc::io, ciphertext.string() + ": changed while read"});
    }
    std::copy(bytes.begin(), bytes.end(),
              plaintext.buffer.expose().begin() + static_cast<long>(plaintext.size));
    plaintext.size += bytes.size();
    return tl::expected<void, crypto::Error>{};
  });
  if (!done) return tl::unexpected(done.error());
  return plaintext;
}

tl::expected<crypto::Secret, Failure> decrypt_prefix(const fs::path& ciphertext,
                                                     const Keyring& keyring, std::size_t count) {
  crypto::Secret prefix(count);
  std::size_t used = 0;
  crypto::age::Decryptor decryptor(keyring.identities(), [&](std::span<const std::uint8_t> bytes) {
    const std::size_t take = std::min(bytes.size(), count - used);
    std::copy_n(bytes.begin(), take, prefix.expose().begin() + static_cast<long>(used));
    used += take;
    return tl::expected<void, crypto::Error>{};
  });
  const int fd = ::open(ciphertext.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(kFailure, not_downloaded(ciphertext));
  std::vector<std::uint8_t> buffer(std::size_t{64} << 10);
  tl::expected<void, crypto::Error> done;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return fail(kFailure, ciphertext.string() + ": " + std::strerror(errno));
    }
    if (n == 0) {
      done = decryptor.finish();
      break;
    }
    done = decryptor.write({buffer.data(), static_cast<std::size_t>(n)});
    if (!done || used == count) break;
  }
  ::close(fd);
  if (!done)
    return fail(exit_code_of(done.error().code), ciphertext.string() + ": " + done.error().message);
  crypto::Secret result(used);
  std::copy_n(prefix.expose().begin(), used, result.expose().begin());
  return result;
}

tl::expected<SecretBytes, Failure> read_report_document(const CaseFolder& folder,
                                                        const Submission& submission,
                                                        const Keyring& keyring) {
  const fs::path file = folder.report_file(submission.id);
  auto plaintext = decrypt_to_secret(file, keyring);
  if (!plaintext) return tl::unexpected(plaintext.error());
  auto document = crypto::padding::unpad(plaintext->bytes());
  if (!document) return fail(kFailure, file.string() + ": " + document.error().message);
  // Padding only appends, so the document is the start of the plaintext: unpadded in place.
  plaintext->size = document->size();
  return std::move(*plaintext);
}

tl::expected<json::object, Failure> read_report(const CaseFolder& folder,
                                                const Submission& submission,
                                                const Keyring& keyring) {
  const fs::path file = folder.report_file(submission.id);
  auto document = read_report_document(folder, submission, keyring);
  if (!document) return tl::unexpected(document.error());
  std::error_code ec;
  const json::value parsed = json::parse(
      json::string_view(reinterpret_cast<const char*>(document->bytes().data()), document->size),
      ec);
  const json::object* object = ec ? nullptr : parsed.if_object();
  const json::value* format = object != nullptr ? object->if_contains("format") : nullptr;
  const json::value* answers = object != nullptr ? object->if_contains("answers") : nullptr;
  if (format == nullptr || *format != json::value(kReportFormat) || answers == nullptr ||
      !answers->is_object()) {
    return fail(kFailure, file.string() + ": not a " + std::string(kReportFormat) + " document");
  }
  return answers->get_object();
}

tl::expected<std::string, Failure> read_note(const CaseFolder& folder, const Submission& submission,
                                             const NoteRef& note, const Keyring& keyring) {
  const fs::path file = folder.note_file(submission.id, note.id);
  auto plaintext = decrypt_to_secret(file, keyring);
  if (!plaintext) return tl::unexpected(plaintext.error());
  auto text = crypto::padding::unpad(plaintext->bytes());
  if (!text) return fail(kFailure, file.string() + ": " + text.error().message);
  return std::string(reinterpret_cast<const char*>(text->data()), text->size());
}

}  // namespace tipline::review
