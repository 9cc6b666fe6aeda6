// `tipline-review file` against the stock age 1.1.1 tools and the npm age-encryption package,
// and the exit codes of its failure paths. Every case runs the real binaries; a missing stock
// tool fails the case rather than skipping it, since interoperability is the point.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;

const std::string kReview = TIPLINE_REVIEW_BINARY;
const fs::path kNodeModules = TIPLINE_NODE_MODULES;
const std::string kAgeJs = TIPLINE_AGE_JS;

// 10 MiB through a sanitizer build, or scrypt in pure JavaScript, takes a while.
constexpr std::chrono::seconds kDeadline(300);
constexpr std::string_view kPassphrase = "correct horse battery staple";
constexpr std::string_view kArmorBegin = "-----BEGIN AGE ENCRYPTED FILE-----\n";
constexpr std::string_view kBinaryBegin = "age-encryption.org/v1\n";

std::string shell_quoted(const std::string& word) {
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string shell_command(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += shell_quoted(arg);
  }
  return text;
}

// Pseudo-random with a fixed seed, so that a failure reproduces.
std::string random_bytes(std::size_t size) {
  std::mt19937_64 engine(size);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(engine() & 0xff);
  return bytes;
}

// Byte-for-byte equality that reports sizes and the first difference, not 10 MiB of text.
::testing::AssertionResult same_bytes(const std::string& expected, const std::string& actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  const auto difference =
      std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end()).first;
  return ::testing::AssertionFailure()
         << "expected " << expected.size() << " bytes, got " << actual.size()
         << "; first difference at byte " << (difference - expected.begin());
}

