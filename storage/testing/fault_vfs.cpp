#include "fault_vfs.h"

#include <sqlcipher/sqlite3.h>

#include <algorithm>
#include <atomic>

namespace tipline::storage::fault_vfs {
namespace {

enum class Fault { none, once, from, growth };

std::atomic<Fault> armed{Fault::none};
std::atomic<std::uint64_t> trigger{0};     // the operation number `once` and `from` fail at
std::atomic<std::int64_t> growth_left{0};  // bytes files may still grow by under `growth`
std::atomic<std::uint64_t> counted{0};
std::atomic<std::uint64_t> failed{0};
std::atomic<std::uint64_t> grown{0};

sqlite3_vfs* real_vfs = nullptr;
sqlite3_vfs wrapper_vfs{};

// SQLite allocates szOsFile bytes per file: this header, then the wrapped file's own.
struct File {
  sqlite3_file base;  // first, so SQLite may treat a File as its sqlite3_file
  sqlite3_file* real;
};

sqlite3_file* real_of(sqlite3_file* file) { return reinterpret_cast<File*>(file)->real; }

// Counts one operation and says whether it is to fail.
bool count_and_check() {
  const std::uint64_t number = counted.fetch_add(1) + 1;
  const Fault fault = armed.load();
  const bool fail = (fault == Fault::once && number == trigger.load()) ||
                    (fault == Fault::from && number >= trigger.load());
  if (fail) failed.fetch_add(1);
  return fail;
}

// Takes `bytes` from the growth budget; false (taking nothing) if they do not fit.
bool take_growth(std::int64_t bytes) {
  std::int64_t left = growth_left.load();
  do {
    if (left < bytes) return false;
  } while (!growth_left.compare_exchange_weak(left, left - bytes));
  return true;
}

int file_close(sqlite3_file* file) { return real_of(file)->pMethods->xClose(real_of(file)); }

int file_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (count_and_check()) return SQLITE_IOERR_READ;
  return real_of(file)->pMethods->xRead(real_of(file), out, amount, offset);
}

int file_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  if (count_and_check()) return SQLITE_IOERR_WRITE;
  sqlite3_file* real = real_of(file);
  sqlite3_int64 size = 0;
  if (const int rc = real->pMethods->xFileSize(real, &size); rc != SQLITE_OK) return rc;
  const sqlite3_int64 growth = std::max<sqlite3_int64>(offset + amount - size, 0);
  if (armed.load() == Fault::growth && !take_growth(growth)) {
    failed.fetch_add(1);
    return SQLITE_FULL;
  }
  const int rc = real->pMethods->xWrite(real, data, amount, offset);
  if (rc == SQLITE_OK) grown.fetch_add(static_cast<std::uint64_t>(growth));
  return rc;
}

int file_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (count_and_check()) return SQLITE_IOERR_TRUNCATE;
  return real_of(file)->pMethods->xTruncate(real_of(file), size);
}

int file_sync(sqlite3_file* file, int flags) {
  if (count_and_check()) return SQLITE_IOERR_FSYNC;
  return real_of(file)->pMethods->xSync(real_of(file), flags);
}

int file_size(sqlite3_file* file, sqlite3_int64* size) {
  return real_of(file)->pMethods->xFileSize(real_of(file), size);
}

int file_lock(sqlite3_file* file, int level) {
  return real_of(file)->pMethods->xLock(real_of(file), level);
}

int file_unlock(sqlite3_file* file, int level) {
  return real_of(file)->pMethods->xUnlock(real_of(file), level);
}

int file_check_reserved_lock(sqlite3_file* file, int* reserved) {
  return real_of(file)->pMethods->xCheckReservedLock(real_of(file), reserved);
}

int file_control(sqlite3_file* file, int op, void* argument) {
  return real_of(file)->pMethods->xFileControl(real_of(file), op, argument);
}

