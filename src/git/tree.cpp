// A commit's files read from the object database (see include/cmop/git/tree.hpp).
#include "cmop/git/tree.hpp"

#include <git2.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>

#include "cmop/error.hpp"
#include "cmop/util/time.hpp"
#include "git/tree_internal.hpp"

namespace cmop::git {

namespace {

// What Linux allows before ELOOP (MAXSYMLINKS), which canonical() on a checkout met.
constexpr int kMaxLinks = 40;
// A link target longer than PATH_MAX could not have been checked out either.
constexpr std::size_t kMaxLinkTarget = 4096;

std::string oid_text(const git_oid& oid) {
  char buf[GIT_OID_MAX_HEXSIZE + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

std::string last_error(int rc) {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "libgit2 error " + std::to_string(rc);
}

struct TreeFree {
  void operator()(git_tree* t) const { git_tree_free(t); }
};
using TreeHandle = std::unique_ptr<git_tree, TreeFree>;

}  // namespace

struct Tree::Impl {
  git_repository* repo = nullptr;  // owned
  git_odb* odb = nullptr;          // owned
  std::string commit;
  std::int64_t time = 0;
  std::string subject;  // for errors: the mirror
  // Trees met on the way, by path ("" = root). libgit2 does not cache large
  // trees, and every lookup below walks from the root.
  mutable std::map<std::string, TreeHandle, std::less<>> trees;

  ~Impl() {
    trees.clear();  // trees before the repository they belong to
    if (odb) git_odb_free(odb);
    if (repo) git_repository_free(repo);
  }

  struct Entry {
    bool exists = false;
    git_filemode_t mode = GIT_FILEMODE_UNREADABLE;
    git_oid id{};
  };

  // The tree of the directory at `path`; null when there is none (a submodule
  // is a directory without a tree).
  git_tree* tree_at(std::string_view path) const {
    if (auto it = trees.find(path); it != trees.end()) return it->second.get();
    Entry e = entry(path);
    if (!e.exists || e.mode != GIT_FILEMODE_TREE) return nullptr;
    git_tree* t = nullptr;
    int rc = git_tree_lookup(&t, repo, &e.id);
    if (rc < 0) throw Error(Errc::git, subject, "read tree " + std::string(path) + ": " + last_error(rc));
    return trees.emplace(std::string(path), TreeHandle(t)).first->second.get();
  }

  Entry entry(std::string_view path) const {
    Entry out;
    if (path.empty()) {
      out.exists = true;
      out.mode = GIT_FILEMODE_TREE;
      out.id = *git_tree_id(trees.at("").get());
      return out;
    }
    auto slash = path.rfind('/');
    std::string_view parent = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
    std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
    git_tree* dir = tree_at(parent);
    if (!dir || name.empty()) return out;
    const git_tree_entry* found = git_tree_entry_byname(dir, name.c_str());
    if (!found) return out;
    out.exists = true;
    out.mode = git_tree_entry_filemode(found);
    out.id = *git_tree_entry_id(found);
    return out;
  }

  std::uint64_t size_of(const git_oid& id, const std::string& what) const {
    std::size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    int rc = git_odb_read_header(&size, &type, odb, &id);
    if (rc < 0) throw Error(Errc::git, what, "read object header: " + last_error(rc));
    return size;
  }

  std::string blob(const git_oid& id, const std::string& what) const {
    git_odb_object* object = nullptr;
    int rc = git_odb_read(&object, odb, &id);
    if (rc < 0) throw Error(Errc::git, what, "read object: " + last_error(rc));
    std::string data(static_cast<const char*>(git_odb_object_data(object)), git_odb_object_size(object));
    git_odb_object_free(object);
    return data;
  }
};

Tree::Tree(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tree::Tree(Tree&&) noexcept = default;
Tree& Tree::operator=(Tree&&) noexcept = default;
Tree::~Tree() = default;

const std::string& Tree::commit() const { return impl_->commit; }

std::string Tree::commit_time() const {
  return util::rfc3339(std::chrono::system_clock::from_time_t(static_cast<std::time_t>(impl_->time)));
}

std::string Tree::id(std::string_view path) const {
  std::string clean;
  if (!util::tree_clean(path, clean)) return "";
  auto e = impl_->entry(clean);
  return e.exists && e.mode == GIT_FILEMODE_TREE ? oid_text(e.id) : "";
}

bool Tree::holds_symlink(std::string_view path) const {
  git_tree* t = impl_->tree_at(path);
  if (!t) return false;
  for (std::size_t i = 0, n = git_tree_entrycount(t); i < n; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(t, i);
    auto mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_LINK) return true;
    if (mode == GIT_FILEMODE_TREE && holds_symlink(util::tree_join(path, git_tree_entry_name(e)))) return true;
  }
  return false;
}

util::FileTree::Kind Tree::kind(std::string_view path) const {
  auto e = impl_->entry(path);
  if (!e.exists) return Kind::missing;
  switch (e.mode) {
    case GIT_FILEMODE_TREE:
    case GIT_FILEMODE_COMMIT: return Kind::directory;  // a submodule checks out as an empty directory
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE: return Kind::file;
    case GIT_FILEMODE_LINK: return Kind::symlink;
    default: return Kind::other;
  }
}

std::vector<std::string> Tree::list(std::string_view path) const {
  std::vector<std::string> names;
  git_tree* t = impl_->tree_at(path);
  if (!t) return names;
  names.reserve(git_tree_entrycount(t));
  for (std::size_t i = 0, n = git_tree_entrycount(t); i < n; ++i)
    names.emplace_back(git_tree_entry_name(git_tree_entry_byindex(t, i)));
  std::sort(names.begin(), names.end());  // git orders "a/" after "a.b"; Helm walks in byte order
  return names;
}

std::string Tree::read(std::string_view path, const std::string& subject,
                       const std::function<void(std::uint64_t)>& check_size) const {
  auto e = impl_->entry(path);
  if (!e.exists) throw Error(Errc::io, subject, "no such file in commit " + impl_->commit);
  if (e.mode != GIT_FILEMODE_BLOB && e.mode != GIT_FILEMODE_BLOB_EXECUTABLE)
    throw Error(Errc::invalid_chart, subject, "cannot load irregular file as part of a chart");
  check_size(impl_->size_of(e.id, subject));
  return impl_->blob(e.id, subject);
}

util::FileTree::Resolved Tree::resolve(std::string_view path) const {
  Resolved r;
  auto split = [](std::string_view p) {
    std::deque<std::string> parts;
    std::size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find('/', start);
      if (end == std::string_view::npos) end = p.size();
      if (end > start) parts.emplace_back(p.substr(start, end - start));
      start = end + 1;
    }
    return parts;
  };
  if (!path.empty() && path.front() == '/') {
    r.status = Resolved::Status::escapes;
    return r;
  }
  std::deque<std::string> todo = split(path);
  std::vector<std::string> done;  // real components so far
  std::string current;            // done, joined
  auto rejoin = [&] {
    current.clear();
    for (auto& d : done) current = util::tree_join(current, d);
  };
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (done.empty()) {
        r.status = Resolved::Status::escapes;
        return r;
      }
      done.pop_back();
      rejoin();
      continue;
    }
    std::string next = util::tree_join(current, part);
    auto e = impl_->entry(next);
    if (!e.exists) {
      r.why = "no such file or directory";
      return r;
    }
    if (e.mode == GIT_FILEMODE_LINK) {
      if (++links > kMaxLinks) {
        r.why = "too many levels of symbolic links";
        return r;
      }
      if (impl_->size_of(e.id, next) > kMaxLinkTarget) {
        r.why = "symlink target too long";
        return r;
      }
      std::string target = impl_->blob(e.id, next);
      if (target.empty()) {
        r.why = "empty symlink target";
        return r;
      }
      if (target.front() == '/') {
        r.status = Resolved::Status::escapes;
        return r;
      }
      auto parts = split(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      continue;
    }
    bool dir = e.mode == GIT_FILEMODE_TREE || e.mode == GIT_FILEMODE_COMMIT;
    if (!dir && std::any_of(todo.begin(), todo.end(), [](const std::string& p) { return p != "."; })) {
      r.why = "not a directory";
      return r;
    }
    done.push_back(std::move(part));
    current = std::move(next);
  }
  r.status = Resolved::Status::ok;
  r.path = current;
  r.kind = kind(current);
  return r;
}

// Called by Repository with the mirror it opened.
Tree make_tree(git_repository* repo, const git_oid& commit_id, const std::string& subject) {
  auto impl = std::make_unique<Tree::Impl>();
  impl->repo = repo;  // owned from here on, also when this throws
  impl->subject = subject;
  impl->commit = oid_text(commit_id);
  git_commit* commit = nullptr;
  int rc = git_commit_lookup(&commit, repo, &commit_id);
  git_tree* root = nullptr;
  if (rc == 0) {
    impl->time = git_commit_time(commit);
    rc = git_commit_tree(&root, commit);
    git_commit_free(commit);
  }
  if (rc == 0) {
    impl->trees.emplace("", TreeHandle(root));
    rc = git_repository_odb(&impl->odb, repo);
  }
  if (rc < 0) throw Error(Errc::git, subject, "tree of commit " + impl->commit + ": " + last_error(rc));
  return Tree(std::move(impl));
}

}  // namespace cmop::git
