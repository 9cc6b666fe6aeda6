// tipline-review: the reviewers' tool. Decryption keys stay on the reviewer's machine.
#include <CLI/CLI.hpp>
#include <string>

#include "src/file_commands.h"
#include "tipline/crypto/secret.h"
#include "tipline/version.h"

namespace {

constexpr const char* kFileFooter = R"(Exit status:
   0  success
   1  any other failure (unreadable file, wrong passphrase for an identity file, ...)
   2  usage error
  10  no identity matched the file's recipients
  11  malformed age header
  12  malformed ASCII armor
  13  header MAC mismatch (the header was altered)
  14  payload corrupt or truncated
With -o, the output file appears only when the command succeeds; an existing file is
never overwritten. Without -o, output goes to standard output.)";

}  // namespace

int main(int argc, char** argv) {
  using tipline::review::FileOptions;
  tipline::crypto::initialize();
  CLI::App app("tipline-review: read and triage Tipline reports with offline keys",
               "tipline-review");
  app.set_version_flag("--version", std::string("tipline-review ") + tipline::kVersion);
  app.footer("Exit status: 0 success, 1 failure, 2 usage error; see `file --help` for more.");
  app.require_subcommand(1);

  FileOptions options;
  std::string passphrase_file;
  auto* file =
      app.add_subcommand("file", "age files, like the stock `age` tool: keygen, encrypt, decrypt");
  file->require_subcommand(1);
  file->footer(kFileFooter);

  auto* keygen = file->add_subcommand(
      "keygen", "Make a new X25519 identity (as age-keygen); prints its public key");
  keygen->add_option("-o,--output", options.output, "Write the identity here (mode 0600)");
  keygen->add_flag("-p,--passphrase", options.passphrase,
                   "Protect the identity file with a passphrase (readable by `age -d -i`)");
  keygen->add_option("--passphrase-file", passphrase_file,
                     "Read the passphrase from the first line of this file instead of the "
                     "terminal");

  auto* encrypt = file->add_subcommand("encrypt", "Encrypt IN (or standard input) with age");
  encrypt->add_option("-r,--recipient", options.recipients, "An age1... recipient (repeatable)")
      ->allow_extra_args(false);
  encrypt->add_flag("-p,--passphrase", options.passphrase, "Encrypt to a passphrase (scrypt)");
  encrypt->add_option("--passphrase-file", passphrase_file,
                      "Read the passphrase from the first line of this file");
  encrypt->add_flag("-a,--armor", options.armor, "Write PEM-armored text");
  encrypt->add_option("-o,--output", options.output, "Write here instead of standard output");
  encrypt->add_option("IN", options.input, "Input file (default: standard input)");

  auto* decrypt = file->add_subcommand(
      "decrypt", "Decrypt IN (or standard input); armor is detected automatically");
  decrypt
      ->add_option("-i,--identity", options.identity_files,
                   "An identity file, possibly passphrase-protected (repeatable); without "
                   "one, the file's passphrase is asked for")
      ->allow_extra_args(false);
  decrypt->add_option("--passphrase-file", passphrase_file,
                      "Read passphrases from the first line of this file");
  decrypt->add_option("-o,--output", options.output, "Write here instead of standard output");
  decrypt->add_option("IN", options.input, "Input file (default: standard input)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : tipline::review::kUsage;
  }
  if (!passphrase_file.empty()) options.passphrase_file = passphrase_file;
  if (*keygen) return tipline::review::file_keygen(options);
  if (*encrypt) return tipline::review::file_encrypt(options);
  return tipline::review::file_decrypt(options);
}
