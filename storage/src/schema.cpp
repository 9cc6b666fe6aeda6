// The schema of the whole product, as numbered migrations.
//
// Migration N brings a database from user_version N-1 to N in one transaction. Never edit
// a migration that has shipped; add the next one. SQLCipher 3.4.1 is SQLite 3.15.2: no
// STRICT tables, RENAME COLUMN or DROP COLUMN, so later changes rebuild tables.
//
// Privacy rule for every table: no column for IP addresses, user agents or exact source
// timestamps. Source-side times are whole days (days since 1970-01-01 UTC) or, for expiry,
// whole hours; only reviewer actions carry exact times.
#include <array>
#include <cassert>
#include <optional>
#include <string>

#include "tipline/storage/database.h"

namespace tipline::storage {
namespace {

// 1: what a source creates: sources, drafts, blobs in chunks, uploads, submissions.
constexpr const char* kSources = R"sql(
CREATE TABLE sources (
  id            INTEGER PRIMARY KEY,
  login_hash    BLOB NOT NULL UNIQUE CHECK (typeof(login_hash) = 'blob' AND length(login_hash) = 32),
  recipient     TEXT NOT NULL CHECK (recipient LIKE 'age1%'),
  created_day   INTEGER NOT NULL,
  last_seen_day INTEGER NOT NULL
);

-- A content blob: an age v1 file, stored as chunk rows so it streams in and out.
CREATE TABLE blobs (
  id       INTEGER PRIMARY KEY,
  size     INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1))
);
CREATE TABLE blob_chunks (
  id      INTEGER PRIMARY KEY,
  blob_id INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
  start   INTEGER NOT NULL CHECK (start >= 0),
  data    BLOB NOT NULL CHECK (length(data) > 0),
  UNIQUE (blob_id, start)
);

-- A submission being put together: uploads bind to it by its token.
CREATE TABLE drafts (
  id           INTEGER PRIMARY KEY,
  token_hash   BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  source_id    INTEGER REFERENCES sources(id) ON DELETE CASCADE,
  expires_hour INTEGER NOT NULL
);

-- A tus upload in progress: its declared length; the offset reached is its blob's size.
-- No file name or other metadata (the browser seals those inside the age file).
CREATE TABLE uploads (
  id           INTEGER PRIMARY KEY,
  public_id    TEXT NOT NULL UNIQUE,
  draft_id     INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
  blob_id      INTEGER NOT NULL UNIQUE REFERENCES blobs(id),
  length       INTEGER NOT NULL CHECK (length >= 0),
  expires_hour INTEGER NOT NULL
);
CREATE INDEX uploads_by_draft ON uploads(draft_id);

CREATE TABLE submissions (
  id             INTEGER PRIMARY KEY,
  public_id      TEXT NOT NULL UNIQUE,
  source_id      INTEGER REFERENCES sources(id) ON DELETE SET NULL,
  report_blob_id INTEGER NOT NULL UNIQUE REFERENCES blobs(id),
  received_day   INTEGER NOT NULL,
  -- Bumped from counters.change_seq on every change a reviewer should sync.
  change_seq     INTEGER NOT NULL
);
CREATE INDEX submissions_by_change ON submissions(change_seq);
CREATE INDEX submissions_by_source ON submissions(source_id);
CREATE INDEX submissions_by_day ON submissions(received_day);

CREATE TABLE attachments (
  submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
  position      INTEGER NOT NULL CHECK (position >= 0),
  blob_id       INTEGER NOT NULL UNIQUE REFERENCES blobs(id),
  PRIMARY KEY (submission_id, position)
);

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change_seq', 0);

-- A blob belongs to exactly one owner; it goes when the owner goes.
CREATE TRIGGER submission_deleted AFTER DELETE ON submissions BEGIN
  DELETE FROM blobs WHERE id = OLD.report_blob_id;
END;
CREATE TRIGGER attachment_deleted AFTER DELETE ON attachments BEGIN
  DELETE FROM blobs WHERE id = OLD.blob_id;
END;
CREATE TRIGGER upload_deleted AFTER DELETE ON uploads
WHEN NOT EXISTS (SELECT 1 FROM attachments WHERE blob_id = OLD.blob_id)
BEGIN
  DELETE FROM blobs WHERE id = OLD.blob_id;
END;
)sql";

// 2: the reviewer side: reviewers, triage, labels, notes, replies, the audit log, nonces.
constexpr const char* kReviewers = R"sql(
CREATE TABLE reviewers (
  id          TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  signing_key BLOB NOT NULL UNIQUE CHECK (length(signing_key) = 32),
  role        TEXT NOT NULL CHECK (role IN ('reviewer', 'admin')),
  disabled    INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  added_at    INTEGER NOT NULL
);

CREATE TABLE triage (
  submission_id INTEGER PRIMARY KEY REFERENCES submissions(id) ON DELETE CASCADE,
  status        TEXT NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'in_review', 'escalated', 'closed', 'spam')),
  assignee      TEXT REFERENCES reviewers(id),
  updated_at    INTEGER NOT NULL
);
CREATE INDEX triage_by_status ON triage(status);

