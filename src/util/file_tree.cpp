#include "cmop/util/file_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cmop/error.hpp"

namespace cmop::util {
namespace fs = std::filesystem;

namespace {

bool within(const fs::path& p, const fs::path& root) {
  const std::string& ps = p.native();
  const std::string& rs = root.native();
  if (ps == rs || rs == "/") return true;
  return ps.size() > rs.size() && ps.compare(0, rs.size(), rs) == 0 && ps[rs.size()] == '/';
}

FileTree::Kind kind_of(mode_t mode) {
  if (S_ISREG(mode)) return FileTree::Kind::file;
  if (S_ISDIR(mode)) return FileTree::Kind::directory;
  if (S_ISLNK(mode)) return FileTree::Kind::symlink;
  return FileTree::Kind::other;
}

}  // namespace

std::string tree_join(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  std::string out(dir);
  out += '/';
  out += name;
  return out;
}

bool tree_clean(std::string_view path, std::string& out) {
  if (!path.empty() && path.front() == '/') return false;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) return false;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  out.clear();
  for (auto part : parts) out = tree_join(out, part);
  return true;
}

DirectoryTree::DirectoryTree(const fs::path& root) {
  std::error_code ec;
  root_ = fs::canonical(root, ec);
  if (ec) throw Error(Errc::not_found, root.string(), "folder does not exist: " + ec.message());
}

std::optional<std::string> DirectoryTree::relative_path(const fs::path& p) const {
  std::error_code ec;
  fs::path real = fs::weakly_canonical(p, ec);
  if (ec || !within(real, root_)) return std::nullopt;
  std::string rel = real.lexically_relative(root_).generic_string();
  if (rel == ".") rel.clear();
  return rel;
}

fs::path DirectoryTree::at(std::string_view path) const { return path.empty() ? root_ : root_ / path; }

FileTree::Kind DirectoryTree::kind(std::string_view path) const {
  struct stat st {};
  if (::lstat(at(path).c_str(), &st) != 0) return Kind::missing;
  return kind_of(st.st_mode);
}

std::vector<std::string> DirectoryTree::list(std::string_view path) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(at(path), ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().native());
  if (ec) throw Error(Errc::io, path.empty() ? "." : std::string(path), "cannot list directory: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

// Opens without following a final symlink (the path is already resolved), so a
// swap after the check cannot redirect the read; the size checked is the opened
// file's, and a file that grew meanwhile is read only up to it.
std::string DirectoryTree::read(std::string_view path, const std::string& subject,
                                const std::function<void(std::uint64_t)>& check_size) const {
  const fs::path file = at(path);
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(Errc::io, subject, std::string("open: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(Errc::io, subject, std::string("fstat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(Errc::invalid_chart, subject, "cannot load irregular file as part of a chart");
  auto size = static_cast<std::uint64_t>(st.st_size);
  check_size(size);
  std::string data(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::io, subject, std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  return data;
}

FileTree::Resolved DirectoryTree::resolve(std::string_view path) const {
  Resolved r;
  std::error_code ec;
  fs::path real = fs::canonical(at(path), ec);
  if (ec) {
    r.why = ec.message();
    return r;
  }
  struct stat st {};
  r.kind = ::stat(real.c_str(), &st) == 0 ? kind_of(st.st_mode) : Kind::missing;
  if (!within(real, root_)) {
    r.status = Resolved::Status::escapes;
    return r;
  }
  r.status = Resolved::Status::ok;
  r.path = real == root_ ? "" : real.lexically_relative(root_).generic_string();
  return r;
}

std::string read_tree_file(const FileTree& tree, std::string_view path, const std::string& subject,
                           std::uint64_t max_bytes) {
  auto r = tree.resolve(path);
  if (r.status == FileTree::Resolved::Status::escapes)
    throw Error(Errc::forbidden, subject, "is a symlink to a file outside the repository");
  if (r.status == FileTree::Resolved::Status::broken) throw Error(Errc::io, subject, r.why);
  if (r.kind != FileTree::Kind::file) throw Error(Errc::io, subject, "not a regular file");
  return tree.read(r.path, subject, [&](std::uint64_t size) {
    if (max_bytes > 0 && size > max_bytes)
      throw Error(Errc::too_large, subject,
                  "file is " + std::to_string(size) + " bytes; the limit for a chart file is " +
                      std::to_string(max_bytes));
  });
}

}  // namespace cmop::util