int file_sector_size(sqlite3_file* file) {
  return real_of(file)->pMethods->xSectorSize(real_of(file));
}

int file_device_characteristics(sqlite3_file* file) {
  return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}

int file_shm_map(sqlite3_file* file, int region, int region_size, int extend,
                 void volatile** mapped) {
  return real_of(file)->pMethods->xShmMap(real_of(file), region, region_size, extend, mapped);
}

int file_shm_lock(sqlite3_file* file, int offset, int count, int flags) {
  return real_of(file)->pMethods->xShmLock(real_of(file), offset, count, flags);
}

void file_shm_barrier(sqlite3_file* file) { real_of(file)->pMethods->xShmBarrier(real_of(file)); }

int file_shm_unmap(sqlite3_file* file, int delete_file) {
  return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_file);
}

// Never hands out a memory map, so that every page read goes through file_read and counts.
int file_fetch(sqlite3_file* /*file*/, sqlite3_int64 /*offset*/, int /*amount*/, void** mapped) {
  *mapped = nullptr;
  return SQLITE_OK;
}

int file_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* mapped) {
  return real_of(file)->pMethods->xUnfetch(real_of(file), offset, mapped);
}

// A wrapped file offers exactly the methods of the version its real file has.
constexpr sqlite3_io_methods methods_of_version(int version) {
  sqlite3_io_methods methods{};
  methods.iVersion = version;
  methods.xClose = file_close;
  methods.xRead = file_read;
  methods.xWrite = file_write;
  methods.xTruncate = file_truncate;
  methods.xSync = file_sync;
  methods.xFileSize = file_size;
  methods.xLock = file_lock;
  methods.xUnlock = file_unlock;
  methods.xCheckReservedLock = file_check_reserved_lock;
  methods.xFileControl = file_control;
  methods.xSectorSize = file_sector_size;
  methods.xDeviceCharacteristics = file_device_characteristics;
  if (version >= 2) {
    methods.xShmMap = file_shm_map;
    methods.xShmLock = file_shm_lock;
    methods.xShmBarrier = file_shm_barrier;
    methods.xShmUnmap = file_shm_unmap;
  }
  if (version >= 3) {
    methods.xFetch = file_fetch;
    methods.xUnfetch = file_unfetch;
  }
  return methods;
}

constexpr sqlite3_io_methods kMethodsV1 = methods_of_version(1);
constexpr sqlite3_io_methods kMethodsV2 = methods_of_version(2);
constexpr sqlite3_io_methods kMethodsV3 = methods_of_version(3);

int vfs_open(sqlite3_vfs* /*vfs*/, const char* path, sqlite3_file* file, int flags,
             int* out_flags) {
  auto* wrapper = reinterpret_cast<File*>(file);
  wrapper->real = reinterpret_cast<sqlite3_file*>(wrapper + 1);
  const int rc = real_vfs->xOpen(real_vfs, path, wrapper->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite closes nothing whose open failed, and expects pMethods to be null then.
    if (wrapper->real->pMethods != nullptr) wrapper->real->pMethods->xClose(wrapper->real);
    file->pMethods = nullptr;
    return rc;
  }
  const int version = wrapper->real->pMethods->iVersion;
  file->pMethods = version >= 3 ? &kMethodsV3 : version == 2 ? &kMethodsV2 : &kMethodsV1;
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs* /*vfs*/, const char* path, int sync_directory) {
  return real_vfs->xDelete(real_vfs, path, sync_directory);
}

int vfs_access(sqlite3_vfs* /*vfs*/, const char* path, int flags, int* result) {
  return real_vfs->xAccess(real_vfs, path, flags, result);
}

int vfs_full_pathname(sqlite3_vfs* /*vfs*/, const char* path, int size, char* out) {
  return real_vfs->xFullPathname(real_vfs, path, size, out);
}

void* vfs_dl_open(sqlite3_vfs* /*vfs*/, const char* path) {
  return real_vfs->xDlOpen(real_vfs, path);
}

