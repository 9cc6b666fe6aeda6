#include "fake_case.h"

#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "case_folder.h"
#include "tipline/crypto/age.h"
#include "tipline/crypto/padding.h"
#include "tipline/crypto/request_signature.h"
#include "tipline/crypto/scrypt.h"
#include "tipline/crypto/x25519.h"

namespace tipline::review::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace age = crypto::age;

// A low scrypt work factor: the tests open the identity many times.
constexpr int kTestWorkFactor = 10;

void write(const fs::path& file, std::string_view bytes) {
  if (auto written = replace_file(file, bytes); !written) throw std::runtime_error(written.error());
}

std::string seal(std::span<const std::uint8_t> plaintext, const age::Recipient& recipient,
                 bool armor) {
  std::string out;
  age::ArmorWriter armored([&out](std::span<const std::uint8_t> bytes) {
    out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return tl::expected<void, crypto::Error>{};
  });
  const age::Recipient* recipients[] = {&recipient};
  auto encryptor = age::Encryptor::create(recipients, [&](std::span<const std::uint8_t> bytes) {
    if (armor) return armored.write(bytes);
    out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return tl::expected<void, crypto::Error>{};
  });
  if (!encryptor || !encryptor->write(plaintext) || !encryptor->finish() ||
      (armor && !armored.finish())) {
    throw std::runtime_error("cannot encrypt");
  }
  return out;
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// A padded report or note, as sources and tipline-review seal them.
std::string seal_padded(std::string_view text, const age::Recipient& recipient) {
  const crypto::Secret padded = crypto::padding::pad(bytes_of(text));
  return seal(padded.expose(), recipient, false);
}

struct FakeSubmission {
  Submission metadata;
  json::object answers;
  std::vector<std::string> attachments;
  std::vector<std::string> notes;
};

std::vector<FakeSubmission> submissions() {
  std::vector<FakeSubmission> list(3);
  list[0].metadata = {std::string(kFirstId), "2026-10-02", 3, "new", "", {}, {}, {}, {}};
  list[0].answers = {
      {"what_happened", "Two men came to my parents' house.\nThey asked where I live now."},
      {"when", "2026-09"},
      {"country", "NL"},
      {"incident_type", json::array{"family_harassment", "surveillance"}}};
  // A PNG signature and a little more: enough for decrypt to name it attachment-1.png.
  list[0].attachments.emplace_back(std::string("\x89PNG\r\n\x1A\n", 8) + std::string(200, 'x'));
  list[0].notes.emplace_back("Called the family; follow up next week.");

  list[1].metadata = {std::string(kSecondId),        "2026-11-15", 5,  "in_review", "alice",
                      {"urgent", "family-pressure"}, {},           {}, {}};
  // A hostile report: escape sequences must reach the terminal neutralised.
  list[1].answers = {{"what_happened", "Threats on Telegram \x1B[31mIN RED\x1B[0m\x07"},
                     {"when", "2026"},
                     {"country", "DE"},
                     {"incident_type", json::array{"online_threats"}},
                     {"safe_contact", "only by Signal"}};

  list[2].metadata = {
      std::string(kThirdId), "2026-11-20", 7, "closed", "bob", {"spam?"}, {}, {}, {}};
  list[2].answers = {{"what_happened", "=HYPERLINK(\"http://example.invalid\",\"click\")"},
                     {"incident_type", json::array{}}};
  return list;
}

}  // namespace

