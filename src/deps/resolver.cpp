// Dependency resolution with Helm's semantics (pkg/downloader/manager.go,
// internal/resolver/resolver.go): repository forms, Chart.lock digests, index.yaml
// lookup, chart download and digest verification — plus caches Helm does not have
// (conditional index revalidation, archives by digest).
#include "cmop/deps/resolver.hpp"

#include <yaml-cpp/yaml.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

#include "cmop/chart/semver.hpp"
#include "cmop/chart/yaml_aliases.hpp"
#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"
#include "cmop/util/base64.hpp"
#include "deps/yaml_emit.hpp"

namespace cmop::deps {

namespace fs = std::filesystem;
using detail::Value;

namespace {

constexpr std::size_t kMaxIndexBytes = 256u << 20;    // large public indexes run to tens of MiB
constexpr std::size_t kMaxArchiveBytes = 100u << 20;  // Helm's loader limit for a whole chart
constexpr std::chrono::milliseconds kFetchTimeout{120000};
// After dropping or parsing this much index text the freed heap is handed back to
// the system (glibc keeps it in its arenas otherwise, and RSS stays at the peak).
constexpr std::size_t kGiveBackAfterBytes = 4u << 20;
// A Chart.lock needs a `generated` time. Helm writes the clock's; cmop writes this
// fixed one, so the same dependencies give the same bytes however they were
// reached (a repository's index, an OCI manifest, or cmop's own target through
// `self`, which knows no creation times): a sidecar that lost its state then
// rebuilds exactly what it had published, and adopts it.
constexpr const char* kEpoch = "1980-01-01T00:00:00Z";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string trim_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "scheme://host:port" of a URL, lower-cased; empty when it has none.
std::string origin_of(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return {};
  auto host_end = url.find_first_of("/?#", scheme_end + 3);
  std::string authority = url.substr(scheme_end + 3, host_end == std::string::npos ? std::string::npos : host_end - scheme_end - 3);
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  return lower(url.substr(0, scheme_end)) + "://" + lower(authority);
}

// Helm's urlutil.Equal: the same URL up to a trailing slash and the case of
// scheme and host.
std::string normalized_url(const std::string& url) {
  std::string t = trim_trailing_slash(url);
  auto scheme_end = t.find("://");
  if (scheme_end == std::string::npos) return t;
  auto host_end = t.find_first_of("/?#", scheme_end + 3);
  if (host_end == std::string::npos) host_end = t.size();
  return lower(t.substr(0, host_end)) + t.substr(host_end);
}

bool same_url(const std::string& a, const std::string& b) { return normalized_url(a) == normalized_url(b); }

std::string without_userinfo(const std::string& url) { return util::redact_url(url); }

struct Remote {
  std::string url;  // repository URL (what index.yaml is relative to)
  std::string username, password;
  bool self = false;  // cmop's own publish target, read through a ChartSource
  bool oci = false;   // an oci://host/path registry namespace
};

bool is_oci(const std::string& url) { return lower(url.substr(0, 6)) == "oci://"; }

// The host of an oci:// URL ("" when it is not one).
std::string oci_host(const std::string& url) {
  if (!is_oci(url)) return {};
  try {
    return oci::Reference::parse(url).host;
  } catch (const Error&) {
    return {};
  }
}

// Where a dependency's charts come from: nullopt for vendored and file://
// dependencies. `recorded` receives the repository URL as Chart.lock records it
// (an @name or alias: replaced by the registered URL, as Helm does).
std::optional<Remote> locate(const chart::Dependency& d, const std::vector<NamedRepository>& repositories,
                             const std::string& subject, std::string& recorded) {
  const std::string& repo = d.repository;
  recorded = repo;
  if (repo.empty() || starts_with(repo, "file://")) return std::nullopt;
  auto remote_of = [](const NamedRepository& r) {
    return Remote{r.url, r.username, r.password, r.url == kSelfRepositoryUrl, is_oci(r.url)};
  };
  std::string url;
  if (starts_with(repo, "@") || starts_with(repo, "alias:")) {
    const std::string name = repo.substr(repo[0] == '@' ? 1 : 6);
    auto it = std::find_if(repositories.begin(), repositories.end(),
                           [&](const NamedRepository& r) { return r.name == name; });
    if (it == repositories.end())
      throw Error(Errc::dependency, subject, "repository " + repo + " is not registered");
    // A named mirror stands for the URL it mirrors.
    if (!it->mirror_of.empty()) {
      recorded = it->mirror_of;
      return remote_of(*it);
    }
    if (it->url == kSelfRepositoryUrl)
      throw Error(Errc::dependency, subject,
                  "repository " + repo + " is cmop's own chart repository; give it a mirrorOf URL to name it by");
    recorded = it->url;
    url = it->url;
  } else {
    if (!util::is_http_url(lower(repo.substr(0, 8))) && !is_oci(repo))  // Helm: any case
      throw Error(Errc::dependency, subject,
                  "repository must be an http(s) or oci:// URL, @name, alias:name or file://path (did you mean @" +
                      repo + "?)");
    url = repo;
  }
  for (const auto& r : repositories)
    if (!r.mirror_of.empty() && same_url(r.mirror_of, url)) return remote_of(r);
  if (is_oci(url)) {
    try {
      oci::Reference::parse(url);
    } catch (const Error& e) {
      throw Error(Errc::dependency, subject, e.reason());
    }
    // Registries authenticate per host, as `helm registry login` does; of several
    // registered on one host, the one whose path is the longest prefix of ours.
    Remote remote{url, {}, {}, false, true};
    const oci::Reference wanted = oci::Reference::parse(url);
    std::size_t best = 0;
    bool found = false;
    for (const auto& r : repositories) {
      if (!r.mirror_of.empty() || oci_host(r.url) != wanted.host) continue;
      const std::string path = oci::Reference::parse(r.url).path;
      const bool prefix = path.empty() || wanted.path == path || wanted.path.rfind(path + "/", 0) == 0;
      if (!prefix || (found && path.size() < best)) continue;
      remote.username = r.username;
      remote.password = r.password;
      best = path.size();
      found = true;
    }
    return remote;
  }
  Remote remote{url, {}, {}, false, false};
  for (const auto& r : repositories)
    if (r.mirror_of.empty() && same_url(r.url, url)) {
      remote.username = r.username;
      remote.password = r.password;
      break;
    }
  return remote;
}

struct Validators {
  std::string etag, last_modified;
  bool operator==(const Validators&) const = default;
  bool empty() const { return etag.empty() && last_modified.empty(); }
  std::string head() const { return "etag " + etag + "\nlast-modified " + last_modified + "\n\n"; }
};

// Cache file layout: "etag <v>\nlast-modified <v>\n\n<index.yaml bytes>" — one file
// so the validators and the body they describe are replaced together, atomically.
// Only the head is read here (a revalidation answered 304 for an index still
// parsed in memory needs no more).
std::optional<Validators> read_cached_validators(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  Validators v;
  std::string line;
  for (std::size_t lines = 0; lines < 8 && std::getline(in, line); ++lines) {
    if (line.empty()) return v;
    if (starts_with(line, "etag ")) v.etag = line.substr(5);
    if (starts_with(line, "last-modified ")) v.last_modified = line.substr(14);
  }
  return std::nullopt;  // missing, unreadable or not ours: simply refetched
}

// The whole cache file: its validators and the body (the head cut off in place,
// so a big index is held once, not twice).
std::optional<std::pair<Validators, std::string>> read_cached_index(const fs::path& path) {
  auto v = read_cached_validators(path);
  if (!v) return std::nullopt;
  std::string data;
  try {
    data = util::read_file(path);
  } catch (const Error&) {
    return std::nullopt;
  }
  auto sep = data.find("\n\n");
  if (sep == std::string::npos) return std::nullopt;
  data.erase(0, sep + 2);
  return std::make_pair(std::move(*v), std::move(data));
}

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

// A cache file's bytes; "" when it went (evicted meanwhile) or cannot be read.
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

// Hands the heap glibc keeps after a big index was freed back to the system.
void give_back_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

std::string hash_req(const std::vector<chart::Dependency>& req, const std::vector<chart::Dependency>& lock) {
  Value pair = Value::seq();
  for (const auto* list : {&req, &lock}) {
    Value deps = Value::seq();
    for (const auto& d : *list) deps.push(detail::dependency_value(d));
    // Go marshals a nil slice as null; Helm's req is never nil when this runs.
    pair.push(std::move(deps));
  }
  return "sha256:" + util::sha256_hex(detail::to_go_json(pair));
}

// Helm v2's requirements.lock digest: sha256 of {"dependencies": req}.
std::string hash_v2_req(const std::vector<chart::Dependency>& req) {
  Value root = Value::map();
  Value& deps = root.add("dependencies", Value::seq());
  for (const auto& d : req) deps.push(detail::dependency_value(d));
  return "sha256:" + util::sha256_hex(detail::to_go_json(root));
}

struct LockFile {
  std::string digest;
  std::vector<chart::Dependency> dependencies;
  std::string text;
};

// Helm's loader refuses any chart file over 5 MiB (package::Limits::max_file_bytes,
// not included here to keep deps independent of the packager). Chart.lock and a
// file:// dependency's files are read before packaging, so the limit is applied
// here too, by size, before a byte is read: a huge (or sparse placeholder) file
// must never be pulled into memory.
constexpr std::uint64_t kMaxChartFileBytes = 5ull << 20;

std::optional<LockFile> read_lock(const util::FileTree& tree, const std::string& chart_dir,
                                  const std::string& api_version) {
  // A lock present as a regular file (or a link leaving the tree, refused unread
  // by read_tree_file) counts; a missing or broken one does not.
  auto present = [&](const std::string& path) {
    auto r = tree.resolve(path);
    using Status = util::FileTree::Resolved::Status;
    return r.status == Status::escapes || (r.status == Status::ok && r.kind == util::FileTree::Kind::file);
  };
  std::string path = util::tree_join(chart_dir, "Chart.lock");
  if (!present(path)) {
    if (api_version != "v1") return std::nullopt;
    path = util::tree_join(chart_dir, "requirements.lock");
    if (!present(path)) return std::nullopt;
  }
  LockFile lock;
  const std::string origin = path;
  lock.text = util::read_tree_file(tree, path, origin, kMaxChartFileBytes);
  if (auto refusal = chart::helm_alias_refusal(lock.text)) throw Error(Errc::invalid_chart, origin, *refusal);
  YAML::Node root;
  try {
    root = YAML::Load(lock.text);
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, origin, std::string("invalid YAML: ") + e.what());
  }
  if (!root.IsMap()) throw Error(Errc::invalid_chart, origin, "expected a mapping with digest and dependencies");
  try {
    if (root["digest"] && root["digest"].IsScalar()) lock.digest = root["digest"].Scalar();
    if (const auto ds = root["dependencies"]; ds && !ds.IsNull()) {
      if (!ds.IsSequence()) throw Error(Errc::invalid_chart, origin, "dependencies: expected a list");
      for (std::size_t i = 0; i < ds.size(); ++i)
        lock.dependencies.push_back(detail::read_dependency(ds[i], origin, "dependencies[" + std::to_string(i) + "]"));
    }
  } catch (const Error& e) {
    if (e.code() == Errc::invalid_chart) throw;
    throw Error(Errc::invalid_chart, origin, e.reason());
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, origin, e.what());
  }
  return lock;
}

