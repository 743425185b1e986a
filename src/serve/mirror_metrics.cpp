// /metrics lines of the shared git mirrors (sync::MirrorPool).
#include "metrics.hpp"

#include "cmop/util/prometheus.hpp"

namespace cmop::serve {

std::string render_mirror_metrics(const sync::MirrorStats& s) {
  using util::prometheus::family;
  using util::prometheus::single;
  auto n = [](auto v) { return std::to_string(v); };
  std::string out;
  single(out, "cmop_git_mirrors", "gauge", "Git mirrors kept (one per remote URL and credentials).", n(s.mirrors));
  single(out, "cmop_git_mirrors_max", "gauge", "--max-git-mirrors (0 = unbounded).", n(s.limits.max_mirrors));
  single(out, "cmop_git_mirror_users", "gauge", "Repos reading the git mirrors.", n(s.users));
  single(out, "cmop_git_mirror_disk_bytes", "gauge", "Disk the git mirrors use (measured after each fetch and repack).",
         n(s.disk_bytes));
  single(out, "cmop_git_mirror_disk_bytes_max", "gauge", "--max-git-mirror-bytes (0 = unbounded).",
         n(s.limits.max_disk_bytes));
  single(out, "cmop_git_fetches_total", "counter", "Fetches run into the git mirrors.", n(s.fetches));
  single(out, "cmop_git_fetches_joined_total", "counter",
         "Syncs served by a fetch of their remote that another sync ran (joined or reused).", n(s.joined));
  single(out, "cmop_git_fetched_bytes_total", "counter", "Bytes the fetches received.", n(s.fetched_bytes));
  single(out, "cmop_git_fetched_objects_total", "counter", "Objects the fetches received.", n(s.fetched_objects));
  single(out, "cmop_git_mirror_repacks_total", "counter", "Repacks (gc) of git mirrors.", n(s.gcs));
  single(out, "cmop_git_mirror_refused_total", "counter",
         "Syncs refused because a new mirror would pass --max-git-mirrors or --max-git-mirror-bytes.", n(s.refused));
  single(out, "cmop_git_fetches_per_host_max", "gauge", "--max-git-fetches-per-host (0 = unbounded).",
         n(s.limits.max_fetches_per_host));
  family(out, "cmop_git_fetches_running", "gauge", "Fetches running now, by remote host.");
  for (auto& [host, running] : s.fetching_by_host)
    out += "cmop_git_fetches_running{host=\"" + util::prometheus::label_value(host) + "\"} " + n(running) + "\n";
  family(out, "cmop_git_fetches_running_peak", "gauge", "Most fetches that ran at once, by remote host.");
  for (auto& [host, peak] : s.peak_by_host)
    out += "cmop_git_fetches_running_peak{host=\"" + util::prometheus::label_value(host) + "\"} " + n(peak) + "\n";
  family(out, "cmop_git_fetches_waiting", "gauge", "Fetches waiting for a slot of their host, by remote host.");
  for (auto& [host, waiting] : s.waiting_by_host)
    out += "cmop_git_fetches_waiting{host=\"" + util::prometheus::label_value(host) + "\"} " + n(waiting) + "\n";
  return out;
}

}  // namespace cmop::serve
