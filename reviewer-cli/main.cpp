// tipline-review: the reviewers' tool. Decryption keys stay on the reviewer's machine.
#include <CLI/CLI.hpp>
#include <string>

#include "tipline/crypto/secret.h"
#include "tipline/version.h"

int main(int argc, char** argv) {
  tipline::crypto::initialize();
  CLI::App app("tipline-review: read and triage Tipline reports with offline keys",
               "tipline-review");
  app.set_version_flag("--version", std::string("tipline-review ") + tipline::kVersion);
  app.footer("Exit status: 0 success, 1 failure, 2 usage error.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  return 0;
}
