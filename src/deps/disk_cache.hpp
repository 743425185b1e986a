#pragma once
// The resolver's files on disk: index.yaml copies (index/), chart archives by
// digest (charts/) and OCI manifests by digest (oci-manifests/), within
// CacheLimits, least recently used (by modification time: a use touches a file)
// evicted first. Thread-safe.
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cmop/deps/resolver.hpp"

namespace cmop::deps::detail {

class DiskCache {
 public:
  // Removes what an earlier process left: half-written files, and whatever is
  // past the bounds.
  DiskCache(std::filesystem::path dir, CacheLimits limits);

  const CacheLimits& limits() const { return limits_; }
  std::filesystem::path file(const char* folder, const std::string& name) const { return dir_ / folder / name; }

  // The bytes of `path` when their sha256 is `hex` (and the file is then marked
  // used); nullopt when it is missing, unreadable or not what it claims.
  std::optional<std::string> read_verified(const std::filesystem::path& path, const std::string& hex) const;

  // Stores a checked file (skipped when it alone is past the size bound, or cannot
  // be written) and evicts what is then past the bounds.
  void store(const std::filesystem::path& path, std::string_view head, std::string_view body);

 private:
  // Removes files unused for longer than max_age, then the least recently used
  // until within max_bytes and max_entries; `keep` (just stored) goes last.
  void enforce_limits(const std::filesystem::path& keep = {});

  std::filesystem::path dir_;
  CacheLimits limits_;
  std::mutex mu_;  // one pass over the files at a time
};

// A cache file's bytes; "" when it went (evicted meanwhile) or cannot be read.
std::string read_if_present(const std::filesystem::path& path);
// Marks a cache file used now.
void touch(const std::filesystem::path& path);

}  // namespace cmop::deps::detail
