// A real Prometheus (Debian's package) scraping a real `cmop serve` and a real
// `cmop operate` (on the fake API server), with the chart's own PrometheusRule
// rendered by real Helm: the rules load, every series they read exists with the
// labels they join on, and a repo whose git remote disappears fires
// CmopRepoSyncFailing with its repo label.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "cmop/util/fs.hpp"
#include "operate/operate_fixtures.hpp"
#include "support/git_fixture.hpp"
#include "support/process.hpp"

using namespace cmop;
using namespace cmop::test;
namespace fs = std::filesystem;

namespace {

const std::string kNs = "platform";

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `cmop serve` with its embedded repo, as the sidecar of the chart's pod.
struct Serve {
  fs::path dir;
  Process process;
  int port = 0;
  explicit Serve(const fs::path& d)
      : dir(d),
        process({cmop_binary(), "serve", "--listen", "127.0.0.1:0", "--state-dir", (d / "state").string(), "--token",
                 "side-token"},
                {}, {}, d / "serve.log") {
    port = port_from_log(d / "serve.log", std::regex("url=http://127\\.0\\.0\\.1:([0-9]+)"), process, "cmop serve");
    if (!wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << read_text(d / "serve.log"));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// The chart's PrometheusRule, rendered by real Helm 4 with the release's jobs
// named as in the scrape config below, as a Prometheus rules file.
fs::path render_rules(const fs::path& dir) {
  const auto helm = helm_clients().back();
  const fs::path rendered = dir / "rule.yaml", rules = dir / "rules.yaml";
  std::string out = run_ok({helm.path, "template", "cmop", (source_dir() / "charts/chartmuseum").string(), "-n", kNs,
                            "--set", "fullnameOverride=cmop", "--set", "operator.enabled=true", "--set",
                            "prometheusRule.enabled=true", "--set", "prometheusRule.syncFailingFor=3s",
                            "--show-only", "templates/prometheusrule.yaml"},
                           {},
                           {{"HELM_CONFIG_HOME", (dir / "helm/config").string()},
                            {"HELM_CACHE_HOME", (dir / "helm/cache").string()},
                            {"HELM_DATA_HOME", (dir / "helm/data").string()}});
  std::ofstream(rendered) << out;
  run_ok({python3(), "-c",
          "import sys, yaml\n"
          "rule = yaml.safe_load(open(sys.argv[1]))\n"
          "yaml.safe_dump({'groups': rule['spec']['groups']}, open(sys.argv[2], 'w'))\n",
          rendered.string(), rules.string()});
  return rules;
}

// Debian's Prometheus, scraping both every second and evaluating rules as often.
struct Prometheus {
  fs::path dir;
  int port;
  Process process;
  Prometheus(const fs::path& d, int serve_port, int operator_port, const fs::path& rules)
      : dir(d), port(free_port()), process(start(d, serve_port, operator_port, rules, port)) {
    if (!wait_for_port(port, 30000)) FAIL("prometheus did not listen; log:\n" << read_text(d / "prometheus.log"));
    // It listens before its storage is open, answering 503 until then.
    eventually("prometheus ready", [&] {
      return http("GET", "http://127.0.0.1:" + std::to_string(port) + "/-/ready").status == 200;
    });
  }
  static Process start(const fs::path& d, int serve_port, int operator_port, const fs::path& rules, int port) {
    // Job names as the chart's ServiceMonitors make them (the Services' names);
    // namespace and pod as the Prometheus Operator's relabelling adds them.
    std::ofstream(d / "prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        << "rule_files: [" << rules.string() << "]\n"
        << "scrape_configs:\n"
        << "- job_name: cmop\n  static_configs:\n  - targets: ['127.0.0.1:" << serve_port
        << "']\n    labels: {namespace: " << kNs << ", pod: cmop-0, endpoint: cmop}\n"
        << "- job_name: cmop-operator\n  static_configs:\n  - targets: ['127.0.0.1:" << operator_port
        << "']\n    labels: {namespace: " << kNs << ", pod: cmop-operator-0, endpoint: metrics}\n";
    const std::string prometheus = fs::exists("/usr/bin/prometheus") ? "/usr/bin/prometheus" : "prometheus";
    return Process({prometheus, "--config.file=" + (d / "prometheus.yml").string(),
                    "--storage.tsdb.path=" + (d / "data").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
                   {}, {}, d / "prometheus.log");
  }
  rapidjson::Document api(const std::string& path) const {
    auto res = http("GET", "http://127.0.0.1:" + std::to_string(port) + path);
    REQUIRE(res.status == 200);
    return json(res.body);
  }
  // Series matching a PromQL selector, each as its labels.
  std::vector<std::map<std::string, std::string>> series(const std::string& selector) const {
    std::string q;
    for (unsigned char c : selector) {
      static const char* hex = "0123456789ABCDEF";
      if (std::isalnum(c) || c == '_') q += static_cast<char>(c);
      else q += std::string("%") + hex[c >> 4] + hex[c & 15];
    }
    auto doc = api("/api/v1/series?match%5B%5D=" + q);
    std::vector<std::map<std::string, std::string>> out;
    for (auto& s : doc["data"].GetArray()) {
      std::map<std::string, std::string> labels;
      for (auto& l : s.GetObject()) labels[l.name.GetString()] = l.value.GetString();
      out.push_back(std::move(labels));
    }
    return out;
  }
  // Alerts in state `state` ("pending" or "firing"), by name, with their repo label.
  std::set<std::string> alerts(const std::string& state) const {
    std::set<std::string> out;
    auto doc = api("/api/v1/alerts");
    for (auto& a : doc["data"]["alerts"].GetArray()) {
      if (std::string(a["state"].GetString()) != state) continue;
      std::string repo = a["labels"].HasMember("repo") ? a["labels"]["repo"].GetString() : "";
      out.insert(std::string(a["labels"]["alertname"].GetString()) + (repo.empty() ? "" : "/" + repo));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("Prometheus scrapes cmop serve and cmop operate, loads the chart's rules, and a vanished remote fires "
          "CmopRepoSyncFailing",
          "[prometheus]") {
  util::TempDir tmp("cmop-prometheus-");
  const fs::path served = tmp.path() / "served";
  GitWorkRepo work(tmp.path() / "work");
  write_chart(work, "charts/alpha", "alpha", "1.0.0");
  work.commit("initial");
  const fs::path bare = make_bare(work, served, "team-charts.git");
  GitDaemon daemon(served);

  fs::create_directories(tmp.path() / "serve");
  Serve serve(tmp.path() / "serve");
  FakeApiServer apiserver;
  operate::KubeClient kube(apiserver.config());
  Operator op(apiserver, serve.url());
  kube.create(operate::resources::chartmuseums, kNs, chartmuseum("team", daemon.url("team-charts.git"), 5));
  eventually("team Ready", [&] { return ready(kube, kNs, "team", 1); });

  fs::create_directories(tmp.path() / "prometheus");
  Prometheus prom(tmp.path() / "prometheus", serve.port, op.port, render_rules(tmp.path()));

  // The rules loaded: Prometheus lists every alert of the chart's rule file.
  eventually("the rules to load", [&] {
    auto doc = prom.api("/api/v1/rules");
    std::size_t n = 0;
    for (auto& g : doc["data"]["groups"].GetArray()) n += g["rules"].Size();
    return n == 8;
  });

  // Every series the rules join on exists, with the labels they use.
  eventually("both targets scraped", [&] {
    return !prom.series("cmop_repo_last_sync_success{job=\"cmop\",repo=\"team\"}").empty() &&
           !prom.series("cmop_operator_repo_update_interval_seconds{job=\"cmop-operator\",repo=\"team\"}").empty();
  });
  for (const char* selector :
       {"cmop_repo_last_success_timestamp_seconds{job=\"cmop\",repo=\"team\"}",
        "cmop_sync_workers_stuck{job=\"cmop\"}", "cmop_ready{job=\"cmop\"}", "up{job=\"cmop\",endpoint=\"cmop\"}",
        "cmop_operator_is_leader{job=\"cmop-operator\"}", "cmop_operator_workqueue_depth{job=\"cmop-operator\"}",
        "cmop_operator_reconcile_total{job=\"cmop-operator\",result=\"success\"}"}) {
    INFO(selector);
    auto found = prom.series(selector);
    REQUIRE_FALSE(found.empty());
    CHECK(found.front().at("namespace") == kNs);
    CHECK(found.front().count("pod") == 1);
  }
  CHECK(prom.series("cmop_operator_repo_update_interval_seconds{repo=\"team\"}").front().size() >= 4);
  // A healthy world fires nothing (the operator leads, the sidecar is ready).
  CHECK(prom.alerts("firing").empty());

  // The remote disappears; the next syncs fail and the alert fires for that repo.
  fs::remove_all(bare);
  auto last_update = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  eventually("CmopRepoSyncFailing firing for team", [&] {
    if (std::chrono::steady_clock::now() - last_update < std::chrono::milliseconds(500))
      return prom.alerts("firing").count("CmopRepoSyncFailing/team") == 1;
    last_update = std::chrono::steady_clock::now();
    net::Request update;
    update.url = serve.url() + "/repo/team/update";
    update.headers = {{"Authorization", "Bearer side-token"}};
    net::HttpClient().send(update);
    return prom.alerts("firing").count("CmopRepoSyncFailing/team") == 1;
  }, std::chrono::seconds(90));
  CHECK(prom.alerts("firing") == std::set<std::string>{"CmopRepoSyncFailing/team"});
}
