#include "cmop/sync/workspace.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "cmop/error.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/names.hpp"
#include "sync/validate.hpp"
#include "sync/workspace_impl.hpp"

namespace cmop::sync {
namespace fs = std::filesystem;

std::string read_ssh_known_hosts(const fs::path& file) {
  std::string hosts;
  try {
    hosts = util::read_file(file);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, "--ssh-known-hosts", file.string() + ": " + e.reason());
  }
  if (hosts.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(Errc::invalid_argument, "--ssh-known-hosts", file.string() + " holds no host keys");
  return hosts;
}

Workspace::Impl::Impl(StateDir d, std::shared_ptr<publish::Publisher> p, WorkspaceOptions o)
    : state_dir(std::move(d)),
      dir(state_dir.path()),
      publisher(std::move(p)),
      options(std::move(o)),
      resolver(dir / "cache", options.tls, options.dependency_peers, options.registry, options.dependency_cache),
      mirrors(dir / "mirrors", options.mirrors) {}

void Workspace::Impl::load() {
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

std::shared_ptr<std::mutex> Workspace::Impl::lock_for(const std::string& name) {
  std::lock_guard lk(mu);
  auto& m = repo_locks[name];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

RepoState Workspace::Impl::stored_state(const std::string& name) const {
  std::lock_guard lk(mu);
  auto it = repos.find(name);
  if (it == repos.end()) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
  return it->second;
}

std::vector<deps::NamedRepository> Workspace::Impl::repositories_for(const RepoSpec& spec) const {
  std::lock_guard lk(mu);
  std::vector<deps::NamedRepository> out = spec.dependencies;
  for (auto& g : dependency_repos)
    if (std::none_of(out.begin(), out.end(), [&](auto& d) { return d.name == g.name; })) out.push_back(g);
  return out;
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
  RepoState state = impl_->stored_state(name);
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
