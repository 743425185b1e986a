#include "cmop/sync/workspace.hpp"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "cmop/chart/discovery.hpp"
#include "cmop/chart/metadata.hpp"
#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/sync/upstream_sync.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/time.hpp"
#include "cmop/util/url.hpp"

namespace cmop::sync {
namespace fs = std::filesystem;

std::string to_string(ChartOutcome::Status s) {
  switch (s) {
    case ChartOutcome::Status::published: return "published";
    case ChartOutcome::Status::unchanged: return "unchanged";
    case ChartOutcome::Status::failed: return "failed";
    case ChartOutcome::Status::removed: return "removed";
  }
  return "failed";
}

std::string to_string(Versioning v) {
  switch (v) {
    case Versioning::immutable: return "immutable";
    case Versioning::revision: return "revision";
    case Versioning::overwrite: return "overwrite";
  }
  return "immutable";
}

Versioning parse_versioning(const std::string& text) {
  if (text == "immutable") return Versioning::immutable;
  if (text == "revision") return Versioning::revision;
  if (text == "overwrite") return Versioning::overwrite;
  throw Error(Errc::invalid_argument, "versioning \"" + text + "\"", "must be immutable, revision or overwrite");
}

bool SyncReport::ok() const { return error.empty() && count(ChartOutcome::Status::failed) == 0; }

std::size_t SyncReport::count(ChartOutcome::Status s) const {
  return static_cast<std::size_t>(
      std::count_if(charts.begin(), charts.end(), [s](const ChartOutcome& c) { return c.status == s; }));
}

namespace {

void validate_spec(const RepoSpec& spec, bool allow_local) {
  util::require_dns1123_label("repo name", spec.name);
  if (!spec.upstream.empty()) return validate_upstream_spec(spec);
  if (spec.git.empty()) throw Error(Errc::invalid_argument, "repo " + spec.name, "git URL is required");
  git::validate_url(spec.git, allow_local);
  if (spec.path.find("..") != std::string::npos || (!spec.path.empty() && spec.path.front() == '/'))
    throw Error(Errc::invalid_argument, "repo " + spec.name + " path \"" + spec.path + "\"",
                "must be a relative path inside the repository without '..'");
  std::set<std::string> seen;
  for (auto& d : spec.dependencies) {
    if (d.name.empty() || d.url.empty())
      throw Error(Errc::invalid_argument, "repo " + spec.name, "every dependency needs a name and a url");
    if (!seen.insert(d.name).second)
      throw Error(Errc::invalid_argument, "repo " + spec.name, "dependency \"" + d.name + "\" is listed twice");
  }
}

bool is_oci_url(const std::string& url) { return url.rfind("oci://", 0) == 0; }

void validate_dependency_repo(const deps::NamedRepository& r) {
  const std::string subject = "dependency repository \"" + r.name + "\"";
  if (r.name.empty() || r.name.size() > 253 || r.name.find_first_of("/\\ \t\r\n") != std::string::npos)
    throw Error(Errc::invalid_argument, subject, "name must be non-empty, without '/', '\\' or whitespace");
  if (!r.mirror_of.empty() && !util::is_http_url(r.mirror_of) && !is_oci_url(r.mirror_of))
    throw Error(Errc::invalid_argument, subject,
                "mirrorOf must be the http(s):// or oci:// URL the charts name, got \"" + util::redact_url(r.mirror_of) + "\"");
  if (is_oci_url(r.url) || is_oci_url(r.mirror_of)) {
    for (const auto* url : {&r.url, &r.mirror_of})
      if (is_oci_url(*url)) {
        try {
          oci::Reference::parse(*url);
        } catch (const Error& e) {
          throw Error(Errc::invalid_argument, subject, e.reason());
        }
      }
    if (is_oci_url(r.url)) return;
  }
  if (r.url == deps::kSelfRepositoryUrl) {
    if (r.mirror_of.empty())
      throw Error(Errc::invalid_argument, subject,
                  "url \"self\" (cmop's own chart repository) needs mirrorOf: the URL the charts name it by");
    return;
  }
  if (!util::is_http_url(r.url))
    throw Error(Errc::invalid_argument, subject,
                "url must start with http://, https:// or oci:// (or be \"self\" for a mirror), got \"" +
                    util::redact_url(r.url) + "\"");
}

// `version` with the commit as SemVer build metadata (Flux's Revision strategy).
std::string revision_version(const std::string& version, const std::string& commit) {
  return version + (version.find('+') == std::string::npos ? "+" : ".") + commit.substr(0, 12);
}

// Whether `published` is a revision of `version`: "<version>+<12 hex>" or "<version>.<12 hex>" after a '+'.
bool is_revision_of(const std::string& published, const std::string& version) {
  if (published.size() != version.size() + 13 || published.compare(0, version.size(), version) != 0) return false;
  const char sep = published[version.size()];
  if (sep != (version.find('+') == std::string::npos ? '+' : '.')) return false;
  return std::all_of(published.begin() + static_cast<std::ptrdiff_t>(version.size()) + 1, published.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); });
}

// The content key of one chart: its git tree plus whatever else changes the
// package (resolved dependencies). Symlinks may pull content from outside the
// chart folder, so a chart holding any is keyed on the whole commit's root tree.
std::string chart_key(const git::Tree& tree, const std::string& chart_path, const deps::Resolution& resolution) {
  const std::string dir = chart_path == "." ? "" : chart_path;
  std::string material = "tree:" + tree.id(dir) + "\n";
  if (tree.holds_symlink(dir)) material += "root:" + tree.id("") + "\n";
  for (auto& d : resolution.resolved) material += "dep:" + d.name + "@" + d.version + ":" + d.digest + "\n";
  return util::sha256_hex(material);
}

}  // namespace

