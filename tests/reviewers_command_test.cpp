// `tipline-server reviewers add/list/disable` on a real instance: what they store, what they
// print, the audit entries they leave and the refusals an administrator can meet, with and
// without a server running.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/instance.h"
#include "support/process.h"
#include "tipline/crypto/request_signature.h"

namespace tipline::testing {
namespace {

namespace fs = std::filesystem;
namespace signing = crypto::request_signature;
using std::chrono::seconds;

const std::string kServer = TIPLINE_SERVER_BINARY;

class ReviewersCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(server_.init(false)); }

  [[nodiscard]] Outcome reviewers(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kServer, "reviewers"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", (server_.path() / "tipline.toml").string()});
    return run(argv, seconds(60));
  }

  static std::string new_key() {
    return signing::encode_public_key(signing::SigningKey::generate().public_key());
  }

  // Every audit entry as "reviewer|action|detail" lines.
  [[nodiscard]] std::string audit_log() const {
    storage::Database db = server_.open_database();
    auto query = db.prepare(
        "SELECT reviewer_id || '|' || action || '|' || coalesce(detail, '') FROM audit_log "
        "ORDER BY id;");
    EXPECT_TRUE(query.has_value());
    std::string lines;
    while (true) {
      auto row = query->step();
      EXPECT_TRUE(row.has_value());
      if (!row || !*row) return lines;
      lines += query->text(0) + "\n";
    }
  }

  TempDir dir_;
  Instance server_{dir_.path(), kServer};
};

TEST_F(ReviewersCommandTest, AddListAndDisableAreStoredPrintedAndAudited) {
  const std::string alice_key = new_key();
  const std::string root_key = new_key();
  const Outcome empty = reviewers({"list"});
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(contains(empty.out, "No reviewers yet")) << empty.out;

  const Outcome alice = reviewers({"add", "alice", "--key", alice_key});
  ASSERT_EQ(alice.exit_code, 0) << alice.err;
  EXPECT_TRUE(contains(alice.out, "Added reviewer alice with signing key " + alice_key))
      << alice.out;
  const Outcome root = reviewers({"add", "root.admin-1", "--key", root_key, "--role", "admin"});
  ASSERT_EQ(root.exit_code, 0) << root.err;

  const Outcome table = reviewers({"list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const auto lines = lines_of(table.out);
  ASSERT_EQ(lines.size(), 3u) << table.out;
  EXPECT_TRUE(lines[0].starts_with("ID")) << table.out;
  EXPECT_TRUE(lines[1].starts_with("alice ") && contains(lines[1], " reviewer ") &&
              contains(lines[1], " enabled ") && lines[1].ends_with(alice_key))
      << table.out;
  EXPECT_TRUE(lines[2].starts_with("root.admin-1 ") && contains(lines[2], " admin ") &&
              lines[2].ends_with(root_key))
      << table.out;

  const Outcome disabled = reviewers({"disable", "alice"});
  ASSERT_EQ(disabled.exit_code, 0) << disabled.err;
  EXPECT_TRUE(contains(disabled.out, "Disabled alice")) << disabled.out;
  const Outcome again = reviewers({"disable", "alice"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "already disabled")) << again.out;

  const Outcome json = reviewers({"list", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(
      json.out.starts_with("{\"reviewers\":[{\"id\":\"alice\",\"role\":\"reviewer\","
                           "\"disabled\":true,\"added_at\":"))
      << json.out;
  EXPECT_TRUE(contains(json.out, "\"key\":\"" + alice_key + "\"}")) << json.out;
  EXPECT_TRUE(contains(json.out, "{\"id\":\"root.admin-1\",\"role\":\"admin\",\"disabled\":false"))
      << json.out;
  EXPECT_EQ(lines_of(json.out).size(), 1u) << json.out;

  // Disabling what is already disabled changes nothing, so it leaves no entry.
  EXPECT_EQ(audit_log(),
            "(server admin)|reviewer-add|alice as reviewer\n"
            "(server admin)|reviewer-add|root.admin-1 as admin\n"
            "(server admin)|reviewer-disable|alice\n");
}

TEST_F(ReviewersCommandTest, RefusalsNameTheProblemAndChangeNothing) {
  const std::string key = new_key();
  ASSERT_EQ(reviewers({"add", "alice", "--key", key}).exit_code, 0);
  const std::string before = audit_log();

  const Outcome same_id = reviewers({"add", "alice", "--key", new_key()});
  EXPECT_EQ(same_id.exit_code, 1);
  EXPECT_TRUE(contains(same_id.err, "tipline-server: a reviewer alice already exists"))
      << same_id.err;

  const Outcome same_key = reviewers({"add", "bob", "--key", key});
  EXPECT_EQ(same_key.exit_code, 1);
  EXPECT_TRUE(contains(same_key.err, "this key is already registered, for reviewer alice"))
      << same_key.err;

  for (const std::string& bad :
       std::vector<std::string>{"not-a-key", key.substr(0, 43), key + "A", "!" + key.substr(1)}) {
    const Outcome refused = reviewers({"add", "carol", "--key", bad});
    EXPECT_EQ(refused.exit_code, 1) << bad;
    EXPECT_TRUE(contains(refused.err, "--key: a signing public key is 44 base64 characters"))
        << refused.err;
  }
  for (const std::string& bad_id :
       std::vector<std::string>{"has space", "(server admin)", std::string(65, 'a'), "é"}) {
    const Outcome refused = reviewers({"add", bad_id, "--key", new_key()});
    EXPECT_EQ(refused.exit_code, 1) << bad_id;
    EXPECT_TRUE(contains(refused.err, "a reviewer id is 1 to 64 of A-Z a-z 0-9 . _ -"))
        << refused.err;
  }
  const Outcome role = reviewers({"add", "dave", "--key", new_key(), "--role", "owner"});
  EXPECT_EQ(role.exit_code, 2) << role.err;

  const Outcome unknown = reviewers({"disable", "nobody"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "no reviewer nobody; `tipline-server reviewers list` shows"))
      << unknown.err;

  EXPECT_EQ(audit_log(), before);
  const Outcome list = reviewers({"list", "--json"});
  EXPECT_EQ(lines_of(list.out).size(), 1u);
  EXPECT_FALSE(contains(list.out, "bob") || contains(list.out, "carol") ||
               contains(list.out, "dave"))
      << list.out;
}

TEST_F(ReviewersCommandTest, WorkBesideARunningServer) {
  server_.start("[source]\nport = 0\n[reviewer]\nport = 0\n");
  const Outcome added = reviewers({"add", "alice", "--key", new_key(), "--role", "admin"});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  const Outcome disabled = reviewers({"disable", "alice"});
  EXPECT_EQ(disabled.exit_code, 0) << disabled.err;
  const Outcome listed = reviewers({"list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "disabled")) << listed.out;
  server_.stop();
}

}  // namespace
}  // namespace tipline::testing
