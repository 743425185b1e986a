// Mirrors shared by remote. Layout of the pool's directory:
//   <id>/             a git::Repository directory (repo.git, sync.lock, fetched)
// where <id> is mirror_id(): a digest of URL and credentials identity. Which repos
// use which mirror is not stored: it follows from the repo specs (attach() at load).
#include "cmop/sync/mirror_pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <set>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/redact.hpp"

namespace cmop::sync {
namespace fs = std::filesystem;

namespace {

bool may_be_commit(const std::string& ref) {
  return ref.size() >= 4 && ref.size() <= 40 &&
         std::all_of(ref.begin(), ref.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::string file_identity(const std::string& path) {
  if (path.empty()) return "";
  try {
    return "sha256:" + util::sha256_hex(util::read_file(path));
  } catch (const Error&) {
    return "path:" + path;  // unreadable: the fetch will say so; never shared with a readable one
  }
}

std::uint64_t disk_use(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

}  // namespace

struct MirrorPool::Host {
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  int waiting = 0;
  int peak = 0;
};

struct MirrorPool::Mirror {
  std::string id;
  std::string host;
  fs::path dir;
  git::Repository repo;
  // Guarded by the pool's mu_.
  std::map<std::string, std::string> users;  // repo -> its ref
  bool full_history = false;                 // some user names a commit id
  std::uint64_t disk_bytes = 0;

  // Guarded by mu.
  std::mutex mu;
  std::condition_variable cv;
  bool fetching = false;
  bool have_result = false;
  Clock::time_point result_started;  // when the last finished fetch began
  git::FetchResult result;
  std::exception_ptr error;
  int active = 0;  // checkouts alive
  bool gc_running = false;
  std::uint32_t fetches_since_gc = 0;
  Clock::time_point last_gc = Clock::now();

  Mirror(std::string i, std::string h, fs::path d) : id(std::move(i)), host(std::move(h)), dir(d), repo(d) {}
};

MirrorPool::MirrorPool(fs::path dir, MirrorLimits limits) : dir_(std::move(dir)), limits_(limits) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error(Errc::io, dir_.string(), "create mirrors directory: " + ec.message());
  totals_.limits = limits_;
}

MirrorPool::~MirrorPool() = default;

std::string MirrorPool::mirror_id(const RepoSpec& spec) {
  const git::Credentials& c = spec.credentials;
  std::string identity = "anonymous";
  if (!(c == git::Credentials{})) {
    std::string material;
    for (const std::string& part : {c.username, c.password, file_identity(c.ssh_private_key_file),
                                    file_identity(c.ssh_public_key_file), c.ssh_passphrase}) {
      material += std::to_string(part.size()) + ":" + part + "\n";
    }
    identity = util::sha256_hex(material);
  }
  return util::sha256_hex("cmop mirror 1\n" + spec.git + "\n" + identity).substr(0, 32);
}

std::string MirrorPool::host_of(const std::string& url) {
  std::string_view u = url;
  if (auto sep = u.find("://"); sep != std::string_view::npos) {
    if (u.substr(0, sep) == "file") return "local";
    u.remove_prefix(sep + 3);
    u = u.substr(0, u.find('/'));
    if (auto at = u.rfind('@'); at != std::string_view::npos) u.remove_prefix(at + 1);
    return std::string(u);
  }
  if (u.starts_with("/") || u.starts_with(".")) return "local";
  // scp-like user@host:path
  u = u.substr(0, u.find(':'));
  if (auto at = u.rfind('@'); at != std::string_view::npos) u.remove_prefix(at + 1);
  return std::string(u);
}

void MirrorPool::drop_user(const std::string& repo) {
  auto it = user_mirror_.find(repo);
  if (it == user_mirror_.end()) return;
  auto m = mirrors_.find(it->second);
  user_mirror_.erase(it);
  if (m == mirrors_.end()) return;
  auto& mirror = *m->second;
  mirror.users.erase(repo);
  mirror.full_history = std::any_of(mirror.users.begin(), mirror.users.end(),
                                    [](const auto& u) { return may_be_commit(u.second); });
  if (!mirror.users.empty()) return;
  // The last user: nobody syncs it (its users' own locks are held by their
  // callers, and a checkout belongs to a user), so it goes now.
  std::error_code ec;
  fs::remove_all(mirror.dir, ec);
  mirrors_.erase(m);
}

std::shared_ptr<MirrorPool::Mirror> MirrorPool::find_or_create(const std::string& repo, const RepoSpec& spec) {
  const std::string id = mirror_id(spec);
  std::lock_guard lk(mu_);
  if (auto prev = user_mirror_.find(repo); prev != user_mirror_.end() && prev->second != id) drop_user(repo);
  auto it = mirrors_.find(id);
  if (it == mirrors_.end()) {
    auto m = std::make_shared<Mirror>(id, host_of(spec.git), dir_ / id);
    std::error_code ec;
    if (fs::exists(m->dir, ec)) m->disk_bytes = disk_use(m->dir);
    it = mirrors_.emplace(id, std::move(m)).first;
  }
  auto& m = it->second;
  m->users[repo] = spec.ref;
  m->full_history = m->full_history || may_be_commit(spec.ref);
  user_mirror_[repo] = id;
  return m;
}

void MirrorPool::attach(const std::string& repo, const RepoSpec& spec) {
  if (!spec.git.empty()) find_or_create(repo, spec);  // a repo mirroring a chart repository has no git remote
}

void MirrorPool::detach(const std::string& repo) {
  std::lock_guard lk(mu_);
  drop_user(repo);
}

void MirrorPool::adopt(const std::string& repo, const fs::path& legacy) {
  std::error_code ec;
  if (!fs::exists(legacy, ec)) return;
  std::shared_ptr<Mirror> m;
  {
    std::lock_guard lk(mu_);
    if (auto it = user_mirror_.find(repo); it != user_mirror_.end()) m = mirrors_.at(it->second);
  }
  if (m && !fs::exists(m->dir, ec) && fs::is_directory(legacy / "repo.git", ec)) {
    fs::rename(legacy, m->dir, ec);
    if (!ec) {
      measure(m);
      return;
    }
  }
  fs::remove_all(legacy, ec);
}

void MirrorPool::remove_unused() {
  std::lock_guard lk(mu_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!mirrors_.count(name)) fs::remove_all(entry.path(), ec);
  }
}

void MirrorPool::measure(const std::shared_ptr<Mirror>& m) {
  const std::uint64_t bytes = disk_use(m->dir);
  std::lock_guard lk(mu_);
  m->disk_bytes = bytes;
}

MirrorPool::Checkout MirrorPool::checkout(const std::string& repo, const RepoSpec& spec, git::SyncOptions options,
                                          Clock::time_point requested_at) {
  const std::string subject = util::redact_url(spec.git);
  std::shared_ptr<Mirror> m;
  std::shared_ptr<Host> host;
  {
    const std::string id = mirror_id(spec);
    std::unique_lock lk(mu_);
    if (!mirrors_.count(id)) {
      // A mirror that does not exist yet: within the limits?
      std::uint64_t disk = 0;
      for (auto& [_, other] : mirrors_) disk += other->disk_bytes;
      std::string why;
      if (limits_.max_mirrors > 0 && mirrors_.size() >= limits_.max_mirrors)
        why = "the limit of " + std::to_string(limits_.max_mirrors) + " git mirrors is reached (--max-git-mirrors)";
      else if (limits_.max_disk_bytes > 0 && disk >= limits_.max_disk_bytes)
        why = "the git mirrors use " + std::to_string(disk) + " bytes, the limit is " +
              std::to_string(limits_.max_disk_bytes) + " (--max-git-mirror-bytes)";
      if (!why.empty()) {
        ++totals_.refused;
        throw Error(Errc::too_large, subject, "no new mirror for this remote: " + why);
      }
    }
    lk.unlock();
    m = find_or_create(repo, spec);
    lk.lock();
    options.full_history = m->full_history;
    auto& h = hosts_[m->host];
    if (!h) h = std::make_shared<Host>();
    host = h;
  }
  Checkout out;
  {
    std::unique_lock lk(m->mu);
    m->cv.wait(lk, [&] { return !m->gc_running; });
    ++m->active;
  }
  struct Lease {
    MirrorPool* pool;
    std::shared_ptr<Mirror> m;
    ~Lease() { pool->release(m); }
  };
  out.lease = std::make_shared<Lease>(Lease{this, m});

  auto timed_out = [&](const std::string& what) {
    return Error(Errc::network, subject, "timed out: the sync deadline passed while waiting for " + what);
  };
  bool ran = false;
  {
    std::unique_lock lk(m->mu);
    for (;;) {
      if (m->have_result && m->result_started >= requested_at) break;
      if (m->fetching) {
        // Join it when it began after we were asked, else wait and share the next one.
        if (!m->cv.wait_until(lk, options.deadline, [&] { return !m->fetching; }))
          throw timed_out("another sync's fetch of this remote");
        continue;
      }
      m->fetching = true;
      const auto started = Clock::now();
      lk.unlock();
      git::FetchResult result;
      std::exception_ptr error;
      try {
        {
          std::unique_lock hl(host->mu);
          if (limits_.max_fetches_per_host > 0 && host->running >= limits_.max_fetches_per_host) {
            ++host->waiting;
            bool got = host->cv.wait_until(hl, options.deadline,
                                           [&] { return host->running < limits_.max_fetches_per_host; });
            --host->waiting;
            if (!got) throw timed_out("a fetch slot for host " + m->host + " (--max-git-fetches-per-host)");
          }
          host->peak = std::max(host->peak, ++host->running);
        }
        struct Slot {
          Host& h;
          ~Slot() {
            {
              std::lock_guard hl(h.mu);
              --h.running;
            }
            h.cv.notify_one();
          }
        } slot{*host};
        result = m->repo.fetch(options);
      } catch (...) {
        error = std::current_exception();
      }
      lk.lock();
      m->fetching = false;
      m->have_result = true;
      m->result_started = started;
      m->result = result;
      m->error = error;
      if (!error && result.received_objects > 0) ++m->fetches_since_gc;
      m->cv.notify_all();
      ran = true;
      break;
    }
    out.fetch = m->result;
    if (m->error) {
      auto error = m->error;
      lk.unlock();
      std::lock_guard plk(mu_);
      ran ? ++totals_.fetches : ++totals_.joined;
      std::rethrow_exception(error);
    }
  }
  if (ran) measure(m);
  {
    std::lock_guard lk(mu_);
    if (ran) {
      ++totals_.fetches;
      totals_.fetched_bytes += out.fetch.received_bytes;
      totals_.fetched_objects += out.fetch.received_objects;
    } else {
      ++totals_.joined;
    }
  }
  out.fetched = ran;
  out.commit = m->repo.resolve(spec.git, spec.ref, out.fetch.default_branch);
  out.tree.emplace(m->repo.tree_at(out.commit));
  return out;
}

void MirrorPool::release(const std::shared_ptr<Mirror>& m) {
  {
    std::lock_guard lk(m->mu);
    --m->active;
  }
  maybe_gc(m);
}

void MirrorPool::maybe_gc(const std::shared_ptr<Mirror>& m) {
  {
    std::lock_guard lk(m->mu);
    if (m->active > 0 || m->fetching || m->gc_running || m->fetches_since_gc == 0) return;
    const bool by_count = limits_.gc_after_fetches > 0 && m->fetches_since_gc >= limits_.gc_after_fetches;
    const bool by_time = limits_.gc_interval.count() > 0 && Clock::now() - m->last_gc >= limits_.gc_interval;
    if (!by_count && !by_time) return;
    m->gc_running = true;  // checkouts wait for it
  }
  {
    std::lock_guard plk(mu_);
    if (!mirrors_.count(m->id)) {  // removed meanwhile
      std::lock_guard lk(m->mu);
      m->gc_running = false;
      m->cv.notify_all();
      return;
    }
  }
  bool done = false;
  try {
    m->repo.gc();
    done = true;
  } catch (const std::exception&) {
    // Best effort: the mirror stays as the fetches left it; tried again later.
  }
  {
    std::lock_guard lk(m->mu);
    m->gc_running = false;
    m->fetches_since_gc = 0;
    m->last_gc = Clock::now();
  }
  m->cv.notify_all();
  measure(m);
  if (done) {
    std::lock_guard plk(mu_);
    ++totals_.gcs;
  }
}

MirrorStats MirrorPool::stats() const {
  std::lock_guard lk(mu_);
  MirrorStats s = totals_;
  s.mirrors = mirrors_.size();
  s.users = user_mirror_.size();
  s.disk_bytes = 0;
  for (auto& [_, m] : mirrors_) s.disk_bytes += m->disk_bytes;
  for (auto& [name, h] : hosts_) {
    std::lock_guard hl(h->mu);
    s.fetching_by_host[name] = h->running;
    s.waiting_by_host[name] = h->waiting;
    s.peak_by_host[name] = h->peak;
  }
  return s;
}

}  // namespace cmop::sync