struct Workspace::Impl {
  StateDir state_dir;  // first: its lock is taken before anything in it is read
  fs::path dir;
  std::shared_ptr<publish::Publisher> publisher;
  WorkspaceOptions options;
  deps::Resolver resolver;
  MirrorPool mirrors;

  mutable std::mutex mu;  // guards everything below
  std::map<std::string, RepoState> repos;
  std::vector<deps::NamedRepository> dependency_repos;
  // The working copy of each repo whose sync or removal is running (see InFlight):
  // that repo's publications are read from it, not from `repos`, until it is stored.
  std::map<std::string, const RepoState*> in_flight;
  std::map<std::string, std::shared_ptr<std::mutex>> repo_locks;

  Impl(StateDir d, std::shared_ptr<publish::Publisher> p, WorkspaceOptions o)
      : state_dir(std::move(d)),
        dir(state_dir.path()),
        publisher(std::move(p)),
        options(std::move(o)),
        resolver(dir / "cache", options.tls, options.dependency_peers, options.registry, options.dependency_cache),
        mirrors(dir / "mirrors", options.mirrors) {}

  fs::path repos_dir() const { return dir / "repos"; }
  fs::path state_file(const std::string& name) const { return repos_dir() / (name + ".json"); }
  // Where versions before shared mirrors kept one mirror per repo (adopted at load).
  fs::path clone_dir(const std::string& name) const { return dir / "clones" / name; }
  fs::path dependencies_file() const { return dir / "dependencies.json"; }
  // Claims made since the state file was last written (see journal_claim()).
  fs::path claims_file(const std::string& name) const { return repos_dir() / (name + ".claims"); }

  void load() {
    fs::create_directories(repos_dir());
    util::remove_stale_temp_files(repos_dir());
    util::remove_stale_temp_files(dir);
    state_dir.remove_stale_secret_temp_files();
    if (fs::exists(dependencies_file())) ::chmod(dependencies_file().c_str(), 0600);  // written 0644 before
    if (fs::exists(dependencies_file()))
      dependency_repos = dependencies_from_json(util::read_file(dependencies_file()), dependencies_file().string());
    std::map<std::pair<std::string, std::string>, publish::Publication> owners;  // name+version -> publication
    for (auto& entry : fs::directory_iterator(repos_dir())) {
      auto p = entry.path();
      if (p.extension() != ".json" || p.filename().string().front() == '.') continue;
      ::chmod(p.c_str(), 0600);  // credentials: state files written by earlier versions were 0644
      RepoState s = from_state_file(util::read_file(p), p.string());
      replay_claims(s);
      for (auto& pub : s.published) {
        auto [it, fresh] = owners.emplace(std::make_pair(pub.name, pub.version), pub);
        check_claim(pub, fresh ? std::nullopt : std::optional<publish::Publication>(it->second));
      }
      repos.emplace(s.spec.name, std::move(s));
    }
    // Each repo reads its remote's shared mirror; a per-repo mirror of an earlier
    // version becomes that mirror when it has none yet (nothing is fetched again).
    for (const auto& [name, s] : repos) {
      mirrors.attach(name, s.spec);
      mirrors.adopt(name, clone_dir(name));
    }
    std::error_code ec;
    fs::remove_all(dir / "clones", ec);  // clones of repos no longer registered
    mirrors.remove_unused();
  }
  // Who owns what is not kept anywhere but in the repos' states: it is read from
  // each repo's publications as they are now (caller holds mu), a running sync's or
  // removal's working copy for its repo, the stored state for the others.
  const RepoState& current(const std::string& name, const RepoState& stored) const {
    auto it = in_flight.find(name);
    return it == in_flight.end() ? stored : *it->second;
  }
  std::optional<publish::Publication> owner_of(const std::string& name, const std::string& version) const {
    for (const auto& [repo, stored] : repos)
      for (const auto& p : current(repo, stored).published)
        if (p.name == name && p.version == version) return p;
    return std::nullopt;
  }
  // Every publication of every repo, sorted by name, then version.
  std::vector<publish::Publication> all_publications() const {
    std::vector<publish::Publication> out;
    for (const auto& [repo, stored] : repos) {
      const auto& published = current(repo, stored).published;
      out.insert(out.end(), published.begin(), published.end());
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return std::tie(a.name, a.version) < std::tie(b.name, b.version); });
    return out;
  }
  // Throws Error(invalid_argument) for a publication without a repo, name or
  // version, and Error(conflict) when `owner` (of its name+version) is another repo.
  static void check_claim(const publish::Publication& p, const std::optional<publish::Publication>& owner) {
    if (p.repo.empty() || p.name.empty() || p.version.empty())
      throw Error(Errc::invalid_argument, p.name + "-" + p.version,
                  "a publication needs a repo, a chart name and a version");
    if (owner && owner->repo != p.repo)
      throw Error(Errc::conflict, p.name + "-" + p.version,
                  "already published by repo \"" + owner->repo + "\" from " + owner->chart_path);
  }
  struct InFlight;

  // The state file is rewritten whole, so writing it once per chart made a sync of
  // N charts cost N^2. It is written at the end of a sync and at most once per
  // checkpoint interval meanwhile; what must be durable before each upload (the
  // claim on name+version) goes to a small append-only journal instead.
  void persist(RepoState& s) {
    util::write_file_atomic(state_file(s.spec.name), to_state_file(s), 0600);  // holds credentials
    std::error_code ec;
    fs::remove(claims_file(s.spec.name), ec);  // folded into the state file just written
  }
  // Persists progress (chart keys) if the last write is older than the interval.
  void checkpoint(RepoState& s, std::chrono::steady_clock::time_point& last_write) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_write < std::chrono::seconds(2)) return;
    persist(s);
    last_write = now;
  }

  // The one way a repo's publications change (caller holds mu; `state` is the
  // repo's working copy, registered as InFlight): `pub` added to or replaced in
  // state.published. Throws what check_claim() throws, e.g. Error(conflict) when
  // another repo owns its name+version.
  void record_publication(RepoState& state, const publish::Publication& pub) {
    check_claim(pub, owner_of(pub.name, pub.version));
    auto it = std::find_if(state.published.begin(), state.published.end(),
                           [&](auto& p) { return p.name == pub.name && p.version == pub.version; });
    if (it == state.published.end())
      state.published.push_back(pub);
    else
      *it = pub;
  }
  // Its inverse (caller holds mu): name+version leaves state.published.
  void forget_publication(RepoState& state, const std::string& name, const std::string& version) {
    auto& v = state.published;
    v.erase(std::remove_if(v.begin(), v.end(), [&](auto& p) { return p.name == name && p.version == version; }),
            v.end());
  }

  // Appends one claim ("+") or release ("-") of name+version and flushes it to disk.
  void journal_claim(const std::string& repo, char op, const publish::Publication& pub);
  // Applies the journal left by a sync that did not finish, in order (idempotent:
  // a claim is an upsert, a release an erase). A torn last line is ignored.
  void replay_claims(RepoState& s) const;

  std::shared_ptr<std::mutex> lock_for(const std::string& name) {
    std::lock_guard lk(mu);
    auto& m = repo_locks[name];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
  }

  std::vector<deps::NamedRepository> repositories_for(const RepoSpec& spec) {
    std::lock_guard lk(mu);
    std::vector<deps::NamedRepository> out = spec.dependencies;
    for (auto& g : dependency_repos)
      if (std::none_of(out.begin(), out.end(), [&](auto& d) { return d.name == g.name; })) out.push_back(g);
    return out;
  }

  // Runs one sync of `name` (caller holds the repo's lock), asked for at `requested_at`.
  SyncReport sync(const std::string& name,
                  std::chrono::steady_clock::time_point requested_at = std::chrono::steady_clock::now());
  struct Layout;
  // Chart paths in publishing order: a chart whose dependencies are read from
  // cmop's own chart repository comes after the charts of this repo it names, so
  // one sync publishes an umbrella chart together with its siblings. Otherwise the
  // discovery order is kept; a cycle leaves its charts in that order (and they
  // fail to resolve, naming the dependency).
  // `self_served`: per chart path, the names its dependencies read from "self".
  static std::vector<std::string> publishing_order(const std::vector<std::string>& chart_paths, const Layout& layout,
                                                   const std::map<std::string, std::vector<std::string>>& self_served);
  void publish_chart(RepoState& state, const std::string& chart_path, const package::Package& pkg,
                     const Layout& layout, ChartOutcome& outcome);
  void remove_publication(RepoState& state, const publish::Publication& pub);
  // A mirror's sync (spec.upstream set), see sync/upstream_sync.hpp.
  void sync_upstream(RepoState& state, SyncReport& report, std::chrono::steady_clock::time_point deadline);
};


