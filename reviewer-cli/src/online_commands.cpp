// init, sync, the triage commands and audit: signed requests to the reviewer API.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>

#include "command_support.h"
#include "commands.h"
#include "output.h"
#include "recipient_bundle.h"
#include "secret_collector.h"
#include "table.h"
#include "terminal_text.h"
#include "tipline/crypto/padding.h"

namespace tipline::review {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The reviewer API serves at most this much of a blob per answer (kBlobWindowBytes).
constexpr std::uint64_t kBlobWindow = std::uint64_t{8} << 20;
constexpr int kPageLimit = 500;
constexpr std::size_t kMaxNoteBytes = std::size_t{1} << 20;
// audit holds the whole log in memory; a real one stays far below these.
constexpr std::size_t kMaxAuditEntries = 1'000'000;
constexpr std::size_t kMaxAuditBytes = std::size_t{256} << 20;

tl::unexpected<Failure> fail(int code, std::string message) {
  return tl::unexpected(Failure{code, std::move(message)});
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

tl::expected<json::value, Failure> parse_answer(const std::string& body, std::string_view what) {
  std::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) {
    return fail(kServerError, std::string(what) + ": the server's answer is not a JSON object");
  }
  return value;
}

// What sync shows while it works: a bar on a terminal, nothing otherwise.
class Progress {
 public:
  Progress() : terminal_(::isatty(STDERR_FILENO) == 1) {}
  void start_page(std::uint64_t bytes_to_fetch) {
    page_total_ = bytes_to_fetch;
    page_done_ = 0;
    draw(true);
  }
  void submission() {
    ++submissions_;
    draw(false);
  }
  void bytes(std::uint64_t count) {
    page_done_ += count;
    total_bytes_ += count;
    draw(false);
  }
  void blob() { ++blobs_; }
  void finish() const {
    if (terminal_) std::cerr << "\r\x1B[K" << std::flush;
  }
  [[nodiscard]] std::size_t blobs() const { return blobs_; }
  [[nodiscard]] std::uint64_t total_bytes() const { return total_bytes_; }

