// Durable commit throughput of the Store: one writer waiting for each commit, against 64
// concurrent writers sharing group commits, beside the raw fdatasync rate of the same disk.
//
// Usage: tipline_store_bench [DIRECTORY [SECONDS_PER_PHASE]]
// DIRECTORY defaults to a fresh folder in the build tree (so on the build's disk); the
// files made there are removed at the end. A benchmark, not a test: see
// scripts/bench-storage and docs/development.md.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tipline/crypto/secret.h"
#include "tipline/storage/database.h"
#include "tipline/storage/store.h"

namespace tipline::storage {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kGroupWriters = 64;
// Each phase also stops at this many operations, whichever comes first.
constexpr std::int64_t kMaxOperations = 2'000'000;
constexpr double kTargetRatio = 20.0;

struct Rate {
  std::int64_t operations = 0;
  double seconds = 0;
  [[nodiscard]] double per_second() const {
    return seconds > 0 ? static_cast<double>(operations) / seconds : 0;
  }
};

// 4 KiB written then fdatasync'ed, over and over, in a preallocated file: the cost of one
// durable write on this disk, the floor under every durable commit.
Rate fdatasync_rate(const fs::path& file, std::chrono::duration<double> phase) {
  constexpr std::size_t kBlock = 4096;
  constexpr std::size_t kBlocks = 256;
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(file.string() + ": " + std::strerror(errno));
  std::array<char, kBlock> block{};
  // Preallocated, so that each sync flushes data rather than a growing file size.
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i * kBlock)) !=
        static_cast<ssize_t>(block.size())) {
      throw std::runtime_error(file.string() + ": write failed");
    }
  }
  ::fsync(fd);
  Rate rate;
  const auto start = Clock::now();
  const auto end = start + phase;
  while (rate.operations < kMaxOperations && Clock::now() < end) {
    block[0] = static_cast<char>(rate.operations);
    const auto offset = static_cast<off_t>((rate.operations % kBlocks) * kBlock);
    if (::pwrite(fd, block.data(), block.size(), offset) != static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      throw std::runtime_error(file.string() + ": " + std::strerror(errno));
    }
    ++rate.operations;
  }
  rate.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  fs::remove(file);
  return rate;
}

// `writers` threads, each writing one small row and waiting until it is durable before
// the next, on a fresh database.
Rate commit_rate(const fs::path& file, int writers, std::chrono::duration<double> phase) {
  const auto key = crypto::Secret::random(kKeyBytes);
  auto store = Store::open(file, key, Database::Mode::create_new);
  if (!store) throw std::runtime_error(store.error().message);

  std::atomic<std::int64_t> next{0};
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  const auto end = start + phase;
  const auto writer = [&] {
    while (!failed && Clock::now() < end) {
      const std::int64_t n = next++;
      if (n >= kMaxOperations) return;
      auto done = (*store)
                      ->write([n](Database& db) -> tl::expected<void, Error> {
                        auto insert = db.prepare(
                            "INSERT INTO signature_nonces (reviewer_id, nonce, expires_at) "
                            "VALUES ('bench', ?, 0);");
                        if (!insert) return tl::unexpected(insert.error());
                        return insert->bind(std::to_string(n)).run();
                      })
                      .get();
      if (!done) {
        std::fprintf(stderr, "store_bench: %s\n", done.error().message.c_str());
        failed = true;
      }
    }
  };
  std::vector<std::jthread> threads;
  threads.reserve(static_cast<std::size_t>(writers));
  for (int i = 0; i < writers; ++i) threads.emplace_back(writer);
  threads.clear();  // joins
  Rate rate;
  rate.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) throw std::runtime_error("a write failed");
  // Every number taken below the limit was written; those past it were not.
  rate.operations = std::min(next.load(), kMaxOperations);
  store->reset();
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) fs::remove(file.string() + suffix);
  return rate;
}

