#pragma once
// Shared helpers of the operator tests: the fake kube-apiserver and sidecar as real
// processes on 127.0.0.1, and small JSON/HTTP conveniences.
#include <rapidjson/document.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>

#include "cmop/net/http_client.hpp"
#include "cmop/operate/kube_client.hpp"
#include "cmop/util/fs.hpp"
#include "support/process.hpp"

namespace cmop::test {

inline rapidjson::Document json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

inline net::Response http(const std::string& method, const std::string& url, const std::string& body = "") {
  net::HttpClient client;
  net::Request req;
  req.method = method;
  req.url = url;
  req.body = body;
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  return client.send(req);
}

// Polls until cond() holds; fails the test with `what` after the deadline. The deadline
// only bounds a hang: no assertion depends on how long anything takes.
inline void eventually(const std::string& what, const std::function<bool()>& cond,
                       std::chrono::seconds deadline = std::chrono::seconds(60)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) FAIL("timed out waiting for: " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The port a process we started reports in its log (`re` captures it), once it listens.
// Processes under test listen on port 0 and say which port they got: a port picked
// by free_port() beforehand may be taken by a parallel test meanwhile, and then the
// test would talk to that test's process without noticing.
inline int port_from_log(const std::filesystem::path& log_file, const std::regex& re, Process& process,
                         const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    std::ifstream in(log_file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::smatch m;
    if (std::regex_search(text, m, re)) return std::stoi(m[1]);
    if (!process.running() || std::chrono::steady_clock::now() > deadline)
      FAIL(what << " did not say where it listens; log:\n" << text);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct FakeApiServer {
  Peer peer;
  // The namespaces the operator tests use exist (a create elsewhere is 404, as on a cluster).
  static constexpr const char* kNamespaces = "default,kube-system,ops,team,other,elsewhere,platform,intruder";
  explicit FakeApiServer(std::vector<std::string> args = {"--token", "sekret", "--bookmark-interval", "0.3",
                                                          "--namespaces", kNamespaces})
      : peer(start_python_peer("fake_kube_apiserver.py", std::move(args))) {}
  std::string url() const { return peer.url(); }
  operate::KubeConfig config(const std::string& token = "sekret") const {
    operate::KubeConfig c;
    c.server = url();
    c.token = token;
    return c;
  }
  // Request counts by "METHOD /path".
  int count(const std::string& method_and_path) const {
    auto doc = json(http("GET", url() + "/__requests").body);
    auto it = doc.FindMember(method_and_path.c_str());
    return it == doc.MemberEnd() ? 0 : it->value.GetInt();
  }
  // All write requests (anything but GET) counted so far.
  int writes() const {
    auto doc = json(http("GET", url() + "/__requests").body);
    int n = 0;
    for (auto& m : doc.GetObject())
      if (std::string(m.name.GetString()).rfind("GET ", 0) != 0) n += m.value.GetInt();
    return n;
  }
  void hook(const std::string& path, const std::string& body = "{}") const {
    REQUIRE(http("POST", url() + path, body).status == 200);
  }
};

inline rapidjson::Document chartmuseum(const std::string& name, const std::string& git, int every = 15) {
  return json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":")" + name +
              R"("},"spec":{"git":")" + git + R"(","ref":"main","path":"charts","updateEveryMinutes":)" +
              std::to_string(every) + R"(,"dependencies":[{"name":"bitnami","url":"https://charts.bitnami.com/bitnami"}]}})");
}

// The real `cmop operate` binary, pointed at the fake API server (through a kubeconfig
// with a token) and at a sidecar (fake or real) whose mutations need "side-token".
// `extra` flags are appended; CronJobs name http://cmop.ops.svc:8081 as the trigger
// endpoint unless `extra` has --trigger-endpoint.
struct Operator {
  util::TempDir dir{"cmop-operate-"};
  Process process;
  int port = 0;  // of /healthz and /metrics, as the operator reports it
  // `kubeconfig` replaces the default one (the fake's URL and its token).
  Operator(const FakeApiServer& api, const std::string& sidecar_url, std::vector<std::string> extra = {},
           const std::string& kubeconfig = {})
      : process(start(api, sidecar_url, extra, kubeconfig)) {
    port = port_from_log(dir.path() / "operator.log", std::regex("listening on port ([0-9]+)"), process, "cmop operate");
    if (!wait_for_port(port)) FAIL("operator did not listen; log:\n" << log());
  }
  Process start(const FakeApiServer& api, const std::string& sidecar_url, const std::vector<std::string>& extra,
                const std::string& kubeconfig) {
    if (!kubeconfig.empty())
      std::ofstream(dir.path() / "kubeconfig") << kubeconfig;
    else
      std::ofstream(dir.path() / "kubeconfig") << "apiVersion: v1\ncurrent-context: t\n"
                                                  "contexts: [{name: t, context: {cluster: c, user: u, namespace: ops}}]\n"
                                                  "clusters: [{name: c, cluster: {server: \""
                                               << api.url() << "\"}}]\nusers: [{name: u, user: {token: sekret}}]\n";
    std::vector<std::string> argv{cmop_binary(), "operate", "--kubeconfig", (dir.path() / "kubeconfig").string(),
                                  "--sidecar-url", sidecar_url, "--token", "side-token", "--image",
                                  "example.org/cmop:1.0", "--token-secret", "cmop-token/token",
                                  "--listen", "127.0.0.1:0"};
    // Short watches keep the tests' streams fresh, unless a test sets its own.
    if (std::find(extra.begin(), extra.end(), "--watch-timeout-seconds") == extra.end())
      argv.insert(argv.end(), {"--watch-timeout-seconds", "5"});
    // CronJob pods reach the sidecar through a Service; a test may override that address.
    if (std::find(extra.begin(), extra.end(), "--trigger-endpoint") == extra.end())
      argv.insert(argv.end(), {"--trigger-endpoint", "http://cmop.ops.svc:8081"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process(argv, {}, {}, dir.path() / "operator.log");
  }
  std::string log() const {
    std::ifstream in(dir.path() / "operator.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  long metric(const std::string& name) const {
    auto body = http("GET", "http://127.0.0.1:" + std::to_string(port) + "/metrics").body;
    std::smatch m;
    std::regex re("\n" + std::regex_replace(name, std::regex(R"([{}"\\])"), R"(\$&)") + " ([0-9.]+)");
    if (!std::regex_search(body, m, re)) FAIL("metric " << name << " not in:\n" << body);
    return std::stol(m[1]);
  }
  // Waits until every reconcile triggered so far has finished (the queue is empty and
  // the success counter moved past `after`).
  void wait_reconciled_after(long after) const {
    eventually("a reconcile to finish", [&] {
      return metric("cmop_operator_reconcile_total{result=\"success\"}") > after &&
             metric("cmop_operator_workqueue_depth") == 0;
    });
  }
};

// A condition's field ("status", "reason", ...) from a CR's status; "" when absent.
inline std::string condition(const rapidjson::Value& cr, const std::string& type, const char* field) {
  auto* conds = operate::value_at(cr, "status.conditions");
  if (!conds || !conds->IsArray()) return "";
  for (auto& c : conds->GetArray())
    if (operate::str_at(c, "type") == type) return operate::str_at(c, field);
  return "";
}

// Ready=True for exactly this generation.
inline bool ready(const operate::KubeClient& kube, const std::string& ns, const std::string& name, long generation) {
  try {
    auto cr = kube.get(operate::resources::chartmuseums, ns, name);
    auto* og = operate::value_at(cr, "status.observedGeneration");
    return condition(cr, "Ready", "status") == "True" && og && og->GetInt64() == generation;
  } catch (const operate::KubeApiError&) {
    return false;
  }
}

inline bool gone(const operate::KubeClient& kube, const operate::ResourceType& type, const std::string& ns,
                 const std::string& name) {
  try {
    kube.get(type, ns, name);
    return false;
  } catch (const operate::KubeApiError& e) {
    return e.not_found();
  }
}

}  // namespace cmop::test
