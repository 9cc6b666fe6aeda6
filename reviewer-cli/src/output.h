// Where a command's output goes: standard output, or a file that appears only when the
// command succeeds (written to a temporary file beside it, renamed on commit()).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <tl/expected.hpp>

namespace tipline::review {

class Output {
 public:
  // An empty path means standard output. An existing file is never overwritten.
  [[nodiscard]] static tl::expected<Output, std::string> open(const std::filesystem::path& path,
                                                              mode_t mode);
  Output(Output&& other) noexcept;
  Output& operator=(Output&&) = delete;
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output();  // removes the temporary file unless committed

  [[nodiscard]] tl::expected<void, std::string> write(std::span<const std::uint8_t> bytes);
  // Closes the file and moves it into place.
  [[nodiscard]] tl::expected<void, std::string> commit();

 private:
  Output(int fd, std::filesystem::path final_path, std::filesystem::path temporary)
      : fd_(fd), final_path_(std::move(final_path)), temporary_(std::move(temporary)) {}

  int fd_;
  std::filesystem::path final_path_;  // empty for standard output
  std::filesystem::path temporary_;
};

// Reads a whole file (or standard input for an empty path) in chunks, calling `chunk`
// for each; stops at the first error from `chunk`.
template <class Chunk>
[[nodiscard]] tl::expected<void, std::string> read_chunks(const std::filesystem::path& path,
                                                          Chunk&& chunk);

}  // namespace tipline::review

#include "output_inl.h"
