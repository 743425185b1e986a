// index.yaml and chart downloads as Helm's repo.ChartRepository and
// downloader.ChartDownloader do them, with caches Helm does not have
// (conditional revalidation, parsed indexes shared, archives by digest).
#include "deps/chart_repository.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <fstream>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"
#include "deps/dependency_source.hpp"

namespace cmop::deps::detail {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxIndexBytes = 256u << 20;  // large public indexes run to tens of MiB
// After dropping or parsing this much index text the freed heap is handed back to
// the system (glibc keeps it in its arenas otherwise, and RSS stays at the peak).
constexpr std::size_t kGiveBackAfterBytes = 4u << 20;

// Hands the heap glibc keeps after a big index was freed back to the system.
void give_back_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

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

}  // namespace

IndexSession::~IndexSession() {
  const bool big = index_bytes >= kGiveBackAfterBytes;
  indexes.clear();
  if (big) give_back_memory();
}

// One index.yaml wanted: where it is, how it is keyed and shown, who wants it.
struct ChartRepositoryClient::IndexRequest {
  std::string url;        // <repository>/index.yaml
  std::string key;        // url and user: what the caches are keyed by
  std::string shown_url;  // without credentials, for messages
  fs::path cache_file;
  const Remote& remote;
  const std::string& subject;
};

std::shared_ptr<const RepoIndex> ChartRepositoryClient::index(IndexSession& session, const Remote& remote,
                                                              const std::string& subject) {
  const std::string index_url = trim_trailing_slash(remote.url) + "/index.yaml";
  const std::string key = index_url + "\n" + remote.username;
  if (auto it = session.indexes.find(key); it != session.indexes.end()) return it->second;
  const IndexRequest r{index_url, key, util::redact_url(index_url),
                       cache_.file("index", util::sha256_hex(key) + ".yaml"), remote, subject};
  const auto fetching = wait_for_fetch(r);
  const std::optional<Validators> known = known_validators(r);
  net::Response res = fetch(r, known);

  if (res.status == 304 && known) {
    if (auto index = reuse_parsed(r, *known, session)) return index;
    auto cached = read_cached_index(r.cache_file);
    if (cached && cached->first == *known) {
      touch(r.cache_file);
      return remember(r, session, std::move(cached->second), cached->first, false);
    }
    res = fetch(r, std::nullopt);  // the copy it was revalidated against went meanwhile
  }
  if (res.status != 200) {
    std::string why = "fetching " + r.shown_url + ": HTTP " + std::to_string(res.status);
    if (res.status == 401 || res.status == 403) why += " (credentials missing or refused)";
    if (res.status == 404) why += " (not a chart repository?)";
    throw Error(Errc::dependency, subject, why);
  }
  const Validators validators{res.header("ETag"), res.header("Last-Modified")};
  return remember(r, session, std::move(res.body), validators, true);
}

// One fetch and parse of a URL at a time across workers: a second worker waits
// for the first (until its own sync's deadline), then revalidates and finds the
// parsed index (see `parsed_`) instead of holding a second copy of a large index.
std::unique_lock<std::timed_mutex> ChartRepositoryClient::wait_for_fetch(const IndexRequest& r) {
  std::shared_ptr<std::timed_mutex> url_lock;
  {
    std::lock_guard lk(parsed_mu_);
    auto& l = fetch_locks_[r.key];
    if (!l) l = std::make_shared<std::timed_mutex>();
    url_lock = l;
  }
  std::unique_lock fetching(*url_lock, std::defer_lock);
  if (const auto until = net::DeadlineScope::current(); until == std::chrono::steady_clock::time_point::max())
    fetching.lock();
  else if (!fetching.try_lock_until(until))
    throw Error(Errc::dependency, r.subject,
                "fetching " + r.shown_url + ": timed out waiting for another sync's fetch of it (the sync's deadline)");
  // The mutex stays alive in fetch_locks_ (entries are never dropped).
  return fetching;
}

// The validators of the index parsed in memory, else of the copy on disk.
std::optional<Validators> ChartRepositoryClient::known_validators(const IndexRequest& r) {
  std::optional<Validators> known;
  {
    std::lock_guard lk(parsed_mu_);
    if (auto it = parsed_.find(r.key); it != parsed_.end()) known = it->second.validators;
  }
  if (!known) known = read_cached_validators(r.cache_file);
  if (known && known->empty()) known.reset();
  return known;
}

net::Response ChartRepositoryClient::fetch(const IndexRequest& r, const std::optional<Validators>& have) {
  net::Request req;
  req.url = r.url;
  req.headers = auth_headers(r.remote);
  req.timeout = kFetchTimeout;
  req.max_response_body = kMaxIndexBytes;
  if (have && !have->etag.empty()) req.headers.emplace_back("If-None-Match", have->etag);
  if (have && !have->last_modified.empty()) req.headers.emplace_back("If-Modified-Since", have->last_modified);
  try {
    return http_.send(req);
  } catch (const Error& e) {
    throw Error(Errc::dependency, r.subject, "fetching " + r.shown_url + ": " + e.reason());
  }
}

