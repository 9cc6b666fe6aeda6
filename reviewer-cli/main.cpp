// tipline-review: the reviewers' tool. Decryption keys stay on the reviewer's machine.
#include <CLI/CLI.hpp>
#include <string>

#include "src/commands.h"
#include "src/file_commands.h"
#include "tipline/crypto/secret.h"
#include "tipline/version.h"

namespace {

using tipline::review::Filter;
using tipline::review::KeySource;

constexpr const char* kFileFooter = R"(Exit status:
   0  success
   1  any other failure (unreadable file, wrong passphrase for an identity file, ...)
   2  usage error
  10  no identity matched the file's recipients
  11  malformed age header
  12  malformed ASCII armor
  13  header MAC mismatch (the header was altered)
  14  payload corrupt or truncated
With -o, the output file appears only when the command succeeds; an existing file is
never overwritten. Without -o, output goes to standard output.)";

constexpr const char* kCaseFooter =
    R"(The case folder is --case DIR, else $TIPLINE_CASE, else ./tipline-case.
Exit status:
   0  success
   1  any other failure (unreadable file, wrong passphrase, ...)
   2  usage error
   3  no case folder, or a damaged one
   4  no submission in the case folder matches the ID, or several do
  10  the identity cannot open a report (sealed to other recipients)
  11-14  a ciphertext in the case folder is malformed, altered or truncated
  20  the server cannot be reached (connection, name, proxy or timeout)
  21  TLS failure: the server's certificate is not the one trusted
  22  the server refused the request signature (unknown or disabled reviewer,
      another key, this machine's clock off by more than 5 minutes)
  23  the server refused: an admin-only request
  24  the server does not know the submission (deleted meanwhile?)
  25  the recipient bundle fails its check: not signed by the organisation root key,
      older than one this case has seen, or expired
  26  any other refusal or malformed answer from the server)";

bool is_day(const std::string& text) { return tipline::review::valid_day(text); }

void add_filters(CLI::App* command, Filter& filter) {
  const auto day = CLI::Validator(
      [](const std::string& text) { return is_day(text) ? std::string() : "expected YYYY-MM-DD"; },
      "YYYY-MM-DD");
  command->add_option("--status", filter.status, "Only submissions with this status");
  command->add_option("--label", filter.label, "Only submissions with this label");
  command->add_option("--assignee", filter.assignee, "Only submissions assigned to this reviewer");
  command->add_option("--since", filter.since, "Only submissions received on this day or later")
      ->check(day);
  command->add_option("--until", filter.until, "Only submissions received on this day or earlier")
      ->check(day);
}

void add_key_options(CLI::App* command, KeySource& keys) {
  command->add_option("--identity", keys.identity,
                      "The age identity file (default: the one `init --identity` saved); a "
                      "passphrase-protected one asks for its passphrase");
  command->add_option("--passphrase-file", keys.passphrase_file,
                      "Read the identity's passphrase from the first line of this file instead "
                      "of the terminal");
}

// A subcommand: `what` is one line for the command list, `details` leads its own --help
// footer, before the exit codes.
CLI::App* add_case_command(CLI::App& app, const std::string& name, const std::string& what,
                           const std::string& details = "") {
  auto* command = app.add_subcommand(name, what);
  command->footer(details.empty() ? std::string(kCaseFooter) : details + "\n\n" + kCaseFooter);
  return command;
}

}  // namespace

