#include "tipline/config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "support/process.h"

namespace tipline::config {
namespace {

namespace fs = std::filesystem;

// An instance folder holding every file the sample configuration names.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(dir_ / "tls");
    write(dir_ / "instance-salt", "00",
          fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    write(dir_ / "database.key", "00", fs::perms::owner_read | fs::perms::owner_write);
    write(dir_ / "tls/certificate.pem", "cert", fs::perms::owner_read | fs::perms::others_read);
    write(dir_ / "tls/private-key.pem", "key", fs::perms::owner_read);
  }

  static void write(const fs::path& file, const std::string& text, fs::perms perms) {
    std::ofstream(file) << text;
    fs::permissions(file, perms);
  }

  tl::expected<Config, Error> load_text(const std::string& text) {
    write(dir_ / "tipline.toml", text, fs::perms::owner_read | fs::perms::owner_write);
    return load(dir_ / "tipline.toml");
  }

  // The message of a config that must fail validation.
  std::string problems_of(const std::string& text) {
    const auto config = load_text(text);
    EXPECT_FALSE(config.has_value()) << text;
    return config.has_value() ? std::string() : config.error().message;
  }

  std::string file() const { return (dir_ / "tipline.toml").string(); }

  const testing::TempDir temp_;
  const fs::path dir_ = temp_.path();
};

TEST_F(ConfigTest, SampleLoadsWithDocumentedDefaults) {
  const auto config = load_text(std::string(sample()));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->source.address, "127.0.0.1");
  EXPECT_EQ(config->source.port, 8443);
  EXPECT_EQ(config->source.transport, Transport::tls);
  EXPECT_EQ(config->reviewer.port, 8444);
  EXPECT_EQ(config->database_file, dir_ / "tipline.db");
  EXPECT_EQ(config->database_key_file, dir_ / "database.key");
  EXPECT_EQ(config->instance_salt_file, dir_ / "instance-salt");
  EXPECT_EQ(config->source.tls_private_key, dir_ / "tls/private-key.pem");
  EXPECT_GE(config->threads, 1u);
  EXPECT_EQ(config->log_level, LogLevel::info);
  EXPECT_EQ(config->limits.header_bytes, 8192u);
  EXPECT_EQ(config->limits.body_bytes, 1048576u);
  EXPECT_EQ(config->limits.max_connections, 1024u);
  EXPECT_EQ(config->limits.handshake_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config->limits.idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->limits.read_timeout, std::chrono::seconds(60));
  EXPECT_EQ(config->limits.write_timeout, std::chrono::seconds(60));
  EXPECT_EQ(config->limits.shutdown_grace, std::chrono::seconds(10));
  EXPECT_EQ(config->limits.read_buffer_bytes, 65536u);
  EXPECT_EQ(config->limits.report_bytes, 8u << 20);
  EXPECT_EQ(config->limits.upload_bytes, 4ull << 30);
  EXPECT_EQ(config->limits.uploads_per_draft, 20u);
  EXPECT_EQ(config->limits.pending_upload_bytes, 16ull << 30);
  EXPECT_EQ(config->limits.drafts_per_minute, 60u);
  EXPECT_EQ(config->limits.form_bytes, 256u << 20);
  EXPECT_EQ(config->limits.form_parts, 32u);
  EXPECT_EQ(config->limits.form_part_bytes, 100u << 20);
  EXPECT_EQ(config->limits.submissions_per_minute, 60u);
  EXPECT_EQ(config->limits.upload_expiry, std::chrono::hours(24));
  EXPECT_EQ(config->onion_location, "");
  EXPECT_EQ(config->questionnaire_file, fs::path());
  EXPECT_EQ(config->root_public_key_file, dir_ / "organisation-root.pub");
}

TEST_F(ConfigTest, OnionLocationMustNameAnOnionHost) {
  const auto good = load_text("[source]\nonion_location = \"http://abcdef.onion/\"\n");
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ(good->onion_location, "http://abcdef.onion/");
  for (const std::string bad : {"abcdef.onion", "https://example.org", "http://x.onion.evil/"}) {
    const std::string message = problems_of("[source]\nonion_location = \"" + bad + "\"\n");
    EXPECT_NE(message.find("source.onion_location: must be an http:// or https:// URL of a "
                           ".onion host"),
              std::string::npos)
        << message;
  }
}