void build_fake_case(const fs::path& folder, int port) {
  const auto identity = crypto::x25519::Identity::generate();
  const crypto::x25519::Recipient recipient = identity.recipient();
  // The identity file, passphrase-protected as `tipline-review file keygen -p` writes it.
  crypto::Secret passphrase(kPassphrase.size());
  std::copy(kPassphrase.begin(), kPassphrase.end(), passphrase.expose().begin());
  const crypto::scrypt::Recipient lock(std::move(passphrase), kTestWorkFactor);
  const crypto::Secret identity_text =
      crypto::x25519::identity_file_text(identity, "2026-11-30T00:00:00Z");
  fs::create_directories(folder);
  write(folder / "identity.age", seal(identity_text.expose(), lock, true));
  write(folder / "passphrase.txt", std::string(kPassphrase) + "\n");
  write(folder / "wrong-passphrase.txt", "not the passphrase\n");

  Settings settings{"https://127.0.0.1:" + std::to_string(port), "alice", "",
                    folder / "identity.age"};
  auto created = CaseFolder::create(folder / "case", settings);
  if (!created) throw std::runtime_error(created.error().message);
  const CaseFolder& case_folder = *created;
  const crypto::Secret key = crypto::request_signature::SigningKey::generate().serialize();
  write(case_folder.signing_key_file(),
        {reinterpret_cast<const char*>(key.expose().data()), key.size()});

  Index index;
  index.cursor = 7;
  std::int64_t blob = 100;
  for (FakeSubmission& fake : submissions()) {
    Submission& metadata = fake.metadata;
    fs::create_directories(case_folder.submission_folder(metadata.id));
    const json::object document{{"format", "tipline-report/1"}, {"answers", fake.answers}};
    const std::string report = seal_padded(json::serialize(document), recipient);
    write(case_folder.report_file(metadata.id), report);
    metadata.report = {blob++, report.size()};
    for (std::size_t n = 1; n <= fake.attachments.size(); ++n) {
      const std::string sealed = seal(bytes_of(fake.attachments[n - 1]), recipient, false);
      write(case_folder.attachment_file(metadata.id, n), sealed);
      metadata.attachments.push_back({blob++, sealed.size()});
    }
    std::int64_t note_id = 1;
    for (const std::string& note : fake.notes) {
      const std::string sealed = seal_padded(note, recipient);
      write(case_folder.note_file(metadata.id, note_id), sealed);
      metadata.notes.push_back({note_id++, "alice", 1764470000, {blob++, sealed.size()}});
    }
    index.submissions.emplace(metadata.id, metadata);
  }
  if (auto saved = case_folder.save_index(index); !saved) {
    throw std::runtime_error(saved.error().message);
  }
}

void build_large_index(const fs::path& case_dir, std::size_t count) {
  auto created = CaseFolder::create(case_dir, Settings{"https://127.0.0.1:1", "alice", "", {}});
  if (!created) throw std::runtime_error(created.error().message);
  Index index;
  const char* statuses[] = {"new", "in_review", "escalated", "closed", "spam"};
  for (std::size_t i = 0; i < count; ++i) {
    std::array<char, 40> id{};
    std::snprintf(id.data(), id.size(), "%08zx%024zx", i * 2654435761U % 0xFFFFFFFFU, i);
    Submission submission;
    submission.id = id.data();
    submission.received_day = "2026-" + std::string(i % 12 < 9 ? "0" : "") +
                              std::to_string(i % 12 + 1) + "-" +
                              std::string(i % 28 < 9 ? "0" : "") + std::to_string(i % 28 + 1);
    submission.change_seq = static_cast<std::int64_t>(i + 1);
    submission.status = statuses[i % 5];
    submission.assignee = i % 3 == 0 ? "" : "reviewer-" + std::to_string(i % 7);
    submission.labels = {"label-" + std::to_string(i % 11), "urgent"};
    submission.report = {static_cast<std::int64_t>(3 * i + 1), 2048};
    submission.attachments = {{static_cast<std::int64_t>(3 * i + 2), 1 << 20}};
    submission.notes = {{1, "alice", 1764470000, {static_cast<std::int64_t>(3 * i + 3), 300}}};
    std::string key = submission.id;
    index.submissions.emplace(std::move(key), std::move(submission));
  }
  index.cursor = static_cast<std::int64_t>(count);
  if (auto saved = created->save_index(index); !saved) {
    throw std::runtime_error(saved.error().message);
  }
}

}  // namespace tipline::review::testing