 private:
  void draw(bool force) {
    if (!terminal_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr std::size_t kWidth = 24;
    const std::size_t filled =
        page_total_ == 0 ? kWidth : static_cast<std::size_t>(page_done_ * kWidth / page_total_);
    std::cerr << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
              << submissions_ << " submissions, " << size_text(total_bytes_) << "\x1B[K"
              << std::flush;
  }

  bool terminal_;
  std::uint64_t page_total_ = 0;
  std::uint64_t page_done_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::size_t submissions_ = 0;
  std::size_t blobs_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

// The size of a file, or 0 when there is none.
std::uint64_t size_of(const fs::path& file) {
  struct stat info {};
  return ::stat(file.c_str(), &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
}

// How many bytes an answer to `Range: bytes=FIRST-LAST` of a SIZE byte blob must carry: a
// 206 whose Content-Range is "bytes FIRST-E/SIZE" with E <= LAST carries E - FIRST + 1, a
// 200 (the whole blob) only when FIRST is 0. Anything else: nullopt.
std::optional<std::uint64_t> expected_length(long status, std::string_view range,
                                             std::uint64_t first, std::uint64_t last,
                                             std::uint64_t size) {
  if (status == 200) return first == 0 ? std::optional(size) : std::nullopt;
  if (status != 206) return std::nullopt;
  const std::string prefix = "bytes " + std::to_string(first) + "-";
  const std::string suffix = "/" + std::to_string(size);
  if (!range.starts_with(prefix) || !range.ends_with(suffix) ||
      range.size() <= prefix.size() + suffix.size()) {
    return std::nullopt;
  }
  const std::string_view end_text =
      range.substr(prefix.size(), range.size() - prefix.size() - suffix.size());
  std::uint64_t end = 0;
  const auto [at, error] = std::from_chars(end_text.data(), end_text.data() + end_text.size(), end);
  if (error != std::errc() || at != end_text.data() + end_text.size() || end < first ||
      end > last) {
    return std::nullopt;
  }
  return end - first + 1;
}

// Downloads one blob into `file` through FILE.partial, by ranges of kBlobWindow bytes, so a
// broken sync resumes where it stopped. Blobs never change, so a complete file is kept.
// Only checked bytes stay in FILE.partial: an answer's status and range are judged before
// its first byte is written, and a failed answer's bytes are cut off again, since the next
// sync resumes from whatever the file holds.
tl::expected<void, Failure> download_blob(const Client& client, const fs::path& file,
                                          const BlobRef& blob, Progress& progress) {
  std::error_code ec;
  if (fs::exists(file, ec) && size_of(file) == blob.size) return {};
  const fs::path partial = file.string() + ".partial";
  fs::create_directories(file.parent_path(), ec);
  ::chmod(file.parent_path().c_str(), 0700);
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return fail(kFailure, partial.string() + ": " + std::strerror(errno));
  std::uint64_t offset = size_of(partial);
  if (offset > blob.size) {
    offset = 0;
    if (::ftruncate(fd, 0) != 0) {
      ::close(fd);
      return fail(kFailure, partial.string() + ": " + std::strerror(errno));
    }
  }
  const std::string what = "blob " + std::to_string(blob.blob);
  tl::expected<void, Failure> result;
  while (result && offset < blob.size) {
    const std::uint64_t last = std::min(offset + kBlobWindow, blob.size) - 1;
    std::optional<std::uint64_t> wanted;  // set by the head check
    bool wrong_range = false;
    std::uint64_t received = 0;
    const HeadCheck head_check = [&](long status,
                                     std::string_view range) -> tl::expected<void, std::string> {
      wanted = expected_length(status, range, offset, last, blob.size);
      if (!wanted) {
        wrong_range = true;
        return tl::unexpected(what + ": the server sent another range than asked for");
      }
      return {};
    };
    const BodySink sink =
        [&](std::span<const std::uint8_t> bytes) -> tl::expected<void, std::string> {
      if (!wanted || received + bytes.size() > *wanted) {
        return tl::unexpected(what + ": the server sent more than it announced");
      }
      std::size_t written = 0;
      while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return tl::unexpected(partial.string() + ": " + std::strerror(errno));
        written += static_cast<std::size_t>(n);
      }
      received += bytes.size();
      progress.bytes(bytes.size());
      return {};
    };
    Request request;
    request.target = "/api/v1/review/blobs/" + std::to_string(blob.blob);
    request.range = "bytes=" + std::to_string(offset) + "-" + std::to_string(last);
    request.sink = &sink;
    request.head_check = &head_check;
    auto response = client.send(request);
    if (!response) {
      result = wrong_range ? fail(kServerError, response.error().message)
                           : tl::unexpected(response.error());
    } else if (response->status != 200 && response->status != 206) {
      result = tl::unexpected(client.status_failure(*response, what));
    } else if (!wanted || received != *wanted) {
      // An empty answer (no head check ran), or one shorter than its own range.
      result = fail(kServerError, what + ": the server sent another range than asked for");
    }
    // Durable before the next window, so that a resumed download never trusts lost bytes.
    // A blob's last window is made durable with the rest of its page (sync_to_disk), before
    // the cursor moves past it: one flush per page instead of one per file.
    const bool more_windows = offset + received < blob.size;
    if (result && more_windows && ::fsync(fd) != 0) {
      result = fail(kFailure, partial.string() + ": " + std::strerror(errno));
    }
    if (result) {
      offset += received;
    } else if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      // Keep only what was there before this answer: it was checked when it came.
      result = fail(kFailure, partial.string() + ": " + std::strerror(errno) +
                                  " (delete it before the next sync)");
    }
  }
  ::close(fd);
  if (!result) return result;
  if (::rename(partial.c_str(), file.c_str()) != 0) {
    return fail(kFailure, file.string() + ": " + std::strerror(errno));
  }
  progress.blob();
  return {};
}

// Flushes every file written in the case folder's file system (the page's blobs) at once.
tl::expected<void, Failure> sync_to_disk(const fs::path& root) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::syncfs(fd) != 0) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return fail(kFailure, root.string() + ": cannot flush to disk: " + reason);
  }
  ::close(fd);
  return {};
}

