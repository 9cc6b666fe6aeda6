// Files from web/ compiled into the binary. web/CMakeLists.txt lists them and generates the
// definition of files() at build time (web/embed.cmake), so a changed file is a rebuild.
#pragma once

#include <span>
#include <string_view>

namespace tipline::server::embedded {

struct File {
  std::string_view path;   // relative to web/, e.g. "static/style.css"
  std::string_view bytes;  // the file's exact contents
  std::string_view etag;   // a strong HTTP ETag: the SHA-256 of bytes in hex, in quotes
};

// Every embedded file, in the order web/CMakeLists.txt lists them.
[[nodiscard]] std::span<const File> files();

}  // namespace tipline::server::embedded
