#include "case_folder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace tipline::review {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kSettingsFormat = "tipline-case/1";
constexpr std::string_view kIndexFormat = "tipline-case-index/1";

tl::unexpected<CaseError> fail(CaseErrc code, std::string message) {
  return tl::unexpected(CaseError{code, std::move(message)});
}

// Readers for one JSON member; each names the member when it is missing or of another type.
tl::expected<std::string, std::string> string_member(const json::object& object,
                                                     std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return tl::unexpected("\"" + std::string(key) + "\" must be a string");
  }
  return std::string(value->get_string());
}

tl::expected<std::int64_t, std::string> integer_member(const json::object& object,
                                                       std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value != nullptr && value->is_uint64() && value->get_uint64() <= INT64_MAX) {
    return static_cast<std::int64_t>(value->get_uint64());
  }
  if (value == nullptr || !value->is_int64() || value->get_int64() < 0) {
    return tl::unexpected("\"" + std::string(key) + "\" must be a non-negative integer");
  }
  return value->get_int64();
}

tl::expected<BlobRef, std::string> blob_from_json(const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr) return tl::unexpected(std::string("a blob must be an object"));
  auto blob = integer_member(*object, "blob");
  if (!blob) return tl::unexpected(blob.error());
  auto size = integer_member(*object, "size");
  if (!size) return tl::unexpected(size.error());
  return BlobRef{*blob, static_cast<std::uint64_t>(*size)};
}

json::object blob_to_json(const BlobRef& blob) {
  return {{"blob", blob.blob}, {"size", blob.size}};
}

tl::expected<const json::array*, std::string> array_member(const json::object& object,
                                                           std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_array()) {
    return tl::unexpected("\"" + std::string(key) + "\" must be an array");
  }
  return &value->get_array();
}

tl::expected<std::vector<NoteRef>, std::string> notes_from_json(const json::array& array) {
  std::vector<NoteRef> notes;
  for (const json::value& value : array) {
    const json::object* object = value.if_object();
    if (object == nullptr) return tl::unexpected(std::string("a note must be an object"));
    NoteRef note;
    auto id = integer_member(*object, "id");
    auto reviewer = string_member(*object, "reviewer");
    auto created_at = integer_member(*object, "created_at");
    auto blob = blob_from_json(value);
    if (!id) return tl::unexpected("note: " + id.error());
    if (!reviewer) return tl::unexpected("note: " + reviewer.error());
    if (!created_at) return tl::unexpected("note: " + created_at.error());
    if (!blob) return tl::unexpected("note: " + blob.error());
    notes.push_back({*id, std::move(*reviewer), *created_at, *blob});
  }
  return notes;
}

tl::expected<void, std::string> write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(std::string(std::strerror(errno)));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

tl::expected<Settings, std::string> settings_from_json(std::string_view text) {
  std::error_code ec;
  const json::value document = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return tl::unexpected("not JSON: " + ec.message());
  const json::object* object = document.if_object();
  if (object == nullptr) return tl::unexpected(std::string("not a JSON object"));
  auto format = string_member(*object, "format");
  if (!format || *format != kSettingsFormat) {
    return tl::unexpected("\"format\" must be \"" + std::string(kSettingsFormat) + "\"");
  }
  Settings settings;
  auto server = string_member(*object, "server");
  if (!server) return tl::unexpected(server.error());
  auto reviewer = string_member(*object, "reviewer");
  if (!reviewer) return tl::unexpected(reviewer.error());
  settings.server = std::move(*server);
  settings.reviewer = std::move(*reviewer);
  if (const json::value* proxy = object->if_contains("proxy"); proxy && proxy->is_string()) {
    settings.proxy = proxy->get_string();
  }
  if (const json::value* identity = object->if_contains("identity");
      identity && identity->is_string()) {
    settings.identity = fs::path(std::string(identity->get_string()));
  }
  return settings;
}

std::string settings_to_json(const Settings& settings) {
  json::object object{
      {"format", kSettingsFormat}, {"server", settings.server}, {"reviewer", settings.reviewer}};
  object["proxy"] = settings.proxy.empty() ? json::value(nullptr) : json::value(settings.proxy);
  object["identity"] =
      settings.identity ? json::value(settings.identity->string()) : json::value(nullptr);
  return json::serialize(object) + "\n";
}

}  // namespace

bool valid_submission_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (const char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool valid_day(std::string_view day) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return false;
  for (std::size_t i = 0; i < day.size(); ++i) {
    if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9')) return false;
  }
  return true;
}

