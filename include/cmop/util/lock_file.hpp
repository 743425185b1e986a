#pragma once
// An exclusive flock(2) on a lock file, held for the lifetime of the object: the
// one way cmop keeps two writers (processes, or objects in one process) out of the
// same directory. flock locks belong to the open file description, so two objects
// on the same file in one process exclude each other too, and the kernel releases
// the lock when its holder dies: a kill -9 never leaves a stale lock behind.
#include <filesystem>
#include <optional>

namespace cmop::util {

class LockFile {
 public:
  // Opens (creating it with `mode`) and locks `path`, waiting while another holder
  // has it. Throws Error(io) naming the file when it cannot be opened or locked.
  static LockFile acquire(const std::filesystem::path& path, unsigned mode = 0644);
  // The same without waiting: nullopt when another holder has the lock.
  static std::optional<LockFile> try_acquire(const std::filesystem::path& path, unsigned mode = 0644);

  LockFile(LockFile&& other) noexcept;
  LockFile& operator=(LockFile&& other) noexcept;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile();  // releases the lock

 private:
  explicit LockFile(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace cmop::util
