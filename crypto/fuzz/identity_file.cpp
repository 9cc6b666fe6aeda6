// x25519::parse_identity_file on arbitrary bytes. Every identity it returns must survive its
// own encoding, alone and in the identity file age-keygen would write for it.
#include "fuzz.h"
#include "tipline/crypto/x25519.h"

namespace x25519 = tipline::crypto::x25519;
using tipline::crypto::fuzz::as_text;
using tipline::crypto::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto identities = x25519::parse_identity_file({data, size});
  if (!identities) return 0;
  require(!identities->empty(), "an identity file holds an identity");
  for (const auto& identity : *identities) {
    const std::string recipient = identity.recipient().to_string();
    const auto reparsed = x25519::Identity::parse(as_text(identity.to_string().expose()));
    require(reparsed && reparsed->recipient().to_string() == recipient,
            "an identity parses back from its encoding");
    const auto file = x25519::identity_file_text(identity, "2006-01-02T15:04:05Z");
    const auto from_file = x25519::parse_identity_file(file.expose());
    require(from_file && from_file->size() == 1 &&
                from_file->front().recipient().to_string() == recipient,
            "an identity parses back from the file age-keygen would write");
  }
  return 0;
}
