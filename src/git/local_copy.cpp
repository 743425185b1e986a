// Local fetches by copying objects (see local_copy.hpp for why).
#include "git/local_copy.hpp"

#include <git2/odb_backend.h>
#include <git2/sys/errors.h>  // git_error_clear (moved here in libgit2 1.8)
#include <openssl/evp.h>
#include <strings.h>
#include <zlib.h>

#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"

namespace cmop::git::detail {
namespace fs = std::filesystem;

namespace {

struct OidHash {
  std::size_t operator()(const git_oid& id) const noexcept {
    std::size_t h;
    std::memcpy(&h, id.id, sizeof h);
    return h;
  }
};
struct OidEqual {
  bool operator()(const git_oid& a, const git_oid& b) const noexcept { return git_oid_equal(&a, &b) != 0; }
};

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Handle = std::unique_ptr<T, Freer<T, Free>>;

std::string last_git_error() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The objects a fetch of every branch and tag of `source` would bring into a
// mirror that holds `mirror`'s refs and everything they reach.
class Wanted {
 public:
  Wanted(git_repository* source, git_odb* mirror_odb, std::function<void()> check_in)
      : source_(source), mirror_odb_(mirror_odb), check_in_(std::move(check_in)) {}

  // False when the source's tips cannot all be read (the transport reports why).
  bool collect(git_repository* mirror, LocalDepth depth) {
    git_revwalk* raw = nullptr;
    if (git_revwalk_new(&raw, source_) < 0) return false;
    Handle<git_revwalk, git_revwalk_free> walk(raw);
    git_revwalk_sorting(walk.get(), GIT_SORT_NONE);
    tips_only_ = depth == LocalDepth::tips;
    if (!push_tips(walk.get())) return false;
    if (tips_only_) return true;
    // Deepening a shallow mirror walks past what its refs reach (the history they
    // reach is not all there).
    if (depth == LocalDepth::new_commits || git_repository_is_shallow(mirror) != 1) hide_mirror_refs(walk.get(), mirror);
    git_oid commit;
    int rc;
    while ((rc = git_revwalk_next(&commit, walk.get())) == 0) {
      if (!add_commit(commit)) return false;
    }
    return rc == GIT_ITEROVER;
  }

  std::vector<git_oid> objects;  // in no particular order: none is a delta of another

 private:
  // Not yet listed, and not in the mirror (whose objects come with all they reach).
  bool want(const git_oid& id) {
    if (!seen_.insert(id).second) return false;
    if ((seen_.size() & 255) == 0) check_in_();
    // Nearly every lookup of a cold copy misses; a miss must not rescan the pack
    // folder each time (nothing else writes the mirror while its sync lock is held).
    return git_odb_exists_ext(mirror_odb_, &id, GIT_ODB_LOOKUP_NO_REFRESH) == 0;
  }

  bool add_commit(const git_oid& id) {
    if (want(id)) objects.push_back(id);
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, source_, &id) < 0) return false;
    const git_oid tree = *git_commit_tree_id(c);
    git_commit_free(c);
    return add_tree(tree);
  }

  bool add_tree(const git_oid& id) {
    if (!want(id)) return true;
    objects.push_back(id);
    git_tree* raw = nullptr;
    if (git_tree_lookup(&raw, source_, &id) < 0) return false;
    Handle<git_tree, git_tree_free> tree(raw);
    for (std::size_t i = 0, n = git_tree_entrycount(tree.get()); i < n; ++i) {
      const git_tree_entry* entry = git_tree_entry_byindex(tree.get(), i);
      const git_oid& child = *git_tree_entry_id(entry);
      switch (git_tree_entry_type(entry)) {
        case GIT_OBJECT_TREE:
          if (!add_tree(child)) return false;
          break;
        case GIT_OBJECT_BLOB:
          if (want(child)) objects.push_back(child);
          break;
        default:  // a submodule's commit lives in another repository
          break;
      }
    }
    return true;
  }

