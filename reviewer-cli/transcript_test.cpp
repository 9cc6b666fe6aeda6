// Golden transcripts: each file in testdata/transcripts/ runs the real tipline-review once
// and compares its standard output, standard error and exit code with the file.
//
// A transcript is plain text:
//   # What the case shows (any number of comment lines).
//   $ tipline-review ARGUMENTS            words split on spaces; '...' quotes a word
//   env: NAME=VALUE                       optional, repeatable: added to the environment
//   --- stdin                             optional: what the command reads
//   ...
//   --- stdout
//   ...
//   --- stderr
//   ...
//   --- exit N
// In arguments and expected text {tmp} stands for the test's scratch folder (which holds
// the fake case folder, see fake_case.h) and {port} for a closed loopback port.
//
// The command runs in {tmp}, in a new session without a controlling terminal, with only
// PATH, HOME={tmp}, LANG=C.UTF-8, TERM=dumb and COLUMNS=100 in its environment, so that the
// output does not depend on who runs the test. TIPLINE_UPDATE_TRANSCRIPTS=1 rewrites the
// files with what the binary printed instead of comparing (review the diff before keeping).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fake_case.h"
#include "support/process.h"

namespace tipline::review {
namespace {

namespace fs = std::filesystem;

const fs::path kTranscripts = TIPLINE_TRANSCRIPTS_DIR;

struct Transcript {
  std::string comment;  // the leading comment lines, kept when the file is rewritten
  std::string command;  // after "$ tipline-review "
  std::vector<std::string> environment;
  std::optional<std::string> stdin_text;
  std::string out;
  std::string err;
  int exit_code = 0;
};

Transcript parse(const fs::path& file) {
  std::ifstream in(file);
  Transcript transcript;
  std::string line;
  std::string* section = nullptr;
  while (std::getline(in, line)) {
    if (line.starts_with("--- ")) {
      const std::string name = line.substr(4);
      if (name == "stdin") {
        transcript.stdin_text.emplace();
        section = &*transcript.stdin_text;
      } else if (name == "stdout") {
        section = &transcript.out;
      } else if (name == "stderr") {
        section = &transcript.err;
      } else if (name.starts_with("exit ")) {
        transcript.exit_code = std::stoi(name.substr(5));
        section = nullptr;
      } else {
        throw std::runtime_error(file.string() + ": unknown section " + line);
      }
    } else if (section != nullptr) {
      *section += line + "\n";
    } else if (line.starts_with("$ tipline-review")) {
      transcript.command = line.size() > 17 ? line.substr(17) : "";
    } else if (line.starts_with("env: ")) {
      transcript.environment.push_back(line.substr(5));
    } else if (line.starts_with("#") || line.empty()) {
      transcript.comment += line + "\n";
    } else {
      throw std::runtime_error(file.string() + ": unexpected line: " + line);
    }
  }
  return transcript;
}

void write(const fs::path& file, const Transcript& transcript) {
  std::ofstream out(file, std::ios::trunc);
  out << transcript.comment << "$ tipline-review" << (transcript.command.empty() ? "" : " ")
      << transcript.command << '\n';
  for (const auto& variable : transcript.environment) out << "env: " << variable << '\n';
  if (transcript.stdin_text) out << "--- stdin\n" << *transcript.stdin_text;
  out << "--- stdout\n" << transcript.out << "--- stderr\n" << transcript.err;
  out << "--- exit " << transcript.exit_code << '\n';
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::vector<std::string> split_words(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false;
  bool in_word = false;
  for (const char c : command) {
    if (c == '\'') {
      quoted = !quoted;
      in_word = true;
    } else if (c == ' ' && !quoted) {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// Runs the binary with stdin, capturing both outputs, in a new session (no /dev/tty).
tipline::testing::Outcome run(const std::vector<std::string>& argv,
                              const std::vector<std::string>& environment, const fs::path& cwd,
                              const std::string& input) {
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  env.reserve(environment.size() + 1);
  for (const auto& variable : environment) env.push_back(const_cast<char*>(variable.c_str()));
  env.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  std::size_t written = 0;
  int stdin_fd = in_pipe[1];
  if (input.empty()) {
    ::close(stdin_fd);
    stdin_fd = -1;
  }
  tipline::testing::Outcome outcome;
  int out_fd = out_pipe[0];
  int err_fd = err_pipe[0];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {stdin_fd, POLLOUT, 0}};
    if (::poll(fds, 3, 60000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        ::close(fds[i].fd);
        (i == 0 ? out_fd : err_fd) = -1;
      } else {
        (i == 0 ? outcome.out : outcome.err).append(buffer, static_cast<std::size_t>(n));
      }
    }
    if (stdin_fd >= 0 && fds[2].revents != 0) {
      const ssize_t n = ::write(stdin_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n <= 0 || written == input.size()) {
        ::close(stdin_fd);
        stdin_fd = -1;
      }
    }
  }
  if (stdin_fd >= 0) ::close(stdin_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kTranscripts)) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class TranscriptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TranscriptTest, MatchesTheGoldenFile) {
  const tipline::testing::TempDir dir;
  const std::string tmp = dir.path().string();
  const int port = tipline::testing::closed_loopback_port();
  testing::build_fake_case(dir.path(), port);

  const fs::path file = kTranscripts / (GetParam() + ".txt");
  Transcript expected = parse(file);
  const auto expand = [&](const std::string& text) {
    return replace_all(replace_all(text, "{tmp}", tmp), "{port}", std::to_string(port));
  };
  const auto placeholders = [&](const std::string& text) {
    return replace_all(replace_all(text, tmp, "{tmp}"), std::to_string(port), "{port}");
  };
  std::vector<std::string> argv = {TIPLINE_REVIEW_BINARY};
  for (const std::string& word : split_words(expected.command)) argv.push_back(expand(word));
  std::vector<std::string> environment = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + tmp,
                                          "LANG=C.UTF-8", "TERM=dumb", "COLUMNS=100"};
  for (const std::string& variable : expected.environment) {
    const std::string name = variable.substr(0, variable.find('=') + 1);
    std::erase_if(environment, [&name](const std::string& v) { return v.starts_with(name); });
    environment.push_back(expand(variable));
  }
  const auto outcome = run(argv, environment, dir.path(), expand(expected.stdin_text.value_or("")));

  Transcript actual = expected;
  actual.out = placeholders(outcome.out);
  actual.err = placeholders(outcome.err);
  actual.exit_code = outcome.exit_code;
  if (const char* update = std::getenv("TIPLINE_UPDATE_TRANSCRIPTS");
      update != nullptr && std::string_view(update) == "1") {
    write(file, actual);
    GTEST_SKIP() << "rewrote " << file;
  }
  EXPECT_EQ(actual.out, expected.out) << "standard output of " << file;
  EXPECT_EQ(actual.err, expected.err) << "standard error of " << file;
  EXPECT_EQ(actual.exit_code, expected.exit_code) << "exit code of " << file;
}

INSTANTIATE_TEST_SUITE_P(Transcripts, TranscriptTest, ::testing::ValuesIn(transcript_names()),
                         [](const auto& test) {
                           std::string name = test.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace tipline::review