void vfs_dl_error(sqlite3_vfs* /*vfs*/, int size, char* out) {
  real_vfs->xDlError(real_vfs, size, out);
}

void (*vfs_dl_sym(sqlite3_vfs* /*vfs*/, void* library, const char* symbol))() {
  return real_vfs->xDlSym(real_vfs, library, symbol);
}

void vfs_dl_close(sqlite3_vfs* /*vfs*/, void* library) { real_vfs->xDlClose(real_vfs, library); }

int vfs_randomness(sqlite3_vfs* /*vfs*/, int size, char* out) {
  return real_vfs->xRandomness(real_vfs, size, out);
}

int vfs_sleep(sqlite3_vfs* /*vfs*/, int microseconds) {
  return real_vfs->xSleep(real_vfs, microseconds);
}

int vfs_current_time(sqlite3_vfs* /*vfs*/, double* now) {
  return real_vfs->xCurrentTime(real_vfs, now);
}

int vfs_get_last_error(sqlite3_vfs* /*vfs*/, int size, char* out) {
  return real_vfs->xGetLastError(real_vfs, size, out);
}

int vfs_current_time_int64(sqlite3_vfs* /*vfs*/, sqlite3_int64* now) {
  return real_vfs->xCurrentTimeInt64(real_vfs, now);
}

sqlite3_vfs* registered() {
  static sqlite3_vfs* const vfs = [] {
    real_vfs = sqlite3_vfs_find(nullptr);
    wrapper_vfs.iVersion = std::min(real_vfs->iVersion, 2);  // version 3 only adds syscall hooks
    wrapper_vfs.szOsFile = static_cast<int>(sizeof(File)) + real_vfs->szOsFile;
    wrapper_vfs.mxPathname = real_vfs->mxPathname;
    wrapper_vfs.zName = "tipline-fault";
    wrapper_vfs.xOpen = vfs_open;
    wrapper_vfs.xDelete = vfs_delete;
    wrapper_vfs.xAccess = vfs_access;
    wrapper_vfs.xFullPathname = vfs_full_pathname;
    wrapper_vfs.xDlOpen = vfs_dl_open;
    wrapper_vfs.xDlError = vfs_dl_error;
    wrapper_vfs.xDlSym = vfs_dl_sym;
    wrapper_vfs.xDlClose = vfs_dl_close;
    wrapper_vfs.xRandomness = vfs_randomness;
    wrapper_vfs.xSleep = vfs_sleep;
    wrapper_vfs.xCurrentTime = vfs_current_time;
    wrapper_vfs.xGetLastError = vfs_get_last_error;
    if (wrapper_vfs.iVersion >= 2) wrapper_vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    sqlite3_vfs_register(&wrapper_vfs, 0);
    return &wrapper_vfs;
  }();
  return vfs;
}

void arm(Fault fault, std::uint64_t nth, std::int64_t growth) {
  armed.store(Fault::none);
  counted.store(0);
  failed.store(0);
  grown.store(0);
  trigger.store(nth);
  growth_left.store(growth);
  armed.store(fault);
}

}  // namespace

const char* name() { return registered()->zName; }

AsDefault::AsDefault() { sqlite3_vfs_register(registered(), 1); }

AsDefault::~AsDefault() { sqlite3_vfs_register(real_vfs, 1); }

void fail_once(std::uint64_t nth) { arm(Fault::once, nth, 0); }

void fail_from(std::uint64_t nth) { arm(Fault::from, nth, 0); }

void limit_growth(std::uint64_t bytes) { arm(Fault::growth, 0, static_cast<std::int64_t>(bytes)); }

void clear() { arm(Fault::none, 0, 0); }

std::uint64_t operations() { return counted.load(); }

std::uint64_t injected() { return failed.load(); }

std::uint64_t growth() { return grown.load(); }

}  // namespace tipline::storage::fault_vfs
