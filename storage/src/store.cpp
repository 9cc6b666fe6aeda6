#include "tipline/storage/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace tipline::storage {

namespace fs = std::filesystem;

namespace {

// The writer's fixed statements, through the statement cache: group commit spends its time
// here, not in the disk.
tl::expected<void, Error> run_cached(Database& db, std::string_view sql) {
  auto statement = db.prepare(sql);
  if (!statement) return tl::unexpected(statement.error());
  return statement->run();
}

}  // namespace

struct Store::State {
  State(DatabaseLock held, Database writer_connection)
      : lock(std::move(held)), writer(std::move(writer_connection)) {}

  DatabaseLock lock;

  std::mutex writer_mutex;  // guards `writer` between the writer thread and checkpoint()
  Database writer;

  std::mutex queue_mutex;
  std::condition_variable queue_changed;
  std::deque<Job> queue;
  bool stopping = false;
  std::size_t max_batch = 0;
  std::thread writer_thread;

  std::mutex readers_mutex;
  std::condition_variable reader_returned;
  std::vector<Database> idle_readers;

  void run_writer();
  void commit_batch(std::vector<Job>& batch);
  // One try at the batch: false when a job failed and the rest must run again.
  bool attempt(std::vector<Job>& batch, std::vector<std::optional<Error>>& outcomes,
               std::optional<Error>& fatal);
};

