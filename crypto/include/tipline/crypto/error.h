#pragma once

#include <string>

namespace tipline::crypto {

enum class Errc {
  malformed_encoding,  // hex, Bech32 or base64 text that does not decode
  malformed_key,       // decodes, but not to the layout of the expected key (length, lines)
  wrong_key_type,      // a well-formed key of another kind (Bech32 prefix, signature algorithm)
};

struct Error {
  Errc code;
  std::string message;
};

}  // namespace tipline::crypto
