// age::Header::parse on arbitrary bytes. age headers have one encoding, since the MAC covers
// their bytes: a header that parses must serialize to exactly the bytes it was parsed from and
// parse again to the same size. The Decryptor parses a growing buffer, so every shorter prefix
// of a header must read as incomplete, never as an error.
#include <string>

#include "fuzz.h"
#include "tipline/crypto/age.h"

namespace age = tipline::crypto::age;
using tipline::crypto::fuzz::as_bytes;
using tipline::crypto::fuzz::as_text;
using tipline::crypto::fuzz::cut_point;
using tipline::crypto::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const auto parsed = age::Header::parse(bytes);
  if (!parsed) return 0;
  if (!*parsed) {
    require(size < age::kMaxHeaderBytes, "only input under the size limit is incomplete");
    return 0;
  }
  const auto& [header, header_size] = **parsed;
  require(header_size > 0 && header_size <= size, "the header size is within the input");
  require(!header.stanzas.empty(), "a header has a stanza");

  const std::string text = header.serialize();
  require(text == as_text(bytes.first(header_size)), "serialize() reproduces the parsed bytes");
  const auto reparsed = age::Header::parse(as_bytes(text));
  require(reparsed && *reparsed && (*reparsed)->size == text.size(),
          "the serialized header parses to its own size");

  const auto prefix = age::Header::parse(bytes.first(cut_point(bytes, 0) % header_size));
  require(prefix && !*prefix, "a prefix of a header is incomplete");
  return 0;
}
