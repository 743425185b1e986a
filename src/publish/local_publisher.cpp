// A folder that is itself a Helm chart repository: <name>-<version>.tgz files plus
// index.yaml. The same folder works as ChartMuseum's local storage root
// (`--storage=local --storage-local-rootdir`): ChartMuseum lists the top-level .tgz
// files and ignores everything else (our lock file, temp files, index.yaml).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/package/package_reader.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/lock_file.hpp"
#include "cmop/util/time.hpp"

namespace cmop::publish {

namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexFile = "index.yaml";
// Hidden and not ending in .tgz, so neither Helm nor ChartMuseum ever sees it.
constexpr const char* kLockFile = ".cmop-publish.lock";

std::string rfc3339(std::chrono::system_clock::time_point tp) { return util::rfc3339(tp, 9); }

std::string file_mtime_rfc3339(const fs::path& p) {
  std::error_code ec;
  auto ftime = fs::last_write_time(p, ec);
  if (ec) return rfc3339(std::chrono::system_clock::now());
  return rfc3339(std::chrono::time_point_cast<std::chrono::system_clock::duration>(std::chrono::file_clock::to_sys(ftime)));
}

// Names become file names: refuse anything that could leave the folder.
void require_safe_component(const std::string& what, const std::string& value) {
  if (value.empty() || value == "." || value == ".." || value.find('/') != std::string::npos ||
      value.find('\\') != std::string::npos || value.find('\0') != std::string::npos)
    throw Error(Errc::invalid_argument, value, what + " cannot be used in a file name");
}

class LocalPublisher final : public Publisher {
 public:
  LocalPublisher(std::string dir, std::string base_url, std::chrono::milliseconds index_delay)
      : dir_(std::move(dir)), base_url_(std::move(base_url)), index_delay_(index_delay) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error(Errc::io, dir_.string(), "create chart folder: " + ec.message());
    if (!fs::is_directory(dir_)) throw Error(Errc::io, dir_.string(), "not a directory");
    std::lock_guard lk(mu_);
    // Several cmop processes (or a restart overlapping the old pod) never interleave
    // their read-modify-write of index.yaml.
    auto folder = util::LockFile::acquire(dir_ / kLockFile);
    util::remove_stale_temp_files(dir_);  // a writer killed mid-write; we hold the folder's lock
    // A package written after the index last was (a sync killed inside its batch,
    // between a .tgz and the index write) may hold other bytes than the index says:
    // after a crash, the next start re-reads those packages so index, files and the
    // workspace's state agree byte for byte again.
    std::error_code stat_ec;
    const auto index_written = fs::last_write_time(dir_ / kIndexFile, stat_ec);
    deps::RepoIndex index = load_index();
    if (reconcile(index, stat_ec ? std::nullopt : std::optional<fs::file_time_type>(index_written)))
      save_index(index);
    if (deferred()) writer_ = std::thread([this] { write_when_due(); });
  }