// The same small write, kept `writers` deep in flight the way the server keeps them: each
// completion (write_then, on the writer thread) submits the next, with no thread blocked
// per writer.
Rate pipelined_commit_rate(const fs::path& file, int writers, std::chrono::duration<double> phase) {
  const auto key = crypto::Secret::random(kKeyBytes);
  auto store = Store::open(file, key, Database::Mode::create_new);
  if (!store) throw std::runtime_error(store.error().message);

  std::atomic<std::int64_t> next{0};
  std::atomic<std::int64_t> committed{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::condition_variable all_stopped;
  int running = writers;
  const auto start = Clock::now();
  const auto end = start + phase;
  std::function<void()> submit = [&] {
    const std::int64_t n = next++;
    if (failed || n >= kMaxOperations || Clock::now() >= end) {
      const std::lock_guard guard(mutex);
      if (--running == 0) all_stopped.notify_one();
      return;
    }
    (*store)->write_then(
        [n](Database& db) -> tl::expected<void, Error> {
          auto insert = db.prepare(
              "INSERT INTO signature_nonces (reviewer_id, nonce, expires_at) "
              "VALUES ('bench', ?, 0);");
          if (!insert) return tl::unexpected(insert.error());
          return insert->bind(std::to_string(n)).run();
        },
        [&](const tl::expected<void, Error>& done) {
          if (done) {
            ++committed;
          } else {
            failed = true;
          }
          submit();
        });
  };
  for (int i = 0; i < writers; ++i) submit();
  {
    std::unique_lock guard(mutex);
    all_stopped.wait(guard, [&] { return running == 0; });
  }
  Rate rate;
  rate.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) throw std::runtime_error("a write failed");
  rate.operations = committed.load();
  store->reset();
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) fs::remove(file.string() + suffix);
  return rate;
}

int run(int argc, char** argv) {
  if (argc > 3) {
    std::fprintf(stderr, "usage: %s [DIRECTORY [SECONDS_PER_PHASE]]\n", argv[0]);
    return 2;
  }
  fs::path directory;
  bool made_directory = false;
  if (argc >= 2) {
    directory = argv[1];
  } else {
    std::string pattern = (fs::path(TIPLINE_BENCH_SCRATCH) / "store-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    directory = pattern;
    made_directory = true;
  }
  const std::chrono::duration<double> phase(argc == 3 ? std::stod(argv[2]) : 3.0);

  const Rate sync = fdatasync_rate(directory / "fdatasync.probe", phase);
  const Rate single = commit_rate(directory / "single.db", 1, phase);
  const Rate group = commit_rate(directory / "group.db", kGroupWriters, phase);
  const Rate pipelined = pipelined_commit_rate(directory / "pipelined.db", kGroupWriters, phase);
  if (made_directory) fs::remove_all(directory);

  const double ratio = single.per_second() > 0 ? group.per_second() / single.per_second() : 0;
  std::printf("store benchmark in %s, %.1f s per phase\n", directory.c_str(), phase.count());
  std::printf("raw fdatasync (4 KiB pwrite + fdatasync):  %9.0f /s  (%lld in %.2f s)\n",
              sync.per_second(), static_cast<long long>(sync.operations), sync.seconds);
  std::printf("durable commits, 1 writer (each alone):    %9.0f /s  (%lld in %.2f s)\n",
              single.per_second(), static_cast<long long>(single.operations), single.seconds);
  std::printf("durable commits, %d writers (group):       %9.0f /s  (%lld in %.2f s)\n",
              kGroupWriters, group.per_second(), static_cast<long long>(group.operations),
              group.seconds);
  std::printf("durable commits, %d in flight (write_then): %8.0f /s  (%lld in %.2f s)\n",
              kGroupWriters, pipelined.per_second(), static_cast<long long>(pipelined.operations),
              pipelined.seconds);
  std::printf("single commits per raw fdatasync:          %9.2f\n",
              sync.per_second() > 0 ? single.per_second() / sync.per_second() : 0);
  std::printf("group / single:                            %9.1f x  (threads blocked per writer)\n",
              ratio);
  std::printf("in flight / single:                        %9.1f x  (as the server writes)\n",
              single.per_second() > 0 ? pipelined.per_second() / single.per_second() : 0);
  std::printf("target: group/single >= %.0fx: %s\n", kTargetRatio,
              ratio >= kTargetRatio ? "met" : "NOT met");
  const double pipelined_ratio =
      single.per_second() > 0 ? pipelined.per_second() / single.per_second() : 0;
  std::printf("target: in flight/single >= %.0fx: %s\n", kTargetRatio,
              pipelined_ratio >= kTargetRatio ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace tipline::storage

int main(int argc, char** argv) {
  tipline::crypto::initialize();
  try {
    return tipline::storage::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "store_bench: %s\n", error.what());
    return 1;
  }
}
