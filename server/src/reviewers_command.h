// The `tipline-server reviewers` verbs: register, list and disable the reviewers that may use
// the reviewer API (docs/reviewer-api.md).
//
// Each opens the database file directly, not through a Store and its lock, so they work
// beside a running server (which reads reviewers from the database for every request);
// SQLite's own locks order their one short write transaction with the server's writes.
// Every change is also an audit log entry by "(server admin)". Nothing printed is secret:
// signing keys are public keys.
// Thread safety: each function is meant to be called once, from the main thread.
#pragma once

#include <ostream>
#include <string>
#include <tl/expected.hpp>

#include "tipline/config/config.h"
#include "tipline/server/server.h"

namespace tipline::server::reviewers {

// Registers reviewer `id` (1 to 64 of A-Z a-z 0-9 . _ -) with the Ed25519 public key
// `public_key` (44 base64 characters, as `tipline-review init` prints it) and `role`
// ("reviewer" or "admin"). Refused (Errc::input) when the id or the key is taken or
// malformed.
[[nodiscard]] tl::expected<void, Error> add(const config::Config& config, const std::string& id,
                                            const std::string& public_key, const std::string& role,
                                            std::ostream& out);

// Prints every reviewer, disabled ones included: a table, or with `json` one JSON object
// {"reviewers":[{"id","role","disabled","added_at","key"}, ...]}.
[[nodiscard]] tl::expected<void, Error> list(const config::Config& config, bool json,
                                             std::ostream& out);

// Disables reviewer `id`: the API refuses their requests from then on. Their notes and
// audit entries keep naming them. Errc::input for an unknown id; a reviewer already
// disabled is left as is.
[[nodiscard]] tl::expected<void, Error> disable(const config::Config& config, const std::string& id,
                                                std::ostream& out);

}  // namespace tipline::server::reviewers
