#include "terminal_text.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>

namespace tipline::review {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

// Decodes one UTF-8 character at the start of `text`; nullopt-like (0 length) when invalid.
struct Decoded {
  char32_t code = 0;
  std::size_t length = 0;  // 0: invalid
};

Decoded decode(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char first = byte(0);
  if (first < 0x80) return {first, 1};
  std::size_t length = 0;
  char32_t code = 0;
  if ((first & 0xE0) == 0xC0) {
    length = 2;
    code = first & 0x1F;
  } else if ((first & 0xF0) == 0xE0) {
    length = 3;
    code = first & 0x0F;
  } else if ((first & 0xF8) == 0xF0) {
    length = 4;
    code = first & 0x07;
  } else {
    return {};
  }
  if (text.size() < length) return {};
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return {};
    code = (code << 6) | (byte(i) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinimum[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
    return {};
  }
  return {code, length};
}

void append_utf8(std::string& out, char32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

bool is_bidi_control(char32_t code) {
  return (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

std::size_t width_of(char32_t code) {
  if ((code >= 0x0300 && code <= 0x036F) || code == 0x200B || code == 0x200D) return 0;
  const bool wide = (code >= 0x1100 && code <= 0x115F) || (code >= 0x2E80 && code <= 0xA4CF) ||
                    (code >= 0xAC00 && code <= 0xD7A3) || (code >= 0xF900 && code <= 0xFAFF) ||
                    (code >= 0xFE30 && code <= 0xFE4F) || (code >= 0xFF00 && code <= 0xFF60) ||
                    (code >= 0xFFE0 && code <= 0xFFE6) || (code >= 0x1F300 && code <= 0x1F64F) ||
                    (code >= 0x1F900 && code <= 0x1F9FF) || (code >= 0x20000 && code <= 0x3FFFD);
  return wide ? 2 : 1;
}

}  // namespace

std::string terminal_safe(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const Decoded decoded = decode(text);
    if (decoded.length == 0) {
      out += kReplacement;
      text.remove_prefix(1);
      continue;
    }
    const char32_t code = decoded.code;
    if (code == '\n' && keep_newlines) {
      out += '\n';
    } else if (code == '\t') {
      out += ' ';
    } else if (code < 0x20) {
      append_utf8(out, 0x2400 + code);  // Control Pictures: U+241B shows ESC
    } else if (code == 0x7F) {
      append_utf8(out, 0x2421);
    } else if ((code >= 0x80 && code <= 0x9F) || is_bidi_control(code)) {
      out += kReplacement;
    } else {
      out.append(text.substr(0, decoded.length));
    }
    text.remove_prefix(decoded.length);
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  while (!text.empty()) {
    const Decoded decoded = decode(text);
    const std::size_t length = decoded.length == 0 ? 1 : decoded.length;
    width += decoded.length == 0 ? 1 : width_of(decoded.code);
    text.remove_prefix(length);
  }
  return width;
}

std::string truncate_to_width(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  if (width == 0) return {};
  std::string out;
  std::size_t used = 0;
  while (!text.empty()) {
    const Decoded decoded = decode(text);
    const std::size_t length = decoded.length == 0 ? 1 : decoded.length;
    const std::size_t columns = decoded.length == 0 ? 1 : width_of(decoded.code);
    if (used + columns > width - 1) break;  // keep a column for the ellipsis
    out.append(text.substr(0, length));
    used += columns;
    text.remove_prefix(length);
  }
  return out + std::string(kEllipsis);
}

std::string fold_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const Decoded decoded = decode(text);
    if (decoded.length == 0) {
      out += text.front();
      text.remove_prefix(1);
      continue;
    }
    char32_t code = decoded.code;
    if ((code >= 'A' && code <= 'Z') || (code >= 0xC0 && code <= 0xDE && code != 0xD7) ||
        (code >= 0x391 && code <= 0x3A9) || (code >= 0x410 && code <= 0x42F)) {
      code += 0x20;
    } else if (code >= 0x400 && code <= 0x40F) {
      code += 0x50;
    }
    append_utf8(out, code);
    text.remove_prefix(decoded.length);
  }
  return out;
}

std::string humanize(std::string_view identifier) {
  std::string out;
  for (const char c : identifier) {
    if (c == '_') {
      out += ' ';
    } else if (out.empty() && c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

std::size_t output_width() {
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr) {
    std::size_t value = 0;
    const std::string_view text(columns);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size() && value > 0) return value;
  }
  winsize size{};
  if (::isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
      size.ws_col > 0) {
    return size.ws_col;
  }
  return 0;
}

}  // namespace tipline::review
