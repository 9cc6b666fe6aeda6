#include "hkdf.h"

#include <sodium.h>

#include <cassert>
#include <cstring>

namespace tipline::crypto {

Secret hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                   std::string_view info, std::size_t length) {
  constexpr std::size_t kHash = crypto_auth_hmacsha256_BYTES;
  assert(length <= 255 * kHash);
  initialize();
  // Extract: PRK = HMAC(salt, IKM); an empty salt means HashLen zero bytes, which HMAC pads
  // to the same key as an empty one.
  Secret prk(kHash);
  Secret state_memory(sizeof(crypto_auth_hmacsha256_state));
  auto* state = reinterpret_cast<crypto_auth_hmacsha256_state*>(state_memory.expose().data());
  const std::uint8_t no_salt = 0;  // a valid pointer for an empty salt
  crypto_auth_hmacsha256_init(state, salt.empty() ? &no_salt : salt.data(), salt.size());
  crypto_auth_hmacsha256_update(state, ikm.data(), ikm.size());
  crypto_auth_hmacsha256_final(state, prk.expose().data());

  // Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
  Secret okm(length);
  Secret block(kHash);
  std::size_t done = 0;
  for (std::uint8_t counter = 1; done < length; ++counter) {
    crypto_auth_hmacsha256_init(state, prk.expose().data(), kHash);
    if (counter > 1) crypto_auth_hmacsha256_update(state, block.expose().data(), kHash);
    crypto_auth_hmacsha256_update(state, reinterpret_cast<const unsigned char*>(info.data()),
                                  info.size());
    crypto_auth_hmacsha256_update(state, &counter, 1);
    crypto_auth_hmacsha256_final(state, block.expose().data());
    const std::size_t take = std::min(kHash, length - done);
    std::memcpy(okm.expose().data() + done, block.expose().data(), take);
    done += take;
  }
  return okm;
}

}  // namespace tipline::crypto
