// The tipline-server verbs: create an instance, check one, serve one.
//
// Thread safety: each function is meant to be called once, from the main thread.
#pragma once

#include <filesystem>
#include <string>
#include <tl/expected.hpp>

#include "tipline/config/config.h"

namespace tipline::server {

enum class Errc {
  instance,  // init: the folder or a file in it cannot be created
  database,  // the database or its key cannot be opened
  tls,       // the certificate or private key cannot be loaded or made
  listen,    // a listener cannot bind
  input,     // an administrator's argument is malformed or conflicts with what is stored
};

struct Error {
  Errc code;
  std::string message;
};

// Creates a new instance folder: tipline.toml (the sample configuration), the database
// key file (0600), the instance salt, a self-signed TLS certificate and its key (0600),
// and the encrypted database. Refuses a folder that exists and is not empty.
// Without demo no recipient bundle is installed: the instance accepts no report until an
// administrator installs one (`tipline-server keys install`).
// demo marks the instance as a throwaway one for trying Tipline out, and also writes
// demo-only offline keys to DIR/demo-offline-keys/, which a real instance never keeps on
// the server: a passphrase-protected reviewer identity (age) with its passphrase in
// reviewer-passphrase.txt, and an organisation root key (minisign) whose public half is
// also DIR/organisation-root.pub. It signs a bundle (version 1, the demo reviewer) with
// that key, writes it there as bundle-1.json(.minisig) and installs it.
[[nodiscard]] tl::expected<void, Error> init_instance(const std::filesystem::path& dir, bool demo);

// Opens the database with its key and runs an integrity check.
[[nodiscard]] tl::expected<void, Error> check_instance(const config::Config& config);

// Serves both listeners until SIGTERM or SIGINT, then stops accepting, lets requests in
// flight finish for up to limits.shutdown_grace, and returns. A second signal stops at once.
[[nodiscard]] tl::expected<void, Error> serve(const config::Config& config);

}  // namespace tipline::server