void Workspace::Impl::journal_claim(const std::string& repo, char op, const publish::Publication& pub) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("op");
  w.String(op == '+' ? "claim" : "release");
  w.Key("name");
  w.String(pub.name.c_str(), static_cast<rapidjson::SizeType>(pub.name.size()));
  w.Key("version");
  w.String(pub.version.c_str(), static_cast<rapidjson::SizeType>(pub.version.size()));
  w.Key("digest");
  w.String(pub.digest.c_str(), static_cast<rapidjson::SizeType>(pub.digest.size()));
  w.Key("path");
  w.String(pub.chart_path.c_str(), static_cast<rapidjson::SizeType>(pub.chart_path.size()));
  w.EndObject();
  std::string line(buf.GetString(), buf.GetSize());
  line += '\n';
  const fs::path file = claims_file(repo);
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(Errc::io, file.string(), std::string("open: ") + std::strerror(errno));
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw Error(Errc::io, file.string(), std::string("write: ") + std::strerror(err));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(Errc::io, file.string(), std::string("fsync: ") + std::strerror(err));
  }
  ::close(fd);
  // The journal may have just been created: make its directory entry durable too.
  util::fsync_dir(repos_dir());
}

void Workspace::Impl::replay_claims(RepoState& s) const {
  const fs::path file = claims_file(s.spec.name);
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  std::string text = util::read_file(file);
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn last line: its upload never started
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data() + start, end - start);
    start = end + 1;
    auto field = [&](const char* key) -> std::string {
      if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString()) return {};
      return {doc[key].GetString(), doc[key].GetStringLength()};
    };
    if (doc.HasParseError()) continue;
    publish::Publication pub{s.spec.name, field("name"), field("version"), field("digest"), field("path"), "", ""};
    if (pub.name.empty() || pub.version.empty()) continue;
    auto& v = s.published;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](auto& p) { return p.name == pub.name && p.version == pub.version; }),
            v.end());
    if (field("op") == "claim") v.push_back(pub);
  }
}