// Every ciphertext of a submission, with the file the case folder keeps it in.
std::vector<std::pair<fs::path, BlobRef>> blobs_of(const CaseFolder& folder,
                                                   const Submission& submission) {
  std::vector<std::pair<fs::path, BlobRef>> blobs = {
      {folder.report_file(submission.id), submission.report}};
  for (std::size_t n = 1; n <= submission.attachments.size(); ++n) {
    blobs.emplace_back(folder.attachment_file(submission.id, n), submission.attachments[n - 1]);
  }
  for (const NoteRef& note : submission.notes) {
    blobs.emplace_back(folder.note_file(submission.id, note.id), note.blob);
  }
  return blobs;
}

// Every ciphertext of a submission that the case folder lacks. A blob the server no longer
// has (the submission was deleted meanwhile) is skipped: its deletion comes with a later page.
tl::expected<void, Failure> download_submission(const Client& client, const CaseFolder& folder,
                                                const Submission& submission, Progress& progress) {
  for (const auto& [file, blob] : blobs_of(folder, submission)) {
    auto downloaded = download_blob(client, file, blob, progress);
    if (!downloaded && downloaded.error().code == kNotFound) {
      warn("submission " + short_id(submission.id) + ": " + downloaded.error().message +
           " (deleted meanwhile?)");
      continue;
    }
    if (!downloaded) return downloaded;
  }
  return {};
}

std::uint64_t missing_bytes(const CaseFolder& folder, const Submission& submission) {
  std::uint64_t total = 0;
  for (const auto& [file, blob] : blobs_of(folder, submission)) {
    const std::uint64_t have =
        size_of(file) == blob.size ? blob.size : size_of(file.string() + ".partial");
    total += blob.size - std::min(have, blob.size);
  }
  return total;
}

// Fetches and checks the server's recipient bundle; keeps it as bundle.json when it is at
// least as new as the one the case has seen.
tl::expected<std::optional<RecipientBundle>, Failure> refresh_bundle(const Client& client,
                                                                     const CaseFolder& folder) {
  Request request;
  request.target = "/api/v1/keys";
  auto response = client.send(request);
  if (!response) return tl::unexpected(response.error());
  if (response->status == 503) {
    warn("the server has no recipient bundle installed yet");
    return std::nullopt;
  }
  if (response->status != 200) {
    return tl::unexpected(client.status_failure(*response, "the recipient bundle"));
  }
  auto root = load_root_key(folder);
  if (!root) return tl::unexpected(root.error());
  auto bundle = parse_keys_answer(response->body, *root ? &**root : nullptr);
  if (!bundle) return tl::unexpected(bundle.error());
  if (!bundle->verified) {
    warn(
        "this case has no organisation root key, so the recipient bundle's signature was not "
        "checked (give --root-key to `tipline-review init`)");
  }
  // The server refuses to install an expired bundle; one it still offers is stale (or
  // replayed), and a note sealed to it may go to recipients who have left.
  if (bundle_expired(*bundle, today_utc())) {
    return fail(kBundleMismatch, "the server offers recipient bundle version " +
                                     std::to_string(bundle->version) + ", which expired on " +
                                     bundle->expires +
                                     ": refusing an expired bundle (tell the administrators)");
  }
  if (auto saved = load_saved_bundle(folder); saved && saved->version > bundle->version) {
    return fail(kBundleMismatch, "the server offers recipient bundle version " +
                                     std::to_string(bundle->version) + ", older than version " +
                                     std::to_string(saved->version) +
                                     " this case has seen: refusing it (tell the administrators)");
  }
  if (auto written = replace_file(folder.bundle_file(), response->body); !written) {
    return fail(kFailure, written.error());
  }
  return std::move(*bundle);
}

// The local submission for an ID prefix, with the case and its client.
struct Target {
  CaseFolder folder;
  Index index;
  std::string id;
  Client client;
};