  // What the fetch's refspecs take: refs/heads/* and refs/tags/*. Annotated tags
  // are copied with the chain down to what they tag.
  bool push_tips(git_revwalk* walk) {
    git_reference_iterator* raw = nullptr;
    if (git_reference_iterator_new(&raw, source_) < 0) return false;
    Handle<git_reference_iterator, git_reference_iterator_free> refs(raw);
    git_reference* ref = nullptr;
    int rc;
    while ((rc = git_reference_next(&ref, refs.get())) == 0) {
      Handle<git_reference, git_reference_free> owned(ref);
      const std::string_view name = git_reference_name(ref);
      if (!name.starts_with("refs/heads/") && !name.starts_with("refs/tags/")) continue;
      git_reference* resolved = nullptr;
      if (git_reference_resolve(&resolved, ref) < 0) return false;
      git_oid id = *git_reference_target(resolved);
      git_reference_free(resolved);
      if (!add_tip(walk, id)) return false;
    }
    return rc == GIT_ITEROVER;
  }

  bool add_tip(git_revwalk* walk, git_oid id) {
    for (;;) {
      git_object* raw = nullptr;
      if (git_object_lookup(&raw, source_, &id, GIT_OBJECT_ANY) < 0) return false;
      Handle<git_object, git_object_free> object(raw);
      switch (git_object_type(object.get())) {
        case GIT_OBJECT_COMMIT:
          return tips_only_ ? add_commit(id) : git_revwalk_push(walk, &id) == 0;
        case GIT_OBJECT_TREE:
          return add_tree(id);
        case GIT_OBJECT_BLOB:
          if (want(id)) objects.push_back(id);
          return true;
        case GIT_OBJECT_TAG:
          if (!want(id)) return true;
          objects.push_back(id);
          id = *git_tag_target_id(reinterpret_cast<git_tag*>(object.get()));
          break;
        default:
          return false;
      }
    }
  }

  // Commits the mirror's refs reach are not walked (nor copied): like the
  // transport's negotiation, refs whose target the source lacks are skipped.
  static void hide_mirror_refs(git_revwalk* walk, git_repository* mirror) {
    git_reference_iterator* raw = nullptr;
    if (git_reference_iterator_new(&raw, mirror) < 0) return;
    Handle<git_reference_iterator, git_reference_iterator_free> refs(raw);
    git_reference* ref = nullptr;
    while (git_reference_next(&ref, refs.get()) == 0) {
      Handle<git_reference, git_reference_free> owned(ref);
      if (git_reference_type(ref) == GIT_REFERENCE_DIRECT && git_revwalk_hide(walk, git_reference_target(ref)) < 0)
        git_error_clear();
    }
  }

  git_repository* source_;
  git_odb* mirror_odb_;
  std::function<void()> check_in_;  // every 256 objects looked at
  bool tips_only_ = false;
  std::unordered_set<git_oid, OidHash, OidEqual> seen_;
};

// The parents a commit's raw text names (grafts and shallow files aside).
std::vector<git_oid> raw_parents(std::string_view text) {
  std::vector<git_oid> parents;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    if (line.starts_with("parent ") && line.size() >= 7 + GIT_OID_HEXSZ) {
      git_oid id;
      if (git_oid_fromstrn(&id, line.data() + 7, GIT_OID_HEXSZ) == 0) parents.push_back(id);
    } else if (!line.starts_with("tree ")) {
      break;  // the header's parents come right after its tree
    }
    at = end + 1;
  }
  return parents;
}

// Before the copy is made visible: lists in the mirror's `shallow` file, beside
// what it lists, every commit about to be copied whose parents the mirror lacks
// (some may come with the copy; update_shallow drops those after it). A mirror
// whose process dies between the two is then over-shallow, which the next copy
// mends, never a commit with missing parents that is not marked shallow (gc's
// walk, and later copies, would fail on it).
void mark_shallow_before_copy(git_repository* mirror, git_odb* odb,
                              const std::vector<std::pair<git_oid, std::vector<git_oid>>>& copying) {
  std::string added;
  for (const auto& [commit, parents] : copying)
    for (const git_oid& parent : parents)
      if (git_odb_exists_ext(odb, &parent, GIT_ODB_LOOKUP_NO_REFRESH) == 0) {
        added += std::string(git_oid_tostr_s(&commit)) + "\n";
        break;
      }
  if (added.empty()) return;
  const fs::path file = fs::path(git_repository_path(mirror)) / "shallow";
  std::error_code ec;
  std::string listed = fs::exists(file, ec) ? util::read_file(file) : std::string();
  if (!listed.empty() && listed.back() != '\n') listed += '\n';
  util::write_file_atomic(file, listed + added);
}

