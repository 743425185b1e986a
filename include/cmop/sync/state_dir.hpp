#pragma once
// The directory a Workspace keeps everything in, owned by that one Workspace: it is
// created mode 0700 (it holds git credentials), locked against a second process
// (or a second Workspace in this one), and the only writer of the secrets kept as
// files in it. What the files are: docs/configuration.md, "The state dir".
#include <filesystem>
#include <string>

#include "cmop/util/lock_file.hpp"

namespace cmop::sync {

class StateDir {
 public:
  // Creates `path` (mode 0700) and takes its lock for the lifetime of the object.
  // Throws Error(io) naming the directory when it cannot be made, or when another
  // holder has the lock ("in use by another cmop serve"; released when that
  // process dies, even by kill -9).
  explicit StateDir(const std::filesystem::path& path);

  const std::filesystem::path& path() const noexcept { return path_; }

  // Where the SSH private key `key` of repo `repo` is kept: a file named by the
  // repo and a digest of the key, so a changed key never overwrites the file a
  // running sync may still be reading. Pure: nothing is written.
  // Throws Error(invalid_argument) when `repo` is not a DNS-1123 label.
  std::filesystem::path ssh_key_file(const std::string& repo, const std::string& key) const;
  // Writes the key there (mode 0600 from the start, atomically) and returns the path.
  // Throws Error(invalid_argument) as above, Error(io) naming the file.
  std::filesystem::path store_ssh_key(const std::string& repo, const std::string& key) const;
  // Removes the repo's stored keys but `keep` (none kept when empty). Best effort:
  // a key that cannot be removed stays until the next call.
  void remove_ssh_keys(const std::string& repo, const std::filesystem::path& keep = {}) const;

  // Removes what an interrupted atomic write left in the secrets' folder (call
  // before anything is written: the lock makes this the only writer).
  void remove_stale_secret_temp_files() const;

 private:
  std::filesystem::path ssh_key_dir() const { return path_ / "ssh-keys"; }

  std::filesystem::path path_;
  util::LockFile lock_;
};

}  // namespace cmop::sync