tl::expected<Target, Failure> open_target(const fs::path& case_dir, const std::string& prefix) {
  auto folder = open_case(case_dir);
  if (!folder) return tl::unexpected(folder.error());
  auto index = load_index(*folder);
  if (!index) return tl::unexpected(index.error());
  auto submission = resolve_id(*index, prefix);
  if (!submission) return fail(kUnknownSubmission, submission.error());
  std::string id = (*submission)->id;
  auto client = connect(*folder);
  if (!client) return tl::unexpected(client.error());
  return Target{std::move(*folder), std::move(*index), std::move(id), std::move(*client)};
}

Failure not_on_server(const Failure& failure, const std::string& id) {
  if (failure.code != kNotFound) return failure;
  return {kNotFound, "submission " + short_id(id) +
                         " is not on the server (deleted? run `tipline-review sync`)"};
}

}  // namespace

int run_init(const fs::path& case_dir, const InitOptions& options) {
  if (!crypto::request_signature::is_token(options.reviewer)) {
    return report_failure({kUsage, "the reviewer ID must be 1 to 64 of A-Z a-z 0-9 . _ -, not \"" +
                                       options.reviewer + "\""});
  }
  auto server = normalise_server_url(options.server);
  if (!server) return report_failure({kUsage, server.error()});
  if (!options.proxy.empty() && options.proxy.find("://") == std::string::npos) {
    return report_failure({kUsage,
                           "the proxy must be a URL such as socks5h://127.0.0.1:9050, "
                           "not \"" +
                               options.proxy + "\""});
  }
  if (options.proxy.starts_with("socks5://") || options.proxy.starts_with("socks4")) {
    warn("with " + options.proxy.substr(0, options.proxy.find(':')) +
         ":// this machine resolves the server's name itself; use socks5h:// so that Tor does "
         "(an onion address resolves only there)");
  }
  std::optional<std::string> root_key;
  if (options.root_key) {
    auto text = read_small_file(*options.root_key, std::size_t{16} << 10);
    if (!text) return report_failure({kUsage, text.error()});
    if (auto key = crypto::minisign::PublicKey::parse(*text); !key) {
      return report_failure({kUsage, options.root_key->string() +
                                         ": not a minisign public key: " + key.error().message});
    }
    root_key = std::move(*text);
  }
  std::optional<std::string> ca;
  if (options.ca_file) {
    auto text = read_small_file(*options.ca_file, std::size_t{1} << 20);
    if (!text) return report_failure({kUsage, text.error()});
    if (text->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return report_failure({kUsage, options.ca_file->string() + ": not a PEM certificate"});
    }
    ca = std::move(*text);
  }
  Settings settings{*server, options.reviewer, options.proxy, std::nullopt};
  if (options.identity) {
    std::error_code ec;
    settings.identity = fs::absolute(*options.identity, ec);
  }

  auto folder = CaseFolder::create(case_dir, settings);
  if (!folder) {
    return report_failure(
        {folder.error().code == CaseErrc::exists ? kUsage : kFailure, folder.error().message});
  }
  const auto key = crypto::request_signature::SigningKey::generate();
  const crypto::Secret key_text = key.serialize();
  tl::expected<void, std::string> written = replace_file(
      folder->signing_key_file(),
      {reinterpret_cast<const char*>(key_text.expose().data()), key_text.size()}, 0600);
  if (written && root_key) written = replace_file(folder->root_key_file(), *root_key, 0644);
  if (written && ca) written = replace_file(folder->ca_file(), *ca, 0644);
  if (!written) {
    // Leave nothing half made behind: the folder did not exist before.
    std::error_code ec;
    fs::remove_all(case_dir, ec);
    return report_failure({kFailure, written.error()});
  }
  const std::string public_key = crypto::request_signature::encode_public_key(key.public_key());
  std::cout << "Created the case folder " << case_dir.string() << " for reviewer "
            << options.reviewer << " at " << *server << ".\n"
            << "Request-signing public key: " << public_key << "\n\n"
            << "Ask an administrator to run this on the server host:\n\n"
            << "  tipline-server reviewers add " << options.reviewer << " --key " << public_key
            << "\n\nthen fetch the reports with `tipline-review sync`.\n";
  if (!root_key) {
    warn("no --root-key: sync cannot check that the recipient bundle is the organisation's");
  }
  return kSuccess;
}