// The file:// dependency's tree as a key: relative paths and contents in a fixed
// order; symlinks contribute their target's real path and are never followed.
void hash_tree(const util::FileTree& tree, const std::string& dir, const std::string& rel, util::Sha256& h) {
  for (const auto& name : tree.list(dir)) {
    const std::string path = util::tree_join(dir, name);
    const std::string shown = util::tree_join(rel, name);
    auto kind = tree.kind(path);
    if (kind == util::FileTree::Kind::directory) {
      hash_tree(tree, path, shown, h);
      continue;
    }
    if (kind != util::FileTree::Kind::file && kind != util::FileTree::Kind::symlink) continue;
    h.update(shown);
    h.update(std::string_view("\0", 1));
    if (kind == util::FileTree::Kind::symlink) {
      auto r = tree.resolve(path);
      h.update("symlink:" + std::to_string(static_cast<int>(r.status)) + ":" + r.path);
    } else {
      h.update(tree.read(path, path, [&](std::uint64_t size) {
        if (size > kMaxChartFileBytes)
          throw Error(Errc::too_large, path,
                      "file is " + std::to_string(size) + " bytes; the limit for a chart file is " +
                          std::to_string(kMaxChartFileBytes));
      }));
    }
    h.update(std::string_view("\0", 1));
  }
}

