// Replays fuzz inputs without libFuzzer, for normal (g++, sanitizer) builds: runs
// LLVMFuzzerTestOneInput on each file argument and on every file under each folder argument.
// Fails when nothing ran, so that a misplaced corpus cannot pass unnoticed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include "fuzz.h"

namespace {

std::optional<std::vector<std::uint8_t>> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<std::uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return std::nullopt;
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path argument(argv[i]);
    if (!std::filesystem::is_directory(argument)) {
      inputs.push_back(argument);
      continue;
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argument)) {
      if (entry.is_regular_file()) inputs.push_back(entry.path());
    }
  }
  // Sorted, so that runs are reproducible whatever order the file system lists.
  std::sort(inputs.begin(), inputs.end());
  for (const auto& input : inputs) {
    const auto bytes = read_file(input);
    if (!bytes) {
      std::fprintf(stderr, "%s: cannot read\n", input.c_str());
      return 1;
    }
    LLVMFuzzerTestOneInput(bytes->data(), bytes->size());
  }
  std::printf("%s: ran %zu inputs\n", std::filesystem::path(argv[0]).filename().c_str(),
              inputs.size());
  return inputs.empty() ? 1 : 0;
}