int run_sync(const fs::path& case_dir) {
  auto folder = open_case(case_dir);
  if (!folder) return report_failure(folder.error());
  auto index = load_index(*folder);
  if (!index) return report_failure(index.error());
  auto client = connect(*folder);
  if (!client) return report_failure(client.error());
  auto bundle = refresh_bundle(*client, *folder);
  if (!bundle) return report_failure(bundle.error());

  Progress progress;
  std::size_t added = 0;
  std::size_t updated = 0;
  std::size_t deleted = 0;
  const auto finish_with = [&progress](const Failure& failure) {
    progress.finish();
    return report_failure(failure);
  };
  // Blobs an earlier, interrupted sync did not finish.
  std::uint64_t leftover = 0;
  for (const auto& [id, submission] : index->submissions) {
    leftover += missing_bytes(*folder, submission);
  }
  if (leftover > 0) {
    progress.start_page(leftover);
    for (const auto& [id, submission] : index->submissions) {
      if (missing_bytes(*folder, submission) == 0) continue;
      if (auto done = download_submission(*client, *folder, submission, progress); !done) {
        return finish_with(done.error());
      }
    }
  }
  for (bool more = true; more;) {
    Request request;
    request.target = "/api/v1/review/submissions?since=" + std::to_string(index->cursor) +
                     "&limit=" + std::to_string(kPageLimit);
    auto body = client->send_expecting(request, 200, "the change list");
    if (!body) return finish_with(body.error());
    auto page = parse_answer(*body, "the change list");
    if (!page) return finish_with(page.error());
    const json::object& object = page->get_object();
    const json::value* submissions = object.if_contains("submissions");
    const json::value* deletions = object.if_contains("deleted");
    const json::value* cursor = object.if_contains("cursor");
    const json::value* more_value = object.if_contains("more");
    if (submissions == nullptr || !submissions->is_array() || deletions == nullptr ||
        !deletions->is_array() || cursor == nullptr || !cursor->is_int64() ||
        cursor->get_int64() < index->cursor || more_value == nullptr || !more_value->is_bool()) {
      return finish_with({kServerError, "the change list is malformed"});
    }
    std::vector<Submission> changed;
    std::int64_t highest = index->cursor;
    for (const json::value& entry : submissions->get_array()) {
      auto submission = submission_from_json(entry);
      if (!submission) {
        return finish_with({kServerError, "the change list is malformed: " + submission.error()});
      }
      highest = std::max(highest, submission->change_seq);
      changed.push_back(std::move(*submission));
    }
    for (const json::value& entry : deletions->get_array()) {
      const json::value* seq =
          entry.is_object() ? entry.get_object().if_contains("change_seq") : nullptr;
      if (seq != nullptr && seq->is_int64()) highest = std::max(highest, seq->get_int64());
    }
    // A server that answers "more" forever would keep sync asking forever: a page that asks
    // for another must carry changes and move the cursor to the last of them.
    if (more_value->get_bool() &&
        ((changed.empty() && deletions->get_array().empty()) ||
         cursor->get_int64() <= index->cursor || cursor->get_int64() != highest)) {
      return finish_with(
          {kServerError, "the change list is malformed: more pages announced without progress"});
    }
    std::uint64_t page_bytes = 0;
    for (const Submission& submission : changed) page_bytes += missing_bytes(*folder, submission);
    progress.start_page(page_bytes);
    for (Submission& submission : changed) {
      if (auto done = download_submission(*client, *folder, submission, progress); !done) {
        return finish_with(done.error());
      }
      progress.submission();
      const bool known = index->submissions.contains(submission.id);
      ++(known ? updated : added);
      std::string id = submission.id;
      index->submissions.insert_or_assign(std::move(id), std::move(submission));
    }
    for (const json::value& entry : deletions->get_array()) {
      const json::value* id = entry.is_object() ? entry.get_object().if_contains("id") : nullptr;
      if (id == nullptr || !id->is_string() || !valid_submission_id(id->get_string())) {
        return finish_with({kServerError, "the change list has a malformed deletion"});
      }
      const std::string deleted_id(id->get_string());
      if (auto removed = folder->remove_submission(deleted_id); !removed) {
        return finish_with({kFailure, removed.error().message});
      }
      if (index->submissions.erase(deleted_id) > 0) ++deleted;
    }
    index->cursor = cursor->get_int64();
    // The page's blobs are in place and on disk: only now may the cursor move past it.
    if (auto flushed = sync_to_disk(folder->root()); !flushed) return finish_with(flushed.error());
    if (auto saved = save_index(*folder, *index); !saved) return finish_with(saved.error());
    more = more_value->get_bool();
  }
  progress.finish();
  std::cout << "Synced: " << added << " new, " << updated << " updated, " << deleted << " deleted; "
            << progress.blobs() << " files (" << size_text(progress.total_bytes())
            << ") downloaded; " << index->submissions.size() << " submissions in the case.\n";
  return kSuccess;
}