int main(int argc, char** argv) {
  namespace review = tipline::review;
  tipline::crypto::initialize();
  CLI::App app("tipline-review: read and triage Tipline reports with offline keys",
               "tipline-review");
  app.set_version_flag("--version", std::string("tipline-review ") + tipline::kVersion);
  app.footer(kCaseFooter);
  app.require_subcommand(1);
  app.fallthrough();

  std::filesystem::path case_dir = "tipline-case";
  app.add_option("--case", case_dir,
                 "The case folder (default: $TIPLINE_CASE, else ./tipline-case)")
      ->envname("TIPLINE_CASE");

  review::InitOptions init_options;
  auto* init = add_case_command(
      app, "init", "Create a case folder for one server, with a new request-signing key",
      "Makes the case folder (mode 0700) with case.json, signing.key (mode 0600), and copies\n"
      "of --root-key and --ca-file. Prints the public key and the command an administrator\n"
      "runs on the server host to register it. An existing case folder is never touched.");
  init->add_option("--server", init_options.server, "The reviewer API, https://HOST[:PORT]")
      ->required();
  init->add_option("--reviewer", init_options.reviewer, "Your reviewer ID on the server")
      ->required();
  init->add_option("--ca-file", init_options.ca_file,
                   "Trust only this PEM certificate for the server (copied into the case)");
  init->add_option("--proxy", init_options.proxy,
                   "Connect through this proxy; socks5h://127.0.0.1:9050 for Tor");
  init->add_option("--root-key", init_options.root_key,
                   "The organisation root public key (minisign .pub) that signs the recipient "
                   "bundle (copied into the case)");
  init->add_option("--identity", init_options.identity,
                   "Your offline age identity file, used by default to decrypt");

  auto* sync = add_case_command(
      app, "sync", "Fetch new and changed submissions, their ciphertexts and deletions",
      "Checks the server's recipient bundle against the organisation root key first and\n"
      "refuses a bundle that does not verify. Ciphertexts come in 8 MiB ranges through\n"
      ".partial files, so an interrupted sync resumes where it stopped; the cursor is saved\n"
      "after each page. Shows progress on a terminal, and a summary line at the end.");

  review::ListOptions list_options;
  auto* list = add_case_command(app, "list", "List the submissions in the case folder (offline)");
  add_filters(list, list_options.filter);
  list->add_flag("--json", list_options.json, "Print JSON instead of a table");

  review::SearchOptions search_options;
  auto* search = add_case_command(
      app, "search", "Find reports whose answers contain TEXT (decrypts locally)",
      "Decrypts each selected report with the identity on this machine and lists those\n"
      "whose answers contain TEXT, ignoring case. Needs no network.");
  search->add_option("TEXT", search_options.text, "The text to look for")->required();
  add_filters(search, search_options.filter);
  add_key_options(search, search_options.keys);
  search->add_flag("--json", search_options.json, "Print JSON instead of a table");

  std::string show_id;
  KeySource show_keys;
  auto* show = add_case_command(
      app, "show", "Show a decrypted report, its attachments and notes (offline)",
      "Control characters in decrypted text are shown as visible symbols, never sent to\n"
      "the terminal. Needs no network.");
  show->add_option("ID", show_id, "The submission: at least 4 leading hex digits of its ID")
      ->required();
  add_key_options(show, show_keys);

  review::DecryptOptions decrypt_options;
  auto* decrypt = add_case_command(
      app, "decrypt", "Write a report and its attachments into a folder (offline)",
      "Writes report.json and attachment-N.EXT (EXT from the content: jpg, png, webp, gif,\n"
      "pdf, zip, mp4, else bin), each mode 0600. Refuses when any of these files exists,\n"
      "and refuses a folder inside the case folder. --clean runs mat2 (Debian package\n"
      "mat2) to write attachment-N.cleaned.EXT beside each original. Needs no network.");
  decrypt->add_option("ID", decrypt_options.id, "The submission (at least 4 hex digits)")
      ->required();
  decrypt->add_option("--out", decrypt_options.out, "The folder to write into (made if missing)")
      ->required();
  decrypt->add_flag("--clean", decrypt_options.clean,
                    "Also make a metadata-stripped copy of each attachment with mat2 "
                    "(attachment-N.cleaned.EXT), keeping the original");
  add_key_options(decrypt, decrypt_options.keys);

  review::TriageOptions triage_options;
  auto* status = add_case_command(app, "status", "Set a submission's status on the server");
  status->add_option("ID", triage_options.id, "The submission (at least 4 hex digits)")->required();
  std::string new_status;
  status->add_option("STATUS", new_status, "new, in_review, escalated, closed or spam")
      ->required()
      ->check(CLI::IsMember({"new", "in_review", "escalated", "closed", "spam"}));

  auto* label = add_case_command(app, "label", "Add labels to a submission (or remove them)");
  label->add_option("ID", triage_options.id, "The submission (at least 4 hex digits)")->required();
  std::vector<std::string> labels;
  label->add_option("LABEL", labels, "Labels: 1 to 64 characters each")->required();
  bool remove_labels = false;
  label->add_flag("--remove", remove_labels, "Remove the labels instead of adding them");

  auto* assign = add_case_command(app, "assign", "Assign a submission to a reviewer, or to nobody");
  assign->add_option("ID", triage_options.id, "The submission (at least 4 hex digits)")->required();
  std::string assignee;
  auto* assignee_option = assign->add_option("REVIEWER", assignee, "The reviewer's ID");
  bool unassign = false;
  assign->add_flag("--none", unassign, "Clear the assignee")->excludes(assignee_option);

  std::string note_id;
  std::optional<std::string> note_text;
  auto* note = add_case_command(
      app, "note", "Add an encrypted note to a submission",
      "The note (TEXT, or standard input) is padded and sealed on this machine to the\n"
      "recipients of the server's recipient bundle, checked against the root key, so the\n"
      "server cannot read it. Prefer standard input: TEXT shows in `ps` and in the\n"
      "shell's history.");
  note->add_option("ID", note_id, "The submission (at least 4 hex digits)")->required();
  note->add_option("TEXT", note_text, "The note (default: read from standard input)");

  std::string delete_id;
  bool delete_confirmed = false;
  auto* remove = add_case_command(
      app, "delete", "Delete a submission on the server and in this case folder",
      "The deletion is for every reviewer and cannot be undone. On a terminal it asks for\n"
      "confirmation; without one it needs --yes.");
  remove->add_option("ID", delete_id, "The submission (at least 4 hex digits)")->required();
  remove->add_flag("--yes", delete_confirmed,
                   "Do not ask for confirmation (required without a terminal)");

  bool audit_json = false;
  auto* audit = add_case_command(app, "audit", "Show the server's audit log (admin role only)");
  audit->add_flag("--json", audit_json, "Print JSON instead of a table");

  review::ExportOptions export_options;
  auto* export_command = add_case_command(
      app, "export", "Export decrypted reports as CSV or JSON (offline)",
      "Columns: id, received_day, status, assignee, labels, then one per question. CSV\n"
      "cells starting with = + - @ get a leading ' so spreadsheets do not run them. With\n"
      "--out the file (mode 0600) appears only when complete and is never overwritten.");
  export_command->add_option("--format", export_options.format, "csv or json")
      ->required()
      ->check(CLI::IsMember({"csv", "json"}));
  export_command->add_option("--out", export_options.out,
                             "Write here (mode 0600, never overwritten) instead of standard "
                             "output");
  add_filters(export_command, export_options.filter);
  add_key_options(export_command, export_options.keys);

  review::ReportOptions report_options;
  auto* report = add_case_command(
      app, "report", "Count reports by incident type, country and month (offline)",
      "Prints a summary (or --json). --csv writes dimension,value,count rows; --html one\n"
      "self-contained page with bar charts (inline SVG, no scripts, nothing fetched).");
  report->add_option("--csv", report_options.csv, "Write the counts as CSV here");
  report->add_option("--html", report_options.html, "Write the HTML page here");
  report->add_flag("--json", report_options.json, "Print the summary as JSON");
  add_filters(report, report_options.filter);
  add_key_options(report, report_options.keys);

  review::FileOptions options;
  std::string passphrase_file;
  auto* file =
      app.add_subcommand("file", "age files, like the stock `age` tool: keygen, encrypt, decrypt");
  file->require_subcommand(1);
  file->footer(kFileFooter);

  auto* keygen = file->add_subcommand(
      "keygen", "Make a new X25519 identity (as age-keygen); prints its public key");
  keygen->add_option("-o,--output", options.output, "Write the identity here (mode 0600)");
  keygen->add_flag("-p,--passphrase", options.passphrase,
                   "Protect the identity file with a passphrase (readable by `age -d -i`)");
  keygen->add_option("--passphrase-file", passphrase_file,
                     "Read the passphrase from the first line of this file instead of the "
                     "terminal");

  auto* encrypt = file->add_subcommand("encrypt", "Encrypt IN (or standard input) with age");
  encrypt->add_option("-r,--recipient", options.recipients, "An age1... recipient (repeatable)")
      ->allow_extra_args(false);
  encrypt->add_flag("-p,--passphrase", options.passphrase, "Encrypt to a passphrase (scrypt)");
  encrypt->add_option("--passphrase-file", passphrase_file,
                      "Read the passphrase from the first line of this file");
  encrypt->add_flag("-a,--armor", options.armor, "Write PEM-armored text");
  encrypt->add_option("-o,--output", options.output, "Write here instead of standard output");
  encrypt->add_option("IN", options.input, "Input file (default: standard input)");

  auto* file_decrypt = file->add_subcommand(
      "decrypt", "Decrypt IN (or standard input); armor is detected automatically");
  file_decrypt
      ->add_option("-i,--identity", options.identity_files,
                   "An identity file, possibly passphrase-protected (repeatable); without "
                   "one, the file's passphrase is asked for")
      ->allow_extra_args(false);
  file_decrypt->add_option("--passphrase-file", passphrase_file,
                           "Read passphrases from the first line of this file");
  file_decrypt->add_option("-o,--output", options.output, "Write here instead of standard output");
  file_decrypt->add_option("IN", options.input, "Input file (default: standard input)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : review::kUsage;
  }
  if (*file) {
    if (!passphrase_file.empty()) options.passphrase_file = passphrase_file;
    if (*keygen) return review::file_keygen(options);
    if (*encrypt) return review::file_encrypt(options);
    return review::file_decrypt(options);
  }
  if (*init) return review::run_init(case_dir, init_options);
  if (*sync) return review::run_sync(case_dir);
  if (*list) return review::run_list(case_dir, list_options);
  if (*search) return review::run_search(case_dir, search_options);
  if (*show) return review::run_show(case_dir, show_id, show_keys);
  if (*decrypt) return review::run_decrypt(case_dir, decrypt_options);
  if (*export_command) return review::run_export(case_dir, export_options);
  if (*report) return review::run_report(case_dir, report_options);
  if (*audit) return review::run_audit(case_dir, audit_json);
  if (*note) return review::run_note(case_dir, note_id, note_text);
  if (*remove) return review::run_delete(case_dir, delete_id, delete_confirmed);
  if (*status) triage_options.status = new_status;
  if (*label) (remove_labels ? triage_options.remove_labels : triage_options.add_labels) = labels;
  if (*assign) {
    if (!unassign && assignee.empty()) {
      std::cerr << "tipline-review: assign needs a REVIEWER, or --none to clear the assignee\n";
      return review::kUsage;
    }
    triage_options.assignee = unassign ? std::string() : assignee;
  }
  return review::run_triage(case_dir, triage_options);
}
