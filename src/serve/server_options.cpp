// ServerOptions' checks, shared by the Server's constructor and `cmop serve`.
#include <filesystem>
#include <string>

#include "cmop/error.hpp"
#include "cmop/serve/server.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/url.hpp"

namespace cmop::serve {
namespace fs = std::filesystem;

void check_bounds(const OptionBounds& b, long long value) {
  if (value < b.min)
    throw Error(Errc::invalid_argument, b.flag,
                b.min == 0 ? std::string("must not be negative")
                           : "must be at least " + std::to_string(b.min) + ", got " + std::to_string(value));
  if (value > b.max)
    throw Error(Errc::invalid_argument, b.flag,
                "must be at most " + std::to_string(b.max) + ", got " + std::to_string(value));
}

namespace {

void check_numbers(const ServerOptions& o) {
  check_bounds(bounds::workers, o.workers);
  check_bounds(bounds::max_syncs_per_host, o.max_syncs_per_host);
  check_bounds(bounds::io_threads, o.io_threads);
  check_bounds(bounds::max_git_fetches_per_host, o.git_mirrors.max_fetches_per_host);
  check_bounds(bounds::hook_rate_limit, o.hook_rate_per_minute);
  check_bounds(bounds::git_gc_interval, o.git_mirrors.gc_interval.count());
  check_bounds(bounds::sync_timeout, o.sync_timeout.count());
  check_bounds(bounds::network_timeout, o.network_timeout.count());
  check_bounds(bounds::dependency_cache_max_age, o.dependency_cache.max_age.count());
  check_bounds(bounds::dependency_cache_size, static_cast<long long>(o.dependency_cache.max_bytes >> 20));
  check_bounds(bounds::dependency_index_memory, static_cast<long long>(o.dependency_cache.max_parsed_bytes >> 20));
}

void require_readable_file(const fs::path& file, const char* flag) {
  if (!file.empty() && !fs::is_regular_file(file))
    throw Error(Errc::invalid_argument, flag, file.string() + " is not a readable file");
}

}  // namespace

void check_options(ServerOptions& o) {
  check_numbers(o);
  if (o.state_dir.empty()) throw Error(Errc::invalid_argument, "--state-dir", "must not be empty");
  // Every configured path is fixed at start-up: libgit2 and the publishers open
  // paths from other threads and layers, and a relative one would silently depend
  // on the working directory of whoever started us.
  for (fs::path* p : {&o.state_dir, &o.local_repo_dir, &o.git_ca_file, &o.ca_file, &o.ssh_known_hosts_file})
    if (!p->empty()) *p = fs::absolute(*p).lexically_normal();

  if (!o.chartmuseum_url.empty() && !o.oci_registry.empty())
    throw Error(Errc::invalid_argument, "--oci-registry", "cannot be combined with --chartmuseum-url: choose one target");
  // A publisher given in the options replaces the one the URL names.
  if (!o.publisher && !o.chartmuseum_url.empty() && !util::is_http_url(o.chartmuseum_url))
    throw Error(Errc::invalid_argument, "--chartmuseum-url \"" + util::redact_url(o.chartmuseum_url) + "\"",
                "must be an http:// or https:// URL");
  require_readable_file(o.ca_file, "--ca-file");
  if (o.git_ca_file.empty()) o.git_ca_file = o.ca_file;
  require_readable_file(o.git_ca_file, "--git-ca-file");
}

}  // namespace cmop::serve
