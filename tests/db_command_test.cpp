// `tipline-server db`: check, backup, restore, rekey, purge and vacuum of a real instance,
// with and without a server running on it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;
constexpr const char* kInUse = "the database is in use by another process";
constexpr const char* kKeyMismatch = "database key does not match this database";

class DbCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = dir_.path() / "instance";
    const Outcome init = run({kServer, "init", instance_.string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    config_ = (instance_ / "tipline.toml").string();
  }

  // `tipline-server db VERB ARGS... --config CONFIG`.
  Outcome db(const std::string& verb, const std::vector<std::string>& args = {},
             const std::string& config = "") const {
    std::vector<std::string> argv = {kServer, "db", verb};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config.empty() ? config_ : config});
    return run(argv, seconds(30));
  }

  // A configuration in the instance folder: relative paths in it name the instance's
  // files, so it shares everything but what `database` overrides.
  std::string config_with(const std::string& name, const std::string& database) const {
    const fs::path file = instance_ / name;
    write_file(file, "[database]\n" + database + "[source]\nport = 0\n[reviewer]\nport = 0\n");
    return file.string();
  }

  // A configuration for a second database file in the instance folder.
  std::string other_database(const std::string& name) const {
    return config_with(name + ".toml", "file = \"" + name + ".db\"\n");
  }

  void expect_check_passes(const std::string& config) const {
    const Outcome check = db("check", {}, config);
    EXPECT_EQ(check.exit_code, 0) << check.err;
    EXPECT_TRUE(contains(check.out, "integrity and foreign key checks passed")) << check.out;
  }

  // Serves the instance with both listeners on free ports; returns once both listen.
  std::unique_ptr<Child> serve() const {
    const std::string config = config_with("serve.toml", "");
    auto child = std::make_unique<Child>(
        std::vector<std::string>{kServer, "serve", "--config", config}, dir_.path() / "serve.log");
    EXPECT_EQ(child->wait_for_lines("\"event\":\"listening\"", 2, seconds(20)).size(), 2u)
        << child->stderr_text();
    return child;
  }

  static void stop(Child& server) {
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(seconds(15)), 0) << server.stderr_text();
  }

  // A copy of the instance key that stays private, for opening old backups later.
  fs::path save_key(const std::string& name) const {
    fs::path copy = dir_.path() / name;
    fs::copy_file(instance_ / "database.key", copy);
    fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write);
    return copy;
  }

  // Neither output stream may show the key (64 hex digits) held in the file.
  static void expect_key_not_shown(const Outcome& outcome, const fs::path& key_file) {
    const std::string key = read_file(key_file).substr(0, 64);
    ASSERT_EQ(key.size(), 64u);
    EXPECT_FALSE(contains(outcome.out, key) || contains(outcome.err, key));
  }

  TempDir dir_;
  fs::path instance_;
  std::string config_;
};

TEST_F(DbCommandTest, CheckPrintsSchemaCountsAndSize) {
  const Outcome check = db("check");
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_TRUE(contains(
      check.out, (instance_ / "tipline.db").string() + ": integrity and foreign key checks passed"))
      << check.out;
  EXPECT_FALSE(contains(check.out, "schema version: 0")) << "init runs every migration";
  for (const char* line : {"schema version: ", "submissions: 0\n", "blobs: 0\n", "file size: "}) {
    EXPECT_TRUE(contains(check.out, line)) << line << '\n' << check.out;
  }
  EXPECT_TRUE(
      contains(check.out, std::to_string(fs::file_size(instance_ / "tipline.db")) + " bytes"))
      << check.out;
}

TEST_F(DbCommandTest, CheckNamesAMissingDatabaseAndAWrongKey) {
  const Outcome missing = db("check", {}, other_database("missing"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "tipline-server: " + (instance_ / "missing.db").string() +
                                        ": database file does not exist"))
      << missing.err;

  const fs::path other = dir_.path() / "other.key";
  ASSERT_EQ(db("backup", {"-o", (dir_.path() / "unused.db").string(), "--key-file", other.string()})
                .exit_code,
            0);
  const Outcome wrong =
      db("check", {}, config_with("wrong.toml", "key_file = \"" + other.string() + "\"\n"));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(contains(wrong.err, kKeyMismatch)) << wrong.err;
}

