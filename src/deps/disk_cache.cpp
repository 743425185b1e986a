#include "deps/disk_cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"

namespace cmop::deps::detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFolders[] = {"index", "charts", "oci-manifests"};

// Writes head and body to `path` through a temp file named as
// util::write_file_atomic names them (".<name>.tmp-XXXXXX", so a crash's leftovers
// are found the same way), renamed over it: readers see the old or the new file
// whole. No copy of the body is made, and a cache needs no fsync.
void write_cache_file(const fs::path& path, std::string_view head, std::string_view body) {
  fs::create_directories(path.parent_path());
  std::string tmp = (path.parent_path() / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw Error(Errc::io, path.string(), "cannot create a file in the dependency cache");
  bool ok = true;
  for (std::string_view part : {head, body}) {
    while (ok && !part.empty()) {
      const ssize_t n = ::write(fd, part.data(), part.size());
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) part.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  ok = ::fchmod(fd, 0644) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw Error(Errc::io, path.string(), "writing the dependency cache failed");
  }
}

}  // namespace

std::string read_if_present(const fs::path& path) {
  try {
    return util::read_file(path);
  } catch (const Error&) {
    return {};
  }
}

void touch(const fs::path& path) {
  std::error_code ec;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ec);
}

DiskCache::DiskCache(fs::path dir, CacheLimits limits) : dir_(std::move(dir)), limits_(limits) {
  for (const char* folder : kFolders) {
    std::error_code ec;
    if (fs::is_directory(dir_ / folder, ec)) util::remove_stale_temp_files(dir_ / folder);
  }
  enforce_limits();
}

std::optional<std::string> DiskCache::read_verified(const fs::path& path, const std::string& hex) const {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::string bytes = read_if_present(path);
  if (util::sha256_hex(bytes) != hex) return std::nullopt;
  touch(path);
  return bytes;
}

void DiskCache::store(const fs::path& path, std::string_view head, std::string_view body) {
  if (limits_.max_bytes && head.size() + body.size() > limits_.max_bytes) return;
  try {
    write_cache_file(path, head, body);
  } catch (const Error&) {
    return;  // a cache that cannot be written only costs a download next time
  }
  enforce_limits(path);
}

void DiskCache::enforce_limits(const fs::path& keep) {
  struct File {
    fs::file_time_type used;
    std::uint64_t size;
    fs::path path;
  };
  std::lock_guard lk(mu_);
  std::vector<File> files;
  const auto now = fs::file_time_type::clock::now();
  for (const char* folder : kFolders) {
    std::error_code ec;
    for (fs::directory_iterator it(dir_ / folder, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.filename().string().front() == '.') continue;  // a write under way
      std::error_code fe;
      if (!it->is_regular_file(fe)) continue;
      const auto size = it->file_size(fe);
      const auto used = it->last_write_time(fe);
      if (fe) continue;
      if (limits_.max_age.count() > 0 && now - used > limits_.max_age && p != keep) {
        fs::remove(p, fe);
        continue;
      }
      files.push_back({used, size, p});
    }
  }
  std::sort(files.begin(), files.end(), [&](const File& a, const File& b) {
    if ((a.path == keep) != (b.path == keep)) return b.path == keep;
    return a.used < b.used;
  });
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.size;
  std::size_t count = files.size();
  for (const auto& f : files) {
    if ((!limits_.max_bytes || total <= limits_.max_bytes) && (!limits_.max_entries || count <= limits_.max_entries))
      break;
    std::error_code fe;
    fs::remove(f.path, fe);
    total -= f.size;
    --count;
  }
}

}  // namespace cmop::deps::detail
