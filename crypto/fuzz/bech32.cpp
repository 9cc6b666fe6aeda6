// bech32::decode on arbitrary text for age's two HRPs. Each payload has exactly one encoding
// under a given HRP, case included, so text that decodes must be what encode() makes of the
// payload; and a failed decode must leave nothing of a secret behind in the buffer.
#include "bech32.h"

#include <algorithm>
#include <array>

#include "fuzz.h"

namespace bech32 = tipline::crypto::bech32;
using tipline::crypto::fuzz::as_bytes;
using tipline::crypto::fuzz::as_text;
using tipline::crypto::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text({data, size});
  for (const std::string_view hrp : {"age", "AGE-SECRET-KEY-"}) {
    std::array<std::uint8_t, 32> payload{};
    if (!bech32::decode(text, hrp, payload)) {
      require(std::all_of(payload.begin(), payload.end(), [](std::uint8_t b) { return b == 0; }),
              "a failed decode leaves the buffer zeroed");
      continue;
    }
    require(bech32::encode(hrp, payload) == text, "decoded text re-encodes to itself");
    const auto secret = bech32::encode_secret(hrp, payload);
    require(std::ranges::equal(secret.expose(), as_bytes(text)),
            "encode_secret() agrees with encode()");
  }
  return 0;
}