TEST_F(DbCommandTest, BackupWithTheInstanceKeyIsEncryptedAndRestores) {
  const fs::path backup = dir_.path() / "backup.db";
  const Outcome made = db("backup", {"--output", backup.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(contains(made.out, "encrypted with this instance's own database key")) << made.out;
  expect_key_not_shown(made, instance_ / "database.key");
  EXPECT_EQ(mode_of(backup), 0600u);
  EXPECT_NE(read_file(backup).substr(0, 16), std::string("SQLite format 3\0", 16));

  const std::string restored = other_database("restored");
  const Outcome restore = db("restore", {"--input", backup.string()}, restored);
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_TRUE(contains(restore.out, "Restored " + backup.string())) << restore.out;
  EXPECT_EQ(mode_of(instance_ / "restored.db"), 0600u);
  expect_check_passes(restored);
}

TEST_F(DbCommandTest, BackupWithANewKeyFileCreatesItAndNeedsIt) {
  const fs::path backup = dir_.path() / "backup.db";
  const fs::path key = dir_.path() / "backup.key";
  const Outcome made = db("backup", {"-o", backup.string(), "--key-file", key.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(contains(made.out, "Created a new backup key file " + key.string())) << made.out;
  EXPECT_TRUE(contains(made.out, "apart from the backup")) << made.out;
  EXPECT_EQ(mode_of(key), 0600u);
  expect_key_not_shown(made, key);
  EXPECT_NE(read_file(key), read_file(instance_ / "database.key"));
  EXPECT_NE(read_file(backup).substr(0, 15), "SQLite format 3");

  const std::string restored = other_database("restored");
  const Outcome without_key = db("restore", {"-i", backup.string()}, restored);
  EXPECT_EQ(without_key.exit_code, 1);
  EXPECT_TRUE(contains(without_key.err, kKeyMismatch)) << without_key.err;
  EXPECT_TRUE(contains(without_key.err, "--key-file")) << without_key.err;
  EXPECT_FALSE(fs::exists(instance_ / "restored.db"));

  const Outcome with_key =
      db("restore", {"-i", backup.string(), "--key-file", key.string()}, restored);
  ASSERT_EQ(with_key.exit_code, 0) << with_key.err;
  expect_check_passes(restored);
}

TEST_F(DbCommandTest, BackupReusesAnExistingKeyFileOnlyWhenPrivate) {
  const fs::path key = dir_.path() / "backup.key";
  ASSERT_EQ(db("backup", {"-o", (dir_.path() / "first.db").string(), "--key-file", key.string()})
                .exit_code,
            0);
  const std::string key_text = read_file(key);
  const fs::path second = dir_.path() / "second.db";
  const Outcome again = db("backup", {"-o", second.string(), "--key-file", key.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_FALSE(contains(again.out, "Created")) << again.out;
  EXPECT_TRUE(contains(again.out, "encrypted with the key in " + key.string())) << again.out;
  EXPECT_EQ(read_file(key), key_text);
  const std::string restored = other_database("restored");
  ASSERT_EQ(db("restore", {"-i", second.string(), "--key-file", key.string()}, restored).exit_code,
            0);
  expect_check_passes(restored);

  fs::permissions(key, fs::perms::group_read, fs::perm_options::add);
  const fs::path third = dir_.path() / "third.db";
  const Outcome open_key = db("backup", {"-o", third.string(), "--key-file", key.string()});
  EXPECT_EQ(open_key.exit_code, 1);
  EXPECT_TRUE(contains(open_key.err, key.string() + ": key file is accessible by group or others"))
      << open_key.err;
  EXPECT_FALSE(fs::exists(third));
}

TEST_F(DbCommandTest, BackupRefusesAnExistingOutput) {
  const fs::path output = dir_.path() / "taken.db";
  write_file(output, "keep me");
  const fs::path key = dir_.path() / "never-made.key";
  const Outcome refused = db("backup", {"-o", output.string(), "--key-file", key.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.err, "tipline-server: " + output.string() + ": already exists"))
      << refused.err;
  EXPECT_EQ(read_file(output), "keep me");
  EXPECT_FALSE(fs::exists(key)) << "no key is made for a backup that cannot be written";
}

TEST_F(DbCommandTest, OnlineCommandsWorkWhileServing) {
  auto server = serve();
  const fs::path backup = dir_.path() / "online.db";
  const Outcome made = db("backup", {"-o", backup.string()});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  expect_check_passes(config_);
  const Outcome checked = run({kServer, "check", "--config", config_});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  const Outcome purged = db("purge");
  EXPECT_EQ(purged.exit_code, 0) << purged.err;
  stop(*server);

  const std::string restored = other_database("restored");
  ASSERT_EQ(db("restore", {"-i", backup.string()}, restored).exit_code, 0);
  expect_check_passes(restored);
}

TEST_F(DbCommandTest, RestoreRefusesAnExistingDatabase) {
  const fs::path backup = dir_.path() / "backup.db";
  ASSERT_EQ(db("backup", {"-o", backup.string()}).exit_code, 0);
  const std::string before = read_file(instance_ / "tipline.db");
  const Outcome refused = db("restore", {"-i", backup.string()});
  EXPECT_EQ(refused.exit_code, 1);
  const std::string database = (instance_ / "tipline.db").string();
  EXPECT_TRUE(contains(refused.err, database + ": already exists")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "restore never overwrites")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "`mv " + database + " " + database + ".old`")) << refused.err;
  EXPECT_EQ(read_file(instance_ / "tipline.db"), before);
}

TEST_F(DbCommandTest, RestoreRefusesARunningServer) {
  const fs::path backup = dir_.path() / "backup.db";
  ASSERT_EQ(db("backup", {"-o", backup.string()}).exit_code, 0);
  auto server = serve();
  const Outcome refused = db("restore", {"-i", backup.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.err, kInUse)) << refused.err;
  stop(*server);
}

TEST_F(DbCommandTest, RestoreRefusesAMissingBackupAndALeftoverLog) {
  const std::string restored = other_database("restored");
  const fs::path missing = dir_.path() / "missing.db";
  const Outcome no_backup = db("restore", {"-i", missing.string()}, restored);
  EXPECT_EQ(no_backup.exit_code, 1);
  EXPECT_TRUE(contains(no_backup.err, missing.string() + ": backup file does not exist"))
      << no_backup.err;

  // SQLite would replay a log left by a database moved aside into the restored one.
  const fs::path backup = dir_.path() / "backup.db";
  ASSERT_EQ(db("backup", {"-o", backup.string()}).exit_code, 0);
  write_file(instance_ / "restored.db-wal", "frames of another database");
  const Outcome leftover = db("restore", {"-i", backup.string()}, restored);
  EXPECT_EQ(leftover.exit_code, 1);
  EXPECT_TRUE(contains(leftover.err,
                       "restored.db-wal: a write-ahead log is left without its "
                       "database"))
      << leftover.err;
  EXPECT_FALSE(fs::exists(instance_ / "restored.db"));
}

TEST_F(DbCommandTest, RekeyReplacesTheKeyFile) {
  const fs::path old_key = save_key("old.key");
  const fs::path backup = dir_.path() / "before-rekey.db";
  ASSERT_EQ(db("backup", {"-o", backup.string()}).exit_code, 0);

  const Outcome rekeyed = db("rekey");
  ASSERT_EQ(rekeyed.exit_code, 0) << rekeyed.err;
  EXPECT_TRUE(
      contains(rekeyed.out, "new random key, now in " + (instance_ / "database.key").string()))
      << rekeyed.out;
  expect_key_not_shown(rekeyed, instance_ / "database.key");
  EXPECT_NE(read_file(instance_ / "database.key"), read_file(old_key));
  EXPECT_EQ(mode_of(instance_ / "database.key"), 0600u);
  EXPECT_FALSE(fs::exists(instance_ / "database.key.new"));
  expect_check_passes(config_);

  const Outcome old =
      db("check", {}, config_with("old.toml", "key_file = \"" + old_key.string() + "\"\n"));
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_TRUE(contains(old.err, kKeyMismatch)) << old.err;

  // A backup made before still opens with the old key only.
  const std::string restored = other_database("restored");
  EXPECT_EQ(db("restore", {"-i", backup.string()}, restored).exit_code, 1);
  ASSERT_EQ(
      db("restore", {"-i", backup.string(), "--key-file", old_key.string()}, restored).exit_code,
      0);
  expect_check_passes(restored);
}

TEST_F(DbCommandTest, RekeyToANewKeyFileLeavesTheOldOneUseless) {
  const std::string old_key = read_file(instance_ / "database.key");
  const fs::path new_key = dir_.path() / "new.key";
  const Outcome rekeyed = db("rekey", {"--new-key-file", new_key.string()});
  ASSERT_EQ(rekeyed.exit_code, 0) << rekeyed.err;
  EXPECT_TRUE(
      contains(rekeyed.out, "set database.key_file in " + config_ + " to " + new_key.string()))
      << rekeyed.out;
  EXPECT_TRUE(contains(rekeyed.out, "no longer opens the database")) << rekeyed.out;
  expect_key_not_shown(rekeyed, new_key);
  EXPECT_EQ(mode_of(new_key), 0600u);
  EXPECT_EQ(read_file(instance_ / "database.key"), old_key);

  const Outcome old = db("check");
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_TRUE(contains(old.err, kKeyMismatch)) << old.err;
  expect_check_passes(config_with("new.toml", "key_file = \"" + new_key.string() + "\"\n"));

  const Outcome taken = db("rekey", {"--new-key-file", new_key.string()},
                           config_with("new.toml", "key_file = \"" + new_key.string() + "\"\n"));
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_TRUE(contains(taken.err, new_key.string() + ": cannot create key file: File exists"))
      << taken.err;
}

TEST_F(DbCommandTest, RekeyIsRefusedWhileServing) {
  const std::string key = read_file(instance_ / "database.key");
  auto server = serve();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"--new-key-file", (dir_.path() / "new.key").string()}}) {
    const Outcome refused = db("rekey", args);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(contains(refused.err, kInUse)) << refused.err;
  }
  EXPECT_FALSE(fs::exists(instance_ / "database.key.new")) << "the unused key is removed";
  EXPECT_FALSE(fs::exists(dir_.path() / "new.key"));
  stop(*server);
  EXPECT_EQ(read_file(instance_ / "database.key"), key);
  expect_check_passes(config_);
}

TEST_F(DbCommandTest, RekeyRefusesTheKeyOfAnInterruptedRekey) {
  const std::string pending = (instance_ / "database.key.new").string();
  write_file(pending, "left by an interrupted rekey");
  const Outcome refused = db("rekey");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.err, pending + " already exists: an earlier rekey was interrupted"))
      << refused.err;
  EXPECT_EQ(read_file(pending), "left by an interrupted rekey");
  expect_check_passes(config_);
}