// Rewrites the mirror's `shallow` file: the commits listed before and the ones just
// copied, each kept only while one of its parents is missing from the mirror.
void update_shallow(git_repository* mirror, git_odb* odb,
                    const std::vector<std::pair<git_oid, std::vector<git_oid>>>& copied) {
  const fs::path file = fs::path(git_repository_path(mirror)) / "shallow";
  std::error_code ec;
  std::string before;
  if (fs::exists(file, ec)) before = util::read_file(file);
  std::set<std::string> roots;
  auto keep_if_parent_missing = [&](const git_oid& commit, const std::vector<git_oid>& parents) {
    for (const git_oid& parent : parents) {
      if (git_odb_exists_ext(odb, &parent, GIT_ODB_LOOKUP_NO_REFRESH) == 0) {
        roots.insert(git_oid_tostr_s(&commit));
        return;
      }
    }
  };
  for (std::size_t at = 0; at + GIT_OID_HEXSZ <= before.size(); at += GIT_OID_HEXSZ + 1) {
    git_oid commit;
    git_odb_object* object = nullptr;
    if (git_oid_fromstrn(&commit, before.data() + at, GIT_OID_HEXSZ) < 0 || git_odb_read(&object, odb, &commit) < 0) {
      git_error_clear();
      continue;  // not a commit of this mirror: a stale line
    }
    Handle<git_odb_object, git_odb_object_free> owned(object);
    keep_if_parent_missing(commit, raw_parents({static_cast<const char*>(git_odb_object_data(object)),
                                                git_odb_object_size(object)}));
  }
  for (const auto& [commit, parents] : copied) keep_if_parent_missing(commit, parents);
  std::string after;
  for (const std::string& root : roots) after += root + "\n";
  if (after == before) return;
  if (after.empty()) {
    fs::remove(file, ec);
    if (ec) throw Error(Errc::io, file.string(), "remove the mirror's shallow file: " + ec.message());
  } else {
    util::write_file_atomic(file, after);
  }
}

// A version 2 pack of whole (undeltified) objects streamed into the mirror's
// odb: libgit2's indexer checks every object and the trailer, writes the .pack
// and its .idx (fsynced like a fetched pack) and only then makes them visible.
class PackStream {
 public:
  PackStream(git_odb* odb, const std::string& subject) : subject_(subject), sha_(EVP_MD_CTX_new()) {
    if (!sha_ || EVP_DigestInit_ex(sha_.get(), EVP_sha1(), nullptr) != 1)
      throw Error(Errc::internal, subject_, "copy from the local repository: SHA-1 unavailable");
    git_odb_writepack* raw = nullptr;
    if (git_odb_write_pack(&raw, odb, nullptr, nullptr) < 0) fail("start the pack");
    writepack_.reset(raw);
  }

  void header(std::uint32_t count) {
    const unsigned char head[12] = {'P', 'A', 'C', 'K', 0, 0, 0, 2, static_cast<unsigned char>(count >> 24),
                                    static_cast<unsigned char>(count >> 16), static_cast<unsigned char>(count >> 8),
                                    static_cast<unsigned char>(count)};
    buffer_.append(reinterpret_cast<const char*>(head), sizeof head);
  }

  void object(git_object_t type, const void* data, std::size_t size) {
    std::size_t rest = size;
    unsigned char c = static_cast<unsigned char>((type << 4) | (rest & 0x0f));
    rest >>= 4;
    while (rest) {
      buffer_.push_back(static_cast<char>(c | 0x80));
      c = rest & 0x7f;
      rest >>= 7;
    }
    buffer_.push_back(static_cast<char>(c));
    // Speed over size: the mirror is repacked (with deltas) by its gc.
    uLongf bound = compressBound(size);
    const std::size_t at = buffer_.size();
    buffer_.resize(at + bound);
    if (compress2(reinterpret_cast<Bytef*>(buffer_.data() + at), &bound, static_cast<const Bytef*>(data), size,
                  Z_BEST_SPEED) != Z_OK)
      throw Error(Errc::internal, subject_, "copy from the local repository: deflate failed");
    buffer_.resize(at + bound);
    if (buffer_.size() >= (1u << 20)) flush();
  }

  // Returns the pack's size.
  std::uint64_t finish() {
    flush();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(sha_.get(), digest, &length);
    if (writepack_->append(writepack_.get(), digest, length, &stats_) < 0) fail("write the pack");
    if (writepack_->commit(writepack_.get(), &stats_) < 0) fail("index the pack");
    return written_ + length;
  }

