// age::Decryptor on arbitrary bytes, written in two pieces and finished. The identity is the
// X25519 one of the CCTV test vectors, so that seeds encrypted to it reach the payload. Any
// input may fail to decrypt; none may crash, and a success must have read a header.
#include <cstdlib>
#include <utility>

#include "fuzz.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/x25519.h"

namespace age = tipline::crypto::age;
namespace x25519 = tipline::crypto::x25519;
using tipline::crypto::Error;
using tipline::crypto::fuzz::cut_point;
using tipline::crypto::fuzz::require;

namespace {

const x25519::Identity& cctv_identity() {
  static const x25519::Identity identity = [] {
    auto parsed = x25519::Identity::parse(
        "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0");
    if (!parsed) std::abort();
    return std::move(*parsed);
  }();
  return identity;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> ciphertext(data, size);
  const age::Identity* const identities[] = {&cctv_identity()};
  std::size_t plaintext_size = 0;
  const auto count = [&plaintext_size](std::span<const std::uint8_t> plaintext) {
    plaintext_size += plaintext.size();
    return tl::expected<void, Error>();
  };
  age::Decryptor decryptor(identities, count);
  const std::size_t cut = cut_point(ciphertext, 0);
  if (!decryptor.write(ciphertext.first(cut))) return 0;
  if (!decryptor.write(ciphertext.subspan(cut))) return 0;
  if (!decryptor.finish()) return 0;
  require(decryptor.header() != nullptr, "a decrypted file has a header");
  require(plaintext_size < size, "the plaintext is shorter than the file");
  return 0;
}
