// tipline-review's exit codes, documented in --help; scripts rely on them.
#pragma once

#include <string>

namespace tipline::review {

enum ExitCode : int {
  kSuccess = 0,
  kFailure = 1,  // anything not listed below
  kUsage = 2,
  kNoCase = 3,             // no case folder, or a damaged one
  kUnknownSubmission = 4,  // no local submission matches the ID, or several do
  kNoIdentityMatched = 10,
  kMalformedHeader = 11,
  kMalformedArmor = 12,
  kHeaderMacMismatch = 13,
  kPayloadCorrupt = 14,
  kUnreachable = 20,       // connection, name resolution, proxy or timeout
  kTlsFailure = 21,        // the server's certificate is not the trusted one
  kSignatureRefused = 22,  // 401: the server refused the request signature
  kForbidden = 23,         // 403: an admin-only route
  kNotFound = 24,          // 404: the server does not know the submission
  kBundleMismatch = 25,    // the recipient bundle does not verify against the root key
  kServerError = 26,       // any other refusal or a malformed answer
};

// A failed step of a command: the exit code and what to tell the user.
struct Failure {
  int code = kFailure;
  std::string message;
};

}  // namespace tipline::review
