#pragma once
// A read-only tree of files that charts are read from: a folder on disk
// (DirectoryTree) or a git commit straight from the object database (git::Tree).
// Everything that reads chart content (discovery, the packager, dependency
// resolution, a sync's Chart.yaml reads) goes through this interface, so the
// same rules apply to both: nothing outside the tree's root is ever read.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cmop::util {

class FileTree {
 public:
  enum class Kind { missing, file, directory, symlink, other };

  // A path with every symlink on it followed, as realpath(3) would, but confined
  // to the tree: `escapes` when it leaves the root (a ".." above it, an absolute
  // target outside it), `broken` when some part does not exist, is not a
  // directory where one is needed, or links loop.
  struct Resolved {
    enum class Status { ok, broken, escapes } status = Status::broken;
    std::string path;  // for ok: the real path, relative to the root ("" = root)
    Kind kind = Kind::missing;  // for ok (and escapes where the tree can tell): what is there
    std::string why;            // for broken: the reason
  };

  virtual ~FileTree() = default;

  // Paths below are relative to the root, '/'-separated, "" = the root; they
  // never contain "." or ".." components (resolve() takes any path).

  // What is at `path`, not following a final symlink (lstat).
  virtual Kind kind(std::string_view path) const = 0;
  // Names in the directory at `path` (a real directory, not a link), sorted by
  // bytes as Go's sort.Strings does. Throws Error(io) when it cannot be listed.
  virtual std::vector<std::string> list(std::string_view path) const = 0;
  // The content of the regular file at `path` (not following a final link).
  // `check_size` is called with the file's size before any of it is read and
  // may throw to refuse it. Throws Error(io|invalid_chart) naming `subject`.
  virtual std::string read(std::string_view path, const std::string& subject,
                           const std::function<void(std::uint64_t)>& check_size) const = 0;
  virtual Resolved resolve(std::string_view path) const = 0;
};

// A folder on disk as a FileTree. Symlinks are resolved by the file system
// (canonical paths) and must stay inside the folder.
class DirectoryTree final : public FileTree {
 public:
  // Throws Error(not_found) when root does not exist.
  explicit DirectoryTree(const std::filesystem::path& root);
  const std::filesystem::path& root() const { return root_; }
  // `p` (absolute, or relative to the working directory) as a path of this tree
  // after resolving symlinks on the way; nullopt when it is not inside the root.
  std::optional<std::string> relative_path(const std::filesystem::path& p) const;

  Kind kind(std::string_view path) const override;
  std::vector<std::string> list(std::string_view path) const override;
  std::string read(std::string_view path, const std::string& subject,
                   const std::function<void(std::uint64_t)>& check_size) const override;
  Resolved resolve(std::string_view path) const override;

 private:
  std::filesystem::path at(std::string_view path) const;
  std::filesystem::path root_;  // canonical
};

// Joins tree paths ("" is the root).
std::string tree_join(std::string_view dir, std::string_view name);
// `path` lexically cleaned ('/'-separated, no "." or empty components, ".."
// folded); false when it is absolute or climbs above the root.
bool tree_clean(std::string_view path, std::string& out);

// Reads a file that must resolve to a regular file inside the tree: a link out of
// it is Error(forbidden) ("... outside the repository"), nothing read; a file
// larger than max_bytes (0 = no limit) is Error(too_large) by its size, unread;
// anything else missing or not a regular file is Error(io). Errors name `subject`.
std::string read_tree_file(const FileTree& tree, std::string_view path, const std::string& subject,
                           std::uint64_t max_bytes);

}  // namespace cmop::util
