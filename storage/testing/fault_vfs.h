// A fault-injecting SQLite VFS for tests.
//
// The VFS wraps the system's default VFS (unix) and passes every call through to it, but
// counts the I/O operations on the files it opens (database, WAL and journal files) and can
// make one of them fail. Counted operations: xRead, xWrite, xTruncate and xSync. Locks,
// file sizes, shared memory (xShm*) and file controls are passed through uncounted; no
// memory map is handed out (xFetch), so every page read is an xRead and counts.
//
// Faults:
//  - fail_once(n): the nth counted operation from now fails, later ones succeed;
//  - fail_from(n): the nth and every later counted operation fails until clear();
//  - limit_growth(bytes): writes that would together extend files by more than `bytes`
//    fail with SQLITE_FULL (writes inside a file's current size still succeed, as on a
//    full disk; truncation gives nothing back).
// A failed operation does nothing and returns SQLITE_IOERR_READ, _WRITE, _TRUNCATE or
// _FSYNC (SQLITE_FULL for a write over the budget).
//
// The fault settings are process-wide and the counters atomic, so connections on several
// threads may use the VFS; arm and clear faults while no I/O is in flight.
#pragma once

#include <cstdint>

namespace tipline::storage::fault_vfs {

// Registers the VFS on first use (not as the default) and returns its name, to pass as
// Database::Options::vfs or Store::Options::vfs.
const char* name();

// Makes the fault VFS the default while it lives, for code that opens files without
// naming a VFS; the system's default comes back afterwards.
class AsDefault {
 public:
  AsDefault();
  AsDefault(const AsDefault&) = delete;
  AsDefault& operator=(const AsDefault&) = delete;
  ~AsDefault();
};

// Each of these resets the operation count to zero and replaces any armed fault.
void fail_once(std::uint64_t nth);
void fail_from(std::uint64_t nth);
void limit_growth(std::uint64_t bytes);
void clear();

// Since the last reset: counted operations, how many of them were made to fail, and the
// bytes by which writes extended files.
std::uint64_t operations();
std::uint64_t injected();
std::uint64_t growth();

}  // namespace tipline::storage::fault_vfs
