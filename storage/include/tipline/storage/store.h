// The store: one writer thread with group commit, and a pool of readers.
//
// write() queues a transaction for the writer thread, which runs queued transactions
// back to back inside one SQLite transaction and commits them with one fsync. When one
// fails, the shared transaction is rolled back and the others run again without it, so a
// work function may run more than once: it must have no effect outside the database
// except setting its own result. The returned future
// resolves only after that commit is durable, or with the error that stopped it: a write
// never reports success unless it is on disk. read() runs on a reader connection in one
// read transaction, concurrently with the writer (WAL).
//
// Ownership: the Store owns every connection, the writer thread and an exclusive lock on
// DATABASE.lock that keeps a second process (another server, `db restore`) out.
// Thread safety: every member may be called from any thread. The functions passed to
// write() run on the writer thread and those passed to read() on the calling thread;
// neither may call back into the Store.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <type_traits>
#include <utility>

#include "tipline/crypto/secret.h"
#include "tipline/storage/database.h"

namespace tipline::storage {

class Store {
 public:
  struct Options {
    std::size_t readers = 4;
    // Most transactions committed together with one fsync.
    std::size_t max_batch = 256;
    // Passed to every connection; see Database::Options.
    std::string vfs;
  };

  // Opens an existing database (create_new: a new one), takes the lock and brings the
  // schema up to date.
  [[nodiscard]] static tl::expected<std::unique_ptr<Store>, Error> open(
      const std::filesystem::path& file, const crypto::Secret& key, Database::Mode mode,
      const Options& options);
  [[nodiscard]] static tl::expected<std::unique_ptr<Store>, Error> open(
      const std::filesystem::path& file, const crypto::Secret& key, Database::Mode mode) {
    return open(file, key, mode, Options{});
  }

  // Finishes every queued write, then closes.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // `work` returns tl::expected<T, Error>; the future carries it once the commit is durable.
  template <typename Work>
  [[nodiscard]] auto write(Work work) {
    using Result = std::invoke_result_t<Work&, Database&>;
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    write_then(std::move(work),
               [promise](Result result) { promise->set_value(std::move(result)); });
    return future;
  }

  // As write(), but instead of a future, `done` receives the result on the writer thread
  // once the commit is durable. `done` must be quick and must never wait on the Store (a
  // future of write() would deadlock); it may queue another write. An I/O handler posts
  // the result to its own executor.
  template <typename Work, typename Done>
  void write_then(Work work, Done done) {
    using Result = std::invoke_result_t<Work&, Database&>;
    auto result = std::make_shared<std::optional<Result>>();
    enqueue(
        [work = std::move(work), result](Database& db) mutable -> tl::expected<void, Error> {
          result->emplace(work(db));
          if (!result->value()) return tl::unexpected(result->value().error());
          return {};
        },
        [done = std::move(done), result](const Error* commit_error) mutable {
          if (commit_error != nullptr) {
            done(Result(tl::unexpected(*commit_error)));
          } else {
            done(std::move(result->value()));
          }
        });
  }

  // Runs `work` (returning tl::expected<T, Error>) on a reader inside a read transaction.
  template <typename Work>
  [[nodiscard]] auto read(Work work) {
    using Result = std::invoke_result_t<Work&, Database&>;
    std::optional<Result> result;
    auto done = with_reader([&](Database& db) -> tl::expected<void, Error> {
      result.emplace(work(db));
      return {};
    });
    if (!done) return Result(tl::unexpected(done.error()));
    return std::move(*result);
  }

  // Checkpoints the WAL into the database and truncates it to zero bytes, so nothing
  // deleted lingers in it. Waits for queued writes; fails (Errc::in_use) if a reader
  // holds an old snapshot.
  [[nodiscard]] tl::expected<void, Error> checkpoint();

 private:
  struct Job {
    std::function<tl::expected<void, Error>(Database&)> run;
    std::function<void(const Error*)> settle;  // nullptr: committed
  };
  struct State;

  explicit Store(std::unique_ptr<State> state);
  void enqueue(std::function<tl::expected<void, Error>(Database&)> run,
               std::function<void(const Error*)> settle);
  [[nodiscard]] tl::expected<void, Error> with_reader(
      const std::function<tl::expected<void, Error>(Database&)>& work);

  std::unique_ptr<State> state_;
};

// Holds DATABASE.lock exclusively: no Store, restore or rekey runs on the same file while
// it lives. Errc::in_use when another process has it.
class DatabaseLock {
 public:
  [[nodiscard]] static tl::expected<DatabaseLock, Error> acquire(
      const std::filesystem::path& database_file);
  DatabaseLock(DatabaseLock&& other) noexcept;
  DatabaseLock& operator=(DatabaseLock&& other) noexcept;
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;
  ~DatabaseLock();

 private:
  explicit DatabaseLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace tipline::storage