TEST_F(ConfigTest, AQuestionnaireFileMustExist) {
  const std::string message = problems_of("[source]\nquestionnaire = \"questions.toml\"\n");
  EXPECT_NE(message.find("source.questionnaire"), std::string::npos) << message;
  write(dir_ / "questions.toml", "", fs::perms::owner_read);
  const auto config = load_text("[source]\nquestionnaire = \"questions.toml\"\n");
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->questionnaire_file, dir_ / "questions.toml");
}

TEST_F(ConfigTest, EmptyFileMeansAllDefaults) {
  const auto empty = load_text("");
  const auto sample_config = load_text(std::string(sample()));
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  ASSERT_TRUE(sample_config.has_value());
  EXPECT_EQ(empty->source.port, sample_config->source.port);
  EXPECT_EQ(empty->database_file, sample_config->database_file);
  EXPECT_EQ(empty->limits.idle_timeout, sample_config->limits.idle_timeout);
}

TEST_F(ConfigTest, ValuesAreRead) {
  const auto config = load_text(R"(
[source]
address = "::1"
port = 0
transport = "http"
[server]
threads = 3
log_level = "debug"
[limits]
header_bytes = 4096
shutdown_grace_seconds = 0
)");
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->source.address, "::1");
  EXPECT_EQ(config->source.port, 0);
  EXPECT_EQ(config->source.transport, Transport::plain_http);
  EXPECT_EQ(config->threads, 3u);
  EXPECT_EQ(config->log_level, LogLevel::debug);
  EXPECT_EQ(config->limits.header_bytes, 4096u);
  EXPECT_EQ(config->limits.shutdown_grace, std::chrono::seconds(0));
}

TEST_F(ConfigTest, UnknownKeysAreRefused) {
  const std::string message = problems_of("[source]\nprot = 8443\n");
  EXPECT_NE(message.find(file() + ": source.prot: unknown key"), std::string::npos) << message;
}

TEST_F(ConfigTest, UnknownSectionsAndTopLevelKeysAreRefused) {
  const std::string message = problems_of("debug = true\n[sorce]\nport = 1\n");
  EXPECT_NE(message.find(file() + ": debug: unknown key"), std::string::npos) << message;
  EXPECT_NE(message.find(file() + ": sorce: unknown key"), std::string::npos) << message;
}

TEST_F(ConfigTest, ReviewerListenerCannotBePlainHttp) {
  const std::string message = problems_of("[reviewer]\ntransport = \"http\"\n");
  EXPECT_NE(message.find("reviewer.transport: unknown key"), std::string::npos) << message;
}

