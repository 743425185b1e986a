#include "cmop/operate/sidecar_feed.hpp"

#include <algorithm>

#include "cmop/net/http_client.hpp"
#include "cmop/operate/kube_client.hpp"

namespace cmop::operate {

void follow_sidecar_syncs(const ControllerOptions& options, StopSignal& stop, std::chrono::seconds wait,
                          const std::function<void(const std::string& key)>& on_synced) {
  std::string base = options.sidecar_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  net::HttpClient http;
  std::string epoch;  // "" until the first answer: that one only tells where the feed stands
  std::uint64_t seen = 0;
  auto backoff = std::chrono::milliseconds(1000);
  std::string last_problem;
  while (!stop.stop_requested()) {
    net::Request req;
    req.method = "GET";
    const bool first = epoch.empty();
    req.url = base + "/syncs?after=" + std::to_string(seen) + "&epoch=" + net::url_encode(epoch) +
              "&waitSeconds=" + std::to_string(first ? 0 : wait.count());
    req.timeout = wait + std::chrono::seconds(15);
    req.cancelled = [&stop] { return stop.stop_requested(); };  // a stop never waits out the poll
    std::string problem;
    try {
      auto res = http.send(req);
      if (res.status != 200) {
        problem = "GET /syncs: HTTP " + std::to_string(res.status);
      } else {
        auto doc = parse_json(res.body, "sidecar GET /syncs");
        const std::string answer_epoch = str_at(doc, "epoch");
        auto* generation = value_at(doc, "generation");
        auto* repos = value_at(doc, "repos");
        if (answer_epoch.empty() || !generation || !generation->IsUint64() || !repos || !repos->IsArray())
          throw Error(Errc::upstream, "sidecar GET /syncs", "unexpected answer");
        // The first answer lists what synced before we started: the informer's
        // initial list covers those resources already.
        if (!first)
          for (auto& r : repos->GetArray()) {
            std::string owner = str_at(r, "owner");
            if (owner.find('/') != std::string::npos) on_synced(owner);
          }
        epoch = answer_epoch;
        seen = generation->GetUint64();
        backoff = std::chrono::milliseconds(1000);
        if (!last_problem.empty()) log_line("info", "following the sidecar's syncs again");
        last_problem.clear();
        continue;
      }
    } catch (const std::exception& e) {
      if (stop.stop_requested()) return;
      problem = e.what();
    }
    // One line per kind of problem, not one per retry.
    if (problem != last_problem)
      log_line("warn", "cannot follow the sidecar's syncs (statuses then follow at the next resync): " + problem);
    last_problem = problem;
    if (!stop.sleep_for(backoff)) return;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
  }
}

}  // namespace cmop::operate
