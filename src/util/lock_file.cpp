#include "cmop/util/lock_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "cmop/error.hpp"

namespace cmop::util {
namespace {

// The locked descriptor, or -1 when `wait` is false and another holder has it.
int lock(const std::filesystem::path& path, unsigned mode, bool wait) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) throw Error(Errc::io, path.string(), std::string("open lock file: ") + std::strerror(errno));
  while (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (!wait && err == EWOULDBLOCK) return -1;
    throw Error(Errc::io, path.string(), std::string("flock: ") + std::strerror(err));
  }
  return fd;
}

}  // namespace

LockFile LockFile::acquire(const std::filesystem::path& path, unsigned mode) { return LockFile(lock(path, mode, true)); }

std::optional<LockFile> LockFile::try_acquire(const std::filesystem::path& path, unsigned mode) {
  int fd = lock(path, mode, false);
  if (fd < 0) return std::nullopt;
  return LockFile(fd);
}

LockFile::LockFile(LockFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

LockFile& LockFile::operator=(LockFile&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

LockFile::~LockFile() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor of the description releases the lock
}

}  // namespace cmop::util
