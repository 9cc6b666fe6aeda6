// tipline-server: creates, checks and serves a Tipline instance, and operates its database.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>

#include "bundle.h"
#include "database_commands.h"
#include "reviewers_command.h"
#include "tipline/config/config.h"
#include "tipline/crypto/secret.h"
#include "tipline/server/server.h"
#include "tipline/version.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kFooter =
    R"(Exit status: 0 success, 1 failure (the message says what and where), 2 usage error.

Quick start: `tipline-server init demo --demo` then
`tipline-server serve --config demo/tipline.toml`; stop it with Ctrl-C or SIGTERM.)";

constexpr const char* kDbFooter =
    R"(check, backup, purge and vacuum work while the server runs. restore and rekey replace
the database file: stop the server first (they refuse to run while it holds the database).
No command prints a key.)";

constexpr const char* kBackupFooter =
    R"(Without --key-file the backup is encrypted with the instance's own database key: restoring
it needs that key file, so keep a copy of it in a safe place, apart from the backup.
With --key-file KEYFILE it is encrypted with the key in KEYFILE instead; when KEYFILE does
not exist it is created with a new random key. Keep KEYFILE apart from the backup: anyone
who holds both can open it. backup never overwrites a file.)";

constexpr const char* kRestoreFooter =
    R"(The backup is opened with --key-file KEYFILE, or by default with the instance's database
key. restore never overwrites: when the database file exists, move it aside first together
with its -wal and -shm files if any, e.g. `mv tipline.db tipline.db.old`. Refused while a
server runs.)";

constexpr const char* kRekeyFooter =
    R"(By default the configured key file KEYFILE is replaced: the new key is written to
KEYFILE.new (mode 0600), the database is re-encrypted, then KEYFILE.new is renamed over
KEYFILE. If rekey is interrupted after the database was replaced but before that rename,
KEYFILE.new holds the key that opens the database: move it over KEYFILE.
With --new-key-file FILE the new key goes to FILE and KEYFILE is left alone: set
database.key_file in the configuration to FILE afterwards.
Either way the old key no longer opens the database. Backups made with it still need it:
copy the old key file somewhere safe first if you may have to restore one.)";

constexpr const char* kPurgeFooter =
    R"(Always deleted: expired drafts and uploads, expired request-signature nonces, and blobs
that nothing refers to any more. Submissions go only with --older-than DAYS: those received
DAYS or more days ago (UTC days; 0 deletes every submission), with their attachments,
triage, notes and replies, and sources with nothing left that were last seen as long ago.)";

constexpr const char* kKeysFooter =
    R"(A recipient bundle lists the reviewer recipients that reports are sealed to. It is a JSON
file signed offline with the organisation root key (minisign), whose trusted comment
names its version:
  minisign -S -s organisation-root.key -t "tipline-bundle version 7" -m bundle-7.json
install accepts only a bundle signed by the root public key at recipients.root_public_key
(default: organisation-root.pub beside the configuration), not yet expired, and of a
version above the installed one. It opens the database for writing: stop the server
first. Until a bundle is installed the tip line accepts no reports.)";

constexpr const char* kReviewersFooter =
    R"text(Reviewers use the reviewer API (the [reviewer] listener) with tipline-review. Each has an
online Ed25519 signing key, separate from their offline decryption identity: `tipline-review
init` makes it and prints its public half, 44 base64 characters, for `add --key`. A reviewer
may triage, annotate, download and delete submissions; an admin may also read the audit
log. Disabled reviewers stay in the database, since their notes and audit entries name them,
and their ids are never reused. These commands work while the server runs: it reads
reviewers for every request. Each change is also an audit log entry by "(server admin)".)text";

int report(const std::string& message) {
  std::cerr << "tipline-server: " << message << '\n';
  return kExitFailure;
}

tl::expected<tipline::config::Config, int> load_config(const std::string& file) {
  auto config = tipline::config::load(file);
  if (!config) return tl::unexpected(report("invalid configuration:\n" + config.error().message));
  return std::move(*config);
}

std::string non_negative_days(const std::string& text) {
  int value = -1;
  const char* end = text.data() + text.size();
  const auto parsed = std::from_chars(text.data(), end, value);
  if (parsed.ec == std::errc() && parsed.ptr == end && value >= 0) return {};
  return "DAYS must be a whole number of days, 0 or more, not " + text;
}

