// `tipline-server keys` and the demo's keys: the bundle `init --demo` installs, bundles
// signed with the stock minisign, and the refusals an administrator can meet.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
constexpr const char* kNotAccepting =
    "No recipient bundle installed: this tip line is not accepting reports yet.";

std::string shell_quoted(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A bundle file of this version for one recipient, valid from 2020 to 2099.
std::string bundle_json(int version, const std::string& id, const std::string& recipient) {
  return R"({"format":"tipline-bundle/1","version":)" + std::to_string(version) +
         R"(,"issued":"2020-01-01","expires":"2099-12-31","recipients":[{"id":")" + id +
         R"(","age":")" + recipient + "\"}]}\n";
}

class KeysCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    minisign_ = find_tool("minisign");
    ASSERT_FALSE(minisign_.empty()) << "minisign must be installed (scripts/setup installs it)";
  }

  // Creates the instance (demo or not) and keeps what init printed.
  void init(bool demo) {
    std::vector<std::string> argv = {kServer, "init", instance_.string()};
    if (demo) argv.emplace_back("--demo");
    init_ = run(argv, seconds(120));
    ASSERT_EQ(init_.exit_code, 0) << describe(argv, init_);
  }

  [[nodiscard]] Outcome keys(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kServer, "keys"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", (instance_ / "tipline.toml").string()});
    return run(argv, seconds(60));
  }

  // Writes the bundle file and signs it with the stock minisign and this secret key.
  [[nodiscard]] fs::path signed_bundle(const std::string& name, int version,
                                       const fs::path& secret_key) const {
    fs::path file = dir_.path() / name;
    write_file(file, bundle_json(version, "reviewer-" + std::to_string(version), demo_recipient()));
    const std::vector<std::string> argv = {
        minisign_, "-S",
        "-s",      secret_key.string(),
        "-t",      "tipline-bundle version " + std::to_string(version),
        "-m",      file.string()};
    const Outcome signed_ = run(argv);
    EXPECT_EQ(signed_.exit_code, 0) << describe(argv, signed_);
    return file;
  }

  // The demo reviewer's age recipient, read from the bundle init wrote.
  [[nodiscard]] std::string demo_recipient() const {
    const std::string bundle = read_file(demo_keys() / "bundle-1.json");
    const auto start = bundle.find("\"age1");
    return start == std::string::npos
               ? ""
               : bundle.substr(start + 1, bundle.find('"', start + 1) - start - 1);
  }

  [[nodiscard]] fs::path demo_keys() const { return instance_ / "demo-offline-keys"; }

  TempDir dir_;
  fs::path instance_ = dir_.path() / "instance";
  Outcome init_;
  std::string minisign_;
};