int run_triage(const fs::path& case_dir, const TriageOptions& options) {
  auto target = open_target(case_dir, options.id);
  if (!target) return report_failure(target.error());
  json::object change;
  if (options.status) change["status"] = *options.status;
  if (options.assignee) {
    change["assignee"] =
        options.assignee->empty() ? json::value(nullptr) : json::value(*options.assignee);
  }
  const auto labels = [](const std::vector<std::string>& list) {
    json::array array;
    for (const auto& label : list) array.emplace_back(label);
    return array;
  };
  if (!options.add_labels.empty()) change["add_labels"] = labels(options.add_labels);
  if (!options.remove_labels.empty()) change["remove_labels"] = labels(options.remove_labels);
  const std::string body = json::serialize(change);
  Request request;
  request.method = "POST";
  request.target = "/api/v1/review/submissions/" + target->id + "/triage";
  request.body = bytes_of(body);
  request.content_type = "application/json";
  auto answer = target->client.send_expecting(request, 200, "submission " + short_id(target->id));
  if (!answer) return report_failure(not_on_server(answer.error(), target->id));
  auto entry = parse_answer(*answer, "the triage answer");
  if (!entry) return report_failure(entry.error());
  auto submission = submission_from_json(*entry);
  if (!submission || submission->id != target->id) {
    return report_failure({kServerError, "the triage answer is malformed"});
  }
  // The server's state of the submission after the change; sync brings the same again.
  const Submission& s = target->index.submissions[target->id] = std::move(*submission);
  if (auto saved = save_index(target->folder, target->index); !saved) {
    return report_failure(saved.error());
  }
  std::string labels_line;
  for (const auto& label : s.labels) labels_line += (labels_line.empty() ? "" : ", ") + label;
  std::cout << short_id(s.id) << ": status " << terminal_safe(s.status) << ", assignee "
            << (s.assignee.empty() ? "-" : terminal_safe(s.assignee)) << ", labels "
            << (labels_line.empty() ? "-" : terminal_safe(labels_line)) << '\n';
  return kSuccess;
}

