// age passphrase encryption: the "scrypt" stanza (https://c2sp.org/age).
//
// A file encrypted to a passphrase has exactly one stanza. Work factors are log2(N) with
// r = 8, p = 1; scrypt needs 128 * 8 * 2^w bytes, so the default 18 takes 256 MiB and the
// cap of 22 takes 4 GiB and tens of seconds.
#pragma once

#include "tipline/crypto/age.h"
#include "tipline/crypto/secret.h"

namespace tipline::crypto::scrypt {

inline constexpr int kDefaultWorkFactor = 18;
inline constexpr int kMaxWorkFactor = 22;

class Recipient final : public age::Recipient {
 public:
  // work_factor from 1 to kMaxWorkFactor (asserted).
  explicit Recipient(Secret passphrase, int work_factor = kDefaultWorkFactor);
  [[nodiscard]] std::vector<age::Stanza> wrap(const Secret& file_key) const override;
  [[nodiscard]] bool must_be_alone() const override { return true; }

 private:
  Secret passphrase_;
  int work_factor_;
};

class Identity final : public age::Identity {
 public:
  // Stanzas asking for more than max_work_factor are refused as malformed rather than
  // computed: an attacker's file must not make us spend minutes and gigabytes.
  explicit Identity(Secret passphrase, int max_work_factor = kMaxWorkFactor);
  [[nodiscard]] tl::expected<std::optional<Secret>, Error> unwrap(
      const age::Stanza& stanza, std::size_t stanza_count) const override;

 private:
  Secret passphrase_;
  int max_work_factor_;
};

}  // namespace tipline::crypto::scrypt