tl::expected<Submission, std::string> submission_from_json(const json::value& entry) {
  const json::object* object = entry.if_object();
  if (object == nullptr) return tl::unexpected(std::string("a submission must be an object"));
  Submission submission;
  auto id = string_member(*object, "id");
  if (!id || !valid_submission_id(*id)) {
    return tl::unexpected(std::string("\"id\" must be 32 lowercase hex digits"));
  }
  submission.id = std::move(*id);
  const std::string where = "submission " + submission.id + ": ";
  auto day = string_member(*object, "received_day");
  if (!day || !valid_day(*day)) {
    return tl::unexpected(where + "\"received_day\" must be a day written YYYY-MM-DD");
  }
  submission.received_day = std::move(*day);
  auto change_seq = integer_member(*object, "change_seq");
  if (!change_seq) return tl::unexpected(where + change_seq.error());
  submission.change_seq = *change_seq;
  auto status = string_member(*object, "status");
  if (!status) return tl::unexpected(where + status.error());
  submission.status = std::move(*status);
  if (const json::value* assignee = object->if_contains("assignee");
      assignee != nullptr && !assignee->is_null()) {
    if (!assignee->is_string()) {
      return tl::unexpected(where + "\"assignee\" must be a string or null");
    }
    submission.assignee = assignee->get_string();
  }
  auto labels = array_member(*object, "labels");
  if (!labels) return tl::unexpected(where + labels.error());
  for (const json::value& label : **labels) {
    if (!label.is_string()) return tl::unexpected(where + "a label must be a string");
    submission.labels.emplace_back(label.get_string());
  }
  const json::value* report = object->if_contains("report");
  auto report_blob = report != nullptr ? blob_from_json(*report)
                                       : tl::unexpected(std::string("\"report\" is missing"));
  if (!report_blob) return tl::unexpected(where + "report: " + report_blob.error());
  submission.report = *report_blob;
  auto attachments = array_member(*object, "attachments");
  if (!attachments) return tl::unexpected(where + attachments.error());
  for (const json::value& attachment : **attachments) {
    auto blob = blob_from_json(attachment);
    if (!blob) return tl::unexpected(where + "attachment: " + blob.error());
    submission.attachments.push_back(*blob);
  }
  auto notes = array_member(*object, "notes");
  if (!notes) return tl::unexpected(where + notes.error());
  auto parsed_notes = notes_from_json(**notes);
  if (!parsed_notes) return tl::unexpected(where + parsed_notes.error());
  submission.notes = std::move(*parsed_notes);
  return submission;
}

json::value submission_to_json(const Submission& submission) {
  json::array labels;
  for (const auto& label : submission.labels) labels.emplace_back(label);
  json::array attachments;
  for (const auto& attachment : submission.attachments) {
    attachments.emplace_back(blob_to_json(attachment));
  }
  json::array notes;
  for (const auto& note : submission.notes) {
    json::object object = blob_to_json(note.blob);
    object["id"] = note.id;
    object["reviewer"] = note.reviewer;
    object["created_at"] = note.created_at;
    notes.emplace_back(std::move(object));
  }
  return json::object{
      {"id", submission.id},
      {"received_day", submission.received_day},
      {"change_seq", submission.change_seq},
      {"status", submission.status},
      {"assignee",
       submission.assignee.empty() ? json::value(nullptr) : json::value(submission.assignee)},
      {"labels", std::move(labels)},
      {"report", blob_to_json(submission.report)},
      {"attachments", std::move(attachments)},
      {"notes", std::move(notes)},
  };
}

tl::expected<void, std::string> replace_file(const fs::path& file, std::string_view bytes,
                                             unsigned mode) {
  std::string temporary = file.string() + ".tmp-XXXXXX";
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) return tl::unexpected(file.string() + ": cannot create: " + std::strerror(errno));
  auto written = write_all(fd, bytes);
  if (written && ::fchmod(fd, mode) != 0)
    written = tl::unexpected(std::string(std::strerror(errno)));
  // fsync before rename: after a crash the file is the old one or the new one, never empty.
  if (written && ::fsync(fd) != 0) written = tl::unexpected(std::string(std::strerror(errno)));
  if (::close(fd) != 0 && written) written = tl::unexpected(std::string(std::strerror(errno)));
  if (written && ::rename(temporary.c_str(), file.c_str()) != 0) {
    written = tl::unexpected(std::string(std::strerror(errno)));
  }
  if (!written) {
    ::unlink(temporary.c_str());
    return tl::unexpected(file.string() + ": " + written.error());
  }
  return {};
}