int run_note(const fs::path& case_dir, const std::string& id,
             const std::optional<std::string>& text) {
  auto target = open_target(case_dir, id);
  if (!target) return report_failure(target.error());
  // Straight into secret memory, wiped when it goes: a growing string would leave copies of
  // the text in freed memory.
  SecretCollector note(kMaxNoteBytes);
  bool fits = true;
  const auto add = [&note,
                    &fits](std::span<const std::uint8_t> bytes) -> tl::expected<void, std::string> {
    fits = note.add(bytes);
    if (!fits) return tl::unexpected(std::string("a note is at most 1 MiB"));
    return {};
  };
  auto read = text ? add(bytes_of(*text)) : read_chunks({}, add);
  if (!read) return report_failure({fits ? kFailure : kUsage, read.error()});
  if (note.text().find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return report_failure({kUsage, "the note is empty"});
  }
  auto bundle = refresh_bundle(target->client, target->folder);
  if (!bundle || !*bundle) {
    return bundle ? report_failure({kFailure, "cannot seal a note without a recipient bundle"})
                  : report_failure(bundle.error());
  }
  // Padded as reports are, so that a note's length says little about its text.
  const crypto::Secret padded = crypto::padding::pad(note.bytes());
  std::vector<const crypto::age::Recipient*> recipients;
  for (const auto& recipient : (*bundle)->recipients) recipients.push_back(&recipient);
  std::string sealed;
  auto encryptor = crypto::age::Encryptor::create(recipients, [&sealed](auto bytes) {
    sealed.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return tl::expected<void, crypto::Error>{};
  });
  tl::expected<void, crypto::Error> done =
      encryptor ? encryptor->write(padded.expose()) : tl::unexpected(encryptor.error());
  if (done) done = encryptor->finish();
  if (!done) return report_failure({kFailure, "cannot seal the note: " + done.error().message});

  Request request;
  request.method = "POST";
  request.target = "/api/v1/review/submissions/" + target->id + "/notes";
  request.body = bytes_of(sealed);
  request.content_type = "application/octet-stream";
  auto answer = target->client.send_expecting(request, 201, "submission " + short_id(target->id));
  if (!answer) return report_failure(not_on_server(answer.error(), target->id));
  auto created = parse_answer(*answer, "the note answer");
  if (!created) return report_failure(created.error());
  const json::object& object = created->get_object();
  const json::value* note_id = object.if_contains("id");
  const json::value* blob = object.if_contains("blob");
  if (note_id == nullptr || !note_id->is_int64() || blob == nullptr || !blob->is_int64()) {
    return report_failure({kServerError, "the note answer is malformed"});
  }
  // The sealed note is what the server stores: keep it, and sync has nothing to fetch.
  Submission& s = target->index.submissions[target->id];
  const NoteRef ref{note_id->get_int64(), target->folder.settings().reviewer,
                    static_cast<std::int64_t>(std::time(nullptr)),
                    BlobRef{blob->get_int64(), sealed.size()}};
  std::error_code ec;
  fs::create_directories(target->folder.submission_folder(s.id), ec);
  if (auto written = replace_file(target->folder.note_file(s.id, ref.id), sealed); !written) {
    return report_failure({kFailure, written.error()});
  }
  s.notes.push_back(ref);
  if (auto saved = save_index(target->folder, target->index); !saved) {
    return report_failure(saved.error());
  }
  std::cout << "Note " << ref.id << " added to " << short_id(s.id) << " (sealed to the "
            << (*bundle)->recipients.size() << " recipients of bundle version "
            << (*bundle)->version << ").\n";
  return kSuccess;
}

int run_delete(const fs::path& case_dir, const std::string& id, bool confirmed) {
  auto target = open_target(case_dir, id);
  if (!target) return report_failure(target.error());
  const Submission& s = target->index.submissions.at(target->id);
  if (!confirmed) {
    if (::isatty(STDIN_FILENO) != 1) {
      return report_failure(
          {kUsage, "delete asks for confirmation on a terminal; without one, give --yes"});
    }
    std::cerr << "Delete submission " << s.id << " (received " << s.received_day << ", "
              << s.attachments.size() << " attachments, " << s.notes.size()
              << " notes) from the server, for every reviewer? This cannot be undone.\n"
              << "Type yes to delete: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "yes") return report_failure({kFailure, "not deleted"});
  }
  Request request;
  request.method = "DELETE";
  request.target = "/api/v1/review/submissions/" + target->id;
  auto answer = target->client.send_expecting(request, 200, "submission " + short_id(target->id));
  if (!answer) return report_failure(not_on_server(answer.error(), target->id));
  if (auto removed = target->folder.remove_submission(target->id); !removed) {
    return report_failure({kFailure, removed.error().message});
  }
  target->index.submissions.erase(target->id);
  if (auto saved = save_index(target->folder, target->index); !saved) {
    return report_failure(saved.error());
  }
  std::cout << "Deleted " << target->id << " from the server and this case folder.\n";
  return kSuccess;
}