TEST_F(DbCommandTest, PurgePrintsWhatItDeleted) {
  const Outcome kept = db("purge");
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  for (const char* line :
       {"submissions: 0 (all kept: no --older-than)", "drafts: 0", "uploads: 0", "sources: 0",
        "blobs: 0", "nonces: 0", "The write-ahead log was truncated"}) {
    EXPECT_TRUE(contains(kept.out, line)) << line << '\n' << kept.out;
  }
  const Outcome old = db("purge", {"--older-than", "30"});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  EXPECT_TRUE(contains(old.out, "submissions: 0 (received 30 days ago or earlier)")) << old.out;
  expect_check_passes(config_);
}

TEST_F(DbCommandTest, VacuumKeepsTheDatabaseIntact) {
  const Outcome vacuumed = db("vacuum");
  ASSERT_EQ(vacuumed.exit_code, 0) << vacuumed.err;
  EXPECT_TRUE(contains(vacuumed.out, "Vacuumed " + (instance_ / "tipline.db").string()))
      << vacuumed.out;
  expect_check_passes(config_);
}

TEST_F(DbCommandTest, ASecondServerIsRefused) {
  auto server = serve();
  const Outcome second =
      run({kServer, "serve", "--config", config_with("second.toml", "")}, seconds(20));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(contains(second.err, (instance_ / "tipline.db").string() + ": " + kInUse))
      << second.err;
  EXPECT_EQ(server->wait(std::chrono::milliseconds(0)), std::nullopt) << "the first one serves on";
  stop(*server);
}

