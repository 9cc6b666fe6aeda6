// Test support: a case folder built offline, as `sync` would leave it, with real age
// ciphertexts sealed to a fresh passphrase-protected identity. No server is involved.
//
//   FOLDER/case/            the case folder (server https://127.0.0.1:PORT, reviewer alice)
//   FOLDER/identity.age     the identity, protected with the passphrase below
//   FOLDER/passphrase.txt   kPassphrase; FOLDER/wrong-passphrase.txt another one
//
// The submissions (ids, days, answers, an attachment and a note) are fixed, so that the
// commands' output is the same on every run; kSubmissions documents them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace tipline::review::testing {

inline constexpr std::string_view kPassphrase = "correct horse battery staple";
// Three submissions; the first two share the prefix "0a1b".
inline constexpr std::string_view kFirstId = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
inline constexpr std::string_view kSecondId = "0a1b99990000111122223333444455a5";
inline constexpr std::string_view kThirdId = "f00dcafe0123456789abcdef01234567";

// Builds the files above under `folder`; `port` goes into the server URL. Throws
// std::runtime_error when anything cannot be written.
void build_fake_case(const std::filesystem::path& folder, int port);

// A case folder with `count` submissions in its index and no ciphertexts, for timing list.
void build_large_index(const std::filesystem::path& case_dir, std::size_t count);

}  // namespace tipline::review::testing