  // A batch left open (its sync died with an exception we never saw) or a deferred
  // write still gets its index written; failing that, the next start's reconcile()
  // rebuilds it.
  ~LocalPublisher() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    writer_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    try {
      std::lock_guard lk(mu_);
      if (dirty_ && cache_) write_deferred_index();
    } catch (...) {
    }
  }

  // What publish() would leave as it is: the index lists these bytes at the url it
  // would write (and needs no reconciling), the file holds them, and a signed
  // package's .prov beside it is this very signature.
  bool holds(const package::Package& pkg) override {
    const auto& md = pkg.metadata;
    require_safe_component("chart name", md.name);
    require_safe_component("chart version", md.version);
    const std::string filename = md.name + "-" + md.version + ".tgz";
    std::lock_guard lk(mu_);
    auto folder = util::LockFile::acquire(dir_ / kLockFile);
    bool reconciled = false;
    const deps::IndexEntry* existing = find_entry(index_for_update(reconciled), md.name, md.version);
    std::error_code ec;
    const fs::path prov = dir_ / (filename + ".prov");
    return existing && !reconciled && existing->digest == pkg.digest &&
           existing->urls == std::vector<std::string>{url_for(filename)} && fs::is_regular_file(dir_ / filename, ec) &&
           util::sha256_hex(util::read_file(dir_ / filename)) == pkg.digest &&
           (pkg.provenance.empty() || (fs::is_regular_file(prov, ec) && util::read_file(prov) == pkg.provenance));
  }

  void publish(const package::Package& pkg, bool replace) override {
    const auto& md = pkg.metadata;
    require_safe_component("chart name", md.name);
    require_safe_component("chart version", md.version);
    const std::string filename = md.name + "-" + md.version + ".tgz";
    const fs::path target = dir_ / filename;
    const std::string digest = pkg.digest.empty() ? util::sha256_hex(pkg.bytes) : pkg.digest;

    std::lock_guard lk(mu_);
    auto folder = util::LockFile::acquire(dir_ / kLockFile);
    bool reconciled = false;
    deps::RepoIndex& index = index_for_update(reconciled);

    const deps::IndexEntry* existing = find_entry(index, md.name, md.version);
    std::string existing_digest;
    if (existing) {
      existing_digest = existing->digest;
    } else if (fs::exists(target)) {
      existing_digest = util::sha256_hex(util::read_file(target));
    }
    std::string created = rfc3339(std::chrono::system_clock::now());
    if (!existing_digest.empty()) {
      if (existing_digest == digest) {
        // Same bytes again: keep the original created time so index.yaml does not
        // churn (Helm clients and caches compare it).
        if (existing && !existing->created.empty()) created = existing->created;
      } else if (!replace) {
        throw Error(Errc::conflict, target.string(),
                    md.name + " " + md.version + " is already published with digest " + existing_digest +
                        " (new package has " + digest + ")");
      }
    }

    bool file_current = fs::exists(target) && existing_digest == digest &&
                        util::sha256_hex(util::read_file(target)) == digest;
    if (!file_current) util::write_file_atomic(target, pkg.bytes);
    write_provenance(target, pkg.provenance, file_current);
    // Nothing to say that the index does not already say: leave it (and its
    // `generated` stamp) alone.
    if (file_current && existing && existing->urls == std::vector<std::string>{url_for(filename)} && !reconciled)
      return;

    deps::IndexEntry entry;
    entry.metadata = md;
    entry.urls = {url_for(filename)};
    entry.digest = digest;
    entry.created = created;
    index.add(std::move(entry));
    commit_index(index);
  }

  // <file>.prov beside the package, as `helm package --sign` leaves it and
  // ChartMuseum stores it; written only when its bytes change. An unsigned new
  // package drops the .prov of the bytes it replaced.
  static void write_provenance(const fs::path& target, const std::string& prov, bool package_unchanged) {
    const fs::path file = target.string() + ".prov";
    std::error_code ec;
    if (prov.empty()) {
      if (package_unchanged) return;
      fs::remove(file, ec);
      if (ec) throw Error(Errc::io, file.string(), "delete: " + ec.message());
      return;
    }
    if (fs::is_regular_file(file, ec) && util::read_file(file) == prov) return;
    util::write_file_atomic(file, prov);
  }

  void remove(const std::string& name, const std::string& version) override {
    require_safe_component("chart name", name);
    require_safe_component("chart version", version);
    const std::string filename = name + "-" + version + ".tgz";
    std::lock_guard lk(mu_);
    auto folder = util::LockFile::acquire(dir_ / kLockFile);
    bool changed = false;
    deps::RepoIndex& index = index_for_update(changed);
    // The package goes first: a crash after it leaves an index entry without its
    // file, which reconcile() drops on the next call, so the removal sticks.
    for (const std::string& f : {filename, filename + ".prov"}) {
      std::error_code ec;
      fs::remove(dir_ / f, ec);
      if (ec) throw Error(Errc::io, (dir_ / f).string(), "delete: " + ec.message());
    }
    if (index.remove(name, version) || changed) commit_index(index);
  }

  std::string fetch(const std::string& name, const std::string& version) override {
    require_safe_component("chart name", name);
    require_safe_component("chart version", version);
    const fs::path file = dir_ / (name + "-" + version + ".tgz");
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw Error(Errc::not_found, file.string(), "no such chart package");
    return util::read_file(file);
  }

  void begin_batch() override {
    std::lock_guard lk(mu_);
    ++batch_depth_;
  }

  void end_batch() override {
    std::lock_guard lk(mu_);
    if (batch_depth_ > 0) --batch_depth_;
    if (deferred()) return;  // the writer has it
    if (dirty_ && cache_) {
      write_deferred_index();
      remember_index_stat();
      dirty_ = false;
    }
    if (batch_depth_ == 0) cache_.reset();
  }

  void probe() override {
    std::lock_guard lk(mu_);
    auto folder = util::LockFile::acquire(dir_ / kLockFile);
    if (::access(dir_.c_str(), W_OK | X_OK) != 0)
      throw Error(Errc::io, dir_.string(), std::string("chart folder not writable: ") + std::strerror(errno));
  }

  std::string describe() const override { return "local " + dir_.string(); }

  void flush() override {
    std::lock_guard lk(mu_);
    write_if_dirty();
  }

 private:
  bool deferred() const { return index_delay_.count() > 0; }

  // Caller holds mu_.
  void write_if_dirty() {
    if (!dirty_ || !cache_) return;
    write_deferred_index();
    remember_index_stat();
    dirty_ = false;
  }

  // The one index writer of a deferred publisher: once something changed, waits
  // index_delay_ (gathering whatever else changes meanwhile), then writes it all.
  void write_when_due() {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      writer_cv_.wait(lk, [&] { return stopping_ || dirty_; });
      if (stopping_) return;
      if (writer_cv_.wait_for(lk, index_delay_, [&] { return stopping_; })) return;
      try {
        write_if_dirty();
      } catch (const std::exception&) {
        // Left dirty: the next change, flush() or the destructor tries again, and a
        // restart rebuilds the index from the packages. Not in a loop: wait for news.
        writer_cv_.wait_for(lk, index_delay_ * 10, [&] { return stopping_; });
      }
    }
  }
  // Writes the index a batch kept in memory (caller holds mu_).
  void write_deferred_index() {
    auto folder = util::LockFile::acquire(dir_ / kLockFile);
    if (!index_unchanged_on_disk()) {
      // Another writer replaced index.yaml meanwhile: start from its version. Our
      // own deferred changes are files already in (or gone from) the folder, so
      // reconcile() brings them back.
      cache_ = load_index();
      reconcile(*cache_);
    }
    save_index(*cache_);
  }

  std::string url_for(const std::string& filename) const {
    return base_url_.empty() ? filename : base_url_ + "/" + filename;
  }

  static const deps::IndexEntry* find_entry(const deps::RepoIndex& index, const std::string& name,
                                            const std::string& version) {
    auto it = index.entries.find(name);
    if (it == index.entries.end()) return nullptr;
    for (const auto& e : it->second)
      if (e.metadata.version == version) return &e;
    return nullptr;
  }

  // index.yaml as on disk; a missing or unreadable one starts empty and is rebuilt
  // from the packages by reconcile() (the .tgz files are the source of truth).
  deps::RepoIndex load_index() const {
    const fs::path path = dir_ / kIndexFile;
    if (!fs::exists(path)) return {};
    std::string text = util::read_file(path);
    try {
      return deps::RepoIndex::parse(text, path.string());
    } catch (const Error&) {
      return {};
    }
  }

  // The index a publish/remove works on. Outside a batch it is read from disk and
  // reconciled every time. Inside a batch the copy in memory is reused as long as
  // index.yaml on disk is the one we last read or wrote: then nobody else changed
  // the folder's index, and re-reading it per chart is what made big syncs quadratic.
  // A deferred publisher keeps its copy across batches on the same terms.
  deps::RepoIndex& index_for_update(bool& reconciled) {
    reconciled = false;
    if ((batch_depth_ > 0 || deferred()) && cache_ && index_unchanged_on_disk()) return *cache_;
    cache_ = load_index();
    reconciled = reconcile(*cache_);
    remember_index_stat();
    if ((batch_depth_ > 0 || deferred()) && reconciled) {
      dirty_ = true;
      writer_cv_.notify_all();
    }
    return *cache_;
  }

  // Writes the index now, or (inside a batch) at end_batch(), or (deferred) soon.
  void commit_index(deps::RepoIndex& index) {
    if (batch_depth_ > 0 || deferred()) {
      dirty_ = true;
      writer_cv_.notify_all();
      return;
    }
    save_index(index);
    cache_.reset();
  }

  struct IndexStat {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
    bool operator==(const IndexStat& o) const {
      return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size &&
             mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };
  IndexStat index_stat() const {
    struct stat st{};
    IndexStat s;
    if (::stat((dir_ / kIndexFile).c_str(), &st) != 0) return s;
    s.exists = true;
    s.dev = st.st_dev;
    s.ino = st.st_ino;  // write_file_atomic renames a new file in: a new inode each time
    s.size = st.st_size;
    s.mtime = st.st_mtim;
    return s;
  }
  void remember_index_stat() { cache_stat_ = index_stat(); }
  bool index_unchanged_on_disk() const { return index_stat() == cache_stat_; }

  void save_index(deps::RepoIndex& index) const {
    index.api_version = "v1";
    index.generated = rfc3339(std::chrono::system_clock::now());
    util::write_file_atomic(dir_ / kIndexFile, index.to_yaml());
  }

  // Makes the index agree with the packages in the folder: entries whose file is
  // gone are dropped, packages without an entry are read and added (a crash
  // between writing a package and its index, or a folder filled by other means).
  // With `verify_since`, an indexed package modified at or after that time is
  // re-read too, and its entry replaced when its digest differs.
  // Returns whether anything changed.
  bool reconcile(deps::RepoIndex& index, const std::optional<fs::file_time_type>& verify_since = std::nullopt) const {
    bool changed = false;
    std::set<std::string> indexed_files;
    for (auto& [name, versions] : index.entries) {
      for (auto it = versions.begin(); it != versions.end();) {
        std::string filename = name + "-" + it->metadata.version + ".tgz";
        std::error_code ec;
        if (!fs::exists(dir_ / filename)) {
          it = versions.erase(it);
          changed = true;
        } else if (verify_since && fs::last_write_time(dir_ / filename, ec) >= *verify_since && !ec &&
                   util::sha256_hex(util::read_file(dir_ / filename)) != it->digest) {
          it = versions.erase(it);  // re-added from the package below
          changed = true;
        } else {
          indexed_files.insert(filename);
          ++it;
        }
      }
    }
    for (auto it = index.entries.begin(); it != index.entries.end();) {
      if (it->second.empty())
        it = index.entries.erase(it);
      else
        ++it;
    }
    std::error_code ec;
    for (const auto& dirent : fs::directory_iterator(dir_, ec)) {
      const std::string filename = dirent.path().filename().string();
      if (filename.size() <= 4 || filename.compare(filename.size() - 4, 4, ".tgz") != 0 || filename[0] == '.')
        continue;
      if (!dirent.is_regular_file() || indexed_files.count(filename)) continue;
      auto entry = entry_from_package(dirent.path());
      if (!entry) continue;
      index.add(std::move(*entry));
      changed = true;
    }
    if (ec) throw Error(Errc::io, dir_.string(), "list chart folder: " + ec.message());
    return changed;
  }

  // Reads Chart.yaml from a package file. A file that is not a valid chart
  // package, or whose name does not match its metadata, is not part of the
  // repository (ChartMuseum skips such files too).
  std::optional<deps::IndexEntry> entry_from_package(const fs::path& path) const {
    try {
      // What Helm's loader sees of the package, and so what `helm repo index` writes.
      auto pkg = package::read_package(util::read_file(path), path.string());
      if (path.filename().string() != pkg.filename) return std::nullopt;
      deps::IndexEntry entry;
      entry.metadata = std::move(pkg.metadata);
      entry.urls = {url_for(path.filename().string())};
      entry.digest = pkg.digest;
      entry.created = file_mtime_rfc3339(path);
      return entry;
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  fs::path dir_;
  std::string base_url_;
  const std::chrono::milliseconds index_delay_;  // > 0: index.yaml written by writer_
  std::thread writer_;
  std::condition_variable writer_cv_;
  std::mutex mu_;  // guards everything below
  bool stopping_ = false;
  int batch_depth_ = 0;
  bool dirty_ = false;                   // cache_ holds changes index.yaml does not have yet
  std::optional<deps::RepoIndex> cache_;  // the index as of our last read or write
  IndexStat cache_stat_;                  // index.yaml's identity when cache_ was taken
};

}  // namespace

std::unique_ptr<Publisher> make_local_publisher(std::string dir, std::string base_url,
                                                std::chrono::milliseconds index_delay) {
  if (dir.empty()) throw Error(Errc::invalid_argument, "local publisher", "a chart folder is required");
  return std::make_unique<LocalPublisher>(std::move(dir), std::move(base_url), index_delay);
}

}  // namespace cmop::publish