std::string tree_key(const util::FileTree& tree, const std::string& dir) {
  util::Sha256 h;
  hash_tree(tree, dir, "", h);
  return h.hex();
}

std::string describe_available(const std::vector<IndexEntry>& versions) {
  std::string out;
  std::size_t shown = 0;
  // Oldest first reads naturally; the index keeps newest first.
  std::vector<std::string> names;
  for (const auto& e : versions)
    if (!e.removed && !e.urls.empty()) names.push_back(e.metadata.version);
  std::reverse(names.begin(), names.end());
  const std::size_t limit = 30;
  std::size_t skip = names.size() > limit ? names.size() - limit : 0;
  for (std::size_t i = skip; i < names.size(); ++i, ++shown) out += (shown ? ", " : "") + names[i];
  if (skip) out = "... " + out;
  return out.empty() ? "none" : out;
}

bool versions_equal(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto va = chart::Version::parse(a), vb = chart::Version::parse(b);
  return va && vb && chart::compare(*va, *vb) == 0;
}

}  // namespace

struct Resolver::Session::State {
  std::map<std::string, std::shared_ptr<const RepoIndex>> indexes;
  std::uint64_t index_bytes = 0;  // their index.yaml text
  std::map<std::string, std::vector<std::string>> oci_tags;  // host/repository -> tags
};

Resolver::Session::Session() : state_(std::make_unique<State>()) {}
Resolver::Session::~Session() {
  const bool big = state_->index_bytes >= kGiveBackAfterBytes;
  state_.reset();
  if (big) give_back_memory();
}

struct Resolver::Impl {
  using Session = Resolver::Session::State;
  fs::path cache_dir;
  CacheLimits limits;
  net::HttpClient http;
  std::shared_ptr<oci::RegistryClient> registry;

  // The last parsed index per URL with the validators it was fetched under: a
  // 304 for the same validators reuses it instead of parsing the cached body
  // again. Within limits.max_parsed_*, least recently used dropped first.
  struct ParsedIndex {
    Validators validators;
    std::shared_ptr<const RepoIndex> index;
    std::uint64_t text_bytes = 0;
    std::uint64_t last_used = 0;
  };
  std::mutex parsed_mu;  // guards the four below
  std::map<std::string, ParsedIndex> parsed;
  std::uint64_t use_clock = 0;
  std::map<std::string, std::shared_ptr<std::timed_mutex>> fetch_locks;     // per index URL
  std::map<std::string, std::weak_ptr<const RepoIndex>> parsed_by_digest;  // by sha256 of the body

  std::mutex disk_mu;  // one pass over the cache files at a time