TEST_F(ConfigTest, WrongTypesAreRefused) {
  const std::string message =
      problems_of("[source]\nport = \"8443\"\n[limits]\nheader_bytes = 1.5\n");
  EXPECT_NE(message.find(file() + ": source.port: expected an integer, got a string"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.header_bytes: expected an integer, got a floating-point number"),
            std::string::npos)
      << message;
}

TEST_F(ConfigTest, SectionThatIsNotATableIsRefused) {
  const std::string message = problems_of("source = 5\n");
  EXPECT_NE(message.find(file() + ": source: expected a table, got an integer"), std::string::npos)
      << message;
}

TEST_F(ConfigTest, OutOfRangeValuesAreRefused) {
  const std::string message = problems_of(
      "[source]\nport = 70000\n[limits]\nheader_bytes = 100\nidle_timeout_seconds = 0\n"
      "form_parts = 0\nupload_expiry_hours = 721\n[server]\nthreads = -1\n");
  EXPECT_NE(message.find("limits.form_parts: must be from 1 to 1000, got 0"), std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.upload_expiry_hours: must be from 1 to 720, got 721"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("source.port: must be from 0 to 65535, got 70000"), std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.header_bytes: must be from 1024 to 65535, got 100"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("limits.idle_timeout_seconds: must be from 1 to 3600, got 0"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("server.threads: must be from 0 to 256, got -1"), std::string::npos)
      << message;
}

TEST_F(ConfigTest, DraftAndPendingUploadLimitsAreReadAndBounded) {
  const auto empty = load_text("");
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_EQ(empty->limits.drafts_per_minute, 60u);
  EXPECT_EQ(empty->limits.pending_upload_bytes, std::uint64_t{16} << 30);
  const auto set = load_text("[limits]\ndrafts_per_minute = 5\npending_upload_bytes = 1048576\n");
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->limits.drafts_per_minute, 5u);
  EXPECT_EQ(set->limits.pending_upload_bytes, 1048576u);
  const auto largest =
      load_text("[limits]\ndrafts_per_minute = 1000000\npending_upload_bytes = 1099511627776\n");
  ASSERT_TRUE(largest.has_value()) << largest.error().message;
  EXPECT_EQ(largest->limits.pending_upload_bytes, std::uint64_t{1} << 40);

  const std::string low =
      problems_of("[limits]\ndrafts_per_minute = 0\npending_upload_bytes = 1048575\n");
  EXPECT_NE(low.find("limits.drafts_per_minute: must be from 1 to 1000000, got 0"),
            std::string::npos)
      << low;
  EXPECT_NE(low.find("limits.pending_upload_bytes: must be from 1048576 to 1099511627776, got "
                     "1048575"),
            std::string::npos)
      << low;
  const std::string high =
      problems_of("[limits]\ndrafts_per_minute = 1000001\npending_upload_bytes = 1099511627777\n");
  EXPECT_NE(high.find("limits.drafts_per_minute: must be from 1 to 1000000, got 1000001"),
            std::string::npos)
      << high;
  EXPECT_NE(high.find("limits.pending_upload_bytes: must be from 1048576 to 1099511627776, got "
                      "1099511627777"),
            std::string::npos)
      << high;
}

TEST_F(ConfigTest, BadEnumeratedValuesAreRefused) {
  const std::string message = problems_of(
      "[source]\ntransport = \"ftp\"\naddress = \"localhost\"\n"
      "[server]\nlog_level = \"loud\"\n");
  EXPECT_NE(message.find("source.transport: must be \"tls\" or \"http\", got \"ftp\""),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("source.address: must be an IPv4 or IPv6 address, got \"localhost\""),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("server.log_level: must be"), std::string::npos) << message;
}

TEST_F(ConfigTest, PlainHttpOnlyOnLoopback) {
  const std::string message =
      problems_of("[source]\naddress = \"0.0.0.0\"\ntransport = \"http\"\n");
  EXPECT_NE(message.find("source.transport: plain HTTP is allowed only on a loopback address"),
            std::string::npos)
      << message;
  EXPECT_TRUE(load_text("[source]\naddress = \"127.0.0.2\"\ntransport = \"http\"\n").has_value());
}

TEST_F(ConfigTest, KeyFileReadableByOthersIsRefused) {
  fs::permissions(dir_ / "database.key", fs::perms::others_read, fs::perm_options::add);
  fs::permissions(dir_ / "tls/private-key.pem", fs::perms::group_read, fs::perm_options::add);
  const std::string message = problems_of("");
  EXPECT_NE(message.find(file() + ": database.key_file: " + (dir_ / "database.key").string() +
                         " has mode 0604"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("source.tls_private_key: " + (dir_ / "tls/private-key.pem").string() +
                         " has mode 0440"),
            std::string::npos)
      << message;
}

TEST_F(ConfigTest, MissingFilesAreNamed) {
  fs::remove(dir_ / "instance-salt");
  const std::string message = problems_of("[database]\nkey_file = \"/nonexistent/db.key\"\n");
  EXPECT_NE(message.find("instance.salt_file: cannot read " + (dir_ / "instance-salt").string() +
                         ": No such file or directory"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("database.key_file: cannot read /nonexistent/db.key"), std::string::npos)
      << message;
}

TEST_F(ConfigTest, ADirectoryIsNotAKeyFile) {
  const std::string message = problems_of("[database]\nkey_file = \"tls\"\n");
  EXPECT_NE(
      message.find("database.key_file: " + (dir_ / "tls").string() + " is not a regular file"),
      std::string::npos)
      << message;
}

TEST_F(ConfigTest, ListenersMustNotShareAPort) {
  const std::string message = problems_of("[reviewer]\nport = 8443\n");
  EXPECT_NE(message.find("reviewer.port: must differ from source.port"), std::string::npos)
      << message;
}

TEST_F(ConfigTest, EveryProblemIsReportedAtOnce) {
  const std::string message = problems_of("[source]\nport = -1\nfoo = 1\n[limits]\nbar = 2\n");
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

TEST_F(ConfigTest, SyntaxErrorsNameTheLine) {
  const auto config = load_text("[source]\nport = = 1\n");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, Errc::syntax);
  EXPECT_EQ(config.error().message.rfind(file() + ":2:", 0), 0u) << config.error().message;
}

TEST_F(ConfigTest, UnreadableFileIsReported) {
  const auto config = load(dir_ / "missing.toml");
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code, Errc::unreadable);
  EXPECT_NE(config.error().message.find("missing.toml: cannot read"), std::string::npos);
}

}  // namespace
}  // namespace tipline::config
