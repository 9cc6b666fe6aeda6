// age::ArmorReader on arbitrary text, written in three pieces cut at points derived from the
// input. Armor that reads must survive ArmorWriter and ArmorReader unchanged, and
// ArmorWriter's own output must read back in any pieces.
#include <algorithm>
#include <vector>

#include "fuzz.h"
#include "tipline/crypto/age.h"

namespace age = tipline::crypto::age;
using tipline::crypto::Error;
using tipline::crypto::fuzz::cut_point;
using tipline::crypto::fuzz::require;

namespace {

age::Sink append_to(std::vector<std::uint8_t>& out) {
  return [&out](std::span<const std::uint8_t> bytes) -> tl::expected<void, Error> {
    out.insert(out.end(), bytes.begin(), bytes.end());
    return {};
  };
}

// The bytes inside the armor, read in the pieces [0, a), [a, b) and [b, end).
tl::expected<std::vector<std::uint8_t>, Error> read_armor(std::span<const std::uint8_t> text,
                                                          std::size_t a, std::size_t b) {
  if (a > b) std::swap(a, b);
  std::vector<std::uint8_t> out;
  age::ArmorReader reader(append_to(out));
  for (const auto piece : {text.first(a), text.subspan(a, b - a), text.subspan(b)}) {
    if (auto written = reader.write(piece); !written) return tl::unexpected(written.error());
  }
  if (auto finished = reader.finish(); !finished) return tl::unexpected(finished.error());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> text(data, size);
  const auto contents = read_armor(text, cut_point(text, 1), cut_point(text, 2));
  if (!contents) return 0;

  std::vector<std::uint8_t> armored;
  age::ArmorWriter writer(append_to(armored));
  require(writer.write(*contents).has_value() && writer.finish().has_value(),
          "ArmorWriter accepts any bytes");
  require(age::looks_armored(armored), "ArmorWriter's output looks armored");
  const auto again = read_armor(armored, cut_point(armored, 3), cut_point(armored, 4));
  require(again && *again == *contents, "re-armored contents read back unchanged");
  return 0;
}
