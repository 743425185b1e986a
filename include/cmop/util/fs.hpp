#pragma once
// Filesystem helpers with the durability contracts the state dir relies on.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cmop::util {

// Reads a whole file; throws Error(io) naming the path.
std::string read_file(const std::filesystem::path& path);

// Makes the directory's entries (a file just created, renamed or removed in it)
// durable. Throws Error(io) naming the directory when it cannot be opened or synced.
void fsync_dir(const std::filesystem::path& dir);

// Writes via a temp file in the same directory + fsync + rename + fsync(dir),
// so readers see either the old or the new content, even after kill -9 or power loss.
// Throws Error(io) naming the file when any step fails (the directory's fsync too:
// the rename is then done but may not be durable).
// The file gets `mode` before it becomes visible (0600 for secrets).
void write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode = 0644);

// Removes what write_file_atomic() leaves in `dir` when its process is killed
// between creating the temp file and renaming it (".<name>.tmp-XXXXXX").
// Only for a directory no other writer is using at the moment (the caller holds
// its lock). Returns how many were removed.
std::size_t remove_stale_temp_files(const std::filesystem::path& dir);

// A fresh directory removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "cmop-");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace cmop::util