 private:
  struct WritepackFree {
    void operator()(git_odb_writepack* w) const { w->free(w); }
  };
  struct DigestFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };

  void flush() {
    if (buffer_.empty()) return;
    EVP_DigestUpdate(sha_.get(), buffer_.data(), buffer_.size());
    if (writepack_->append(writepack_.get(), buffer_.data(), buffer_.size(), &stats_) < 0) fail("write the pack");
    written_ += buffer_.size();
    buffer_.clear();
  }

  [[noreturn]] void fail(std::string_view step) {
    throw Error(Errc::git, subject_, "copy from the local repository: " + std::string(step) + ": " + last_git_error());
  }

  const std::string& subject_;
  std::unique_ptr<EVP_MD_CTX, DigestFree> sha_;
  std::unique_ptr<git_odb_writepack, WritepackFree> writepack_;
  git_indexer_progress stats_{};
  std::string buffer_;
  std::uint64_t written_ = 0;
};

}  // namespace

std::optional<fs::path> local_repository_path(std::string_view url) {
  if (url.starts_with("/") || url.starts_with(".")) return fs::path(url);
  if (url.size() < 7 || ::strncasecmp(url.data(), "file://", 7) != 0) return std::nullopt;
  std::string_view rest = url.substr(7);
  if (rest.size() >= 10 && ::strncasecmp(rest.data(), "localhost/", 10) == 0) rest.remove_prefix(9);
  if (!rest.starts_with("/")) return std::nullopt;
  std::string path;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      path.push_back(rest[i]);
      continue;
    }
    if (i + 2 >= rest.size() || hex_value(rest[i + 1]) < 0 || hex_value(rest[i + 2]) < 0) return std::nullopt;
    path.push_back(static_cast<char>(hex_value(rest[i + 1]) * 16 + hex_value(rest[i + 2])));
    i += 2;
  }
  return fs::path(path);
}

LocalCopy copy_local_objects(git_repository* mirror, const fs::path& source_path, LocalDepth depth,
                             const std::string& subject, const std::function<std::string()>& must_stop) {
  // Progress for the caller's stall clock, and the end of the copy once it says so.
  const auto check_in = [&] {
    if (std::string why = must_stop(); !why.empty())
      throw Error(Errc::network, subject, "copy from the local repository: timed out: " + why);
  };
  // Opened as the transport opens it (no search upwards, same config).
  git_repository* raw_source = nullptr;
  if (git_repository_open(&raw_source, source_path.c_str()) < 0) {
    git_error_clear();
    return {};
  }
  Handle<git_repository, git_repository_free> source(raw_source);
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, mirror) < 0)
    throw Error(Errc::git, subject, "copy from the local repository: open the mirror's objects: " + last_git_error());
  Handle<git_odb, git_odb_free> mirror_odb(raw);
  if (git_repository_odb(&raw, source.get()) < 0) {
    git_error_clear();
    return {};
  }
  Handle<git_odb, git_odb_free> source_odb(raw);

  Wanted wanted(source.get(), mirror_odb.get(), check_in);
  if (!wanted.collect(mirror, depth)) {
    git_error_clear();
    return {};
  }
  if (wanted.objects.empty()) return {};

  PackStream pack(mirror_odb.get(), subject);
  pack.header(static_cast<std::uint32_t>(wanted.objects.size()));
  std::size_t done = 0;
  std::vector<std::pair<git_oid, std::vector<git_oid>>> commits;
  for (const git_oid& id : wanted.objects) {
    if ((++done & 255) == 0) check_in();
    git_odb_object* object = nullptr;
    if (git_odb_read(&object, source_odb.get(), &id) < 0) {
      check_in();  // a read the stop interrupted is the timeout, not a missing object
      throw Error(Errc::git, subject, "copy from the local repository: read " + std::string(git_oid_tostr_s(&id)) +
                                          ": " + last_git_error());
    }
    Handle<git_odb_object, git_odb_object_free> owned(object);
    const char* data = static_cast<const char*>(git_odb_object_data(object));
    if (git_odb_object_type(object) == GIT_OBJECT_COMMIT)
      commits.emplace_back(id, raw_parents({data, git_odb_object_size(object)}));
    pack.object(git_odb_object_type(object), data, git_odb_object_size(object));
  }
  LocalCopy copied;
  mark_shallow_before_copy(mirror, mirror_odb.get(), commits);
  copied.bytes = pack.finish();
  copied.objects = wanted.objects.size();
  git_odb_refresh(mirror_odb.get());
  update_shallow(mirror, mirror_odb.get(), commits);
  return copied;
}

}  // namespace cmop::git::detail
