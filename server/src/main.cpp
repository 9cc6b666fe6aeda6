// tipline-server: creates, checks and serves a Tipline instance.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

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

int report(const std::string& message) {
  std::cerr << "tipline-server: " << message << '\n';
  return kExitFailure;
}

tl::expected<tipline::config::Config, int> load_config(const std::string& file) {
  auto config = tipline::config::load(file);
  if (!config) return tl::unexpected(report("invalid configuration:\n" + config.error().message));
  return std::move(*config);
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
                 "offline keys (a reviewer identity and an organisation root key) to "
                 "DIR/demo-offline-keys/");

  std::string config_file;
  auto* serve = app.add_subcommand(
      "serve", "Serve the source and reviewer listeners until SIGTERM or SIGINT");
  serve->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")->required();
  auto* check = app.add_subcommand(
      "check", "Validate a configuration, open the database and load the TLS keys, then exit");
  check->add_option("-c,--config", config_file, "Configuration file (tipline.toml)")->required();

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
    std::cout << "Created " << (demo ? "demo " : "") << "instance in " << dir << "\n";
    if (demo) {
      std::cout << "Demo offline keys (DEMO ONLY, never on a real server): " << dir
                << "/demo-offline-keys/\n"
                << "  reviewer identity: " << dir << "/demo-offline-keys/reviewer.agekey\n"
                << "  organisation root key: " << dir
                << "/demo-offline-keys/organisation-root.key\n";
    }
    std::cout << "Serve it with: tipline-server serve --config " << dir << "/tipline.toml\n";
    return 0;
  }
  auto config = load_config(config_file);
  if (!config) return config.error();
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