// Registers a repo's working copy of its state, for as long as a sync or removal
// changes it, as the one its publications are read from (by other repos' syncs:
// a claim is seen by them at once). On the way out, by a return or an exception,
// the stored state takes its publications over, so nothing claimed goes unseen.
struct Workspace::Impl::InFlight {
  Impl& impl;
  const std::string name;
  InFlight(Impl& i, std::string n, const RepoState& working) : impl(i), name(std::move(n)) {
    std::lock_guard lk(impl.mu);
    impl.in_flight[name] = &working;
  }
  ~InFlight() {
    std::lock_guard lk(impl.mu);
    auto it = impl.in_flight.find(name);
    if (it == impl.in_flight.end()) return;
    if (auto stored = impl.repos.find(name); stored != impl.repos.end())
      stored->second.published = it->second->published;
    impl.in_flight.erase(it);
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

// Each chart folder's Chart.yaml, read and parsed once per sync: the chart's own
// pass uses it, and so does telling a moved or reused folder apart from two
// folders defining the same chart.
struct Workspace::Impl::Layout {
  std::map<std::string, chart::Metadata> metadata_by_path;    // folders whose Chart.yaml parsed
  std::map<std::string, std::exception_ptr> error_by_path;    // and why the others did not
  std::map<std::string, std::string> path_of_name;            // chart name -> first folder defining it

  Layout() = default;  // no folders: a mirror's sync
  Layout(const util::FileTree& tree, const std::vector<std::string>& chart_paths) {
    const std::uint64_t max_file = package::Limits{}.max_file_bytes;
    for (const auto& path : chart_paths) {
      try {
        const std::string dir = path == "." ? "" : path;
        // Checked by size before reading: a huge Chart.yaml is never read whole.
        const std::string chart_yaml = util::tree_join(dir, "Chart.yaml");
        auto md = chart::parse_chart_yaml(util::read_tree_file(tree, chart_yaml, path + "/Chart.yaml", max_file),
                                          path + "/Chart.yaml");
        // v1 charts list their dependencies in requirements.yaml; Helm's loader
        // reads it for any apiVersion, so dependency resolution must too.
        const std::string requirements = util::tree_join(dir, "requirements.yaml");
        if (tree.kind(requirements) != util::FileTree::Kind::missing)
          chart::apply_requirements_yaml(
              md, util::read_tree_file(tree, requirements, path + "/requirements.yaml", max_file),
              path + "/requirements.yaml");
        path_of_name.emplace(md.name, path);
        metadata_by_path.emplace(path, std::move(md));
      } catch (...) {
        error_by_path.emplace(path, std::current_exception());
      }
    }
  }
  // The folder's metadata; rethrows what made its Chart.yaml unreadable.
  const chart::Metadata& metadata(const std::string& path) const {
    if (auto it = error_by_path.find(path); it != error_by_path.end()) std::rethrow_exception(it->second);
    return metadata_by_path.at(path);
  }
  bool defines(const std::string& path, const std::string& name, const std::string& version) const {
    auto it = metadata_by_path.find(path);
    return it != metadata_by_path.end() && it->second.name == name && it->second.version == version;
  }
};

// cmop's own chart repository as a dependency source: whatever the repos' states
// say is published (by any repo), read back from the publisher, with the packages
// of the running sync served from memory.
class OwnCharts final : public deps::ChartSource {
 public:
  // `wanted`: the chart names some chart of the sync reads from "self"; only their
  // packages are kept in memory.
  // `all_published`: every publication of every repo (it takes the lock it needs).
  OwnCharts(std::function<std::vector<publish::Publication>()> all_published, publish::Publisher& publisher,
            std::set<std::string> wanted)
      : all_published_(std::move(all_published)), publisher_(publisher), wanted_(std::move(wanted)) {}

  deps::RepoIndex index() override {
    const std::vector<publish::Publication> all = all_published_();
    deps::RepoIndex index;
    for (auto& p : all) {
      if (p.digest.empty()) continue;  // claimed, upload not known to have landed
      // Revisions of one version (1.0.0+abc, 1.0.0+def) rank equal in SemVer: the
      // one packaged in this sync is the current one, so the others step aside.
      if (!fresh_.count({p.name, p.version}) && superseded_by_fresh(p.name, p.version)) continue;
      deps::IndexEntry e;
      e.metadata.name = p.name;
      e.metadata.version = p.version;
      e.digest = p.digest;
      e.urls = {p.name + "-" + p.version + ".tgz"};
      index.add(std::move(e));
    }
    return index;
  }

  std::string archive(const std::string& name, const std::string& version) override {
    if (auto it = fresh_.find({name, version}); it != fresh_.end()) return it->second;
    return publisher_.fetch(name, version);
  }

  void remember(const package::Package& pkg) {
    if (wanted_.count(pkg.metadata.name)) fresh_[{pkg.metadata.name, pkg.metadata.version}] = pkg.bytes;
  }

 private:
  bool superseded_by_fresh(const std::string& name, const std::string& version) const {
    auto v = chart::Version::parse(version);
    if (!v) return false;
    for (auto it = fresh_.lower_bound({name, ""}); it != fresh_.end() && it->first.first == name; ++it)
      if (auto f = chart::Version::parse(it->first.second); f && chart::compare(*f, *v) == 0) return true;
    return false;
  }

  std::function<std::vector<publish::Publication>()> all_published_;
  publish::Publisher& publisher_;
  std::set<std::string> wanted_;
  std::map<std::pair<std::string, std::string>, std::string> fresh_;
};

void Workspace::Impl::remove_publication(RepoState& state, const publish::Publication& pub) {
  publisher->remove_exact(pub.name, pub.version, pub.digest);
  std::lock_guard lk(mu);
  forget_publication(state, pub.name, pub.version);
}

void Workspace::Impl::publish_chart(RepoState& state, const std::string& chart_path, const package::Package& pkg,
                                    const Layout& layout, ChartOutcome& outcome) {
  const auto& name = pkg.metadata.name;
  const auto& version = pkg.metadata.version;
  bool already_ours = false;
  publish::Publication claim;
  {
    // Claim name+version for this repo before uploading, and persist the claim:
    // after a crash mid-upload the next sync knows the chart is ours to replace.
    // The claim carries the digest of what is known to be uploaded (empty for a
    // first upload): the new digest is recorded only once the upload succeeded,
    // so a failed or interrupted upload is retried by the next sync instead of
    // being taken for "unchanged".
    std::lock_guard lk(mu);
    std::string uploaded_digest;
    if (auto owner = owner_of(name, version)) {
      if (owner->repo != state.spec.name)
        throw Error(Errc::conflict, name + "-" + version,
                    "already published by repo \"" + owner->repo + "\" from " + owner->chart_path);
      // Two folders of this repository defining the same name+version are a
      // conflict; a folder that moved (git mv) or whose old folder now defines
      // something else takes the publication over.
      if (owner->chart_path != chart_path && layout.defines(owner->chart_path, name, version))
        throw Error(Errc::conflict, name + "-" + version,
                    "also defined by " + owner->chart_path + " in this repository");
      if (owner->chart_path != chart_path && !layout.metadata_by_path.count(owner->chart_path))
        state.chart_keys.erase(owner->chart_path);
      already_ours = true;
      uploaded_digest = owner->digest;
    }
    claim = publish::Publication{state.spec.name, name, version, uploaded_digest, chart_path, "", ""};
    if (already_ours)
      if (auto owner = owner_of(name, version)) {
        claim.commit = owner->commit;  // the bytes known uploaded are still the earlier commit's
        claim.cmop_version = owner->cmop_version;
      }
    record_publication(state, claim);
  }
  auto release_claim = [&] {
    {
      std::lock_guard lk(mu);
      forget_publication(state, name, version);
    }
    try {
      journal_claim(state.spec.name, '-', claim);
    } catch (...) {
      // Best effort: the state file written at the end of the sync has no claim
      // either, and the caller must see the upload's error, not this one.
    }
  };
  try {
    journal_claim(state.spec.name, '+', claim);
  } catch (...) {
    if (!already_ours) release_claim();
    throw;
  }
  try {
    publisher->publish(pkg, already_ours);
  } catch (...) {
    // A first upload that failed is not ours. (One that timed out may still have
    // landed: the next sync's upload then meets 409 with the same digest and
    // adopts it.)
    if (!already_ours) release_claim();
    throw;
  }
  {
    std::lock_guard lk(mu);
    record_publication(state,
                       {state.spec.name, name, version, pkg.digest, chart_path, pkg.source_commit, CMOP_VERSION});
  }
  outcome.status = ChartOutcome::Status::published;
}

std::vector<std::string> Workspace::Impl::publishing_order(
    const std::vector<std::string>& chart_paths, const Layout& layout,
    const std::map<std::string, std::vector<std::string>>& self_served) {
  std::map<std::string, std::vector<std::string>> paths_of_name;  // every folder defining a name
  for (const auto& [path, md] : layout.metadata_by_path) paths_of_name[md.name].push_back(path);
  std::map<std::string, std::set<std::string>> needs;  // path -> paths it must follow
  for (const auto& [path, names] : self_served)
    for (const auto& dep : names)
      if (auto it = paths_of_name.find(dep); it != paths_of_name.end())
        for (const auto& other : it->second)
          if (other != path) needs[path].insert(other);
  if (needs.empty()) return chart_paths;

  std::vector<std::string> order;
  std::set<std::string> placed;
  while (order.size() < chart_paths.size()) {
    bool progressed = false;
    for (const auto& path : chart_paths) {
      if (placed.count(path)) continue;
      const auto& before = needs[path];
      if (std::all_of(before.begin(), before.end(), [&](const std::string& p) { return placed.count(p) > 0; })) {
        order.push_back(path);
        placed.insert(path);
        progressed = true;
      }
    }
    if (!progressed) {  // a cycle: the rest in discovery order
      for (const auto& path : chart_paths)
        if (placed.insert(path).second) order.push_back(path);
    }
  }
  return order;
}

void Workspace::Impl::sync_upstream(RepoState& state, SyncReport& report,
                                    std::chrono::steady_clock::time_point deadline) {
  net::HttpClient http(options.tls, options.dependency_peers);
  http.enable_keep_alive();
  auto registry = options.registry;
  if (!registry && upstream::is_oci_upstream(state.spec.upstream)) {
    oci::ClientOptions o;
    o.tls = options.tls;
    o.peers = options.dependency_peers;
    registry = std::make_shared<oci::RegistryClient>(std::move(o));
  }
  upstream::UpstreamSource source(state.spec.upstream, http, registry);
  const Layout no_folders;
  UpstreamPublishing publishing{
      [&](const package::Package& pkg, const std::string& chart_path, ChartOutcome& outcome) {
        publish_chart(state, chart_path, pkg, no_folders, outcome);
      },
      [&](const publish::Publication& pub) { remove_publication(state, pub); }, publisher->describe(), deadline};
  publisher->begin_batch();
  try {
    sync_from_upstream(state, source, report, publishing);
  } catch (...) {
    try {
      publisher->end_batch();
    } catch (...) {
    }
    throw;
  }
  try {
    publisher->end_batch();
  } catch (const Error& e) {
    if (report.error.empty()) report.error = "publishing to " + publisher->describe() + " failed: " + e.what();
  }
  if (registry) registry->close_idle_connections();
}

SyncReport Workspace::Impl::sync(const std::string& name, std::chrono::steady_clock::time_point requested_at) {
  auto started = std::chrono::steady_clock::now();
  RepoState state;
  {
    std::lock_guard lk(mu);
    auto it = repos.find(name);
    if (it == repos.end()) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
    state = it->second;
  }
  const InFlight working(*this, name, state);
  SyncReport report;
  report.repo = name;
  state.last_sync_time = util::now_rfc3339();
  const auto deadline = options.sync_timeout.count() > 0 ? started + options.sync_timeout
                                                         : std::chrono::steady_clock::time_point::max();
  // Every HTTP request of this sync (dependencies, registries, the publisher) ends by then too.
  const net::DeadlineScope network_deadline(deadline);
  auto last_write = std::chrono::steady_clock::now();

  auto finish = [&]() {
    resolver.close_idle_connections();  // kept open for this sync's requests only
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    state.last_error = report.error;
    if (report.error.empty()) state.last_success_time = state.last_sync_time;
    state.last_charts = report.charts;
    if (!report.commit.empty()) state.last_commit = report.commit;
    persist(state);
    std::lock_guard lk(mu);
    repos[name] = state;
    return report;
  };

  if (!state.spec.upstream.empty()) {
    try {
      sync_upstream(state, report, deadline);
    } catch (const Error& e) {
      report.error = e.what();
    }
    return finish();
  }
  // The commit's files, read from the remote's shared mirror (not repacked while held).
  std::optional<MirrorPool::Checkout> checkout;
  std::vector<std::string> chart_paths;
  try {
    git::SyncOptions opts{state.spec.git, state.spec.ref, state.spec.credentials, options.allow_local_git,
                          options.git_ca_file};
    opts.ssh_known_hosts = options.ssh_known_hosts;
    opts.stall_timeout = options.git_stall_timeout;
    opts.deadline = deadline;
    checkout.emplace(mirrors.checkout(name, state.spec, opts, requested_at));
    report.commit = checkout->commit;
    report.fetched_changes = checkout->commit != state.last_commit;
    chart_paths = chart::discover_charts(*checkout->tree, state.spec.path);
  } catch (const Error& e) {
    report.error = e.what();
    return finish();
  } catch (const std::exception& e) {
    report.error = std::string("internal error: ") + e.what();
    return finish();
  }
  const git::Tree& tree = *checkout->tree;

  auto repositories = repositories_for(state.spec);
  std::set<std::string> present(chart_paths.begin(), chart_paths.end());
  const Layout layout(tree, chart_paths);
  bool publisher_down = false;
  deps::Resolver::Session dependency_indexes;
  // One batch per sync, so the publish target's own index is rewritten once, not per chart.
  struct Batch {
    publish::Publisher& p;
    bool open = true;
    explicit Batch(publish::Publisher& pub) : p(pub) { p.begin_batch(); }
    void end() {
      open = false;
      p.end_batch();
    }
    ~Batch() {
      if (!open) return;
      try {
        p.end_batch();
      } catch (...) {
      }
    }
  } batch(*publisher);

  std::map<std::string, std::vector<std::string>> self_served;  // chart path -> names it reads from "self"
  std::set<std::string> wanted_from_self;
  for (const auto& [path, md] : layout.metadata_by_path) {
    self_served[path] = deps::Resolver::self_served(md, repositories);
    wanted_from_self.insert(self_served[path].begin(), self_served[path].end());
  }
  OwnCharts own_charts(
      [this] {
        std::lock_guard lk(mu);
        return all_publications();
      },
      *publisher, std::move(wanted_from_self));
  const Versioning versioning = state.spec.versioning;
  std::optional<std::string> commit_time;  // read from git once, when the first package is published
  // The sync's time is up: what is published stays, the rest waits for the next sync.
  auto out_of_time = [&] {
    if (publisher_down || std::chrono::steady_clock::now() < deadline) return;
    publisher_down = true;  // i.e. stop: no further chart is attempted, nothing is removed
    report.error = "sync of " + util::redact_url(state.spec.git) + " timed out after " +
                   std::to_string(options.sync_timeout.count()) + " s (the sync timeout)";
  };
  for (auto& path : publishing_order(chart_paths, layout, self_served)) {
    ChartOutcome outcome;
    outcome.path = path;
    out_of_time();
    if (publisher_down) {
      outcome.reason = "not attempted: " + report.error;
      report.charts.push_back(outcome);
      continue;
    }
    try {
      const std::string chart_dir = path == "." ? "" : path;
      const chart::Metadata& md = layout.metadata(path);
      outcome.name = md.name;
      outcome.version = md.version;
      auto resolution = resolver.resolve(md, tree, chart_dir, repositories, &dependency_indexes, &own_charts);
      std::string key = chart_key(tree, path, resolution);
      // What this folder published last for its current version: that version
      // itself, or under `revision` its newest <version>+<commit>.
      auto previous = std::find_if(state.published.rbegin(), state.published.rend(), [&](auto& p) {
        return p.chart_path == path && p.name == md.name &&
               (versioning == Versioning::revision ? is_revision_of(p.version, md.version) : p.version == md.version);
      });
      const bool has_previous = previous != state.published.rend();
      auto known = state.chart_keys.find(path);
      if (known != state.chart_keys.end() && known->second == key && has_previous) {
        outcome.version = previous->version;
        outcome.digest = previous->digest;
        outcome.status = ChartOutcome::Status::unchanged;
      } else {
        package::PackageInput in{{}, path, resolution.archives, resolution.local_subcharts,
                                 resolution.lock_yaml, {}, &tree};
        std::optional<package::Package> pkg;
        if (versioning == Versioning::revision) {
          // Same bytes under the last revision's version (a commit that touched
          // only ignored files) is no new revision.
          if (has_previous) {
            in.version_override = previous->version;
            auto again = package::package_chart(in);
            if (again.digest == previous->digest) pkg = std::move(again);
          }
          if (!pkg) {
            in.version_override = revision_version(md.version, report.commit);
            pkg = package::package_chart(in);
          }
        } else {
          pkg = package::package_chart(in);
        }
        outcome.name = pkg->metadata.name;
        outcome.version = pkg->metadata.version;
        outcome.digest = pkg->digest;
        auto same_version = std::find_if(state.published.begin(), state.published.end(), [&](auto& p) {
          return p.name == pkg->metadata.name && p.version == pkg->metadata.version;
        });
        if (same_version != state.published.end() && same_version->digest == pkg->digest &&
            same_version->chart_path == path) {
          outcome.status = ChartOutcome::Status::unchanged;  // e.g. a commit touching only ignored files
        } else {
          // Only `overwrite` replaces a published package. (Under `revision` this is
          // the same commit resolving other dependency versions than before.)
          if (versioning != Versioning::overwrite && same_version != state.published.end() &&
              !same_version->digest.empty() && same_version->digest != pkg->digest)
            throw Error(Errc::conflict, pkg->metadata.name + "-" + pkg->metadata.version,
                        "content changed but version " + pkg->metadata.version +
                            " was not bumped: it is published with digest " + same_version->digest +
                            " and published versions are immutable; bump `version` in Chart.yaml (or set the "
                            "repo's versioning to revision or overwrite)");
          if (!commit_time) commit_time = tree.commit_time();
          pkg->created = *commit_time;
          pkg->source_git = util::redact_url(state.spec.git);
          pkg->source_commit = report.commit;
          pkg->source_path = path;
          try {
            publish_chart(state, path, *pkg, layout, outcome);
          } catch (const Error& e) {
            if (e.code() == Errc::network || e.code() == Errc::unauthorized || e.code() == Errc::upstream ||
                e.code() == Errc::io) {
              // The publish target is unreachable or refusing us: the rest would fail
              // the same way. Report it once at repo level; the next sync retries all.
              publisher_down = true;
              report.error = "publishing to " + publisher->describe() + " failed: " + e.what();
            }
            throw;
          }
          own_charts.remember(*pkg);
        }
        state.chart_keys[path] = key;
        try {
          checkpoint(state, last_write);
        } catch (const Error& e) {
          // The chart did publish (its claim is journaled); what failed is the
          // state dir, which concerns the whole repo.
          if (report.error.empty()) report.error = std::string("saving the repo state: ") + e.what();
        }
      }
    } catch (const Error& e) {
      outcome.status = ChartOutcome::Status::failed;
      outcome.reason = e.what();
    } catch (const std::exception& e) {
      outcome.status = ChartOutcome::Status::failed;
      outcome.reason = std::string("internal error: ") + e.what();
    }
    report.charts.push_back(std::move(outcome));
  }

  // Past the deadline (the last chart ran into it) no removal is begun: each
  // request would fail at once. The next sync does them.
  out_of_time();
  // A chart folder that disappeared from the repo (or from spec.path) takes its
  // published versions with it. Version bumps keep earlier versions: chart repos
  // are append-only by convention and pinned installs must keep working.
  if (!publisher_down) {
    auto published = state.published;
    for (auto& pub : published) {
      if (present.count(pub.chart_path)) continue;
      // Earlier versions of a chart whose folder moved stay published with it:
      // they follow the folder that defines the chart's name now.
      if (auto moved = layout.path_of_name.find(pub.name); moved != layout.path_of_name.end()) {
        publish::Publication relocated = pub;
        relocated.chart_path = moved->second;
        {
          std::lock_guard lk(mu);
          record_publication(state, relocated);
        }
        try {
          journal_claim(state.spec.name, '+', relocated);
        } catch (const Error&) {
          // The state file written at the end of the sync records the move too.
        }
        continue;
      }
      ChartOutcome outcome{pub.chart_path, pub.name, pub.version, pub.digest, ChartOutcome::Status::removed, ""};
      try {
        remove_publication(state, pub);
        state.chart_keys.erase(pub.chart_path);
      } catch (const Error& e) {
        outcome.status = ChartOutcome::Status::failed;
        outcome.reason = std::string("removing: ") + e.what();
      }
      report.charts.push_back(std::move(outcome));
    }
  }
  try {
    batch.end();
  } catch (const Error& e) {
    if (report.error.empty()) report.error = "publishing to " + publisher->describe() + " failed: " + e.what();
  }
  return finish();
}

Workspace::Workspace(const fs::path& state_dir, std::shared_ptr<publish::Publisher> publisher,
                     WorkspaceOptions options)
    : Workspace(StateDir(state_dir), std::move(publisher), std::move(options)) {}

Workspace::Workspace(StateDir state_dir, std::shared_ptr<publish::Publisher> publisher, WorkspaceOptions options)
    : impl_(std::make_unique<Impl>(std::move(state_dir), std::move(publisher), std::move(options))) {
  if (!impl_->publisher) throw Error(Errc::invalid_argument, "workspace", "a publisher is required");
  impl_->load();
}

Workspace::~Workspace() = default;

void Workspace::put_dependency_repo(const deps::NamedRepository& repo) {
  validate_dependency_repo(repo);
  std::lock_guard lk(impl_->mu);
  auto next = impl_->dependency_repos;
  auto it = std::find_if(next.begin(), next.end(), [&](auto& d) { return d.name == repo.name; });
  if (it == next.end())
    next.push_back(repo);
  else
    *it = repo;
  util::write_file_atomic(impl_->dependencies_file(), dependencies_to_json(next, true), 0600);  // holds credentials
  impl_->dependency_repos = std::move(next);
}

std::vector<deps::NamedRepository> Workspace::dependency_repos() const {
  std::lock_guard lk(impl_->mu);
  return impl_->dependency_repos;
}

void Workspace::check(const RepoSpec& spec) const {
  validate_spec(spec, impl_->options.allow_local_git);
  for (auto& d : spec.dependencies) validate_dependency_repo(d);
  std::lock_guard lk(impl_->mu);
  auto it = impl_->repos.find(spec.name);
  if (it != impl_->repos.end() && !it->second.spec.owner.empty() && it->second.spec.owner != spec.owner)
    throw Error(Errc::conflict, "repo \"" + spec.name + "\"",
                "is managed by " + it->second.spec.owner + ", not by " +
                    (spec.owner.empty() ? std::string("this request (it names no owner)") : spec.owner));
}

SyncReport Workspace::apply(const RepoSpec& spec) {
  const auto requested_at = std::chrono::steady_clock::now();
  validate_spec(spec, impl_->options.allow_local_git);
  for (auto& d : spec.dependencies) validate_dependency_repo(d);
  auto lock = impl_->lock_for(spec.name);
  std::lock_guard repo_lk(*lock);
  std::optional<SyncReport> recorded;  // for a suspended spec: no sync
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->repos.find(spec.name);
    RepoState state = it == impl_->repos.end() ? RepoState{} : it->second;
    if (it != impl_->repos.end() && !state.spec.owner.empty() && state.spec.owner != spec.owner)
      throw Error(Errc::conflict, "repo \"" + spec.name + "\"",
                  "is managed by " + state.spec.owner + ", not by " +
                      (spec.owner.empty() ? std::string("this request (it names no owner)") : spec.owner));
    if (it == impl_->repos.end() || !(state.spec == spec)) {
      state.spec = spec;
      impl_->persist(state);
      impl_->repos[spec.name] = state;
    }
    if (spec.suspend) {
      recorded.emplace();
      recorded->repo = spec.name;
      recorded->commit = state.last_commit;
    }
  }
  // The recorded spec names the repo's one SSH key from now on, and no sync of the
  // repo runs meanwhile (its lock is held): keys it stored before are read no more.
  impl_->state_dir.remove_ssh_keys(spec.name, spec.credentials.ssh_private_key_file);
  if (recorded) return *recorded;
  return impl_->sync(spec.name, requested_at);
}

SyncReport Workspace::update(const std::string& name) { return update(name, std::chrono::steady_clock::now()); }

SyncReport Workspace::update(const std::string& name, std::chrono::steady_clock::time_point requested_at) {
  util::require_dns1123_label("repo name", name);
  auto lock = impl_->lock_for(name);
  std::lock_guard repo_lk(*lock);
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->repos.find(name);
    if (it != impl_->repos.end() && it->second.spec.suspend)
      throw Error(Errc::conflict, "repo \"" + name + "\"", "is suspended: no syncs until it is resumed");
  }
  return impl_->sync(name, requested_at);
}