tl::expected<std::string, std::string> read_small_file(const fs::path& file,
                                                       std::size_t max_bytes) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(file.string() + ": " + std::strerror(errno));
  std::string text;
  std::string buffer(std::size_t{1} << 16, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      return tl::unexpected(file.string() + ": " + reason);
    }
    if (n == 0) break;
    text.append(buffer, 0, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return tl::unexpected(file.string() + ": larger than expected");
    }
  }
  ::close(fd);
  return text;
}

tl::expected<CaseFolder, CaseError> CaseFolder::open(const fs::path& root) {
  const fs::path settings_file = root / "case.json";
  std::error_code ec;
  if (!fs::exists(settings_file, ec)) {
    return fail(CaseErrc::missing, "no case folder at " + root.string() +
                                       " (make one with `tipline-review init`, or give "
                                       "--case DIR or TIPLINE_CASE)");
  }
  auto text = read_small_file(settings_file, std::size_t{64} << 10);
  if (!text) return fail(CaseErrc::damaged, text.error());
  auto settings = settings_from_json(*text);
  if (!settings) {
    return fail(CaseErrc::damaged, settings_file.string() + ": " + settings.error());
  }
  return CaseFolder(root, std::move(*settings));
}

tl::expected<CaseFolder, CaseError> CaseFolder::create(const fs::path& root,
                                                       const Settings& settings) {
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_empty(root, ec)) {
    return fail(CaseErrc::exists,
                root.string() + " already exists and is not empty; refusing to touch it");
  }
  if (root.has_parent_path()) fs::create_directories(root.parent_path(), ec);
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(CaseErrc::io, root.string() + ": cannot create: " + std::strerror(errno));
  }
  if (::chmod(root.c_str(), 0700) != 0 || ::mkdir((root / "submissions").c_str(), 0700) != 0) {
    return fail(CaseErrc::io, root.string() + ": " + std::strerror(errno));
  }
  if (auto written = replace_file(root / "case.json", settings_to_json(settings)); !written) {
    return fail(CaseErrc::io, written.error());
  }
  return CaseFolder(root, settings);
}

fs::path CaseFolder::submission_folder(std::string_view id) const {
  return root_ / "submissions" / std::string(id);
}

fs::path CaseFolder::report_file(std::string_view id) const {
  return submission_folder(id) / "report.age";
}

fs::path CaseFolder::attachment_file(std::string_view id, std::size_t n) const {
  return submission_folder(id) / ("attachment-" + std::to_string(n) + ".age");
}

fs::path CaseFolder::note_file(std::string_view id, std::int64_t note) const {
  return submission_folder(id) / ("note-" + std::to_string(note) + ".age");
}

tl::expected<Index, CaseError> CaseFolder::load_index() const {
  const fs::path file = root_ / "index.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return Index{};
  auto text = read_small_file(file, std::size_t{1} << 30);
  if (!text) return fail(CaseErrc::damaged, text.error());
  const auto damaged = [&file](const std::string& why) {
    return fail(CaseErrc::damaged, file.string() + ": " + why +
                                       " (run `tipline-review sync` "
                                       "after moving it away)");
  };
  const json::value document = json::parse(*text, ec);
  if (ec) return damaged("not JSON: " + ec.message());
  const json::object* object = document.if_object();
  if (object == nullptr || !object->contains("format") ||
      object->at("format") != json::value(kIndexFormat)) {
    return damaged("not a tipline-review index");
  }
  Index index;
  auto cursor = integer_member(*object, "cursor");
  if (!cursor) return damaged(cursor.error());
  index.cursor = *cursor;
  auto submissions = array_member(*object, "submissions");
  if (!submissions) return damaged(submissions.error());
  for (const json::value& entry : **submissions) {
    auto submission = submission_from_json(entry);
    if (!submission) return damaged(submission.error());
    std::string id = submission->id;
    index.submissions.emplace(std::move(id), std::move(*submission));
  }
  return index;
}

tl::expected<void, CaseError> CaseFolder::save_index(const Index& index) const {
  json::array submissions;
  submissions.reserve(index.submissions.size());
  for (const auto& [id, submission] : index.submissions) {
    submissions.push_back(submission_to_json(submission));
  }
  const json::object document{
      {"format", kIndexFormat}, {"cursor", index.cursor}, {"submissions", std::move(submissions)}};
  if (auto written = replace_file(root_ / "index.json", json::serialize(document)); !written) {
    return fail(CaseErrc::io, written.error());
  }
  return {};
}

tl::expected<void, CaseError> CaseFolder::remove_submission(std::string_view id) const {
  std::error_code ec;
  fs::remove_all(submission_folder(id), ec);
  if (ec) return fail(CaseErrc::io, submission_folder(id).string() + ": " + ec.message());
  return {};
}

}  // namespace tipline::review
