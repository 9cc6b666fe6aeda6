// minisign::PublicKey::parse and Signature::parse on arbitrary text. What parses must survive
// to_file_text() and parse again unchanged. Signatures are also checked against a fixed key
// and message, which the signature seeds were made with, so that mutations of them reach
// the signature checks; a signature may only verify with the trusted comment it carries.
// (SecretKey::parse is left out: an encrypted key runs scrypt with up to 1 GiB of memory.)
#include "tipline/crypto/minisign.h"

#include <cstdlib>
#include <string>

#include "fuzz.h"

namespace minisign = tipline::crypto::minisign;
using tipline::crypto::fuzz::as_bytes;
using tipline::crypto::fuzz::as_text;
using tipline::crypto::fuzz::require;

namespace {

constexpr std::string_view kMessage = "tipline fuzz message\n";

const minisign::PublicKey& seed_key() {
  static const minisign::PublicKey key = [] {
    auto parsed = minisign::PublicKey::parse(
        "untrusted comment: minisign public key D672739831C2E348\n"
        "RWRI48IxmHNy1krwTKbSr/LtohicATQzayvao4ME7nRg/soxgsbc1sUB\n");
    if (!parsed) std::abort();
    return *parsed;
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text({data, size});

  if (const auto key = minisign::PublicKey::parse(text)) {
    const std::string canonical = key->to_file_text();
    const auto again = minisign::PublicKey::parse(canonical);
    require(again && again->key_id() == key->key_id() && again->to_file_text() == canonical,
            "a public key parses back from its file text");
  }

  if (const auto signature = minisign::Signature::parse(text)) {
    const std::string canonical = signature->to_file_text();
    const auto again = minisign::Signature::parse(canonical);
    require(again && again->key_id() == signature->key_id() &&
                again->trusted_comment() == signature->trusted_comment() &&
                again->to_file_text() == canonical,
            "a signature parses back from its file text");
    if (const auto comment = seed_key().verify(as_bytes(kMessage), *signature)) {
      require(*comment == signature->trusted_comment(),
              "verify() returns the signature's trusted comment");
    }
  }
  return 0;
}