void Store::State::run_writer() {
  std::vector<Job> batch;
  while (true) {
    {
      std::unique_lock guard(queue_mutex);
      queue_changed.wait(guard, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every queued write is done
      while (!queue.empty() && batch.size() < max_batch) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

// Runs the batch in one transaction without savepoints: SQLCipher encrypts every page a
// savepoint journals, which made each write three times as costly. A job that fails is
// taken out, the transaction rolled back and the others run again. Failures are rare, and
// work functions have no effects outside the database (store.h), so running one twice is
// harmless.
void Store::State::commit_batch(std::vector<Job>& batch) {
  std::vector<std::optional<Error>> outcomes(batch.size());
  std::optional<Error> fatal;
  {
    const std::lock_guard guard(writer_mutex);
    while (!attempt(batch, outcomes, fatal)) {
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (outcomes[i]) {
      batch[i].settle(&*outcomes[i]);
    } else if (fatal) {
      batch[i].settle(&*fatal);
    } else {
      batch[i].settle(nullptr);
    }
  }
}

bool Store::State::attempt(std::vector<Job>& batch, std::vector<std::optional<Error>>& outcomes,
                           std::optional<Error>& fatal) {
  if (auto begun = run_cached(writer, "BEGIN IMMEDIATE;"); !begun) {
    fatal = begun.error();
    return true;
  }
  bool job_failed = false;
  for (std::size_t i = 0; i < batch.size() && !job_failed && !fatal; ++i) {
    if (outcomes[i]) continue;  // failed in an earlier attempt
    tl::expected<void, Error> ran;
    try {
      ran = batch[i].run(writer);
    } catch (const std::exception& error) {
      ran = tl::unexpected(Error{Errc::io, std::string("write failed: ") + error.what()});
    }
    if (!writer.in_transaction()) {
      // SQLite rolled the whole transaction back (an I/O error, a full disk).
      fatal = ran ? Error{Errc::io, "the transaction was rolled back"} : ran.error();
    } else if (!ran) {
      outcomes[i] = ran.error();
      job_failed = true;
    }
  }
  if (!job_failed && !fatal) {
    if (auto committed = run_cached(writer, "COMMIT;"); !committed) fatal = committed.error();
  }
  // After a failed job or COMMIT, nothing of this attempt may survive.
  if (writer.in_transaction()) (void)run_cached(writer, "ROLLBACK;");
  return !job_failed;
}

tl::expected<std::unique_ptr<Store>, Error> Store::open(const fs::path& file,
                                                        const crypto::Secret& key,
                                                        Database::Mode mode,
                                                        const Options& options) {
  assert(options.readers > 0 && options.max_batch > 0);
  auto lock = DatabaseLock::acquire(file);
  if (!lock) return tl::unexpected(lock.error());
  auto writer = Database::open(file, key, mode, {.vfs = options.vfs, .read_only = false});
  if (!writer) return tl::unexpected(writer.error());
  if (auto migrated = writer->migrate(); !migrated) return tl::unexpected(migrated.error());

  auto state = std::make_unique<State>(std::move(*lock), std::move(*writer));
  state->max_batch = options.max_batch;
  for (std::size_t i = 0; i < options.readers; ++i) {
    auto reader = Database::open(file, key, Database::Mode::open_existing,
                                 {.vfs = options.vfs, .read_only = true});
    if (!reader) return tl::unexpected(reader.error());
    state->idle_readers.push_back(std::move(*reader));
  }
  state->writer_thread = std::thread([raw = state.get()] { raw->run_writer(); });
  return std::unique_ptr<Store>(new Store(std::move(state)));
}

Store::Store(std::unique_ptr<State> state) : state_(std::move(state)) {}

Store::~Store() {
  {
    const std::lock_guard guard(state_->queue_mutex);
    state_->stopping = true;
  }
  state_->queue_changed.notify_all();
  state_->writer_thread.join();
}

void Store::enqueue(std::function<tl::expected<void, Error>(Database&)> run,
                    std::function<void(const Error*)> settle) {
  {
    const std::lock_guard guard(state_->queue_mutex);
    assert(!state_->stopping && "write() on a Store being destroyed");
    state_->queue.push_back(Job{std::move(run), std::move(settle)});
  }
  state_->queue_changed.notify_one();
}

tl::expected<void, Error> Store::with_reader(
    const std::function<tl::expected<void, Error>(Database&)>& work) {
  std::optional<Database> reader;
  {
    std::unique_lock guard(state_->readers_mutex);
    state_->reader_returned.wait(guard, [&] { return !state_->idle_readers.empty(); });
    reader.emplace(std::move(state_->idle_readers.back()));
    state_->idle_readers.pop_back();
  }
  tl::expected<void, Error> outcome = run_cached(*reader, "BEGIN;");
  if (outcome) {
    outcome = work(*reader);
    // Ending a read transaction cannot lose anything; its error only matters if the work
    // itself succeeded.
    auto ended = run_cached(*reader, "COMMIT;");
    if (outcome && !ended) outcome = ended;
    if (reader->in_transaction()) (void)run_cached(*reader, "ROLLBACK;");
  }
  {
    const std::lock_guard guard(state_->readers_mutex);
    state_->idle_readers.push_back(std::move(*reader));
  }
  state_->reader_returned.notify_one();
  return outcome;
}

tl::expected<void, Error> Store::checkpoint() {
  const std::lock_guard guard(state_->writer_mutex);
  auto statement = state_->writer.prepare("PRAGMA wal_checkpoint(TRUNCATE);");
  if (!statement) return tl::unexpected(statement.error());
  auto row = statement->step();
  if (!row) return tl::unexpected(row.error());
  // Columns: busy flag, WAL frames, frames checkpointed.
  if (*row && statement->integer(0) != 0) {
    return tl::unexpected(Error{Errc::in_use,
                                "the write-ahead log could not be checkpointed: a reader "
                                "still holds an older snapshot; try again"});
  }
  return {};
}

tl::expected<DatabaseLock, Error> DatabaseLock::acquire(const fs::path& database_file) {
  const fs::path lock_file = database_file.string() + ".lock";
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return tl::unexpected(
        Error{Errc::io, lock_file.string() + ": cannot open lock file: " + std::strerror(errno)});
  }
  DatabaseLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return tl::unexpected(Error{Errc::in_use, database_file.string() +
                                                    ": the database is in use by another "
                                                    "process (a running tipline-server?); "
                                                    "stop it first"});
    }
    return tl::unexpected(
        Error{Errc::io, lock_file.string() + ": cannot lock: " + std::strerror(errno)});
  }
  return lock;
}

DatabaseLock::DatabaseLock(DatabaseLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DatabaseLock& DatabaseLock::operator=(DatabaseLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DatabaseLock::~DatabaseLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tipline::storage