int run_audit(const fs::path& case_dir, bool json_output) {
  auto folder = open_case(case_dir);
  if (!folder) return report_failure(folder.error());
  auto client = connect(*folder);
  if (!client) return report_failure(client.error());
  json::array entries;
  std::int64_t cursor = 0;
  std::size_t total_bytes = 0;
  for (bool more = true; more;) {
    Request request;
    request.target = "/api/v1/review/audit?since=" + std::to_string(cursor) + "&limit=1000";
    auto body = client->send_expecting(request, 200, "the audit log");
    if (!body) return report_failure(body.error());
    auto page = parse_answer(*body, "the audit log");
    if (!page) return report_failure(page.error());
    const json::object& object = page->get_object();
    const json::value* list = object.if_contains("entries");
    const json::value* next = object.if_contains("cursor");
    const json::value* more_value = object.if_contains("more");
    if (list == nullptr || !list->is_array() || next == nullptr || !next->is_int64() ||
        next->get_int64() < cursor || more_value == nullptr || !more_value->is_bool()) {
      return report_failure({kServerError, "the audit log is malformed"});
    }
    std::int64_t highest = cursor;
    for (const json::value& entry : list->get_array()) {
      const json::value* id = entry.is_object() ? entry.get_object().if_contains("id") : nullptr;
      if (id == nullptr || !id->is_int64()) {
        return report_failure({kServerError, "the audit log is malformed"});
      }
      highest = std::max(highest, id->get_int64());
      entries.push_back(entry);
    }
    // As for sync: "more" must come with entries and a cursor at the last of them, or a
    // hostile server keeps audit asking forever.
    if (more_value->get_bool() && (list->get_array().empty() || next->get_int64() <= cursor ||
                                   next->get_int64() != highest)) {
      return report_failure(
          {kServerError, "the audit log is malformed: more pages announced without progress"});
    }
    // Everything is held in memory until printed: bounded, whatever the server sends.
    total_bytes += body->size();
    if (entries.size() > kMaxAuditEntries || total_bytes > kMaxAuditBytes) {
      return report_failure({kServerError, "the audit log is larger than tipline-review accepts (" +
                                               std::to_string(kMaxAuditEntries) + " entries, " +
                                               size_text(kMaxAuditBytes) + ")"});
    }
    cursor = next->get_int64();
    more = more_value->get_bool();
  }
  if (json_output) {
    std::cout << json::serialize(entries) << '\n';
    return kSuccess;
  }
  if (entries.empty()) {
    std::cerr << "The audit log is empty.\n";
    return kSuccess;
  }
  const auto field = [](const json::object& entry, std::string_view key) -> std::string {
    const json::value* value = entry.if_contains(key);
    if (value == nullptr || value->is_null()) return "-";
    return terminal_safe(value->is_string() ? std::string(value->get_string())
                                            : json::serialize(*value));
  };
  std::vector<std::vector<std::string>> rows;
  for (const json::value& value : entries) {
    const json::object& entry = value.get_object();
    const json::value* at = entry.if_contains("at");
    const json::value* submission = entry.if_contains("submission");
    rows.push_back({field(entry, "id"),
                    at != nullptr && at->is_int64() ? time_text(at->get_int64()) : "-",
                    field(entry, "reviewer"), field(entry, "action"),
                    submission != nullptr && submission->is_string()
                        ? terminal_safe(short_id(submission->get_string()))
                        : "-",
                    field(entry, "detail")});
  }
  std::cout << render_table({{"ENTRY", true, 0, 5},
                             {"TIME", false, 0, 20},
                             {"REVIEWER", false, 2, 6},
                             {"ACTION", false, 0, 6},
                             {"SUBMISSION", false, 0, 8},
                             {"DETAIL", false, 1, 6}},
                            rows, output_width());
  return kSuccess;
}

}  // namespace tipline::review
