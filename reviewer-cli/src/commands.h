// The case commands of tipline-review, one function each: they print what the user reads
// (results on standard output; errors, warnings and progress on standard error) and return
// the exit code (exit_codes.h). main.cpp turns the command line into these options.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "decryption.h"
#include "selection.h"

namespace tipline::review {

struct InitOptions {
  std::string server;
  std::string reviewer;
  std::optional<std::filesystem::path> ca_file;
  std::string proxy;
  std::optional<std::filesystem::path> root_key;
  std::optional<std::filesystem::path> identity;
};

struct ListOptions {
  Filter filter;
  bool json = false;
};

struct SearchOptions {
  std::string text;
  Filter filter;
  KeySource keys;
  bool json = false;
};

struct DecryptOptions {
  std::string id;
  std::filesystem::path out;
  bool clean = false;
  KeySource keys;
};

struct ExportOptions {
  std::string format;         // "csv" or "json"
  std::filesystem::path out;  // empty: standard output
  Filter filter;
  KeySource keys;
};

struct ReportOptions {
  std::optional<std::filesystem::path> csv;
  std::optional<std::filesystem::path> html;
  bool json = false;
  Filter filter;
  KeySource keys;
};

// One triage change; main.cpp sets exactly what the subcommand changes.
struct TriageOptions {
  std::string id;
  std::optional<std::string> status;
  std::optional<std::string> assignee;  // set with an empty string: clear the assignee
  std::vector<std::string> add_labels;
  std::vector<std::string> remove_labels;
};

// Offline: need only the case folder (and the identity for decrypting).
[[nodiscard]] int run_list(const std::filesystem::path& case_dir, const ListOptions& options);
[[nodiscard]] int run_search(const std::filesystem::path& case_dir, const SearchOptions& options);
[[nodiscard]] int run_show(const std::filesystem::path& case_dir, const std::string& id,
                           const KeySource& keys);
[[nodiscard]] int run_decrypt(const std::filesystem::path& case_dir, const DecryptOptions& options);
[[nodiscard]] int run_export(const std::filesystem::path& case_dir, const ExportOptions& options);
[[nodiscard]] int run_report(const std::filesystem::path& case_dir, const ReportOptions& options);

// Online: signed requests to the server.
[[nodiscard]] int run_init(const std::filesystem::path& case_dir, const InitOptions& options);
[[nodiscard]] int run_sync(const std::filesystem::path& case_dir);
[[nodiscard]] int run_triage(const std::filesystem::path& case_dir, const TriageOptions& options);
// text: the note, or nullopt to read it from standard input.
[[nodiscard]] int run_note(const std::filesystem::path& case_dir, const std::string& id,
                           const std::optional<std::string>& text);
[[nodiscard]] int run_delete(const std::filesystem::path& case_dir, const std::string& id,
                             bool confirmed);
[[nodiscard]] int run_audit(const std::filesystem::path& case_dir, bool json);

}  // namespace tipline::review
