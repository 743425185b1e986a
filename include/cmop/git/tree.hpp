#pragma once
// One commit's files, read straight from a mirror's object database: no checkout.
#include <memory>
#include <string>
#include <string_view>

#include "cmop/util/file_tree.hpp"

struct git_repository;
struct git_oid;

namespace cmop::git {

// The tree of one commit as a util::FileTree. Entries keep the meaning a
// checkout gave them: a blob of mode 100644/100755 is a regular file, 120000 a
// symlink whose blob is its target, 040000 a directory, and a submodule
// (160000) an empty directory. Names are the tree's bytes (not necessarily
// UTF-8). A file's size comes from the object header, so size limits refuse a
// blob before it is inflated. Symlinks resolve inside the commit: an absolute
// target, or a ".." above the root, escapes; a missing part or more than 40
// links in a row is broken.
// Holds the mirror open; not for concurrent use (one per sync).
class Tree final : public util::FileTree {
 public:
  Tree(Tree&&) noexcept;
  Tree& operator=(Tree&&) noexcept;
  ~Tree() override;

  const std::string& commit() const;  // 40 hex
  // The committer time, RFC 3339 in UTC.
  std::string commit_time() const;
  // Git tree id of the directory at `path` (no links followed): a content key
  // for a folder. "" when there is no directory there.
  std::string id(std::string_view path) const;
  // Whether any entry below the directory at `path` is a symlink.
  bool holds_symlink(std::string_view path) const;

  Kind kind(std::string_view path) const override;
  std::vector<std::string> list(std::string_view path) const override;
  std::string read(std::string_view path, const std::string& subject,
                   const std::function<void(std::uint64_t)>& check_size) const override;
  Resolved resolve(std::string_view path) const override;

 private:
  struct Impl;
  friend Tree make_tree(git_repository* repo, const git_oid& commit, const std::string& subject);
  explicit Tree(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cmop::git
