#include "command_support.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "output.h"
#include "secret_collector.h"
#include "selection.h"
#include "terminal_text.h"
#include "tipline/crypto/request_signature.h"

namespace tipline::review {
namespace {

// A signing key file is two short lines.
constexpr std::size_t kMaxSigningKeyFile = 4096;

}  // namespace

// Messages can carry a server's words or a stranger's file name: neutralised again here, so
// that no path to the terminal forgets it.
int report_failure(const Failure& failure) {
  std::cerr << "tipline-review: " << terminal_safe(failure.message, true) << '\n';
  return failure.code;
}

void warn(std::string_view message) {
  std::cerr << "tipline-review: warning: " << terminal_safe(message, true) << '\n';
}

tl::expected<CaseFolder, Failure> open_case(const std::filesystem::path& case_dir) {
  auto folder = CaseFolder::open(case_dir);
  if (!folder) return tl::unexpected(Failure{kNoCase, folder.error().message});
  return std::move(*folder);
}

tl::expected<Index, Failure> load_index(const CaseFolder& folder) {
  auto index = folder.load_index();
  if (!index) return tl::unexpected(Failure{kNoCase, index.error().message});
  return std::move(*index);
}

tl::expected<void, Failure> save_index(const CaseFolder& folder, const Index& index) {
  if (auto saved = folder.save_index(index); !saved) {
    return tl::unexpected(Failure{kFailure, saved.error().message});
  }
  return {};
}

tl::expected<Client, Failure> connect(const CaseFolder& folder) {
  const std::filesystem::path file = folder.signing_key_file();
  // Straight into secret memory: read_small_file's string and staging buffer would leave
  // copies of the key in freed memory.
  SecretCollector text(kMaxSigningKeyFile);
  auto read = read_chunks(
      file, [&](std::span<const std::uint8_t> bytes) -> tl::expected<void, std::string> {
        if (!text.add(bytes)) return tl::unexpected(file.string() + ": larger than expected");
        return {};
      });
  if (!read) return tl::unexpected(Failure{kNoCase, read.error()});
  auto key = crypto::request_signature::SigningKey::parse(text.text());
  if (!key) return tl::unexpected(Failure{kNoCase, file.string() + ": " + key.error().message});
  ClientOptions options;
  options.server = folder.settings().server;
  options.reviewer = folder.settings().reviewer;
  options.proxy = folder.settings().proxy;
  std::error_code ec;
  if (std::filesystem::exists(folder.ca_file(), ec)) options.ca_file = folder.ca_file();
  return Client(std::move(options), std::move(*key));
}

std::string size_text(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  constexpr std::array<const char*, 4> kUnits = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.1f %s", value, kUnits[unit]);
  return text.data();
}

std::string time_text(std::int64_t unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  if (::gmtime_r(&seconds, &parts) == nullptr) return std::to_string(unix_seconds);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%d %H:%M UTC", &parts);
  return text.data();
}

std::string short_id(std::string_view id) { return std::string(id.substr(0, kShortIdLength)); }

}  // namespace tipline::review