std::optional<std::filesystem::path> given(const CLI::Option* option, const std::string& value) {
  if (option->count() == 0) return std::nullopt;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  tipline::crypto::initialize();
  CLI::App app("tipline-server: a secure anonymous tip line (source and reviewer listeners)",
               "tipline-server");
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("tipline-server ") + tipline::kVersion);
  app.require_subcommand(1);

  std::string dir;
  bool demo = false;
  auto* init = app.add_subcommand(
      "init",
      "Create a new instance folder: configuration, database key (0600), instance salt, "
      "self-signed TLS certificate and encrypted database. Never overwrites.");
  init->add_option("DIR", dir, "Folder to create (must not exist or be empty)")->required();
  init->add_flag("--demo", demo,
                 "A throwaway demo for trying Tipline on one machine: also writes demo-only "
                 "offline keys (a passphrase-protected reviewer identity, its passphrase and an "
                 "organisation root key) to DIR/demo-offline-keys/, and installs a recipient "
                 "bundle signed with them. Without --demo no bundle is installed, and the tip "
                 "line accepts no reports until `keys install`");

  std::string config_file;
  auto* serve = app.add_subcommand(
      "serve", "Serve the source and reviewer listeners until SIGTERM or SIGINT");
  serve->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")->required();
  auto* check = app.add_subcommand(
      "check",
      "Validate a configuration and its questionnaire, open the database and load the TLS keys, "
      "then exit");
  check->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")->required();

  auto* db = app.add_subcommand(
      "db", "Operate the database: check, backup, restore, rekey, purge, vacuum");
  db->footer(kDbFooter);
  db->require_subcommand(1);
  const auto add_db_command = [&](const char* name, const char* description) {
    auto* command = db->add_subcommand(name, description);
    command->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")
        ->required()
        ->type_name("FILE");
    return command;
  };
  std::string file;
  std::string key_file;
  int days = 0;
  auto* db_check = add_db_command(
      "check",
      "Integrity and foreign key checks over every page; prints the schema version, the "
      "numbers of submissions and blobs, and the file size (works while the server runs)");
  auto* db_backup = add_db_command(
      "backup",
      "Write an encrypted copy of the database to a new file (works while the server runs)");
  db_backup->footer(kBackupFooter);
  db_backup->add_option("-o,--output", file, "Backup file to write (must not exist)")
      ->required()
      ->type_name("FILE");
  auto* backup_key =
      db_backup
          ->add_option("--key-file", key_file,
                       "Encrypt the backup with the key in KEYFILE (mode 0600), created with a "
                       "new random key if it does not exist")
          ->type_name("KEYFILE");
  auto* db_restore = add_db_command(
      "restore",
      "Write a backup as the configured database file, encrypted with the instance's "
      "database key (stop the server first)");
  db_restore->footer(kRestoreFooter);
  db_restore->add_option("-i,--input", file, "Backup file to restore")
      ->required()
      ->type_name("FILE");
  auto* restore_key =
      db_restore
          ->add_option("--key-file", key_file,
                       "Key file the backup was made with (default: the instance's database key)")
          ->type_name("KEYFILE");
  auto* db_rekey = add_db_command(
      "rekey", "Re-encrypt the database with a new random key (stop the server first)");
  db_rekey->footer(kRekeyFooter);
  auto* new_key = db_rekey
                      ->add_option("--new-key-file", key_file,
                                   "Write the new key to this new file (mode 0600) and leave "
                                   "the configured key file alone")
                      ->type_name("FILE");
  auto* db_purge = add_db_command(
      "purge",
      "Delete what retention no longer keeps, then truncate the write-ahead log (works while "
      "the server runs)");
  db_purge->footer(kPurgeFooter);
  auto* older_than =
      db_purge
          ->add_option("--older-than", days,
                       "Also delete submissions received DAYS (0 or more) days ago or earlier")
          ->type_name("DAYS")
          ->check(CLI::Validator(non_negative_days, ""));
  add_db_command("vacuum",
                 "Rebuild the database file without free pages, then truncate the write-ahead "
                 "log (works while the server runs; its writes wait until vacuum is done)");

  auto* keys = app.add_subcommand(
      "keys", "Install and show the signed recipient bundle that reports are sealed to");
  keys->footer(kKeysFooter);
  keys->require_subcommand(1);
  std::string bundle_file;
  std::string signature_file;
  auto* keys_install = keys->add_subcommand(
      "install",
      "Verify a recipient bundle against the organisation root public key and install it "
      "(stop the server first)");
  keys_install->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")
      ->required()
      ->type_name("FILE");
  keys_install->add_option("BUNDLE", bundle_file, "Bundle file (JSON)")->required();
  auto* signature = keys_install
                        ->add_option("--signature", signature_file,
                                     "Its minisign signature file (default: BUNDLE.minisig)")
                        ->type_name("SIGFILE");
  keys->add_subcommand("show",
                       "Print the installed bundle's version, dates and recipients (works "
                       "while the server runs)")
      ->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")
      ->required()
      ->type_name("FILE");

  auto* reviewers = app.add_subcommand(
      "reviewers", "Register, list and disable the reviewers that may use the reviewer API");
  reviewers->footer(kReviewersFooter);
  reviewers->require_subcommand(1);
  const auto add_reviewers_command = [&](const char* name, const char* description) {
    auto* command = reviewers->add_subcommand(name, description);
    command->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")
        ->required()
        ->type_name("FILE");
    return command;
  };
  std::string reviewer_id;
  std::string reviewer_key;
  std::string reviewer_role = "reviewer";
  bool as_json = false;
  auto* reviewers_add = add_reviewers_command(
      "add", "Register a reviewer by id and signing public key (works while the server runs)");
  reviewers_add
      ->add_option("ID", reviewer_id,
                   "Reviewer id, 1 to 64 of A-Z a-z 0-9 . _ - (the keyid of their requests)")
      ->required();
  reviewers_add
      ->add_option("--key", reviewer_key,
                   "Their Ed25519 signing public key: the 44 base64 characters `tipline-review "
                   "init` prints")
      ->required()
      ->type_name("PUBLIC_KEY");
  reviewers_add
      ->add_option("--role", reviewer_role,
                   "reviewer (default) or admin (may also read the audit log)")
      ->check(CLI::IsMember({"reviewer", "admin"}))
      ->type_name("ROLE");
  auto* reviewers_list = add_reviewers_command(
      "list", "Print every reviewer: id, role, enabled or disabled, when added, signing key");
  reviewers_list->add_flag("--json", as_json,
                           "Print one JSON object {\"reviewers\":[{\"id\",\"role\",\"disabled\","
                           "\"added_at\",\"key\"}, ...]} instead of a table");
  auto* reviewers_disable = add_reviewers_command(
      "disable",
      "Disable a reviewer: the API refuses their requests from now on (works while the server "
      "runs)");
  reviewers_disable->add_option("ID", reviewer_id, "Reviewer id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }

  if (*init) {
    if (auto made = tipline::server::init_instance(dir, demo); !made) {
      return report(made.error().message);
    }
    const std::string config_path = dir + "/tipline.toml";
    std::cout << "Created " << (demo ? "demo " : "") << "instance in " << dir << "\n";
    if (demo) {
      const std::string keys_dir = dir + "/demo-offline-keys";
      std::string passphrase;
      std::getline(std::ifstream(keys_dir + "/reviewer-passphrase.txt"), passphrase);
      std::cout << "Demo offline keys (DEMO ONLY, never on a real server): " << keys_dir << "/\n"
                << "  reviewer identity: " << keys_dir << "/reviewer.agekey\n"
                << "  its passphrase: " << passphrase << "  (also in " << keys_dir
                << "/reviewer-passphrase.txt)\n"
                << "  organisation root key: " << keys_dir << "/organisation-root.key\n"
                << "Installed recipient bundle version 1 (the demo reviewer), signed with the "
                   "demo root key: "
                << keys_dir << "/bundle-1.json\n";
    } else {
      std::cout << "No recipient bundle installed: " << tipline::server::bundle::kNotAccepting
                << ".\nCopy the organisation root public key to " << dir
                << "/organisation-root.pub, then install a bundle signed with it:\n"
                << "  tipline-server keys install --config " << config_path << " BUNDLE\n";
    }
    std::cout << "Serve it with: tipline-server serve --config " << config_path << "\n";
    return 0;
  }
  auto config = load_config(config_file);
  if (!config) return config.error();
  if (*db) {
    namespace ops = tipline::server::db;
    tl::expected<void, tipline::server::Error> done;
    if (*db_check) {
      done = ops::check(*config, std::cout);
    } else if (*db_backup) {
      done = ops::backup(*config, file, given(backup_key, key_file), std::cout);
    } else if (*db_restore) {
      done = ops::restore(*config, file, given(restore_key, key_file), std::cout);
    } else if (*db_rekey) {
      done = ops::rekey(*config, given(new_key, key_file), std::cout);
    } else if (*db_purge) {
      done = ops::purge(*config, older_than->count() > 0 ? std::optional(days) : std::nullopt,
                        std::cout);
    } else {
      done = ops::vacuum(*config, std::cout);
    }
    return done ? 0 : report(done.error().message);
  }
  if (*keys) {
    namespace bundle = tipline::server::bundle;
    const auto done =
        *keys_install
            ? bundle::install_file(
                  *config, bundle_file,
                  signature->count() > 0 ? signature_file : bundle_file + ".minisig", std::cout)
            : bundle::show(*config, std::cout);
    return done ? 0 : report(done.error().message);
  }
  if (*reviewers) {
    namespace commands = tipline::server::reviewers;
    tl::expected<void, tipline::server::Error> done;
    if (*reviewers_add) {
      done = commands::add(*config, reviewer_id, reviewer_key, reviewer_role, std::cout);
    } else if (*reviewers_list) {
      done = commands::list(*config, as_json, std::cout);
    } else {
      done = commands::disable(*config, reviewer_id, std::cout);
    }
    return done ? 0 : report(done.error().message);
  }
  if (*check) {
    if (auto checked = tipline::server::check_instance(*config); !checked) {
      return report(checked.error().message);
    }
    std::cout << config_file
              << ": configuration valid, database opens and passes its integrity "
                 "check, TLS keys load\n";
    return 0;
  }
  if (auto served = tipline::server::serve(*config); !served) return report(served.error().message);
  return 0;
}