std::set<std::string> entries_of(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

struct Key {
  fs::path identity_file;
  std::string recipient;
};

// A scratch folder and the commands every suite runs.
class Workspace : public ::testing::Test {
 protected:
  [[nodiscard]] fs::path path(const std::string& name) const { return dir_.path() / name; }

  // Runs argv to success; its stdout and stderr go to *out and *err when given. A failure
  // shows the whole run.
  static ::testing::AssertionResult succeeds(const std::vector<std::string>& argv,
                                             std::string* out = nullptr,
                                             std::string* err = nullptr) {
    Outcome outcome = run(argv, kDeadline);
    if (outcome.exit_code != 0) return ::testing::AssertionFailure() << describe(argv, outcome);
    if (out != nullptr) *out = std::move(outcome.out);
    if (err != nullptr) *err = std::move(outcome.err);
    return ::testing::AssertionSuccess();
  }

  // Runs a key generator that prints "Public key: age1..." on stderr, as both ours and
  // age-keygen do.
  static ::testing::AssertionResult generates(const std::vector<std::string>& argv,
                                              const fs::path& identity_file, Key* key) {
    std::string err;
    if (auto done = succeeds(argv, nullptr, &err); !done) return done;
    const std::string label = "Public key: ";
    const std::size_t at = err.find(label);
    if (at == std::string::npos) {
      return ::testing::AssertionFailure() << "no public key printed:\n" << err;
    }
    const std::size_t start = at + label.size();
    *key = {identity_file, err.substr(start, err.find('\n', start) - start)};
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult our_keygen(const std::string& name, Key* key) const {
    const fs::path file = path(name);
    return generates({kReview, "file", "keygen", "-o", file.string()}, file, key);
  }

  // Writes the passphrase file our tool reads (first line) and age's typed answers use.
  [[nodiscard]] fs::path passphrase_file() const {
    fs::path file = path("passphrase.txt");
    write_file(file, std::string(kPassphrase) + "\n");
    return file;
  }

  TempDir dir_;
};

// Cases that also need age, age-keygen, node with age-encryption, and script(1).
class FileInteropTest : public Workspace {
 protected:
  void SetUp() override {
    for (const char* name : {"age", "age-keygen", "node", "script"}) {
      tools_.push_back(find_tool(name));
      ASSERT_FALSE(tools_.back().empty())
          << name << " is not on PATH: these interop tests need Debian's age 1.1.1, Node.js "
          << "and util-linux script; run scripts/setup";
    }
    ASSERT_TRUE(fs::exists(kNodeModules / "age-encryption" / "package.json"))
        << "the npm package age-encryption is missing from " << kNodeModules
        << "; run scripts/setup";
  }

  [[nodiscard]] const std::string& age() const { return tools_[0]; }
  [[nodiscard]] const std::string& age_keygen() const { return tools_[1]; }

  // The npm package through reviewer-cli/testdata/age-js.mjs.
  [[nodiscard]] std::vector<std::string> npm(const std::vector<std::string>& arguments) const {
    std::vector<std::string> argv = {tools_[2], kAgeJs, kNodeModules.string()};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return argv;
  }

  ::testing::AssertionResult age_keygen_into(const std::string& name, Key* key) const {
    const fs::path file = path(name);
    return generates({age_keygen(), "-o", file.string()}, file, key);
  }

  // age reads passphrases only from /dev/tty, so script(1) runs it on a pseudo-terminal and
  // types the answers file (one passphrase a line) once age has had time to ask.
  [[nodiscard]] ::testing::AssertionResult succeeds_on_tty(const std::vector<std::string>& argv,
                                                           const fs::path& answers) const {
    const std::string command = "(sleep 1; cat " + shell_quoted(answers.string()) +
                                ") | SHELL=/bin/sh " + shell_quoted(tools_[3]) + " -qec " +
                                shell_quoted(shell_command(argv)) + " /dev/null";
    return succeeds({"/bin/sh", "-c", command});
  }

 private:
  std::vector<std::string> tools_;
};

// Round trips -------------------------------------------------------------------------------

enum class Side { kOurs, kAge, kNpm };

struct RoundTrip {
  Side from;
  Side to;
  std::size_t size;
  bool armor;
};

std::string name_of(Side side) {
  switch (side) {
    case Side::kOurs:
      return "Ours";
    case Side::kAge:
      return "Age";
    case Side::kNpm:
      return "Npm";
  }
  return {};
}

class FileInteropRoundTrip : public FileInteropTest,
                             public ::testing::WithParamInterface<RoundTrip> {
 protected:
  // The key comes from the decrypting side's own generator (the npm helper has none, so
  // it reads one of ours), so each tool also parses the other's identity and recipient.
  ::testing::AssertionResult key_for(Side side, Key* key) const {
    return side == Side::kAge ? age_keygen_into("key.txt", key) : our_keygen("key.txt", key);
  }

  ::testing::AssertionResult encrypt(Side side, const Key& key, bool armor, const fs::path& in,
                                     const fs::path& out) const {
    std::vector<std::string> argv;
    switch (side) {
      case Side::kOurs:
        argv = {kReview, "file", "encrypt", "-r", key.recipient, "-o", out.string()};
        if (armor) argv.emplace_back("-a");
        argv.push_back(in.string());
        break;
      case Side::kAge:
        argv = {age(), "-r", key.recipient, "-o", out.string()};
        if (armor) argv.emplace_back("-a");
        argv.push_back(in.string());
        break;
      case Side::kNpm:
        argv = npm({"encrypt", "--recipient", key.recipient});
        if (armor) argv.emplace_back("--armor");
        argv.insert(argv.end(), {in.string(), out.string()});
        break;
    }
    return succeeds(argv);
  }

  ::testing::AssertionResult decrypt(Side side, const Key& key, const fs::path& in,
                                     const fs::path& out) const {
    const std::string identity = key.identity_file.string();
    switch (side) {
      case Side::kOurs:
        return succeeds(
            {kReview, "file", "decrypt", "-i", identity, "-o", out.string(), in.string()});
      case Side::kAge: {
        // age 1.1.1 creates its -o file only on the first write, so an empty plaintext
        // would leave none: take standard output instead.
        std::string plaintext;
        auto done = succeeds({age(), "-d", "-i", identity, in.string()}, &plaintext);
        if (done) write_file(out, plaintext);
        return done;
      }
      case Side::kNpm:
        return succeeds(npm({"decrypt", "--identity-file", identity, in.string(), out.string()}));
    }
    return ::testing::AssertionFailure() << "unknown side";
  }
};

TEST_P(FileInteropRoundTrip, PlaintextSurvivesByteForByte) {
  const RoundTrip& trip = GetParam();
  const std::string plaintext = random_bytes(trip.size);
  write_file(path("plain"), plaintext);
  Key key;
  ASSERT_TRUE(key_for(trip.to, &key));

  ASSERT_TRUE(encrypt(trip.from, key, trip.armor, path("plain"), path("sealed")));
  const std::string sealed = read_file(path("sealed"));
  EXPECT_TRUE(sealed.starts_with(trip.armor ? kArmorBegin : kBinaryBegin)) << sealed.substr(0, 80);

  ASSERT_TRUE(decrypt(trip.to, key, path("sealed"), path("opened")));
  ASSERT_TRUE(fs::exists(path("opened")));
  EXPECT_TRUE(same_bytes(plaintext, read_file(path("opened"))));
}

std::vector<RoundTrip> round_trips() {
  const std::pair<Side, Side> directions[] = {{Side::kOurs, Side::kAge},
                                              {Side::kAge, Side::kOurs},
                                              {Side::kOurs, Side::kNpm},
                                              {Side::kNpm, Side::kOurs}};
  // Around the 64 KiB STREAM chunk: empty, one byte, one short of a chunk, exactly one
  // (a full final chunk), one over (a one-byte final chunk), and many chunks.
  const std::size_t sizes[] = {0, 1, 65535, 65536, 65537, std::size_t{10} * 1024 * 1024};
  std::vector<RoundTrip> trips;
  for (const auto& [from, to] : directions) {
    for (const std::size_t size : sizes) {
      for (const bool armor : {false, true}) trips.push_back({from, to, size, armor});
    }
  }
  return trips;
}

// Named like OursToAge_65536_Armored.
std::string trip_name(const ::testing::TestParamInfo<RoundTrip>& trip_info) {
  const RoundTrip& trip = trip_info.param;
  return name_of(trip.from) + "To" + name_of(trip.to) + "_" + std::to_string(trip.size) +
         (trip.armor ? "_Armored" : "_Binary");
}

INSTANTIATE_TEST_SUITE_P(Directions, FileInteropRoundTrip, ::testing::ValuesIn(round_trips()),
                         trip_name);

// Passphrases -------------------------------------------------------------------------------

using FileInteropPassphrase = FileInteropTest;

TEST_F(FileInteropPassphrase, OurProtectedIdentityFileOpensEverywhere) {
  const fs::path passphrase = passphrase_file();
  const fs::path identity = path("identity.age");
  Key key;
  ASSERT_TRUE(generates({kReview, "file", "keygen", "-p", "--passphrase-file", passphrase.string(),
                         "-o", identity.string()},
                        identity, &key));
  EXPECT_TRUE(read_file(identity).starts_with(kArmorBegin));
  const std::string plaintext = random_bytes(100000);
  write_file(path("plain"), plaintext);
  ASSERT_TRUE(succeeds({kReview, "file", "encrypt", "-r", key.recipient, "-o",
                        path("sealed").string(), path("plain").string()}));

  {
    SCOPED_TRACE("ours, with --passphrase-file");
    ASSERT_TRUE(
        succeeds({kReview, "file", "decrypt", "-i", identity.string(), "--passphrase-file",
                  passphrase.string(), "-o", path("by-ours").string(), path("sealed").string()}));
    EXPECT_TRUE(same_bytes(plaintext, read_file(path("by-ours"))));
  }
  {
    SCOPED_TRACE("stock age -d -i, passphrase typed on a terminal");
    ASSERT_TRUE(succeeds_on_tty({age(), "-d", "-i", identity.string(), "-o",
                                 path("by-age").string(), path("sealed").string()},
                                passphrase));
    EXPECT_TRUE(same_bytes(plaintext, read_file(path("by-age"))));
  }
  {
    SCOPED_TRACE("npm: open the identity file, then use the identity inside");
    ASSERT_TRUE(succeeds(npm({"decrypt-passphrase", "--passphrase", std::string(kPassphrase),
                              identity.string(), path("identity.txt").string()})));
    EXPECT_TRUE(read_file(path("identity.txt")).find("AGE-SECRET-KEY-1") != std::string::npos);
    ASSERT_TRUE(succeeds(npm({"decrypt", "--identity-file", path("identity.txt").string(),
                              path("sealed").string(), path("by-npm").string()})));
    EXPECT_TRUE(same_bytes(plaintext, read_file(path("by-npm"))));
  }
}

TEST_F(FileInteropPassphrase, AgeProtectedIdentityFileOpensWithOurs) {
  const fs::path passphrase = passphrase_file();
  Key plain_key;
  ASSERT_TRUE(age_keygen_into("key.txt", &plain_key));
  // age -p asks twice (passphrase, then confirmation).
  const fs::path answers = path("answers.txt");
  write_file(answers, read_file(passphrase) + read_file(passphrase));
  const fs::path identity = path("identity.age");
  ASSERT_TRUE(succeeds_on_tty(
      {age(), "-p", "-a", "-o", identity.string(), plain_key.identity_file.string()}, answers));
  ASSERT_TRUE(read_file(identity).starts_with(kArmorBegin));

  const std::string plaintext = random_bytes(70000);
  write_file(path("plain"), plaintext);
  ASSERT_TRUE(succeeds(
      {age(), "-r", plain_key.recipient, "-o", path("sealed").string(), path("plain").string()}));
  ASSERT_TRUE(
      succeeds({kReview, "file", "decrypt", "-i", identity.string(), "--passphrase-file",
                passphrase.string(), "-o", path("opened").string(), path("sealed").string()}));
  EXPECT_TRUE(same_bytes(plaintext, read_file(path("opened"))));
}

TEST_F(FileInteropPassphrase, OursToNpm) {
  const std::string plaintext = random_bytes(65537);
  write_file(path("plain"), plaintext);
  ASSERT_TRUE(
      succeeds({kReview, "file", "encrypt", "-p", "--passphrase-file", passphrase_file().string(),
                "-o", path("sealed").string(), path("plain").string()}));
  ASSERT_TRUE(succeeds(npm({"decrypt-passphrase", "--passphrase", std::string(kPassphrase),
                            path("sealed").string(), path("opened").string()})));
  EXPECT_TRUE(same_bytes(plaintext, read_file(path("opened"))));
}

TEST_F(FileInteropPassphrase, NpmToOursArmored) {
  const std::string plaintext = random_bytes(65537);
  write_file(path("plain"), plaintext);
  ASSERT_TRUE(succeeds(npm({"encrypt", "--passphrase", std::string(kPassphrase), "--armor",
                            path("plain").string(), path("sealed").string()})));
  ASSERT_TRUE(succeeds({kReview, "file", "decrypt", "--passphrase-file", passphrase_file().string(),
                        "-o", path("opened").string(), path("sealed").string()}));
  EXPECT_TRUE(same_bytes(plaintext, read_file(path("opened"))));
}

TEST_F(FileInteropPassphrase, OursToAgeArmored) {
  const fs::path passphrase = passphrase_file();
  const std::string plaintext = random_bytes(65537);
  write_file(path("plain"), plaintext);
  ASSERT_TRUE(succeeds({kReview, "file", "encrypt", "-p", "--passphrase-file", passphrase.string(),
                        "-a", "-o", path("sealed").string(), path("plain").string()}));
  ASSERT_TRUE(succeeds_on_tty({age(), "-d", "-o", path("opened").string(), path("sealed").string()},
                              passphrase));
  EXPECT_TRUE(same_bytes(plaintext, read_file(path("opened"))));
}

TEST_F(FileInteropPassphrase, AgeToOurs) {
  const fs::path passphrase = passphrase_file();
  const fs::path answers = path("answers.txt");
  write_file(answers, read_file(passphrase) + read_file(passphrase));
  const std::string plaintext = random_bytes(65537);
  write_file(path("plain"), plaintext);
  ASSERT_TRUE(succeeds_on_tty({age(), "-p", "-o", path("sealed").string(), path("plain").string()},
                              answers));
  ASSERT_TRUE(succeeds({kReview, "file", "decrypt", "--passphrase-file", passphrase.string(), "-o",
                        path("opened").string(), path("sealed").string()}));
  EXPECT_TRUE(same_bytes(plaintext, read_file(path("opened"))));
}

// Exit codes --------------------------------------------------------------------------------

// The plaintext spans two STREAM chunks, so a failure in the second comes after the first
// was already written to the partial output file.
class ReviewFileExitCodes : public Workspace {
 protected:
  void SetUp() override {
    ASSERT_TRUE(our_keygen("identity.txt", &key_));
    write_file(path("plain"), random_bytes(100000));
    for (const bool armor : {false, true}) {
      std::vector<std::string> argv = {kReview,
                                       "file",
                                       "encrypt",
                                       "-r",
                                       key_.recipient,
                                       "-o",
                                       path(armor ? "sealed.asc" : "sealed").string()};
      if (armor) argv.emplace_back("-a");
      argv.push_back(path("plain").string());
      ASSERT_TRUE(succeeds(argv));
    }
    sealed_ = read_file(path("sealed"));
    armored_ = read_file(path("sealed.asc"));
  }

  // Decrypts bytes with -o: the exit code must be code and the folder as it was before, with
  // neither the output nor an OUT.partial-* file.
  void expect_failure(const std::string& bytes, int code, const fs::path& identity) {
    write_file(path("damaged"), bytes);
    const auto before = entries_of(dir_.path());
    const std::vector<std::string> argv = {kReview,
                                           "file",
                                           "decrypt",
                                           "-i",
                                           identity.string(),
                                           "-o",
                                           path("out").string(),
                                           path("damaged").string()};
    const Outcome outcome = run(argv, kDeadline);
    EXPECT_EQ(outcome.exit_code, code) << describe(argv, outcome);
    EXPECT_EQ(entries_of(dir_.path()), before) << "something was left behind";
  }
  void expect_failure(const std::string& bytes, int code) {
    expect_failure(bytes, code, key_.identity_file);
  }

  // Where the payload starts: after the "--- MAC" line.
  [[nodiscard]] std::size_t payload_start() const {
    return sealed_.find('\n', sealed_.find("\n--- ") + 1) + 1;
  }

  Key key_;
  std::string sealed_;
  std::string armored_;
};

TEST_F(ReviewFileExitCodes, TheUndamagedFileDecrypts) {
  for (const auto* name : {"sealed", "sealed.asc"}) {
    const fs::path out = path(std::string(name) + ".out");
    ASSERT_TRUE(succeeds({kReview, "file", "decrypt", "-i", key_.identity_file.string(), "-o",
                          out.string(), path(name).string()}));
    EXPECT_TRUE(same_bytes(read_file(path("plain")), read_file(out)));
  }
}

TEST_F(ReviewFileExitCodes, WrongIdentityIs10) {
  Key other;
  ASSERT_TRUE(our_keygen("other.txt", &other));
  expect_failure(sealed_, 10, other.identity_file);
  expect_failure(armored_, 10, other.identity_file);
}

TEST_F(ReviewFileExitCodes, CorruptedFirstHeaderLineIs11) {
  std::string damaged = sealed_;
  damaged[3] = static_cast<char>(damaged[3] ^ 0x01);  // "age-encryption..." -> "agd-..."
  expect_failure(damaged, 11);
}

TEST_F(ReviewFileExitCodes, BrokenArmorIs12) {
  {
    SCOPED_TRACE("a character outside base64");
    std::string damaged = armored_;
    damaged[kArmorBegin.size() + 10] = '!';
    expect_failure(damaged, 12);
  }
  {
    SCOPED_TRACE("no END line");
    const std::string end = "-----END AGE ENCRYPTED FILE-----";
    expect_failure(armored_.substr(0, armored_.find(end)), 12);
  }
}

TEST_F(ReviewFileExitCodes, FlippedHeaderMacIs13) {
  std::string damaged = sealed_;
  // The MAC's first base64 character carries six whole bits, so any other letter still
  // decodes, to a different MAC.
  const std::size_t mac = damaged.find("\n--- ") + 5;
  damaged[mac] = damaged[mac] == 'A' ? 'B' : 'A';
  expect_failure(damaged, 13);
}

TEST_F(ReviewFileExitCodes, DamagedPayloadIs14) {
  {
    SCOPED_TRACE("a flipped byte in the last chunk");
    std::string damaged = sealed_;
    damaged[damaged.size() - 20] = static_cast<char>(damaged[damaged.size() - 20] ^ 0x01);
    expect_failure(damaged, 14);
  }
  {
    SCOPED_TRACE("truncated inside the last chunk");
    expect_failure(sealed_.substr(0, sealed_.size() - 10), 14);
  }
  {
    SCOPED_TRACE("truncated to the first chunk, which is not marked last");
    // 16-byte nonce, then one full chunk of 64 KiB plaintext and a 16-byte tag.
    expect_failure(sealed_.substr(0, payload_start() + 16 + 65536 + 16), 14);
  }
  {
    SCOPED_TRACE("bytes after the last chunk");
    expect_failure(sealed_ + "trailing", 14);
  }
}

TEST_F(ReviewFileExitCodes, UsageErrorIs2) {
  const std::string in = path("plain").string();
  const std::vector<std::vector<std::string>> mistakes = {
      {kReview},
      {kReview, "file"},
      {kReview, "file", "decrypt", "--no-such-option", in},
      {kReview, "file", "encrypt", in},
      {kReview, "file", "encrypt", "-r", "age1notarecipient", in},
      {kReview, "file", "encrypt", "-p", "-r", key_.recipient, in},
  };
  for (const auto& argv : mistakes) {
    const Outcome outcome = run(argv, kDeadline);
    EXPECT_EQ(outcome.exit_code, 2) << describe(argv, outcome);
    EXPECT_TRUE(outcome.out.empty()) << describe(argv, outcome);
  }
}

TEST_F(ReviewFileExitCodes, ExistingOutputIs1AndUntouched) {
  const fs::path out = path("existing");
  const std::string precious = "already here\n";
  write_file(out, precious);
  const std::vector<std::vector<std::string>> commands = {
      {kReview, "file", "keygen", "-o", out.string()},
      {kReview, "file", "encrypt", "-r", key_.recipient, "-o", out.string(),
       path("plain").string()},
      {kReview, "file", "decrypt", "-i", key_.identity_file.string(), "-o", out.string(),
       path("sealed").string()},
  };
  for (const auto& argv : commands) {
    const auto before = entries_of(dir_.path());
    const Outcome outcome = run(argv, kDeadline);
    EXPECT_EQ(outcome.exit_code, 1) << describe(argv, outcome);
    EXPECT_EQ(read_file(out), precious) << describe(argv, outcome);
    EXPECT_EQ(entries_of(dir_.path()), before) << describe(argv, outcome);
  }
}

}  // namespace
}  // namespace tipline::testing