TEST_F(KeysCommandTest, DemoInstallsVersionOneAndPrintsThePassphrase) {
  init(true);
  const std::string passphrase = lines_of(read_file(demo_keys() / "reviewer-passphrase.txt")).at(0);
  EXPECT_EQ(passphrase.size(), 29u) << passphrase;
  EXPECT_TRUE(contains(init_.out, "its passphrase: " + passphrase)) << init_.out;
  EXPECT_TRUE(contains(init_.out, "Installed recipient bundle version 1")) << init_.out;
  EXPECT_EQ(mode_of(demo_keys() / "reviewer-passphrase.txt"), 0600u);
  EXPECT_EQ(mode_of(demo_keys() / "reviewer.agekey"), 0600u);
  EXPECT_TRUE(
      contains(read_file(demo_keys() / "reviewer.agekey"), "-----BEGIN AGE ENCRYPTED FILE-----"));
  EXPECT_FALSE(contains(read_file(demo_keys() / "reviewer.agekey"), "AGE-SECRET-KEY-"));
  EXPECT_EQ(read_file(instance_ / "organisation-root.pub"),
            read_file(demo_keys() / "organisation-root.pub"));

  const Outcome show = keys({"show"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_TRUE(contains(show.out, "Recipient bundle version 1, issued ")) << show.out;
  EXPECT_TRUE(contains(show.out, "  demo-reviewer  " + demo_recipient() + "\n")) << show.out;
  EXPECT_FALSE(contains(show.out, "EXPIRED")) << show.out;

  // The stock tool verifies the demo bundle, and -H proves it is prehashed ("ED").
  const std::vector<std::string> verify = {minisign_,
                                           "-V",
                                           "-H",
                                           "-p",
                                           (instance_ / "organisation-root.pub").string(),
                                           "-m",
                                           (demo_keys() / "bundle-1.json").string()};
  const Outcome verified = run(verify);
  EXPECT_EQ(verified.exit_code, 0) << describe(verify, verified);
  EXPECT_TRUE(contains(verified.out, "tipline-bundle version 1")) << verified.out;
}

TEST_F(KeysCommandTest, StockAgeOpensTheIdentityWithThePassphrase) {
  const std::string age = find_tool("age");
  const std::string script = find_tool("script");
  ASSERT_FALSE(age.empty() || script.empty()) << "age and util-linux script must be installed";
  init(true);
  const fs::path plain = dir_.path() / "report.txt";
  write_file(plain, "what happened");
  const fs::path sealed = dir_.path() / "report.age";
  const std::vector<std::string> encrypt = {
      age, "-e", "-r", demo_recipient(), "-o", sealed.string(), plain.string()};
  const Outcome encrypted = run(encrypt);
  ASSERT_EQ(encrypted.exit_code, 0) << describe(encrypt, encrypted);

  // age reads the passphrase only from /dev/tty: script(1) gives it a pseudo-terminal.
  const fs::path opened = dir_.path() / "opened.txt";
  const std::string age_command =
      shell_quoted(age) + " -d -i " + shell_quoted((demo_keys() / "reviewer.agekey").string()) +
      " -o " + shell_quoted(opened.string()) + " " + shell_quoted(sealed.string());
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "(sleep 1; cat " + shell_quoted((demo_keys() / "reviewer-passphrase.txt").string()) +
          ") | SHELL=/bin/sh " + shell_quoted(script) + " -qec " + shell_quoted(age_command) +
          " /dev/null"};
  const Outcome decrypted = run(argv);
  EXPECT_EQ(decrypted.exit_code, 0) << describe(argv, decrypted);
  EXPECT_EQ(read_file(opened), "what happened");
}

TEST_F(KeysCommandTest, InstallsNewerBundlesSignedWithStockMinisign) {
  init(true);
  const fs::path root = demo_keys() / "organisation-root.key";
  const fs::path second = signed_bundle("bundle-2.json", 2, root);
  const Outcome installed = keys({"install", second.string()});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  EXPECT_TRUE(contains(installed.out, "Installed " + second.string())) << installed.out;
  EXPECT_TRUE(contains(installed.out,
                       "Recipient bundle version 2, issued 2020-01-01, expires "
                       "2099-12-31\nRecipients (1):\n  reviewer-2  age1"))
      << installed.out;

  const Outcome show = keys({"show"});
  EXPECT_TRUE(contains(show.out, "Recipient bundle version 2,")) << show.out;
  EXPECT_TRUE(contains(show.out, "reviewer-2")) << show.out;

  const Outcome again = keys({"install", second.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(contains(again.err, "tipline-server: " + second.string() +
                                      ": bundle version 2 is not newer than the installed "
                                      "version 2"))
      << again.err;

  // An older version, with its signature elsewhere (--signature).
  const fs::path first = signed_bundle("older.json", 1, root);
  const fs::path moved = dir_.path() / "older.sig";
  fs::rename(first.string() + ".minisig", moved);
  const Outcome older = keys({"install", first.string(), "--signature", moved.string()});
  EXPECT_EQ(older.exit_code, 1);
  EXPECT_TRUE(contains(older.err, "bundle version 1 is not newer than the installed version 2"))
      << older.err;
  const Outcome unsigned_ = keys({"install", first.string()});
  EXPECT_EQ(unsigned_.exit_code, 1);
  EXPECT_TRUE(contains(unsigned_.err, first.string() + ".minisig: cannot read")) << unsigned_.err;
}

TEST_F(KeysCommandTest, RefusesABundleSignedByAnotherKey) {
  init(true);
  const fs::path other = dir_.path() / "other.key";
  const std::vector<std::string> generate = {
      minisign_, "-G", "-W", "-p", (dir_.path() / "other.pub").string(), "-s", other.string()};
  const Outcome generated = run(generate);
  ASSERT_EQ(generated.exit_code, 0) << describe(generate, generated);
  const fs::path bundle = signed_bundle("bundle-3.json", 3, other);
  const Outcome refused = keys({"install", bundle.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.err, "not by the organisation root key")) << refused.err;
  EXPECT_TRUE(contains(keys({"show"}).out, "Recipient bundle version 1,"));
}

TEST_F(KeysCommandTest, ANewInstanceAcceptsNoReportsUntilABundleIsInstalled) {
  init(false);
  EXPECT_TRUE(contains(init_.out, kNotAccepting)) << init_.out;
  EXPECT_TRUE(contains(init_.out, "keys install --config " + (instance_ / "tipline.toml").string()))
      << init_.out;
  const Outcome show = keys({"show"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(show.out, std::string(kNotAccepting) + "\n");

  const fs::path bundle = dir_.path() / "bundle-1.json";
  write_file(bundle, "{}");
  const Outcome missing = keys({"install", bundle.string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "tipline-server: no organisation root public key at " +
                             (instance_ / "organisation-root.pub").string() +
                             ": copy organisation-root.pub there\n");
}

}  // namespace
}  // namespace tipline::testing