CREATE TABLE labels (
  submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
  label         TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
  PRIMARY KEY (submission_id, label)
);

-- Notes are age files sealed to the reviewer recipients by tipline-review.
CREATE TABLE notes (
  id            INTEGER PRIMARY KEY,
  submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
  reviewer_id   TEXT NOT NULL REFERENCES reviewers(id),
  blob_id       INTEGER NOT NULL UNIQUE REFERENCES blobs(id),
  created_at    INTEGER NOT NULL
);
CREATE INDEX notes_by_submission ON notes(submission_id);
CREATE TRIGGER note_deleted AFTER DELETE ON notes BEGIN
  DELETE FROM blobs WHERE id = OLD.blob_id;
END;

-- Replies are age files sealed to the source's own recipient. The source reads them on a
-- later visit, so only the day is kept.
CREATE TABLE replies (
  id            INTEGER PRIMARY KEY,
  submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
  reviewer_id   TEXT NOT NULL REFERENCES reviewers(id),
  blob_id       INTEGER NOT NULL UNIQUE REFERENCES blobs(id),
  created_day   INTEGER NOT NULL
);
CREATE INDEX replies_by_submission ON replies(submission_id);
CREATE TRIGGER reply_deleted AFTER DELETE ON replies BEGIN
  DELETE FROM blobs WHERE id = OLD.blob_id;
END;

-- Reviewer actions. Keeps the submission's public id as text: the entry outlives a purge.
CREATE TABLE audit_log (
  id                   INTEGER PRIMARY KEY,
  at                   INTEGER NOT NULL,
  reviewer_id          TEXT NOT NULL,
  action               TEXT NOT NULL,
  submission_public_id TEXT,
  detail               TEXT
);

-- Request-signature nonces seen inside the allowed clock skew (RFC 9421 replay check).
CREATE TABLE signature_nonces (
  reviewer_id TEXT NOT NULL,
  nonce       TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (reviewer_id, nonce)
);
CREATE INDEX signature_nonces_by_expiry ON signature_nonces(expires_at);
)sql";

// 3: signed recipient bundles, and which bundle each blob is sealed to.
constexpr const char* kBundles = R"sql(
CREATE TABLE bundles (
  version      INTEGER PRIMARY KEY CHECK (version > 0),
  bytes        BLOB NOT NULL,
  signature    TEXT NOT NULL,
  installed_at INTEGER NOT NULL
);
-- NULL for blobs not sealed to a bundle: replies, sealed to a source's own key.
ALTER TABLE blobs ADD COLUMN sealed_to_bundle INTEGER REFERENCES bundles(version);
CREATE INDEX blobs_by_bundle ON blobs(sealed_to_bundle);
)sql";

// 4: what a reviewer's sync needs to drop its copy of a deleted submission. The change
// number comes from counters.change_seq, like a submission's, so one cursor covers both.
// A trigger writes the entry, so that every way a submission goes (the reviewer API, the
// retention purge, anything later) tells the reviewers.
constexpr const char* kDeletions = R"sql(
CREATE TABLE deletions (
  change_seq INTEGER PRIMARY KEY,
  public_id  TEXT NOT NULL
);
CREATE TRIGGER submission_deleted_for_sync AFTER DELETE ON submissions BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'change_seq';
  INSERT INTO deletions (change_seq, public_id)
    VALUES ((SELECT value FROM counters WHERE name = 'change_seq'), OLD.public_id);
END;
)sql";

constexpr std::array kMigrations = {kSources, kReviewers, kBundles, kDeletions};

}  // namespace

tl::expected<void, Error> Database::migrate(std::optional<int> version) {
  const int newest = static_cast<int>(kMigrations.size());
  const int target = version.value_or(newest);
  assert(target >= 0 && target <= newest && "no such schema version");
  auto current = schema_version();
  if (!current) return tl::unexpected(current.error());
  if (*current > newest) {
    return tl::unexpected(
        Error{Errc::schema_too_new, "the database has schema version " + std::to_string(*current) +
                                        ", newer than this Tipline knows (" +
                                        std::to_string(newest) + "); upgrade Tipline"});
  }
  for (int next = *current + 1; next <= target; ++next) {
    if (auto begun = exec("BEGIN IMMEDIATE;"); !begun) return begun;
    schema_changes_allowed_ = true;
    auto applied = exec(kMigrations.at(next - 1));
    schema_changes_allowed_ = false;
    if (applied) applied = exec("PRAGMA user_version = " + std::to_string(next) + ";");
    if (applied) applied = exec("COMMIT;");
    if (!applied) {
      if (in_transaction()) (void)exec("ROLLBACK;");
      Error error = applied.error();
      error.message = "migration " + std::to_string(next) + ": " + error.message;
      return tl::unexpected(std::move(error));
    }
  }
  return {};
}

}  // namespace tipline::storage
