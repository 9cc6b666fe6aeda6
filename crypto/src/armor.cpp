#include <algorithm>
#include <string_view>

#include "base64.h"
#include "tipline/crypto/age.h"

namespace tipline::crypto::age {
namespace {

constexpr std::string_view kBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr std::string_view kEnd = "-----END AGE ENCRYPTED FILE-----";
constexpr std::size_t kColumns = 64;
constexpr std::size_t kBytesPerLine = kColumns / 4 * 3;
// Whitespace allowed around the armor is bounded so a stream of it cannot run forever.
constexpr std::size_t kMaxOuterSpace = 1024;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

tl::unexpected<Error> malformed(std::string_view what) {
  return tl::unexpected(Error{Errc::armor_malformed, "malformed age armor: " + std::string(what)});
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

bool looks_armored(std::span<const std::uint8_t> start) {
  const std::string_view text(reinterpret_cast<const char*>(start.data()), start.size());
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return false;
  const std::string_view rest = text.substr(first, kBegin.size());
  return !rest.empty() && kBegin.starts_with(rest);
}

ArmorWriter::ArmorWriter(Sink sink) : sink_(std::move(sink)) {}

tl::expected<void, Error> ArmorWriter::write(std::span<const std::uint8_t> bytes) {
  if (!started_) {
    started_ = true;
    if (auto sent = sink_(as_bytes(std::string(kBegin) + '\n')); !sent) return sent;
  }
  while (!bytes.empty()) {
    const std::size_t take = std::min(bytes.size(), kBytesPerLine - pending_.size());
    pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<long>(take));
    bytes = bytes.subspan(take);
    if (pending_.size() == kBytesPerLine) {
      const std::string line = base64::encode(pending_, base64::Padding::required) + '\n';
      pending_.clear();
      if (auto sent = sink_(as_bytes(line)); !sent) return sent;
    }
  }
  return {};
}

tl::expected<void, Error> ArmorWriter::finish() {
  if (auto started = write({}); !started) return started;
  std::string tail;
  if (!pending_.empty()) tail = base64::encode(pending_, base64::Padding::required) + '\n';
  pending_.clear();
  tail += std::string(kEnd) + '\n';
  return sink_(as_bytes(tail));
}

ArmorReader::ArmorReader(Sink sink) : sink_(std::move(sink)) {}

tl::expected<void, Error> ArmorReader::line(std::string_view content) {
  if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
  if (stage_ == Stage::leading_space) {
    if (content != kBegin) return malformed("the first line is not " + std::string(kBegin));
    stage_ = Stage::body;
    return {};
  }
  if (content == kEnd) {
    stage_ = Stage::trailing_space;
    return {};
  }
  // Every line is 64 columns but the last, which is shorter and ends any padding.
  if (short_line_seen_) return malformed("a short line before the end");
  if (content.empty() || content.size() > kColumns) return malformed("a line of wrong length");
  if (content.size() < kColumns || content.back() == '=') short_line_seen_ = true;
  const auto decoded = base64::decode(content, base64::Padding::required);
  if (!decoded) return malformed("invalid or non-canonical base64");
  return sink_(*decoded);
}

tl::expected<void, Error> ArmorReader::write(std::span<const std::uint8_t> text) {
  for (const std::uint8_t byte : text) {
    const char c = static_cast<char>(byte);
    switch (stage_) {
      case Stage::failed:
        return malformed("the armor already failed");
      case Stage::trailing_space:
        if (!is_space(c) || ++leading_space_ > kMaxOuterSpace) {
          stage_ = Stage::failed;
          return malformed("data after the end line");
        }
        continue;
      case Stage::leading_space:
        if (line_.empty() && is_space(c)) {
          if (++leading_space_ > kMaxOuterSpace) {
            stage_ = Stage::failed;
            return malformed("no begin line");
          }
          continue;
        }
        break;
      case Stage::body:
        break;
    }
    if (c != '\n') {
      line_ += c;
      // A line longer than any valid one (64 columns and a CR) is refused at once.
      if (line_.size() > std::max(kBegin.size(), kColumns) + 1) {
        stage_ = Stage::failed;
        return malformed("a line of wrong length");
      }
      continue;
    }
    const std::string completed = std::exchange(line_, {});
    if (stage_ == Stage::leading_space) leading_space_ = 0;
    if (auto handled = line(completed); !handled) {
      if (handled.error().code == Errc::armor_malformed) stage_ = Stage::failed;
      return handled;
    }
  }
  return {};
}

tl::expected<void, Error> ArmorReader::finish() {
  if (stage_ == Stage::failed) return malformed("the armor already failed");
  if (!line_.empty()) {
    // The end line may lack its newline.
    const std::string completed = std::exchange(line_, {});
    if (auto handled = line(completed); !handled) return handled;
  }
  if (stage_ != Stage::trailing_space) return malformed("no end line");
  return {};
}

}  // namespace tipline::crypto::age
