// The case folder: everything `tipline-review` keeps about one tip line, on one machine.
//
//   CASE/                    mode 0700
//     case.json              settings (Settings below)
//     signing.key            the online Ed25519 request-signing key, mode 0600
//     root.pub               the organisation root public key (minisign), when given
//     server-ca.pem          the server's certificate to trust, when given
//     bundle.json            the last recipient bundle fetched by sync, as the server sent it
//     index.json             the cursor and every submission's metadata (Index below)
//     submissions/ID/        the ciphertexts of one submission, exactly as the server holds
//                            them: report.age, attachment-N.age (N from 1), note-NOTE.age
//
// Only ciphertext and metadata live here: decrypted plaintext is never written to the case
// folder. index.json is the one file `list` reads, so listings stay fast with thousands of
// submissions; it is replaced atomically (written beside, fsynced, renamed).
// Thread safety: plain values and free functions; one process at a time per case folder.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace tipline::review {

struct Settings {
  std::string server;    // "https://host[:port]", no trailing slash
  std::string reviewer;  // the keyid the server knows this reviewer by
  std::string proxy;     // empty: connect directly (environment proxies are ignored)
  std::optional<std::filesystem::path> identity;  // the offline age identity file
};

struct BlobRef {
  std::int64_t blob = 0;
  std::uint64_t size = 0;
};

struct NoteRef {
  std::int64_t id = 0;
  std::string reviewer;
  std::int64_t created_at = 0;  // Unix seconds
  BlobRef blob;
};

// One submission's metadata, as the reviewer API's change list gives it.
struct Submission {
  std::string id;            // 32 lowercase hex digits
  std::string received_day;  // YYYY-MM-DD
  std::int64_t change_seq = 0;
  std::string status;
  std::string assignee;  // empty: nobody
  std::vector<std::string> labels;
  BlobRef report;
  std::vector<BlobRef> attachments;
  std::vector<NoteRef> notes;
};

struct Index {
  std::int64_t cursor = 0;
  std::map<std::string, Submission, std::less<>> submissions;  // by id
};

enum class CaseErrc {
  missing,  // no case folder (or no case.json in it)
  damaged,  // a file of the case folder is unreadable or malformed
  exists,   // create(): there is already something at the path
  io,       // writing failed
};

struct CaseError {
  CaseErrc code;
  std::string message;
};

// True for exactly 32 lowercase hex digits: only such ids ever name a folder.
[[nodiscard]] bool valid_submission_id(std::string_view id);
// True for YYYY-MM-DD with digits in place (not a calendar check).
[[nodiscard]] bool valid_day(std::string_view day);

// A submission from an entry of the change list (or of index.json); refuses anything that
// is not as the reviewer API describes it, so a hostile server cannot name a path.
[[nodiscard]] tl::expected<Submission, std::string> submission_from_json(
    const boost::json::value& entry);
[[nodiscard]] boost::json::value submission_to_json(const Submission& submission);

class CaseFolder {
 public:
  // Opens an existing case folder. Errors: missing, damaged.
  [[nodiscard]] static tl::expected<CaseFolder, CaseError> open(const std::filesystem::path& root);
  // Makes the folder (0700, with missing parents) and writes case.json. Errors: exists, io.
  [[nodiscard]] static tl::expected<CaseFolder, CaseError> create(const std::filesystem::path& root,
                                                                  const Settings& settings);

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  [[nodiscard]] const Settings& settings() const { return settings_; }

  [[nodiscard]] std::filesystem::path signing_key_file() const { return root_ / "signing.key"; }
  [[nodiscard]] std::filesystem::path root_key_file() const { return root_ / "root.pub"; }
  [[nodiscard]] std::filesystem::path ca_file() const { return root_ / "server-ca.pem"; }
  [[nodiscard]] std::filesystem::path bundle_file() const { return root_ / "bundle.json"; }
  [[nodiscard]] std::filesystem::path submission_folder(std::string_view id) const;
  [[nodiscard]] std::filesystem::path report_file(std::string_view id) const;
  // n counts from 1, as attachments are shown to reviewers.
  [[nodiscard]] std::filesystem::path attachment_file(std::string_view id, std::size_t n) const;
  [[nodiscard]] std::filesystem::path note_file(std::string_view id, std::int64_t note) const;

  // An empty index (cursor 0) before the first sync. Errors: damaged.
  [[nodiscard]] tl::expected<Index, CaseError> load_index() const;
  // Errors: io.
  [[nodiscard]] tl::expected<void, CaseError> save_index(const Index& index) const;
  // Removes a submission's ciphertexts. Errors: io.
  [[nodiscard]] tl::expected<void, CaseError> remove_submission(std::string_view id) const;

 private:
  CaseFolder(std::filesystem::path root, Settings settings)
      : root_(std::move(root)), settings_(std::move(settings)) {}

  std::filesystem::path root_;
  Settings settings_;
};

// Writes `bytes` to `file` atomically: a temporary file beside it with `mode`, fsynced, then
// renamed over `file` (replacing it). For the case folder's own files only.
[[nodiscard]] tl::expected<void, std::string> replace_file(const std::filesystem::path& file,
                                                           std::string_view bytes,
                                                           unsigned mode = 0600);
// A small file's whole text (at most max_bytes). Errors name the file.
[[nodiscard]] tl::expected<std::string, std::string> read_small_file(
    const std::filesystem::path& file, std::size_t max_bytes = std::size_t{64} << 20);

}  // namespace tipline::review
