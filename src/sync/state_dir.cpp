#include "cmop/sync/state_dir.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"

namespace cmop::sync {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kKeyDigestChars = 16;  // of the key's SHA-256, in the file name
constexpr std::string_view kKeySuffix = ".key";

// The directory exists (0700) before the lock file is made in it.
fs::path prepared(const fs::path& path) {
  const fs::path dir = fs::absolute(path).lexically_normal();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(Errc::io, dir.string(), "cannot create the state dir: " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0)  // credentials live here
    throw Error(Errc::io, dir.string(), std::string("chmod: ") + std::strerror(errno));
  return dir;
}

// One `cmop serve` per state dir: a second one would interleave syncs, journals and
// index writes with the first. The file keeps the name it had when serve held it,
// so an older and a newer binary on one volume still exclude each other.
util::LockFile lock_of(const fs::path& dir) {
  auto lock = util::LockFile::try_acquire(dir / ".cmop-serve.lock", 0600);
  if (!lock) throw Error(Errc::io, dir.string(), "the state dir is in use by another cmop serve");
  return std::move(*lock);
}

// Whether `file` is one of `repo`'s stored keys: "<repo>-<16 hex digits>.key". The
// structure, not just the prefix, tells "a-<digest>.key" (repo "a") apart from
// "a-b-<digest>.key" (repo "a-b").
bool is_key_of(const std::string& file, const std::string& repo) {
  if (file.size() != repo.size() + 1 + kKeyDigestChars + kKeySuffix.size()) return false;
  if (file.compare(0, repo.size(), repo) != 0 || file[repo.size()] != '-') return false;
  if (file.compare(file.size() - kKeySuffix.size(), kKeySuffix.size(), kKeySuffix) != 0) return false;
  for (std::size_t i = repo.size() + 1; i < repo.size() + 1 + kKeyDigestChars; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(file[i])) || std::isupper(static_cast<unsigned char>(file[i])))
      return false;
  return true;
}

}  // namespace

StateDir::StateDir(const fs::path& path) : path_(prepared(path)), lock_(lock_of(path_)) {}

fs::path StateDir::ssh_key_file(const std::string& repo, const std::string& key) const {
  util::require_dns1123_label("repo name", repo);
  return ssh_key_dir() / (repo + "-" + util::sha256_hex(key).substr(0, kKeyDigestChars) + std::string(kKeySuffix));
}

fs::path StateDir::store_ssh_key(const std::string& repo, const std::string& key) const {
  const fs::path file = ssh_key_file(repo, key);
  std::error_code ec;
  fs::create_directories(ssh_key_dir(), ec);
  if (ec) throw Error(Errc::io, ssh_key_dir().string(), ec.message());
  ::chmod(ssh_key_dir().c_str(), 0700);
  util::write_file_atomic(file, key, 0600);  // never readable by others, not even briefly
  return file;
}

void StateDir::remove_ssh_keys(const std::string& repo, const fs::path& keep) const {
  std::error_code ec;
  for (auto it = fs::directory_iterator(ssh_key_dir(), ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!is_key_of(it->path().filename().string(), repo) || (!keep.empty() && it->path() == keep)) continue;
    std::error_code ignored;  // best effort, as documented: the next call retries
    fs::remove(it->path(), ignored);
  }
}

void StateDir::remove_stale_secret_temp_files() const {
  if (fs::is_directory(ssh_key_dir())) util::remove_stale_temp_files(ssh_key_dir());
}

}  // namespace cmop::sync
