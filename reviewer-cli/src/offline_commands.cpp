// list, search, show, decrypt, export and report: the case folder and the identity only.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <set>

#include "command_support.h"
#include "commands.h"
#include "csv.h"
#include "output.h"
#include "questions.h"
#include "report_counts.h"
#include "sniff.h"
#include "table.h"
#include "terminal_text.h"

namespace tipline::review {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

tl::expected<void, Failure> write_output(const fs::path& path, std::string_view text) {
  auto output = Output::open(path, 0600);
  if (!output) return tl::unexpected(Failure{kFailure, output.error()});
  auto written = output->write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  if (written) written = output->commit();
  if (!written) return tl::unexpected(Failure{kFailure, written.error()});
  return {};
}

std::string labels_text(const Submission& submission) {
  std::string text;
  for (const auto& label : submission.labels) text += (text.empty() ? "" : ", ") + label;
  return text.empty() ? "-" : text;
}

// The listing table of list and search: the id cut to 8 digits, the rest as the index has it.
std::string listing_table(const std::vector<const Submission*>& submissions) {
  const std::vector<Column> columns = {
      {"ID", false, 0, kShortIdLength},
      {"RECEIVED", false, 0, 10},
      {"STATUS", false, 3, 6},
      {"ASSIGNEE", false, 2, 6},
      {"LABELS", false, 1, 6},
      {"FILES", true, 0, 5},
      {"NOTES", true, 0, 5},
  };
  std::vector<std::vector<std::string>> rows;
  rows.reserve(submissions.size());
  for (const Submission* submission : submissions) {
    rows.push_back(
        {short_id(submission->id), submission->received_day, terminal_safe(submission->status),
         submission->assignee.empty() ? "-" : terminal_safe(submission->assignee),
         terminal_safe(labels_text(*submission)), std::to_string(submission->attachments.size()),
         std::to_string(submission->notes.size())});
  }
  return render_table(columns, rows, output_width());
}

std::string listing_json(const std::vector<const Submission*>& submissions) {
  json::array array;
  array.reserve(submissions.size());
  for (const Submission* submission : submissions) {
    array.push_back(submission_to_json(*submission));
  }
  return json::serialize(array) + "\n";
}

// The opened case, its index and the reviewer's keys, as every decrypting command needs.
struct Opened {
  CaseFolder folder;
  Index index;
};

tl::expected<Opened, Failure> open_with_index(const fs::path& case_dir) {
  auto folder = open_case(case_dir);
  if (!folder) return tl::unexpected(folder.error());
  auto index = load_index(*folder);
  if (!index) return tl::unexpected(index.error());
  return Opened{std::move(*folder), std::move(*index)};
}

bool answers_contain(const json::object& answers, const std::string& folded_text) {
  for (const auto& entry : answers) {
    if (fold_case(answer_text(entry.value(), "\n")).find(folded_text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// An answer for the terminal, indented under its question.
std::string indented(std::string_view text, std::string_view indent) {
  std::string out(indent);
  for (const char c : terminal_safe(text, true)) {
    out += c;
    if (c == '\n') out += indent;
  }
  return out;
}

std::optional<std::string> find_program(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    const std::size_t colon = rest.find(':');
    const std::string_view folder = rest.substr(0, colon);
    const fs::path candidate = fs::path(std::string(folder)) / std::string(name);
    if (!folder.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
  }
  return std::nullopt;
}

// Runs mat2 on one file; it writes FILE.cleaned.EXT beside it and keeps the original.
tl::expected<void, std::string> run_mat2(const std::string& mat2, const fs::path& file) {
  std::vector<std::string> arguments = {mat2, "--", file.string()};
  std::vector<char*> argv;
  argv.reserve(arguments.size() + 1);
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // mat2 reports to stdout; keep our standard output for our own results.
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, mat2.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return tl::unexpected("cannot run " + mat2 + ": " + std::strerror(spawned));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return tl::unexpected("mat2 could not clean " + file.string());
  }
  return {};
}

bool inside(const fs::path& path, const fs::path& folder) {
  std::error_code ec;
  const fs::path canonical_path = fs::weakly_canonical(fs::absolute(path, ec), ec);
  const fs::path canonical_folder = fs::weakly_canonical(fs::absolute(folder, ec), ec);
  const auto [folder_end, path_at] = std::mismatch(canonical_folder.begin(), canonical_folder.end(),
                                                   canonical_path.begin(), canonical_path.end());
  return folder_end == canonical_folder.end();
}

// Refuses an output path inside the case folder: plaintext must never land there (the
// folder is copied between machines as ciphertext only). `option` names it in the message.
tl::expected<void, Failure> outside_case(const fs::path& path, const CaseFolder& folder,
                                         std::string_view option) {
  if (!inside(path, folder.root())) return {};
  return tl::unexpected(Failure{kUsage, path.string() +
                                            " is inside the case folder, which holds only "
                                            "ciphertext: choose another " +
                                            std::string(option)});
}

// Decrypts every selected report; the first failure stops (export and report are all or
// nothing, so that no count or table silently leaves a report out).
template <class Use>
tl::expected<void, Failure> for_each_report(const Opened& opened, const Filter& filter,
                                            const Keyring& keyring, Use&& use) {
  for (const Submission* submission : select(opened.index, filter)) {
    auto answers = read_report(opened.folder, *submission, keyring);
    if (!answers) return tl::unexpected(answers.error());
    use(*submission, *answers);
  }
  return {};
}

}  // namespace

int run_list(const fs::path& case_dir, const ListOptions& options) {
  auto opened = open_with_index(case_dir);
  if (!opened) return report_failure(opened.error());
  const auto selected = select(opened->index, options.filter);
  if (options.json) {
    std::cout << listing_json(selected);
    return kSuccess;
  }
  if (selected.empty()) {
    std::cerr << (opened->index.submissions.empty()
                      ? "No submissions in the case folder (run `tipline-review sync`).\n"
                      : "No submission matches.\n");
    return kSuccess;
  }
  std::cout << listing_table(selected);
  return kSuccess;
}

int run_search(const fs::path& case_dir, const SearchOptions& options) {
  auto opened = open_with_index(case_dir);
  if (!opened) return report_failure(opened.error());
  auto keyring = Keyring::load(opened->folder, options.keys);
  if (!keyring) return report_failure(keyring.error());
  const std::string wanted = fold_case(options.text);
  std::vector<const Submission*> found;
  std::optional<Failure> first_failure;
  std::size_t failures = 0;
  for (const Submission* submission : select(opened->index, options.filter)) {
    auto answers = read_report(opened->folder, *submission, *keyring);
    if (!answers) {
      warn(answers.error().message);
      if (!first_failure) first_failure = answers.error();
      ++failures;
      continue;
    }
    if (answers_contain(*answers, wanted)) found.push_back(submission);
  }
  if (options.json) {
    std::cout << listing_json(found);
  } else if (found.empty()) {
    std::cerr << "No report matches.\n";
  } else {
    std::cout << listing_table(found);
  }
  if (first_failure) {
    return report_failure(
        {first_failure->code, std::to_string(failures) + " reports could not be searched"});
  }
  return kSuccess;
}

int run_show(const fs::path& case_dir, const std::string& id, const KeySource& keys) {
  auto opened = open_with_index(case_dir);
  if (!opened) return report_failure(opened.error());
  auto submission = resolve_id(opened->index, id);
  if (!submission) return report_failure({kUnknownSubmission, submission.error()});
  const Submission& s = **submission;
  auto keyring = Keyring::load(opened->folder, keys);
  if (!keyring) return report_failure(keyring.error());
  auto answers = read_report(opened->folder, s, *keyring);
  if (!answers) return report_failure(answers.error());

  std::string text = "Submission " + s.id + "\n";
  text += "Received " + s.received_day + " \xC2\xB7 status " + terminal_safe(s.status) +
          " \xC2\xB7 assignee " + (s.assignee.empty() ? "-" : terminal_safe(s.assignee)) +
          " \xC2\xB7 labels " + terminal_safe(labels_text(s)) + "\n";
  for (const std::string& question : answer_order(*answers)) {
    const json::value& answer = answers->at(question);
    text += "\n" + terminal_safe(question_label(question)) + "\n";
    if (answer.is_array()) {
      for (const json::value& item : answer.get_array()) {
        const std::string value =
            item.is_string() ? option_label(question, item.get_string()) : answer_text(item);
        text += indented("- " + value, "  ") + "\n";
      }
    } else {
      text += indented(answer_text(answer), "  ") + "\n";
    }
  }
  text += "\nAttachments: " + std::to_string(s.attachments.size()) + "\n";
  for (std::size_t n = 1; n <= s.attachments.size(); ++n) {
    text += "  " + std::to_string(n) + "  " + size_text(s.attachments[n - 1].size) + " (sealed)\n";
  }
  if (!s.attachments.empty()) {
    text += "  Write them out with: tipline-review decrypt " + short_id(s.id) + " --out DIR\n";
  }
  text += "\nNotes: " + std::to_string(s.notes.size()) + "\n";
  int code = kSuccess;
  for (const NoteRef& note : s.notes) {
    text += "  " + time_text(note.created_at) + "  " + terminal_safe(note.reviewer) + "\n";
    auto body = read_note(opened->folder, s, note, *keyring);
    if (body) {
      text += indented(*body, "    ") + "\n";
    } else {
      text += "    [" + terminal_safe(body.error().message) + "]\n";
      code = body.error().code;
    }
  }
  std::cout << text;
  return code;
}

int run_decrypt(const fs::path& case_dir, const DecryptOptions& options) {
  auto opened = open_with_index(case_dir);
  if (!opened) return report_failure(opened.error());
  auto submission = resolve_id(opened->index, options.id);
  if (!submission) return report_failure({kUnknownSubmission, submission.error()});
  const Submission& s = **submission;
  if (auto outside = outside_case(options.out, opened->folder, "--out folder"); !outside) {
    return report_failure(outside.error());
  }
  std::optional<std::string> mat2;
  if (options.clean) {
    mat2 = find_program("mat2");
    if (!mat2) {
      return report_failure({kFailure,
                             "--clean needs mat2 (Debian package mat2), which is not installed; "
                             "nothing was written"});
    }
  }
  auto keyring = Keyring::load(opened->folder, options.keys);
  if (!keyring) return report_failure(keyring.error());

  // Name every file first, so that nothing is written when any name is taken.
  struct Planned {
    fs::path sealed;
    fs::path plain;
    std::optional<fs::path> cleaned;
  };
  std::vector<Planned> attachments;
  for (std::size_t n = 1; n <= s.attachments.size(); ++n) {
    const fs::path sealed = opened->folder.attachment_file(s.id, n);
    auto start = decrypt_prefix(sealed, *keyring, kSniffBytes);
    if (!start) return report_failure(start.error());
    const std::string extension(sniff_extension(start->expose()));
    const std::string stem = "attachment-" + std::to_string(n);
    Planned planned{sealed, options.out / (stem + "." + extension), std::nullopt};
    if (options.clean && extension != "bin") {
      planned.cleaned = options.out / (stem + ".cleaned." + extension);
    }
    attachments.push_back(std::move(planned));
  }
  std::vector<fs::path> names = {options.out / "report.json"};
  for (const Planned& planned : attachments) {
    names.push_back(planned.plain);
    if (planned.cleaned) names.push_back(*planned.cleaned);
  }
  std::error_code ec;
  for (const fs::path& name : names) {
    if (fs::exists(fs::symlink_status(name, ec))) {
      return report_failure({kFailure, name.string() +
                                           " exists; refusing to overwrite anything (nothing "
                                           "was written)"});
    }
  }
  fs::create_directories(options.out, ec);
  if (ec) return report_failure({kFailure, options.out.string() + ": " + ec.message()});

  auto document = read_report_document(opened->folder, s, *keyring);
  if (!document) return report_failure(document.error());
  {
    auto output = Output::open(names.front(), 0600);
    if (!output) return report_failure({kFailure, output.error()});
    auto written = output->write(document->bytes());
    if (written) written = output->commit();
    if (!written) return report_failure({kFailure, written.error()});
  }
  std::cout << names.front().string() << '\n';
  int code = kSuccess;
  for (const Planned& planned : attachments) {
    auto output = Output::open(planned.plain, 0600);
    if (!output) return report_failure({kFailure, output.error()});
    auto done = decrypt_file(planned.sealed, *keyring, [&](std::span<const std::uint8_t> bytes) {
      if (auto written = output->write(bytes); !written) {
        return tl::expected<void, crypto::Error>(tl::unexpect,
                                                 crypto::Error{crypto::Errc::io, written.error()});
      }
      return tl::expected<void, crypto::Error>{};
    });
    if (!done) return report_failure(done.error());
    if (auto committed = output->commit(); !committed) {
      return report_failure({kFailure, committed.error()});
    }
    std::cout << planned.plain.string() << '\n';
    if (!planned.cleaned) {
      if (options.clean) {
        warn(planned.plain.string() + ": unknown file type, so mat2 cannot clean it");
      }
      continue;
    }
    if (auto cleaned = run_mat2(*mat2, planned.plain); !cleaned || !fs::exists(*planned.cleaned)) {
      warn(cleaned ? "mat2 made no " + planned.cleaned->string() : cleaned.error());
      code = kFailure;
      continue;
    }
    std::cout << planned.cleaned->string() << " (metadata removed by mat2)\n";
  }
  return code;
}

int run_export(const fs::path& case_dir, const ExportOptions& options) {
  auto opened = open_with_index(case_dir);
  if (!opened) return report_failure(opened.error());
  // Empty: standard output.
  if (!options.out.empty()) {
    if (auto outside = outside_case(options.out, opened->folder, "--out file"); !outside) {
      return report_failure(outside.error());
    }
  }
  auto keyring = Keyring::load(opened->folder, options.keys);
  if (!keyring) return report_failure(keyring.error());
  std::vector<std::pair<const Submission*, json::object>> reports;
  auto read = for_each_report(*opened, options.filter, *keyring,
                              [&](const Submission& submission, json::object& answers) {
                                reports.emplace_back(&submission, std::move(answers));
                              });
  if (!read) return report_failure(read.error());

  std::string text;
  if (options.format == "json") {
    json::array array;
    for (const auto& [submission, answers] : reports) {
      json::value entry = submission_to_json(*submission);
      json::object& object = entry.get_object();
      json::object exported{{"id", object["id"]},         {"received_day", object["received_day"]},
                            {"status", object["status"]}, {"assignee", object["assignee"]},
                            {"labels", object["labels"]}, {"answers", answers}};
      array.emplace_back(std::move(exported));
    }
    text = json::serialize(array) + "\n";
  } else {
    // One column per question any exported report answers, built-in questions first.
    json::object all_answers;
    for (const auto& [submission, answers] : reports) {
      for (const auto& entry : answers) all_answers[entry.key()] = nullptr;
    }
    const std::vector<std::string> questions = answer_order(all_answers);
    std::vector<std::string> heading = {"id", "received_day", "status", "assignee", "labels"};
    heading.insert(heading.end(), questions.begin(), questions.end());
    text = csv_row(heading);
    for (const auto& [submission, answers] : reports) {
      std::string labels;
      for (const auto& label : submission->labels) labels += (labels.empty() ? "" : "; ") + label;
      std::vector<std::string> row = {submission->id, submission->received_day, submission->status,
                                      submission->assignee, labels};
      for (const std::string& question : questions) {
        const json::value* answer = answers.if_contains(question);
        row.push_back(answer != nullptr ? answer_text(*answer) : std::string());
      }
      text += csv_row(row);
    }
  }
  if (auto written = write_output(options.out, text); !written) {
    return report_failure(written.error());
  }
  if (!options.out.empty()) {
    std::cerr << "Exported " << reports.size() << " reports to " << options.out.string() << '\n';
  }
  return kSuccess;
}

int run_report(const fs::path& case_dir, const ReportOptions& options) {
  auto opened = open_with_index(case_dir);
  if (!opened) return report_failure(opened.error());
  // Counts are plaintext too: checked before anything is decrypted.
  for (const auto& [path, option] :
       {std::pair{options.csv, "--csv file"}, std::pair{options.html, "--html file"}}) {
    if (!path) continue;
    if (auto outside = outside_case(*path, opened->folder, option); !outside) {
      return report_failure(outside.error());
    }
  }
  auto keyring = Keyring::load(opened->folder, options.keys);
  if (!keyring) return report_failure(keyring.error());
  Counts counts;
  auto read = for_each_report(
      *opened, options.filter, *keyring,
      [&counts](const Submission&, const json::object& answers) { count_report(counts, answers); });
  if (!read) return report_failure(read.error());

  if (options.csv) {
    if (auto written = write_output(*options.csv, counts_csv(counts)); !written) {
      return report_failure(written.error());
    }
  }
  if (options.html) {
    if (auto written = write_output(*options.html, counts_html(counts, "Tipline reports"));
        !written) {
      return report_failure(written.error());
    }
  }
  if (options.json) {
    std::cout << json::serialize(counts_json(counts)) << '\n';
  } else if (!options.csv && !options.html) {
    std::vector<std::vector<std::string>> rows;
    const json::value summary = counts_json(counts);
    for (const char* dimension : {"incident_type", "country", "month"}) {
      for (const json::value& row : summary.at(dimension).get_array()) {
        rows.push_back({dimension, terminal_safe(row.at("value").get_string()),
                        json::serialize(row.at("count"))});
      }
    }
    std::cout << "Reports: " << counts.reports << "\n\n"
              << render_table(
                     {{"DIMENSION", false, 0, 9}, {"VALUE", false, 1, 8}, {"COUNT", true, 0, 5}},
                     rows, output_width());
  }
  return kSuccess;
}

}  // namespace tipline::review