  // Keeps `p` as the parsed index of `key` and drops the least recently used past
  // the bounds. With parsed_mu held; the dropped indexes are returned so that the
  // caller frees them (and gives the memory back) outside the lock.
  std::vector<std::shared_ptr<const RepoIndex>> keep_parsed(const std::string& key, ParsedIndex p) {
    std::vector<std::shared_ptr<const RepoIndex>> dropped;
    if (auto old = parsed.find(key); old != parsed.end()) {
      dropped.push_back(std::move(old->second.index));
      parsed.erase(old);
    }
    if (limits.max_parsed_bytes && p.text_bytes > limits.max_parsed_bytes) return dropped;
    p.last_used = ++use_clock;
    parsed.emplace(key, std::move(p));
    std::uint64_t total = 0;
    for (const auto& [k, kept] : parsed) total += kept.text_bytes;
    while ((limits.max_parsed_bytes && total > limits.max_parsed_bytes) ||
           (limits.max_parsed_entries && parsed.size() > limits.max_parsed_entries)) {
      auto oldest = std::min_element(parsed.begin(), parsed.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      total -= oldest->second.text_bytes;
      dropped.push_back(std::move(oldest->second.index));
      parsed.erase(oldest);
    }
    return dropped;
  }

  // Stores a checked file in the cache (skipped when it alone is past the size
  // bound, or cannot be written) and evicts what is then past the bounds.
  void store(const fs::path& file, std::string_view head, std::string_view body) {
    if (limits.max_bytes && head.size() + body.size() > limits.max_bytes) return;
    try {
      write_cache_file(file, head, body);
    } catch (const Error&) {
      return;  // a cache that cannot be written only costs a download next time
    }
    enforce_disk_limits(file);
  }

  // Removes cache files unused (by modification time: a use touches them) for
  // longer than max_age, then the least recently used until within max_bytes and
  // max_entries; `keep` (just stored) goes last.
  void enforce_disk_limits(const fs::path& keep = {}) {
    struct File {
      fs::file_time_type used;
      std::uint64_t size;
      fs::path path;
    };
    std::lock_guard lk(disk_mu);
    std::vector<File> files;
    const auto now = fs::file_time_type::clock::now();
    for (const char* sub : {"index", "charts", "oci-manifests"}) {
      std::error_code ec;
      for (fs::directory_iterator it(cache_dir / sub, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.filename().string().front() == '.') continue;  // a write under way
        std::error_code fe;
        if (!it->is_regular_file(fe)) continue;
        const auto size = it->file_size(fe);
        const auto used = it->last_write_time(fe);
        if (fe) continue;
        if (limits.max_age.count() > 0 && now - used > limits.max_age && p != keep) {
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
      if ((!limits.max_bytes || total <= limits.max_bytes) && (!limits.max_entries || count <= limits.max_entries))
        break;
      std::error_code fe;
      fs::remove(f.path, fe);
      total -= f.size;
      --count;
    }
  }

  net::Headers auth_headers(const Remote& remote) const {
    if (remote.username.empty() && remote.password.empty()) return {};
    return {{"Authorization", "Basic " + util::base64_encode(remote.username + ":" + remote.password)}};
  }

  std::shared_ptr<const RepoIndex> index_for(Session& session, const Remote& remote, const std::string& subject) {
    const std::string index_url = trim_trailing_slash(remote.url) + "/index.yaml";
    const std::string key = index_url + "\n" + remote.username;
    if (auto it = session.indexes.find(key); it != session.indexes.end()) return it->second;
    const std::string shown_url = without_userinfo(index_url);
    // One fetch and parse of a URL at a time across workers: a second worker waits
    // for the first (until its own sync's deadline), then revalidates and finds the
    // parsed index (see `parsed`) instead of holding a second copy of a large index.
    std::shared_ptr<std::timed_mutex> url_lock;
    {
      std::lock_guard lk(parsed_mu);
      auto& l = fetch_locks[key];
      if (!l) l = std::make_shared<std::timed_mutex>();
      url_lock = l;
    }
    std::unique_lock fetching(*url_lock, std::defer_lock);
    if (const auto until = net::DeadlineScope::current(); until == std::chrono::steady_clock::time_point::max())
      fetching.lock();
    else if (!fetching.try_lock_until(until))
      throw Error(Errc::dependency, subject,
                  "fetching " + shown_url + ": timed out waiting for another sync's fetch of it (the sync's deadline)");

    const fs::path cache_file = cache_dir / "index" / (util::sha256_hex(key) + ".yaml");
    // The validators of the index parsed in memory, else of the copy on disk.
    std::optional<Validators> known;
    {
      std::lock_guard lk(parsed_mu);
      if (auto it = parsed.find(key); it != parsed.end()) known = it->second.validators;
    }
    if (!known) known = read_cached_validators(cache_file);
    if (known && known->empty()) known.reset();

    auto fetch = [&](const std::optional<Validators>& have) {
      net::Request req;
      req.url = index_url;
      req.headers = auth_headers(remote);
      req.timeout = kFetchTimeout;
      req.max_response_body = kMaxIndexBytes;
      if (have && !have->etag.empty()) req.headers.emplace_back("If-None-Match", have->etag);
      if (have && !have->last_modified.empty()) req.headers.emplace_back("If-Modified-Since", have->last_modified);
      try {
        return http.send(req);
      } catch (const Error& e) {
        throw Error(Errc::dependency, subject, "fetching " + shown_url + ": " + e.reason());
      }
    };
    net::Response res = fetch(known);

    std::string body;
    Validators validators;
    bool fetched = true;  // body came from the network (else from the cache on disk)
    if (res.status == 304 && known) {
      {
        std::lock_guard lk(parsed_mu);
        auto it = parsed.find(key);
        if (it != parsed.end() && it->second.validators == *known) {
          it->second.last_used = ++use_clock;
          session.indexes.emplace(key, it->second.index);
          touch(cache_file);
          return it->second.index;
        }
      }
      auto cached = read_cached_index(cache_file);
      if (cached && cached->first == *known) {
        validators = std::move(cached->first);
        body = std::move(cached->second);
        fetched = false;
        touch(cache_file);
      } else {
        res = fetch(std::nullopt);  // the copy it was revalidated against went meanwhile
      }
    }
    if (fetched) {
      if (res.status != 200) {
        std::string why = "fetching " + shown_url + ": HTTP " + std::to_string(res.status);
        if (res.status == 401 || res.status == 403) why += " (credentials missing or refused)";
        if (res.status == 404) why += " (not a chart repository?)";
        throw Error(Errc::dependency, subject, why);
      }
      body = std::move(res.body);
      validators = {res.header("ETag"), res.header("Last-Modified")};
    }

    std::shared_ptr<const RepoIndex> index;
    // The same bytes parsed for another worker and still in use are shared (servers
    // without ETag/Last-Modified never answer 304).
    const std::string body_digest = util::sha256_hex(body);
    {
      std::lock_guard lk(parsed_mu);
      if (auto it = parsed_by_digest.find(body_digest); it != parsed_by_digest.end()) index = it->second.lock();
    }
    const bool parsed_here = !index;
    if (parsed_here) {
      try {
        index = std::make_shared<const RepoIndex>(RepoIndex::parse(body, shown_url));
      } catch (const Error& e) {
        if (body.size() >= kGiveBackAfterBytes) give_back_memory();
        throw Error(Errc::dependency, subject, "invalid index " + e.subject() + ": " + e.reason());
      }
      std::lock_guard lk(parsed_mu);
      std::erase_if(parsed_by_digest, [](const auto& kv) { return kv.second.expired(); });
      parsed_by_digest[body_digest] = index;
    }
    // Kept on disk only once it parsed, and only with validators to revalidate it by.
    if (fetched && !validators.empty()) store(cache_file, validators.head(), body);
    session.indexes.emplace(key, index);
    session.index_bytes += body.size();
    std::vector<std::shared_ptr<const RepoIndex>> dropped;
    if (!validators.empty()) {
      std::lock_guard lk(parsed_mu);
      dropped = keep_parsed(key, ParsedIndex{validators, index, body.size(), 0});
    }
    const std::size_t text = body.size();
    body = std::string();
    dropped.clear();
    if (parsed_here && text >= kGiveBackAfterBytes) give_back_memory();  // what the parse built and dropped
    return index;
  }

  std::string download(const Remote& remote, const IndexEntry& entry, const std::string& subject) {
    const std::string expected = lower(starts_with(entry.digest, "sha256:") ? entry.digest.substr(7) : entry.digest);
    const fs::path cache_file = cache_dir / "charts" / (expected + ".tgz");
    if (!expected.empty()) {
      std::error_code ec;
      if (fs::is_regular_file(cache_file, ec)) {
        std::string bytes = read_if_present(cache_file);
        if (util::sha256_hex(bytes) == expected) {
          touch(cache_file);
          return bytes;
        }
      }
    }
    if (entry.urls.empty())
      throw Error(Errc::dependency, subject, "index entry " + entry.metadata.version + " has no download URL");

    // Relative chart URLs are relative to the repository URL taken as a directory,
    // as Helm's ResolveReferenceURL does.
    std::string base = remote.url;
    if (auto q = base.find('?'); q != std::string::npos) base.resize(q);
    base = trim_trailing_slash(base) + "/";
    std::string url;
    try {
      url = net::resolve_url(base, entry.urls.front());
    } catch (const Error& e) {
      throw Error(Errc::dependency, subject, "invalid chart URL " + entry.urls.front() + ": " + e.reason());
    }
    net::Request req;
    req.url = url;
    req.timeout = kFetchTimeout;
    req.max_response_body = kMaxArchiveBytes;
    // Credentials go only to the repository's own origin (Helm's default, passCredentialsAll off).
    if (origin_of(url) == origin_of(remote.url)) req.headers = auth_headers(remote);
    const std::string shown_url = without_userinfo(url);
    net::Response res;
    try {
      res = http.send(req);
    } catch (const Error& e) {
      throw Error(Errc::dependency, subject, "download failed: " + shown_url + ": " + e.reason());
    }
    if (res.status != 200) {
      std::string why = "download failed: " + shown_url + ": HTTP " + std::to_string(res.status);
      if (res.status == 401 || res.status == 403) why += " (credentials missing or refused)";
      throw Error(Errc::dependency, subject, why);
    }
    const std::string actual = util::sha256_hex(res.body);
    if (!expected.empty()) {
      if (actual != expected)
        throw Error(Errc::dependency, subject,
                    "digest mismatch: index.yaml says sha256 " + expected + ", " + shown_url + " has " + actual);
      // Kept only as what it claims to be: a chart archive of that chart.
      check_archive(res.body, entry.metadata.name, subject);
      store(cache_file, {}, res.body);
    }
    return std::move(res.body);
  }

  // A dependency from an OCI registry, as `helm dependency update` resolves it.
  struct OciChoice {
    std::string version, tgz;
  };
  OciChoice resolve_oci(Session& session, const Remote& remote, const chart::Dependency& d,
                        const std::optional<std::string>& locked_version, const std::string& subject) {
    const oci::Reference ref = oci::Reference::parse(remote.url);
    const oci::Endpoint ep{ref.host, {remote.username, remote.password}};
    const std::string repository = ref.repository(d.name);
    const std::string shown = "oci://" + ref.host + "/" + repository;
    auto fail = [&](const Error& e) {
      return Error(Errc::dependency, subject, shown + ": " + e.reason());
    };
    OciChoice out;
    try {
      if (locked_version) {
        out.version = *locked_version;
      } else {
        auto cached = session.oci_tags.find(ref.host + "/" + repository);
        if (cached == session.oci_tags.end())
          cached = session.oci_tags.emplace(ref.host + "/" + repository, registry->tags(ep, repository)).first;
        std::optional<chart::Constraint> constraint;
        try {
          constraint = chart::Constraint::parse(d.version.empty() ? "*" : d.version);
        } catch (const Error& e) {
          throw Error(Errc::dependency, subject, "invalid version constraint: " + e.reason());
        }
        std::optional<chart::Version> best;
        std::vector<std::string> available;
        for (const auto& tag : cached->second) {
          const std::string v = oci::version_for_tag(tag);
          // Helm reads tags as strict SemVer: "latest", "v2.0.0" or "1.2" are no versions.
          auto parsed = chart::Version::parse_strict(v);
          if (!parsed) continue;
          available.push_back(v);
          if (constraint->matches(*parsed) && (!best || chart::compare(*parsed, *best) > 0)) {
            best = parsed;
            out.version = v;
          }
        }
        if (!best) {
          std::string list;
          for (std::size_t i = available.size() > 30 ? available.size() - 30 : 0; i < available.size(); ++i)
            list += (list.empty() ? "" : ", ") + available[i];
          throw Error(Errc::dependency, subject, "no version matches; available: " + (list.empty() ? "none" : list));
        }
      }
      const std::string tag = oci::tag_for_version(out.version);
      if (!oci::valid_tag(tag))
        throw Error(Errc::dependency, subject, "version " + out.version + " cannot be an OCI tag");
      auto digest = registry->resolve(ep, repository, tag);
      if (!digest) throw Error(Errc::dependency, subject, shown + ": version " + out.version + " (tag " + tag + ") not found");
      oci::Manifest manifest = cached_manifest(ep, repository, *digest, subject);
      if (manifest.config.media_type != oci::kHelmConfigMediaType)
        throw Error(Errc::dependency, subject,
                    shown + ":" + tag + " is not a Helm chart (config media type " + manifest.config.media_type + ")");
      auto layer = std::find_if(manifest.layers.begin(), manifest.layers.end(), [](const oci::Descriptor& l) {
        return l.media_type == oci::kHelmChartLayerMediaType;
      });
      if (layer == manifest.layers.end())
        throw Error(Errc::dependency, subject, shown + ":" + tag + " has no chart layer");
      if (layer->size > kMaxArchiveBytes)
        throw Error(Errc::dependency, subject, shown + ":" + tag + ": the chart layer is larger than 100 MiB");
      const std::string hex = layer->digest.substr(7);
      const fs::path cache_file = cache_dir / "charts" / (hex + ".tgz");
      std::error_code ec;
      if (fs::is_regular_file(cache_file, ec)) {
        std::string bytes = read_if_present(cache_file);
        if (util::sha256_hex(bytes) == hex) {
          out.tgz = std::move(bytes);
          touch(cache_file);
        }
      }
      if (out.tgz.empty()) {
        out.tgz = registry->blob(ep, repository, layer->digest, kMaxArchiveBytes);
        check_archive(out.tgz, d.name, subject);  // kept only when it reads as that chart
        store(cache_file, {}, out.tgz);
      }
    } catch (const Error& e) {
      if (e.code() == Errc::dependency) throw;
      throw fail(e);
    }
    return out;
  }

  // Manifests are immutable by digest, so they are cached on disk by it.
  oci::Manifest cached_manifest(const oci::Endpoint& ep, const std::string& repository, const std::string& digest,
                                const std::string& subject) {
    const fs::path file = cache_dir / "oci-manifests" / (digest.substr(7) + ".json");
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) {
      std::string body = read_if_present(file);
      if ("sha256:" + util::sha256_hex(body) == digest) {
        touch(file);
        return oci::parse_manifest(std::move(body), digest, subject);
      }
    }
    auto m = registry->manifest(ep, repository, digest);  // parsed and checked against its digest
    if (!m) throw Error(Errc::dependency, subject, "manifest " + digest + " vanished from the registry");
    store(file, {}, m->body);
    return *m;
  }

  std::string own_archive(ChartSource& own, const IndexEntry& entry, const std::string& subject) {
    std::string bytes;
    try {
      bytes = own.archive(entry.metadata.name, entry.metadata.version);
    } catch (const Error& e) {
      throw Error(Errc::dependency, subject,
                  "reading " + entry.metadata.name + " " + entry.metadata.version + " from cmop's own chart repository: " +
                      e.reason());
    }
    const std::string expected = lower(starts_with(entry.digest, "sha256:") ? entry.digest.substr(7) : entry.digest);
    if (!expected.empty() && util::sha256_hex(bytes) != expected)
      throw Error(Errc::dependency, subject,
                  entry.metadata.name + " " + entry.metadata.version +
                      " in cmop's own chart repository does not have the digest it was published with");
    return bytes;
  }

  // The archive must hold the chart it claims to: <name>/Chart.yaml naming it.
  void check_archive(const std::string& tgz, const std::string& name, const std::string& subject) {
    std::vector<package::TarEntry> entries;
    try {
      entries = package::read_tgz(tgz, 5ull << 20, 100ull << 20);
    } catch (const Error& e) {
      throw Error(Errc::dependency, subject, "downloaded archive is unreadable: " + e.reason());
    }
    for (const auto& e : entries) {
      auto slash = e.name.find('/');
      if (slash != std::string::npos && e.name.substr(slash + 1) == "Chart.yaml") {
        const std::string top = e.name.substr(0, slash);
        if (top != name)
          throw Error(Errc::dependency, subject, "downloaded archive holds chart '" + top + "', not '" + name + "'");
        return;
      }
    }
    throw Error(Errc::dependency, subject, "downloaded archive has no Chart.yaml");
  }
};

Resolver::Resolver(fs::path cache_dir, net::TlsOptions tls, net::ConnectionPolicy peers,
                   std::shared_ptr<oci::RegistryClient> registry, CacheLimits limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->cache_dir = std::move(cache_dir);
  impl_->limits = limits;
  // What an earlier process left: half-written files, and whatever is past the bounds.
  for (const char* sub : {"index", "charts", "oci-manifests"}) {
    std::error_code ec;
    if (fs::is_directory(impl_->cache_dir / sub, ec)) util::remove_stale_temp_files(impl_->cache_dir / sub);
  }
  impl_->enforce_disk_limits();
  if (!registry) {
    oci::ClientOptions o;
    o.tls = tls;
    o.peers = peers;
    registry = std::make_shared<oci::RegistryClient>(std::move(o));
  }
  impl_->registry = std::move(registry);
  impl_->http = net::HttpClient(std::move(tls), std::move(peers));
  // A sync asks the same chart repositories for index.yaml and packages again and
  // again: one connection per repository host instead of one per request.
  impl_->http.enable_keep_alive();
}

void Resolver::close_idle_connections() {
  impl_->http.close_idle();
  impl_->registry->close_idle_connections();
}

Resolver::~Resolver() = default;

Resolution Resolver::resolve(const chart::Metadata& md, const fs::path& chart_dir, const fs::path& clone_root,
                             const std::vector<NamedRepository>& repositories, Session* shared_session,
                             ChartSource* own_charts) {
  if (md.dependencies.empty()) return {};
  util::DirectoryTree tree(clone_root);
  auto rel = tree.relative_path(chart_dir);
  if (!rel) throw Error(Errc::forbidden, chart_dir.string(), "the chart folder is outside the repository");
  return resolve(md, tree, *rel, repositories, shared_session, own_charts);
}

Resolution Resolver::resolve(const chart::Metadata& md, const util::FileTree& tree, const std::string& chart_dir,
                             const std::vector<NamedRepository>& repositories, Session* shared_session,
                             ChartSource* own_charts) {
  Resolution out;
  if (md.dependencies.empty()) return out;

  Session own_session;
  Impl::Session& session = shared_session ? *shared_session->state_ : *own_session.state_;

  // Helm hashes the dependencies after replacing @name / alias:name with the URL.
  std::vector<chart::Dependency> req = md.dependencies;
  std::vector<std::optional<Remote>> remotes(req.size());
  auto subject_of = [&](const chart::Dependency& d) {
    return md.name + " dependency " + d.name + " (" + (d.version.empty() ? "*" : d.version) + ") from " +
           (d.repository.empty() ? "charts/" : d.repository);
  };

  for (std::size_t i = 0; i < req.size(); ++i)
    remotes[i] = locate(md.dependencies[i], repositories, subject_of(md.dependencies[i]), req[i].repository);

  // A Chart.lock is honoured only while its digest still matches the dependencies.
  std::optional<LockFile> lock = read_lock(tree, chart_dir, md.api_version);
  bool lock_in_sync = false;
  if (lock && lock->dependencies.size() == req.size()) {
    lock_in_sync = hash_req(req, lock->dependencies) == lock->digest ||
                   (md.api_version == "v1" && hash_v2_req(md.dependencies) == lock->digest);
    for (std::size_t i = 0; lock_in_sync && i < req.size(); ++i)
      if (lock->dependencies[i].name != req[i].name) lock_in_sync = false;
  }

  std::vector<chart::Dependency> locked;
  for (std::size_t i = 0; i < req.size(); ++i) {
    const chart::Dependency& d = req[i];
    const std::string subject = subject_of(md.dependencies[i]);
    chart::Dependency lk;
    lk.name = d.name;
    lk.repository = d.repository;

    if (d.repository.empty()) {  // vendored in charts/: the packager takes it as found
      lk.version = d.version;
      locked.push_back(std::move(lk));
      continue;
    }

    if (starts_with(d.repository, "file://")) {
      const std::string rel = d.repository.substr(7);
      using Status = util::FileTree::Resolved::Status;
      const auto outside = [&] {
        return Error(Errc::forbidden, subject, "file:// path resolves outside the repository being published");
      };
      std::string lexical;
      if (fs::path(rel).is_absolute()) {
        // Only a folder on disk can say where an absolute path lands.
        const auto* folder = dynamic_cast<const util::DirectoryTree*>(&tree);
        auto inside = folder ? folder->relative_path(rel) : std::nullopt;
        if (!inside) throw outside();
        lexical = *inside;
      } else {
        lexical = util::tree_join(chart_dir, rel);
      }
      auto target = tree.resolve(lexical);
      if (target.status == Status::escapes) throw outside();
      const std::string target_yaml = util::tree_join(target.path, "Chart.yaml");
      auto yaml = tree.resolve(target_yaml);
      if (target.status == Status::ok && target.kind == util::FileTree::Kind::directory &&
          yaml.status == Status::escapes)
        throw Error(Errc::forbidden, subject, "Chart.yaml of the file:// dependency is outside the repository");
      if (target.status != Status::ok || target.kind != util::FileTree::Kind::directory ||
          yaml.status != Status::ok || yaml.kind != util::FileTree::Kind::file)
        throw Error(Errc::dependency, subject, "directory " + rel + " not found or has no Chart.yaml");
      chart::Metadata sub = chart::parse_chart_yaml(
          util::read_tree_file(tree, target_yaml, target_yaml, kMaxChartFileBytes), target_yaml);
      auto v = chart::Version::parse(sub.version);
      if (!v) throw Error(Errc::dependency, subject, "local chart has an invalid version '" + sub.version + "'");
      std::optional<chart::Constraint> constraint;
      try {
        constraint = chart::Constraint::parse(d.version.empty() ? "*" : d.version);
      } catch (const Error& e) {
        throw Error(Errc::dependency, subject, "invalid version constraint: " + e.reason());
      }
      if (!constraint->matches(*v))
        throw Error(Errc::dependency, subject, "local chart version " + sub.version + " does not satisfy the constraint");
      out.local_subcharts.push_back({target.path});
      out.resolved.push_back({d.name, sub.version, md.dependencies[i].repository, tree_key(tree, target.path)});
      lk.version = sub.version;
      locked.push_back(std::move(lk));
      continue;
    }

    const Remote& remote = *remotes[i];
    if (remote.oci) {
      std::optional<std::string> locked_version;
      if (lock_in_sync) locked_version = lock->dependencies[i].version;
      auto choice = impl_->resolve_oci(session, remote, d, locked_version, subject);
      impl_->check_archive(choice.tgz, d.name, subject);
      const std::string digest = util::sha256_hex(choice.tgz);
      out.resolved.push_back({d.name, choice.version, md.dependencies[i].repository, digest});
      out.archives.push_back({d.name, choice.version, std::move(choice.tgz)});
      lk.version = choice.version;
      locked.push_back(std::move(lk));
      continue;
    }
    if (remote.self && !own_charts)
      throw Error(Errc::dependency, subject, "cmop's own chart repository is not available here");
    std::shared_ptr<const RepoIndex> index;
    if (remote.self) {
      try {
        index = std::make_shared<const RepoIndex>(own_charts->index());
      } catch (const Error& e) {
        throw Error(Errc::dependency, subject, "listing cmop's own chart repository: " + e.reason());
      }
    } else {
      index = impl_->index_for(session, remote, subject);
    }
    auto versions = index->entries.find(d.name);
    if (versions == index->entries.end() || versions->second.empty())
      throw Error(Errc::dependency, subject, "chart " + d.name + " not found in the repository index");

    std::optional<IndexEntry> chosen;
    if (lock_in_sync) {
      const std::string& want = lock->dependencies[i].version;
      for (const auto& e : versions->second)
        if (!e.removed && !e.urls.empty() && versions_equal(e.metadata.version, want)) {
          chosen = e;
          break;
        }
      if (!chosen)
        throw Error(Errc::dependency, subject,
                    "version " + want + " locked in Chart.lock is not in the repository; available: " +
                        describe_available(versions->second));
    } else {
      try {
        chosen = index->best_match(d.name, d.version);
      } catch (const Error& e) {
        throw Error(Errc::dependency, subject, "invalid version constraint: " + e.reason());
      }
      if (!chosen)
        throw Error(Errc::dependency, subject, "no version matches; available: " + describe_available(versions->second));
    }

    std::string tgz = remote.self ? impl_->own_archive(*own_charts, *chosen, subject)
                                  : impl_->download(remote, *chosen, subject);
    impl_->check_archive(tgz, d.name, subject);
    const std::string digest = util::sha256_hex(tgz);
    out.archives.push_back({d.name, chosen->metadata.version, std::move(tgz)});
    out.resolved.push_back({d.name, chosen->metadata.version, md.dependencies[i].repository, digest});
    lk.version = chosen->metadata.version;
    locked.push_back(std::move(lk));
  }

  // Only vendored dependencies (repository: ""): nothing was resolved, and
  // `helm package` writes no lock of its own (a Chart.lock found stays as found).
  if (std::all_of(req.begin(), req.end(), [](const chart::Dependency& d) { return d.repository.empty(); }))
    return out;
  if (lock_in_sync) {
    out.lock_yaml = lock->text;  // Helm leaves an in-sync lock untouched
  } else {
    Value doc = Value::map();
    Value& deps = doc.add("dependencies", Value::seq());
    for (const auto& l : locked) deps.push(detail::dependency_value(l));
    doc.add("digest", Value::str(hash_req(req, locked)));
    doc.add("generated", Value::str(kEpoch));
    out.lock_yaml = detail::to_yaml(std::move(doc));
  }
  return out;
}

std::vector<std::string> Resolver::self_served(const chart::Metadata& md,
                                               const std::vector<NamedRepository>& repositories) {
  std::vector<std::string> out;
  for (const auto& d : md.dependencies) {
    try {
      std::string recorded;
      if (auto remote = locate(d, repositories, d.name, recorded); remote && remote->self) out.push_back(d.name);
    } catch (const Error&) {
      // reported by resolve()
    }
  }
  return out;
}

}  // namespace cmop::deps