void Workspace::remove(const std::string& name, const std::string& expected_owner) {
  util::require_dns1123_label("repo name", name);
  auto lock = impl_->lock_for(name);
  std::lock_guard repo_lk(*lock);
  RepoState state;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->repos.find(name);
    if (it == impl_->repos.end()) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
    state = it->second;
  }
  const Impl::InFlight working(*impl_, name, state);
  if (!expected_owner.empty() && !state.spec.owner.empty() && state.spec.owner != expected_owner)
    throw Error(Errc::conflict, "repo \"" + name + "\"",
                "is managed by " + state.spec.owner + ", not by " + expected_owner + ": not removed");
  auto published = state.published;
  for (auto& pub : published) {
    try {
      impl_->remove_publication(state, pub);
    } catch (...) {
      // Keep what is left on record so a retry finishes the job.
      impl_->persist(state);
      std::lock_guard lk(impl_->mu);
      impl_->repos[name] = state;
      throw;
    }
  }
  std::error_code ec;
  fs::remove(impl_->state_file(name), ec);
  if (ec) throw Error(Errc::io, impl_->state_file(name).string(), ec.message());
  fs::remove_all(impl_->clone_dir(name), ec);
  impl_->mirrors.detach(name);  // the mirror goes with its last user only
  impl_->state_dir.remove_ssh_keys(name);
  std::lock_guard lk(impl_->mu);
  impl_->repos.erase(name);
}

std::string Workspace::ssh_key_file(const std::string& name, const std::string& key) const {
  return impl_->state_dir.ssh_key_file(name, key).string();
}

std::string Workspace::store_ssh_key(const std::string& name, const std::string& key) {
  return impl_->state_dir.store_ssh_key(name, key).string();
}

std::optional<RepoState> Workspace::get(const std::string& name) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->repos.find(name);
  if (it == impl_->repos.end()) return std::nullopt;
  return it->second;
}

MirrorStats Workspace::mirror_stats() const { return impl_->mirrors.stats(); }

std::vector<RepoState> Workspace::list() const {
  std::lock_guard lk(impl_->mu);
  std::vector<RepoState> out;
  for (auto& [n, s] : impl_->repos) out.push_back(s);
  return out;
}

}  // namespace cmop::sync
