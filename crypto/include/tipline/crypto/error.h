#pragma once

#include <string>

namespace tipline::crypto {

enum class Errc {
  malformed_encoding,  // hex, Bech32 or base64 text that does not decode
  malformed_key,       // decodes, but not to the layout of the expected key (length, lines)
  wrong_key_type,      // a well-formed key of another kind (Bech32 prefix, signature algorithm)
  // A codename that is not 24 digits once spaces and dashes are dropped.
  codename_malformed,
  // 24 digits whose Damm check digit does not match: a typo.
  codename_check_digit,
  // Decrypted plaintext whose padding is not as padding::pad writes it.
  malformed_padding,
  // age: the ASCII armor around a file is malformed.
  armor_malformed,
  // age: the header is malformed, of an unsupported version, or a stanza in it is.
  header_malformed,
  // age: no identity given opens any stanza of the header.
  no_match,
  // age: a file key was found but the header MAC does not verify: the header was altered.
  header_mac_mismatch,
  // age: the payload fails to authenticate, is truncated, or has data after its end.
  payload_corrupt,
  // Reading or writing outside the library failed (reported by a Sink).
  io,
  // minisign: a signature file that does not decode to minisign's layout (lines, lengths).
  malformed_signature,
  // minisign: the signature was made by a key with another key id.
  key_mismatch,
  // minisign: the signature does not match the message (altered, or another key's).
  bad_signature,
  // minisign: the trusted comment or its global signature was altered.
  bad_trusted_comment,
  // Request signing: a signature whose `created` is too far from the verifier's clock.
  stale_signature,
  // An encrypted secret key whose checksum does not match once decrypted.
  wrong_passphrase,
};

struct Error {
  Errc code;
  std::string message;
};

}  // namespace tipline::crypto
