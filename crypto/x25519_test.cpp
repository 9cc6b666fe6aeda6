#include "tipline/crypto/x25519.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bech32.h"

namespace tipline::crypto::x25519 {
namespace {

namespace fs = std::filesystem;

std::string text_of(const Secret& secret) {
  const auto bytes = secret.expose();
  return {bytes.begin(), bytes.end()};
}

// A fresh private directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tipline-x25519-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// The executable's path in $PATH, or empty. The interop tests fail, not skip, without it.
std::string find_tool(const std::string& name) {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): no setenv here
  std::stringstream directories(path == nullptr ? "" : path);
  for (std::string directory; std::getline(directories, directory, ':');) {
    const fs::path candidate = fs::path(directory.empty() ? "." : directory) / name;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return {};
}

std::string quoted(const std::string& word) {
  std::string out = "'";
  for (const char c : word) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

struct Outcome {
  std::string command;
  bool succeeded = false;
  std::string output;  // stdout and stderr together
  [[nodiscard]] std::string report() const { return command + "\n" + output; }
};

// Runs a shell command with no input, as the tools would run unattended.
Outcome run(const std::string& command) {
  Outcome outcome{command, false, {}};
  FILE* pipe = popen((command + " 2>&1 </dev/null").c_str(), "r");
  if (pipe == nullptr) {
    return outcome;
  }
  std::array<char, 4096> buffer{};
  for (std::size_t n = 0; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
    outcome.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  outcome.succeeded = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return outcome;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// The lines of a text, without their newlines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST(X25519, RecipientRoundTrip) {
  const Recipient recipient = Identity::generate().recipient();
  const std::string text = recipient.to_string();
  EXPECT_EQ(text.size(), 62u);
  EXPECT_EQ(text.rfind("age1", 0), 0u) << text;
  const auto parsed = Recipient::parse(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->bytes(), recipient.bytes());
}

TEST(X25519, IdentityRoundTrip) {
  const Identity identity = Identity::generate();
  const std::string text = text_of(identity.to_string());
  EXPECT_EQ(text.size(), 74u);
  EXPECT_EQ(text.rfind("AGE-SECRET-KEY-1", 0), 0u) << text;
  const auto parsed = Identity::parse(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(text_of(parsed->to_string()), text);
  EXPECT_EQ(parsed->recipient().bytes(), identity.recipient().bytes());
}

TEST(X25519, GeneratedIdentitiesDiffer) {
  EXPECT_NE(Identity::generate().recipient().bytes(), Identity::generate().recipient().bytes());
}

TEST(X25519, KnownAnswer) {
  // An identity and its recipient as written by age-keygen 1.1.1.
  const auto identity =
      Identity::parse("AGE-SECRET-KEY-13RGM0JZZ0ELTVVRGC0FG2MSK28X5JXX2K6X7UX87QUZM0ND8G96QRXWCCD");
  ASSERT_TRUE(identity.has_value()) << identity.error().message;
  EXPECT_EQ(identity->recipient().to_string(),
            "age1znrpmuy4en7whj6ps3ct5v202lzwsgh7l4ysrtp96m0trvss9qyqnka2v8");
}

TEST(X25519, IdentityFileText) {
  const Identity identity = Identity::generate();
  EXPECT_EQ(text_of(identity_file_text(identity, "2024-05-06T07:08:09Z")),
            "# created: 2024-05-06T07:08:09Z\n# public key: " + identity.recipient().to_string() +
                "\n" + text_of(identity.to_string()) + "\n");
  EXPECT_THROW((void)identity_file_text(identity, "2024\n# public key: age1evil"),
               std::invalid_argument);
}

TEST(X25519, RejectsTheOtherKindOfKey) {
  const Identity identity = Identity::generate();
  const std::string recipient = identity.recipient().to_string();
  const std::string secret = text_of(identity.to_string());

  const auto as_identity = Identity::parse(recipient);
  ASSERT_FALSE(as_identity.has_value());
  EXPECT_EQ(as_identity.error().code, Errc::wrong_key_type);
  const auto as_recipient = Recipient::parse(secret);
  ASSERT_FALSE(as_recipient.has_value());
  EXPECT_EQ(as_recipient.error().code, Errc::wrong_key_type);
}

TEST(X25519, RejectsTheOtherCase) {
  // age itself refuses "AGE1..." recipients and lowercase identities.
  const Identity identity = Identity::generate();
  std::string recipient = identity.recipient().to_string();
  std::string secret = text_of(identity.to_string());
  for (char& c : recipient) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (char& c : secret) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }

  const auto upper_recipient = Recipient::parse(recipient);
  ASSERT_FALSE(upper_recipient.has_value());
  EXPECT_EQ(upper_recipient.error().code, Errc::wrong_key_type);
  const auto lower_identity = Identity::parse(secret);
  ASSERT_FALSE(lower_identity.has_value());
  EXPECT_EQ(lower_identity.error().code, Errc::wrong_key_type);
}

TEST(X25519, RejectsBadChecksums) {
  const Identity identity = Identity::generate();
  std::string recipient = identity.recipient().to_string();
  std::string secret = text_of(identity.to_string());
  recipient.back() = recipient.back() == 'q' ? 'p' : 'q';
  secret[20] = secret[20] == 'Q' ? 'P' : 'Q';

  const auto bad_recipient = Recipient::parse(recipient);
  ASSERT_FALSE(bad_recipient.has_value());
  EXPECT_EQ(bad_recipient.error().code, Errc::malformed_encoding);
  const auto bad_identity = Identity::parse(secret);
  ASSERT_FALSE(bad_identity.has_value());
  EXPECT_EQ(bad_identity.error().code, Errc::malformed_encoding);
}

TEST(X25519, RejectsWrongLengths) {
  for (const std::size_t size : {0u, 16u, 31u, 33u, 64u}) {
    const std::vector<std::uint8_t> bytes(size, 0x42);
    const auto recipient = Recipient::parse(bech32::encode("age", bytes));
    ASSERT_FALSE(recipient.has_value()) << size;
    EXPECT_EQ(recipient.error().code, Errc::malformed_key) << size;
    const auto identity = Identity::parse(bech32::encode("AGE-SECRET-KEY-", bytes));
    ASSERT_FALSE(identity.has_value()) << size;
    EXPECT_EQ(identity.error().code, Errc::malformed_key) << size;
  }
}

TEST(X25519, RejectsGarbage) {
  for (const char* text :
       {"", "age1", "age", "age1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        " age1znrpmuy4en7whj6ps3ct5v202lzwsgh7l4ysrtp96m0trvss9qyqnka2v8"}) {
    const auto parsed = Recipient::parse(text);
    ASSERT_FALSE(parsed.has_value()) << '"' << text << '"';
    EXPECT_EQ(parsed.error().code, Errc::malformed_encoding) << '"' << text << '"';
  }
}

TEST(X25519, AgeDecryptsWithOurIdentityFile) {
  const std::string age = find_tool("age");
  const std::string age_keygen = find_tool("age-keygen");
  ASSERT_FALSE(age.empty()) << "the stock `age` tool is not on PATH; this interop test needs it";
  ASSERT_FALSE(age_keygen.empty()) << "the stock `age-keygen` is not on PATH; this test needs it";
  const TempDir dir;
  const Identity identity = Identity::generate();
  const std::string recipient = identity.recipient().to_string();
  write_file(dir.file("identity.txt"),
             text_of(identity_file_text(identity, "2024-01-02T03:04:05Z")));
  std::string plaintext(3000, '\0');
  randombytes_buf(plaintext.data(), plaintext.size());
  write_file(dir.file("plain"), plaintext);

  const Outcome encrypted = run(quoted(age) + " -e -r " + quoted(recipient) + " -o " +
                                quoted(dir.file("cipher")) + " " + quoted(dir.file("plain")));
  ASSERT_TRUE(encrypted.succeeded) << encrypted.report();
  const Outcome decrypted =
      run(quoted(age) + " -d -i " + quoted(dir.file("identity.txt")) + " -o " +
          quoted(dir.file("decrypted")) + " " + quoted(dir.file("cipher")));
  ASSERT_TRUE(decrypted.succeeded) << decrypted.report();
  EXPECT_EQ(read_file(dir.file("decrypted")), plaintext);

  // age-keygen -y derives the recipient from our identity file on its own.
  const Outcome converted = run(quoted(age_keygen) + " -y " + quoted(dir.file("identity.txt")));
  ASSERT_TRUE(converted.succeeded) << converted.report();
  EXPECT_EQ(converted.output, recipient + "\n");
}

TEST(X25519, ParsesAgeKeygenIdentities) {
  const std::string age_keygen = find_tool("age-keygen");
  ASSERT_FALSE(age_keygen.empty()) << "the stock `age-keygen` is not on PATH; this test needs it";
  const TempDir dir;
  for (int round = 0; round < 5; ++round) {
    const std::string path = dir.file("key" + std::to_string(round) + ".txt");
    const Outcome generated = run(quoted(age_keygen) + " -o " + quoted(path));
    ASSERT_TRUE(generated.succeeded) << generated.report();
    const std::string file = read_file(path);
    const std::vector<std::string> lines = lines_of(file);
    ASSERT_EQ(lines.size(), 3u) << file;
    const std::string created_prefix = "# created: ";
    const std::string public_prefix = "# public key: ";
    ASSERT_EQ(lines[0].rfind(created_prefix, 0), 0u) << file;
    ASSERT_EQ(lines[1].rfind(public_prefix, 0), 0u) << file;

    const auto identity = Identity::parse(lines[2]);
    ASSERT_TRUE(identity.has_value()) << identity.error().message;
    const std::string public_key = lines[1].substr(public_prefix.size());
    EXPECT_EQ(identity->recipient().to_string(), public_key);
    const auto recipient = Recipient::parse(public_key);
    ASSERT_TRUE(recipient.has_value()) << recipient.error().message;
    EXPECT_EQ(recipient->bytes(), identity->recipient().bytes());
    // Our file text for the same identity and time is byte for byte what age-keygen wrote.
    EXPECT_EQ(text_of(identity_file_text(*identity, lines[0].substr(created_prefix.size()))), file);
  }
}

}  // namespace
}  // namespace tipline::crypto::x25519