TEST_F(DbCommandTest, UsageErrorsExitWithTwo) {
  const std::vector<std::vector<std::string>> usage_errors = {
      {kServer, "db"},
      {kServer, "db", "frobnicate"},
      {kServer, "db", "check"},
      {kServer, "db", "backup", "--config", config_},
      {kServer, "db", "restore", "--config", config_},
      {kServer, "db", "purge", "--config", config_, "--older-than", "-1"},
      {kServer, "db", "purge", "--config", config_, "--older-than", "soon"},
      {kServer, "db", "vacuum", "--config", config_, "--extra"},
  };
  for (const auto& argv : usage_errors) {
    const Outcome outcome = run(argv);
    EXPECT_EQ(outcome.exit_code, 2) << describe(argv, outcome);
  }
  const Outcome negative = run(usage_errors[5]);
  EXPECT_TRUE(contains(negative.err, "DAYS must be a whole number of days, 0 or more"))
      << negative.err;

  const Outcome help = run({kServer, "db", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* verb : {"check", "backup", "restore", "rekey", "purge", "vacuum"}) {
    EXPECT_TRUE(contains(help.out, verb)) << help.out;
  }
  const Outcome rekey_help = run({kServer, "db", "rekey", "--help"});
  EXPECT_EQ(rekey_help.exit_code, 0);
  EXPECT_TRUE(contains(rekey_help.out, "KEYFILE.new holds the key that opens the database"))
      << rekey_help.out;
}

TEST_F(DbCommandTest, AnInvalidConfigurationFailsWithOne) {
  const fs::path missing = dir_.path() / "missing.toml";
  const Outcome outcome = db("check", {}, missing.string());
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_TRUE(contains(outcome.err, "tipline-server: invalid configuration")) << outcome.err;
}

}  // namespace
}  // namespace tipline::testing