// A 304 for the validators the index parsed in memory was fetched under: that one.
std::shared_ptr<const RepoIndex> ChartRepositoryClient::reuse_parsed(const IndexRequest& r, const Validators& known,
                                                                     IndexSession& session) {
  std::lock_guard lk(parsed_mu_);
  auto it = parsed_.find(r.key);
  if (it == parsed_.end() || !(it->second.validators == known)) return nullptr;
  it->second.last_used = ++use_clock_;
  session.indexes.emplace(r.key, it->second.index);
  touch(r.cache_file);
  return it->second.index;
}

// The same bytes parsed for another worker and still in use are shared (servers
// without ETag/Last-Modified never answer 304).
std::shared_ptr<const RepoIndex> ChartRepositoryClient::parse_shared(const IndexRequest& r, const std::string& body,
                                                                     bool& parsed_here) {
  std::shared_ptr<const RepoIndex> index;
  const std::string body_digest = util::sha256_hex(body);
  {
    std::lock_guard lk(parsed_mu_);
    if (auto it = parsed_by_digest_.find(body_digest); it != parsed_by_digest_.end()) index = it->second.lock();
  }
  parsed_here = !index;
  if (!parsed_here) return index;
  try {
    index = std::make_shared<const RepoIndex>(RepoIndex::parse(body, r.shown_url));
  } catch (const Error& e) {
    if (body.size() >= kGiveBackAfterBytes) give_back_memory();
    throw Error(Errc::dependency, r.subject, "invalid index " + e.subject() + ": " + e.reason());
  }
  std::lock_guard lk(parsed_mu_);
  std::erase_if(parsed_by_digest_, [](const auto& kv) { return kv.second.expired(); });
  parsed_by_digest_[body_digest] = index;
  return index;
}

// Parses `body` (or shares its parse) and keeps the result: in the session, on
// disk when `fetched` (only once it parsed, and only with validators to
// revalidate it by), and in memory for the next 304.
std::shared_ptr<const RepoIndex> ChartRepositoryClient::remember(const IndexRequest& r, IndexSession& session,
                                                                 std::string body, const Validators& validators,
                                                                 bool fetched) {
  bool parsed_here = false;
  std::shared_ptr<const RepoIndex> index = parse_shared(r, body, parsed_here);
  if (fetched && !validators.empty()) cache_.store(r.cache_file, validators.head(), body);
  session.indexes.emplace(r.key, index);
  session.index_bytes += body.size();
  std::vector<std::shared_ptr<const RepoIndex>> dropped;
  if (!validators.empty()) {
    std::lock_guard lk(parsed_mu_);
    dropped = keep_parsed(r.key, ParsedIndex{validators, index, body.size(), 0});
  }
  const std::size_t text = body.size();
  body = std::string();
  dropped.clear();
  if (parsed_here && text >= kGiveBackAfterBytes) give_back_memory();  // what the parse built and dropped
  return index;
}

// Keeps `p` as the parsed index of `key` and drops the least recently used past
// the bounds. With parsed_mu_ held; the dropped indexes are returned so that the
// caller frees them (and gives the memory back) outside the lock.
std::vector<std::shared_ptr<const RepoIndex>> ChartRepositoryClient::keep_parsed(const std::string& key,
                                                                                 ParsedIndex p) {
  const CacheLimits& limits = cache_.limits();
  std::vector<std::shared_ptr<const RepoIndex>> dropped;
  if (auto old = parsed_.find(key); old != parsed_.end()) {
    dropped.push_back(std::move(old->second.index));
    parsed_.erase(old);
  }
  if (limits.max_parsed_bytes && p.text_bytes > limits.max_parsed_bytes) return dropped;
  p.last_used = ++use_clock_;
  parsed_.emplace(key, std::move(p));
  std::uint64_t total = 0;
  for (const auto& [k, kept] : parsed_) total += kept.text_bytes;
  while ((limits.max_parsed_bytes && total > limits.max_parsed_bytes) ||
         (limits.max_parsed_entries && parsed_.size() > limits.max_parsed_entries)) {
    auto oldest = std::min_element(parsed_.begin(), parsed_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    total -= oldest->second.text_bytes;
    dropped.push_back(std::move(oldest->second.index));
    parsed_.erase(oldest);
  }
  return dropped;
}

std::string ChartRepositoryClient::download(const Remote& remote, const IndexEntry& entry,
                                            const std::string& subject) {
  const std::string expected = sha256_hex_of(entry.digest);
  const fs::path cache_file = cache_.file("charts", expected + ".tgz");
  if (!expected.empty())
    if (auto cached = cache_.read_verified(cache_file, expected)) return std::move(*cached);
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
  if (util::url_origin(url) == util::url_origin(remote.url)) req.headers = auth_headers(remote);
  const std::string shown_url = util::redact_url(url);
  net::Response res;
  try {
    res = http_.send(req);
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
    cache_.store(cache_file, {}, res.body);
  }
  return std::move(res.body);
}

}  // namespace cmop::deps::detail
