// The real `cmop operate` driving the real `cmop serve` (local chart-repo publisher),
// with git repos served by `git daemon` and the fake kube-apiserver: a Chartmuseum's
// charts land in the served index, its CronJob's command really syncs, and deleting
// the CR takes exactly its charts out again.
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <mutex>
#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "operate_fixtures.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/hash.hpp"
#include "support/git_fixture.hpp"
#include "support/registry_fixture.hpp"
#include "upstream/upstream_fixtures.hpp"

using namespace cmop;
using namespace cmop::operate;
using namespace cmop::test;
namespace fs = std::filesystem;

namespace {

const std::string kNs = "platform";

// `cmop serve` as the ChartMuseum pod's sidecar, publishing into its embedded local
// chart repo and serving it at /charts.
struct RealSidecar {
  fs::path state;
  Process process;
  int port = 0;  // as cmop serve reports it (it listens on port 0: no race with parallel tests)
  // `listen_port` 0: any free port; a restart passes the port it had, so its clients keep their URL.
  RealSidecar(const fs::path& dir, std::map<std::string, std::string> env = {}, int listen_port = 0)
      : state(dir / "state"),
        process({cmop_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(listen_port), "--state-dir",
                 state.string(), "--token", "side-token"},
                std::move(env), {}, dir / "serve.log") {
    port = port_from_log(dir / "serve.log", std::regex("url=http://127\\.0\\.0\\.1:([0-9]+)"), process, "cmop serve");
    if (!wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << log());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const {
    std::ifstream in(state.parent_path() / "serve.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // name -> versions listed in the served index.yaml.
  std::map<std::string, std::set<std::string>> index() const {
    auto res = http("GET", url() + "/charts/index.yaml");
    REQUIRE(res.status == 200);
    YAML::Node doc = YAML::Load(res.body);
    REQUIRE(doc["apiVersion"].as<std::string>() == "v1");
    std::map<std::string, std::set<std::string>> versions;
    for (const auto& entry : doc["entries"])
      for (const auto& chart : entry.second) versions[entry.first.as<std::string>()].insert(chart["version"].as<std::string>());
    return versions;
  }
};

rapidjson::Document chartmuseum_for(const std::string& name, const std::string& git, int every_minutes) {
  return json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":")" + name +
              R"("},"spec":{"git":")" + git + R"(","ref":"main","path":"charts","updateEveryMinutes":)" +
              std::to_string(every_minutes) +
              R"(,"dependencies":[{"name":"stable","url":"https://charts.example.org/stable"}]}})");
}

// Publishes a git repo holding one chart (charts/<chart>) as <bare> under served.
void one_chart_bare(const fs::path& work_dir, const fs::path& served, const std::string& chart,
                    const std::string& version, const std::string& bare) {
  GitWorkRepo work(work_dir);
  write_chart(work, "charts/" + chart, chart, version);
  work.commit("initial");
  make_bare(work, served, bare);
}

std::set<std::string> published_names(const rapidjson::Value& cr) {
  std::set<std::string> names;
  if (auto* list = value_at(cr, "status.publishedCharts"); list && list->IsArray())
    for (auto& c : list->GetArray()) names.insert(str_at(c, "name") + "-" + str_at(c, "version"));
  return names;
}

}  // namespace

TEST_CASE("operator with the real cmop serve: CR -> charts served and a working CronJob, delete -> exactly its charts gone") {
  util::TempDir tmp("cmop-operate-real-");
  fs::path served = tmp.path() / "served";

  // Two teams' chart repos behind one git daemon; only the first is deleted later.
  GitWorkRepo web(tmp.path() / "web");
  write_chart(web, "charts/alpha", "alpha", "1.0.0");
  write_chart(web, "charts/beta", "beta", "0.2.0");
  web.write("docs/README.md", "not a chart: outside spec.path\n");
  web.commit("initial");
  fs::path web_bare = make_bare(web, served, "web-charts.git");
  GitWorkRepo data(tmp.path() / "data");
  write_chart(data, "charts/gamma", "gamma", "3.1.4");
  data.commit("initial");
  make_bare(data, served, "data-charts.git");
  GitDaemon daemon(served);

  RealSidecar sidecar(tmp.path());
  FakeApiServer api;
  KubeClient kube(api.config());
  // The CronJob pods would reach the sidecar here: the test runs their command itself.
  Operator op(api, sidecar.url(), {"--trigger-endpoint", sidecar.url()});

  kube.create(resources::chartmuseums, kNs, chartmuseum_for("web", daemon.url("web-charts.git"), 30));
  kube.create(resources::chartmuseums, kNs, chartmuseum_for("data", daemon.url("data-charts.git"), 90));
  eventually("web Ready", [&] { return ready(kube, kNs, "web", 1); });
  eventually("data Ready", [&] { return ready(kube, kNs, "data", 1); });

  using Versions = std::map<std::string, std::set<std::string>>;
  CHECK(sidecar.index() == Versions{{"alpha", {"1.0.0"}}, {"beta", {"0.2.0"}}, {"gamma", {"3.1.4"}}});
  CHECK(http("GET", sidecar.url() + "/charts/alpha-1.0.0.tgz").status == 200);

  auto cr = kube.get(resources::chartmuseums, kNs, "web");
  CHECK(str_at(cr, "status.lastCommit") == web.head());
  CHECK(cr["status"]["charts"].GetInt() == 2);
  CHECK(published_names(cr) == std::set<std::string>{"alpha-1.0.0", "beta-0.2.0"});
  CHECK(condition(cr, "Ready", "reason") == "Synced");

  auto repo = json(http("GET", sidecar.url() + "/repo/web").body);
  CHECK(str_at(repo, "spec.git") == daemon.url("web-charts.git"));
  CHECK(str_at(repo, "lastCommit") == web.head());
  // The resource's dependency repos go with its repo only, none to the sidecar-wide list.
  CHECK(str_at(repo["spec"]["dependencies"][0], "url") == "https://charts.example.org/stable");
  CHECK(json(http("GET", sidecar.url() + "/repo/dependency").body)["dependencies"].Empty());

  // The CronJob: schedule from updateEveryMinutes, and a command that really works
  // against the sidecar when run the way the pod would run it.
  auto cj = kube.get(resources::cronjobs, kNs, "web");
  CHECK(str_at(cj, "spec.schedule") == "13-59/30 * * * *");  // spread by a stable hash of "<namespace>/<name>"
  CHECK(str_at(kube.get(resources::cronjobs, kNs, "data"), "spec.schedule") == "23 1-23/2 * * *");  // 90 min rounds up
  CHECK(str_at(cj, "spec.concurrencyPolicy") == "Forbid");
  CHECK(str_at(cj["metadata"]["ownerReferences"][0], "uid") == str_at(cr, "metadata.uid"));
  auto& container = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
  std::vector<std::string> command;
  for (auto& a : container["command"].GetArray()) command.push_back(a.GetString());
  REQUIRE(command == std::vector<std::string>{"cmop", "trigger", "web", "--endpoint", sidecar.url()});
  REQUIRE(str_at(container["env"][0], "name") == "CMOP_TOKEN");
  const std::string cronjob_token = str_at(container["env"][0], "value");
  CHECK(cronjob_token != "side-token");

  write_chart(web, "charts/alpha", "alpha", "1.1.0");
  web.commit("alpha 1.1.0");
  push_to_bare(web, web_bare);
  command[0] = cmop_binary();
  std::string trigger_output;
  int trigger_status = run(command, &trigger_output, {}, {{"CMOP_TOKEN", cronjob_token}});
  INFO("cmop trigger said: " << trigger_output);
  REQUIRE(trigger_status == 0);
  // That token triggers web only.
  auto other = run({cmop_binary(), "trigger", "data", "--endpoint", sidecar.url()}, &trigger_output, {},
                   {{"CMOP_TOKEN", cronjob_token}});
  CHECK(other == 3);  // refused
  CHECK(sidecar.index() ==
        Versions{{"alpha", {"1.0.0", "1.1.0"}}, {"beta", {"0.2.0"}}, {"gamma", {"3.1.4"}}});  // earlier versions stay

  // Delete: the finalizer removes the repo and exactly the charts it published.
  kube.remove(resources::chartmuseums, kNs, "web");
  eventually("web gone", [&] { return gone(kube, resources::chartmuseums, kNs, "web"); });
  CHECK(gone(kube, resources::cronjobs, kNs, "web"));
  CHECK(sidecar.index() == Versions{{"gamma", {"3.1.4"}}});
  CHECK(http("GET", sidecar.url() + "/charts/alpha-1.0.0.tgz").status == 404);
  CHECK(http("GET", sidecar.url() + "/repo/web").status == 404);
  CHECK(fs::exists(sidecar.state));
  CHECK(ready(kube, kNs, "data", 1));
  CHECK_FALSE(gone(kube, resources::cronjobs, kNs, "data"));
}

TEST_CASE("operator with the real cmop serve: a same-named resource in another namespace cannot take the repo over") {
  util::TempDir tmp("cmop-operate-owner-");
  fs::path served = tmp.path() / "served";
  one_chart_bare(tmp.path() / "first", served, "alpha", "1.0.0", "first.git");
  one_chart_bare(tmp.path() / "second", served, "omega", "9.0.0", "second.git");
  GitDaemon daemon(served);

  RealSidecar sidecar(tmp.path());
  FakeApiServer api;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--trigger-endpoint", sidecar.url()});
  using Versions = std::map<std::string, std::set<std::string>>;

  kube.create(resources::chartmuseums, kNs, chartmuseum_for("web", daemon.url("first.git"), 30));
  eventually("platform/web Ready", [&] { return ready(kube, kNs, "web", 1); });
  kube.create(resources::chartmuseums, "intruder", chartmuseum_for("web", daemon.url("second.git"), 30));
  eventually("intruder/web Stalled on the name", [&] {
    auto cr = kube.get(resources::chartmuseums, "intruder", "web");
    return condition(cr, "Stalled", "reason") == "NameConflict" && condition(cr, "Ready", "status") == "False";
  });
  CHECK(sidecar.index() == Versions{{"alpha", {"1.0.0"}}});
  CHECK(str_at(json(http("GET", sidecar.url() + "/repo/web").body), "spec.owner") == kNs + "/web");

  // Deleting the intruder leaves the owner's repo and charts alone.
  kube.remove(resources::chartmuseums, "intruder", "web");
  eventually("intruder/web gone", [&] { return gone(kube, resources::chartmuseums, "intruder", "web"); });
  CHECK(sidecar.index() == Versions{{"alpha", {"1.0.0"}}});
  CHECK(http("GET", sidecar.url() + "/repo/web").status == 200);
  CHECK(ready(kube, kNs, "web", 1));
}

TEST_CASE("operator with the real cmop serve: mirrors publish an umbrella with its siblings, an unbumped change is a Warning") {
  util::TempDir tmp("cmop-operate-fidelity-");
  fs::path served = tmp.path() / "served";
  const std::string published_at = "https://example.github.io/charts";
  GitWorkRepo repo(tmp.path() / "mono");
  write_chart(repo, "charts/app", "app", "1.0.0",
              "dependencies:\n- name: lib\n  version: 0.x\n  repository: " + published_at + "\n");
  write_chart(repo, "charts/lib", "lib", "0.3.0");
  repo.commit("initial");
  fs::path bare = make_bare(repo, served, "mono.git");
  GitDaemon daemon(served);

  RealSidecar sidecar(tmp.path());
  FakeApiServer api;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--trigger-endpoint", sidecar.url()});

  auto cr = json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"mono"},)"
                 R"("spec":{"git":")" + daemon.url("mono.git") + R"(","ref":"main","path":"charts",)"
                 R"("dependencies":[{"name":"ours","url":"self","mirrorOf":")" + published_at + R"("}]}})");
  kube.create(resources::chartmuseums, kNs, cr);
  eventually("mono Ready", [&] { return ready(kube, kNs, "mono", 1); });
  using Versions = std::map<std::string, std::set<std::string>>;
  CHECK(sidecar.index() == Versions{{"app", {"1.0.0"}}, {"lib", {"0.3.0"}}});
  // The mirror stays with this resource's repo: nothing registered sidecar-wide.
  CHECK(http("GET", sidecar.url() + "/repo/dependency").body.find("mirrorOf") == std::string::npos);

  // lib changes without a version bump: published versions are immutable.
  repo.write("charts/lib/templates/extra.yaml", "kind: ConfigMap\n");
  repo.commit("change lib, forget the bump");
  push_to_bare(repo, bare);
  auto current = kube.get(resources::chartmuseums, kNs, "mono");
  current["spec"].AddMember("updateEveryMinutes", 30, current.GetAllocator());
  kube.update(resources::chartmuseums, kNs, "mono", current);
  eventually("mono not Ready: ChartsFailed", [&] {
    auto now = kube.get(resources::chartmuseums, kNs, "mono");
    return condition(now, "Ready", "status") == "False" && condition(now, "Ready", "reason") == "ChartsFailed";
  });
  CHECK_THAT(condition(kube.get(resources::chartmuseums, kNs, "mono"), "Ready", "message"),
             Catch::Contains("charts/lib") && Catch::Contains("was not bumped"));
  // Counted for the CRD's Failed printer column.
  eventually("failedCharts counted", [&] {
    auto* failed = value_at(kube.get(resources::chartmuseums, kNs, "mono"), "status.failedCharts");
    return failed && failed->IsInt64() && failed->GetInt64() == 1;
  });
  eventually("a Warning event names the unbumped version", [&] {
    auto events = kube.list(resources::events, kNs);
    for (auto& e : events["items"].GetArray())
      if (str_at(e, "type") == "Warning" && str_at(e, "reason") == "ChartsFailed" &&
          str_at(e, "message").find("version 0.3.0 was not bumped") != std::string::npos)
        return true;
    return false;
  });
  CHECK(sidecar.index() == Versions{{"app", {"1.0.0"}}, {"lib", {"0.3.0"}}});
}

TEST_CASE("operator with the real cmop serve: an oci:// dependency with credentials from the resource's Secret") {
  test::RegistryOptions ro;
  ro.htpasswd_user = "puller";
  ro.htpasswd_password = "pull-s3cret";
  test::Registry registry(ro);
  util::TempDir tmp("cmop-operate-oci-");
  {
    // The dependency, pushed the way `helm push` would.
    oci::ClientOptions o;
    o.plain_http_hosts = {registry.host()};
    auto client = std::make_shared<oci::RegistryClient>(o);
    GitWorkRepo src(tmp.path() / "common-src");
    write_chart(src, "common", "common", "2.3.0");
    package::PackageInput in{src.dir(), "common", {}, {}, {}, {}};
    publish::make_oci_publisher({registry.oci("libs"), {"puller", "pull-s3cret"}, client})
        ->publish(package::package_chart(in), false);
  }
  fs::path served = tmp.path() / "served";
  GitWorkRepo repo(tmp.path() / "apps");
  write_chart(repo, "charts/app", "app", "1.0.0",
              "dependencies:\n- name: common\n  version: 2.x\n  repository: " + registry.oci("libs") + "\n");
  repo.commit("initial");
  make_bare(repo, served, "apps.git");
  GitDaemon daemon(served);

  // The registry is on loopback: dependency hosts must list it to be reached.
  RealSidecar sidecar(tmp.path(), {{"CMOP_PLAIN_HTTP_REGISTRIES", registry.host()}, {"CMOP_DEPENDENCY_HOSTS", "127.0.0.1"}});
  FakeApiServer api;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--trigger-endpoint", sidecar.url()});
  kube.create(resources::secrets, kNs,
              json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"registry-pull"},)"
                   R"("data":{"username":"cHVsbGVy","password":"cHVsbC1zM2NyZXQ="}})"));
  kube.create(resources::chartmuseums, kNs,
              json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"apps"},)"
                   R"("spec":{"git":")" + daemon.url("apps.git") + R"(","path":"charts",)"
                   R"("dependencies":[{"name":"libs","url":"oci://)" + registry.host() +
                   R"(","secretRef":{"name":"registry-pull"}}]}})"));
  eventually("apps Ready", [&] { return ready(kube, kNs, "apps", 1); });
  using Versions = std::map<std::string, std::set<std::string>>;
  CHECK(sidecar.index() == Versions{{"app", {"1.0.0"}}});
  auto tgz = http("GET", sidecar.url() + "/charts/app-1.0.0.tgz");
  REQUIRE(tgz.status == 200);
  bool vendored = false;
  for (auto& e : package::read_tgz(tgz.body, 5 << 20, 100 << 20)) vendored |= e.name == "app/charts/common/Chart.yaml";
  CHECK(vendored);
  // The credentials stay with this resource's repo and are never shown.
  auto deps = http("GET", sidecar.url() + "/repo/dependency").body;
  CHECK(deps.find("libs") == std::string::npos);
  CHECK(http("GET", sidecar.url() + "/repo/apps").body.find("pull-s3cret") == std::string::npos);
  CHECK(sidecar.log().find("pull-s3cret") == std::string::npos);
}

TEST_CASE("operator with the real cmop serve: a name the sidecar refuses gets no finalizer, and one that has it can be deleted") {
  util::TempDir tmp("cmop-operate-badname-");
  RealSidecar sidecar(tmp.path());
  FakeApiServer api;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--trigger-endpoint", sidecar.url()});

  // A dot is valid in a resource name but not in a repo name.
  kube.create(resources::chartmuseums, kNs, chartmuseum_for("bad.name", "https://git.example/x.git", 30));
  eventually("bad.name Stalled on InvalidSpec", [&] {
    auto cr = kube.get(resources::chartmuseums, kNs, "bad.name");
    return condition(cr, "Stalled", "reason") == "InvalidSpec";
  });
  CHECK(value_at(kube.get(resources::chartmuseums, kNs, "bad.name"), "metadata.finalizers") == nullptr);
  kube.remove(resources::chartmuseums, kNs, "bad.name");
  eventually("bad.name gone", [&] { return gone(kube, resources::chartmuseums, kNs, "bad.name"); });

  // One that got the finalizer from an earlier operator: the sidecar's 400 on delete
  // means there is nothing to remove, so the finalizer goes and the delete completes.
  auto cr = chartmuseum_for("old.name", "https://git.example/x.git", 30);
  cr["metadata"].AddMember("finalizers", rapidjson::Value(json(R"(["cm.bitnami.com/cleanup"])"), cr.GetAllocator()),
                           cr.GetAllocator());
  kube.create(resources::chartmuseums, kNs, cr);
  eventually("old.name Stalled on InvalidSpec", [&] {
    return condition(kube.get(resources::chartmuseums, kNs, "old.name"), "Stalled", "reason") == "InvalidSpec";
  });
  kube.remove(resources::chartmuseums, kNs, "old.name");
  eventually("old.name gone", [&] { return gone(kube, resources::chartmuseums, kNs, "old.name"); },
             std::chrono::seconds(20));
}

namespace {

// The JSON shape of a value: object members (recursively), an array's first
// element, else the type. Values are left out: they differ by design.
std::string shape(const rapidjson::Value& v) {
  if (v.IsObject()) {
    std::map<std::string, std::string> members;
    for (auto& m : v.GetObject()) members[m.name.GetString()] = shape(m.value);
    std::string out = "{";
    for (auto& [k, s] : members) out += k + ":" + s + ",";
    return out + "}";
  }
  if (v.IsArray()) return v.Empty() ? "[]" : "[" + shape(v[0]) + "]";
  if (v.IsString()) return "string";
  if (v.IsBool()) return "bool";
  if (v.IsNumber()) return "number";
  return "null";
}

// Status and body shape of one request, with the members only the fake has for its
// tests (hadAuth) left out.
std::string answer(const std::string& base, const std::string& method, const std::string& path,
                   const std::string& body = "") {
  net::HttpClient client;
  net::Request req;
  req.method = method;
  req.url = base + path;
  req.body = body;
  req.headers.push_back({"Authorization", "Bearer side-token"});
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  auto res = client.send(req);
  rapidjson::Document doc;
  doc.Parse(res.body.c_str());
  if (doc.HasParseError()) return std::to_string(res.status) + " (not JSON)";
  if (doc.IsObject() && doc.HasMember("hadAuth")) doc.RemoveMember("hadAuth");
  // An error's wording differs; that it is {"error": string, "code"} does not, nor
  // the category it names (what the operator maps to reasons).
  std::string code = doc.IsObject() && doc.HasMember("code") && doc["code"].IsString()
                         ? std::string(" code=") + doc["code"].GetString()
                         : "";
  return std::to_string(res.status) + " " + shape(doc) + code;
}

}  // namespace

TEST_CASE("the fake sidecar answers what the operator reads with the real cmop serve's shapes") {
  util::TempDir tmp("cmop-operate-shapes-");
  fs::path served = tmp.path() / "served";
  one_chart_bare(tmp.path() / "work", served, "shapes", "1.0.0", "shapes.git");
  GitDaemon daemon(served);
  RealSidecar real(tmp.path());
  Peer fake = start_python_peer("fake_sidecar.py", {"--token", "side-token"});

  const std::string apply = R"({"name":"shapes","git":")" + daemon.url("shapes.git") +
                            R"(","ref":"main","path":"charts","owner":"team/shapes"})";
  struct Step {
    std::string method, path, body;
  };
  const std::vector<Step> steps{
      {"GET", "/repo/shapes", ""},          // unknown yet
      {"POST", "/repo/new", apply},         // the sync report
      {"GET", "/repo/shapes", ""},          // the state the operator derives status from
      {"POST", "/repo/new", R"({"name":"shapes","git":"https://x.example/y.git","owner":"other/shapes"})"},
      {"DELETE", "/repo/shapes?owner=other%2Fshapes", ""},
      {"GET", "/repo/bad.name", ""},        // a name no repo can have
      {"DELETE", "/repo/bad.name?owner=team%2Fbad.name", ""},
      {"DELETE", "/repo/shapes?owner=team%2Fshapes", ""},
      {"GET", "/repo/shapes", ""},
  };
  for (auto& step : steps) {
    INFO(step.method << " " << step.path);
    CHECK(answer(fake.url(), step.method, step.path, step.body) == answer(real.url(), step.method, step.path, step.body));
  }

  // The asynchronous apply, the state while and after it syncs, the feed.
  CHECK(answer(fake.url(), "POST", "/repo/new?async=true", apply) ==
        answer(real.url(), "POST", "/repo/new?async=true", apply));
  for (const std::string& base : {fake.url(), real.url()})
    eventually("the accepted sync done", [&] { return json(http("GET", base + "/repo/shapes").body)["syncing"].IsFalse(); });
  for (const char* path : {"/repo/shapes", "/syncs"}) {
    INFO(path);
    CHECK(answer(fake.url(), "GET", path) == answer(real.url(), "GET", path));
  }
  CHECK(answer(fake.url(), "POST", "/repo/shapes/update?async=true") ==
        answer(real.url(), "POST", "/repo/shapes/update?async=true"));
}

// One chart repo (alpha 1.0.0 under charts/) served by `git daemon`, the real
// sidecar, the fake API server and the operator: the world of the tests below.
struct WebWorld {
  util::TempDir tmp;
  fs::path served = tmp.path() / "served";
  GitWorkRepo web{tmp.path() / "web"};
  fs::path bare = [this] {
    write_chart(web, "charts/alpha", "alpha", "1.0.0");
    web.commit("initial");
    return make_bare(web, served, "web.git");
  }();
  GitDaemon daemon{served};
  RealSidecar sidecar{tmp.path()};
  FakeApiServer api;
  KubeClient kube{api.config()};
  Operator op;

  explicit WebWorld(const std::string& label, std::vector<std::string> operator_flags = {})
      : tmp("cmop-operate-" + label + "-"), op(api, sidecar.url(), with_trigger_endpoint(std::move(operator_flags))) {}
  std::vector<std::string> with_trigger_endpoint(std::vector<std::string> flags) const {
    flags.insert(flags.begin(), {"--trigger-endpoint", sidecar.url()});
    return flags;
  }
  // Commits alpha at `version` and pushes it; returns the commit id.
  std::string bump(const std::string& version) {
    write_chart(web, "charts/alpha", "alpha", version);
    std::string id = web.commit("alpha " + version);
    push_to_bare(web, bare);
    return id;
  }
  // Runs what the pod of the resource's CronJob runs (`cmop trigger NAME` with the
  // repo's trigger token); returns its exit code. `cmop trigger` retries a failed
  // sync until its deadline: `deadline_seconds` shortens that.
  int run_cronjob(const std::string& resource, const std::string& deadline_seconds = "600") const {
    auto cj = kube.get(resources::cronjobs, kNs, resource);
    auto& container = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    std::vector<std::string> command;
    for (auto& a : container["command"].GetArray()) command.push_back(a.GetString());
    command[0] = cmop_binary();
    std::string output;
    return run(command, &output, {},
               {{"CMOP_TOKEN", str_at(container["env"][0], "value")}, {"CMOP_TRIGGER_DEADLINE", deadline_seconds}});
  }
  // What GitHub sends for a push to main, signed with `secret`.
  net::Response github_push(const std::string& secret) const {
    const std::string body = R"({"ref":"refs/heads/main","repository":{"default_branch":"main"}})";
    net::Request req;
    req.method = "POST";
    req.url = sidecar.url() + "/hooks/web";
    req.body = body;
    req.headers = {{"Content-Type", "application/json"},
                   {"X-GitHub-Event", "push"},
                   {"X-Hub-Signature-256", "sha256=" + util::hmac_sha256_hex(secret, body)}};
    return net::HttpClient().send(req);
  }
  std::string sidecar_commit() const { return str_at(json(http("GET", sidecar.url() + "/repo/web").body), "lastCommit"); }
};

TEST_CASE("operator with the real cmop serve: spec.webhook.secretRef arms the repo's push webhook") {
  WebWorld w("hook");
  // "hook-s3cret" under the key "secret".
  w.kube.create(resources::secrets, kNs,
              json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"web-hook"},)"
                   R"("data":{"secret":"aG9vay1zM2NyZXQ="}})"));
  w.kube.create(resources::chartmuseums, kNs,
              json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"web"},)"
                   R"("spec":{"git":")" + w.daemon.url("web.git") + R"(","path":"charts",)"
                   R"("webhook":{"secretRef":{"name":"web-hook","key":"secret"}}}})"));
  eventually("web Ready", [&] { return ready(w.kube, kNs, "web", 1); });
  CHECK(http("GET", w.sidecar.url() + "/repo/web").body.find("hook-s3cret") == std::string::npos);

  std::string head = w.bump("1.1.0");
  REQUIRE(w.github_push("hook-s3cret").status == 202);
  eventually("the push synced", [&] { return w.sidecar_commit() == head; });
  CHECK(w.sidecar.index().at("alpha") == std::set<std::string>{"1.0.0", "1.1.0"});
  CHECK(w.sidecar.log().find("hook-s3cret") == std::string::npos);
  CHECK(w.op.log().find("hook-s3cret") == std::string::npos);

  // Per-repo metrics: the sidecar's duration histogram and last success by repo; the
  // operator's reconcile-duration histogram counts every reconcile.
  auto metrics = http("GET", w.sidecar.url() + "/metrics").body;
  CHECK(metrics.find("cmop_sync_duration_seconds_count{repo=\"web\"} 2\n") != std::string::npos);
  CHECK(metrics.find("cmop_repo_last_success_timestamp_seconds{repo=\"web\"} ") != std::string::npos);
  auto reconciles = [&] {
    return w.op.metric("cmop_operator_reconcile_total{result=\"success\"}") +
           w.op.metric("cmop_operator_reconcile_total{result=\"error\"}");
  };
  long before = reconciles();
  long histogram = w.op.metric("cmop_operator_reconcile_duration_seconds_count");
  CHECK(before >= 1);
  CHECK(histogram >= before);  // one more may finish between the reads
  CHECK(histogram <= reconciles());
}

namespace {

std::string sidecar_syncs(const RealSidecar& sidecar, const std::string& repo, const std::string& result = "success") {
  auto body = http("GET", sidecar.url() + "/metrics").body;
  std::string series = "cmop_syncs_total{repo=\"" + repo + "\",result=\"" + result + "\"} ";
  auto pos = body.find(series);
  return pos == std::string::npos ? "" : body.substr(pos + series.size(), body.find('\n', pos) - pos - series.size());
}

}  // namespace

TEST_CASE("operator with the real cmop serve: cm.bitnami.com/requestedAt syncs at once, once per value") {
  WebWorld w("requested");
  w.kube.create(resources::chartmuseums, kNs, chartmuseum_for("web", w.daemon.url("web.git"), 1440));
  eventually("web Ready", [&] { return ready(w.kube, kNs, "web", 1); });
  CHECK(sidecar_syncs(w.sidecar, "web") == "1");

  std::string head = w.bump("1.1.0");
  // What `kubectl annotate --overwrite chartmuseum/web cm.bitnami.com/requestedAt="$(date +%s)"` sends.
  w.kube.merge_patch(resources::chartmuseums, kNs, "web",
                   json(R"({"metadata":{"annotations":{"cm.bitnami.com/requestedAt":"1764460800"}}})"));
  eventually("the request handled", [&] {
    auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
    return str_at(cr, "status.lastHandledReconcileAt") == "1764460800";
  });
  // The sync was queued, not waited for: its result follows through GET /syncs.
  eventually("the requested sync in the status", [&] {
    auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
    return str_at(cr, "status.lastCommit") == head && ready(w.kube, kNs, "web", 1);
  });
  auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
  CHECK(published_names(cr) == std::set<std::string>{"alpha-1.0.0", "alpha-1.1.0"});
  CHECK(cr["metadata"]["generation"].GetInt() == 1);
  CHECK(sidecar_syncs(w.sidecar, "web") == "2");

  // The same value again (another annotation changes): no further sync.
  long reconciled = w.op.metric("cmop_operator_reconcile_total{result=\"success\"}");
  w.kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"metadata":{"annotations":{"other":"x"}}})"));
  w.op.wait_reconciled_after(reconciled);
  CHECK(sidecar_syncs(w.sidecar, "web") == "2");
  // A new value syncs again.
  w.kube.merge_patch(resources::chartmuseums, kNs, "web",
                   json(R"({"metadata":{"annotations":{"cm.bitnami.com/requestedAt":"now"}}})"));
  eventually("the second request handled", [&] {
    return str_at(w.kube.get(resources::chartmuseums, kNs, "web"), "status.lastHandledReconcileAt") == "now";
  });
  eventually("its sync", [&] { return sidecar_syncs(w.sidecar, "web") == "3"; });
}

TEST_CASE("operator with the real cmop serve: kstatus conditions while syncing, and spec.suspend syncs nothing") {
  WebWorld w("kstatus");

  // Every status the resource goes through, from a watch started before it exists.
  std::mutex seen_mutex;
  std::vector<std::string> seen;  // "Ready=<status>/<reason> Reconciling=<status> Stalled=<status>"
  std::atomic<bool> stop_watching{false};
  std::string rv = str_at(w.kube.list(resources::chartmuseums, kNs), "metadata.resourceVersion");
  std::thread watcher([&] {
    WatchOptions wo;
    wo.resource_version = rv;
    wo.timeout_seconds = 60;
    w.kube.watch(resources::chartmuseums, kNs, wo, [&](WatchEvent& ev) {
      if (ev.type == "MODIFIED" && value_at(ev.object, "status.conditions")) {
        std::lock_guard lk(seen_mutex);
        seen.push_back("Ready=" + condition(ev.object, "Ready", "status") + "/" +
                       condition(ev.object, "Ready", "reason") +
                       " Reconciling=" + condition(ev.object, "Reconciling", "status") +
                       " Stalled=" + condition(ev.object, "Stalled", "status"));
      }
      return !stop_watching;
    });
  });
  w.kube.create(resources::chartmuseums, kNs, chartmuseum_for("web", w.daemon.url("web.git"), 1440));
  eventually("web Ready", [&] { return ready(w.kube, kNs, "web", 1); });
  eventually("the watch saw Ready", [&] {
    std::lock_guard lk(seen_mutex);
    return !seen.empty() && seen.back().rfind("Ready=True", 0) == 0;
  });
  stop_watching = true;
  // A MODIFIED event ends the watch callback loop; make one.
  w.kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"metadata":{"labels":{"x":"y"}}})"));
  watcher.join();
  {
    std::lock_guard lk(seen_mutex);
    INFO("statuses seen: " << seen.size());
    for (auto& s : seen) UNSCOPED_INFO(s);
    // While the first sync ran: Ready Unknown and Reconciling True; then Ready True
    // with neither Reconciling nor Stalled present (kstatus "Current").
    REQUIRE(seen.size() >= 2);
    CHECK(seen.front() == "Ready=Unknown/Progressing Reconciling=True Stalled=");
    CHECK(seen.back() == "Ready=True/Synced Reconciling= Stalled=");
  }

  // Suspended: the spec change, webhooks and sync requests sync nothing.
  w.kube.create(resources::secrets, kNs,
              json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"web-hook"},"data":{"token":"czNjcmV0"}})"));
  w.kube.merge_patch(resources::chartmuseums, kNs, "web",
                   json(R"({"spec":{"suspend":true,"webhook":{"secretRef":{"name":"web-hook"}}}})"));
  eventually("suspended at generation 2", [&] { return ready(w.kube, kNs, "web", 2); });
  CHECK(w.kube.get(resources::cronjobs, kNs, "web")["spec"]["suspend"].GetBool());
  CHECK(json(http("GET", w.sidecar.url() + "/repo/web").body)["spec"]["suspend"].IsTrue());
  const std::string syncs_before = sidecar_syncs(w.sidecar, "web");
  std::string head = w.bump("1.1.0");
  auto hook = w.github_push("s3cret");
  CHECK(hook.status == 200);
  CHECK(hook.body.find("suspended") != std::string::npos);
  long reconciled = w.op.metric("cmop_operator_reconcile_total{result=\"success\"}");
  w.kube.merge_patch(resources::chartmuseums, kNs, "web",
                   json(R"({"metadata":{"annotations":{"cm.bitnami.com/requestedAt":"while-suspended"}}})"));
  w.op.wait_reconciled_after(reconciled);
  auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
  CHECK(str_at(cr, "status.lastHandledReconcileAt").empty());
  CHECK(str_at(cr, "status.lastCommit") != head);
  CHECK(condition(cr, "Ready", "message").find("suspended") != std::string::npos);
  CHECK(sidecar_syncs(w.sidecar, "web") == syncs_before);

  // Resumed: the apply syncs, which also serves the request made meanwhile.
  w.kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"spec":{"suspend":false}})"));
  eventually("resumed and synced", [&] {
    auto c = w.kube.get(resources::chartmuseums, kNs, "web");
    return ready(w.kube, kNs, "web", 3) && str_at(c, "status.lastCommit") == head &&
           str_at(c, "status.lastHandledReconcileAt") == "while-suspended";
  });
}

TEST_CASE("operator with the real cmop serve: a sync the operator did not run reaches the status at once") {
  // A resync an hour away: only the sidecar's feed can bring the status up to date.
  WebWorld w("lag", {"--resync-seconds", "3600"});
  w.kube.create(resources::secrets, kNs,
              json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"web-hook"},"data":{"token":"czNjcmV0"}})"));
  auto cr_json = chartmuseum_for("web", w.daemon.url("web.git"), 1440);
  cr_json["spec"].AddMember("webhook", json(R"({"secretRef":{"name":"web-hook"}})"), cr_json.GetAllocator());
  w.kube.create(resources::chartmuseums, kNs, cr_json);
  eventually("web Ready", [&] { return ready(w.kube, kNs, "web", 1); });

  // The lag from the sync's end (the trigger's or the webhook's answer) to the status showing it.
  auto status_lag = [&](const std::string& head) {
    auto start = std::chrono::steady_clock::now();
    eventually("the status shows " + head, [&] {
      return str_at(w.kube.get(resources::chartmuseums, kNs, "web"), "status.lastCommit") == head;
    });
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  // A scheduled sync: what the CronJob's pod runs.
  std::string head = w.bump("1.1.0");
  REQUIRE(w.run_cronjob("web") == 0);
  double scheduled_lag = status_lag(head);
  auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
  CHECK(published_names(cr) == std::set<std::string>{"alpha-1.0.0", "alpha-1.1.0"});
  CHECK(condition(cr, "Ready", "status") == "True");
  CHECK(str_at(cr, "status.lastSyncTime") == str_at(json(http("GET", w.sidecar.url() + "/repo/web").body), "lastSyncTime"));

  // A webhook's sync: the status follows once the sync it queued is done.
  head = w.bump("1.2.0");
  auto hook_sent = std::chrono::steady_clock::now();
  REQUIRE(w.github_push("s3cret").status == 202);
  double webhook_lag = status_lag(head);
  double push_to_status = std::chrono::duration<double>(std::chrono::steady_clock::now() - hook_sent).count();
  WARN("status lag after a scheduled sync: " << scheduled_lag << " s; after a webhook: " << webhook_lag
                                             << " s (push to status " << push_to_status << " s)");
  // Not a timing assertion on a loaded machine: the bound is the resync (an hour here),
  // which the feed must beat by far.
  CHECK(scheduled_lag < 30);
  CHECK(push_to_status < 30);
}

TEST_CASE("operator with the real cmop serve: a missing webhook Secret or key is SecretNotFound until it exists") {
  WebWorld w("hook-secret");
  w.kube.create(resources::chartmuseums, kNs,
                json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"web"},)"
                     R"("spec":{"git":")" + w.daemon.url("web.git") + R"(","path":"charts",)"
                     R"("webhook":{"secretRef":{"name":"web-hook"}}}})"));
  auto reason_is = [&](const std::string& reason) {
    auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
    return condition(cr, "Ready", "status") == "False" && condition(cr, "Ready", "reason") == reason &&
           condition(cr, "Reconciling", "status") == "True" && condition(cr, "Stalled", "status").empty();
  };
  eventually("SecretNotFound for the missing Secret", [&] { return reason_is("SecretNotFound"); });
  CHECK(http("GET", w.sidecar.url() + "/repo/web").status == 404);  // nothing registered without its secret

  // A Secret without the key (default "token") is no better.
  w.kube.create(resources::secrets, kNs,
                json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"web-hook"},"data":{"other":"eA=="}})"));
  w.kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"metadata":{"annotations":{"poke":"1"}}})"));
  eventually("still SecretNotFound, naming the key", [&] {
    auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
    return reason_is("SecretNotFound") && condition(cr, "Ready", "message").find("\"token\"") != std::string::npos;
  });
  w.kube.merge_patch(resources::secrets, kNs, "web-hook", json(R"({"data":{"token":"czNjcmV0"}})"));
  eventually("Ready once the key exists (retried with backoff)", [&] { return ready(w.kube, kNs, "web", 1); });
  CHECK(w.github_push("s3cret").status == 202);
}

// Issue 16, item 2: dependency repos were also registered sidecar-wide (POST
// /repo/dependency), so one resource's `@stable` resolved for another's charts
// depending on which reconciled last. Now each goes with its own repo only.
TEST_CASE("operator with the real cmop serve: two resources naming a dependency repo alike each keep their own URL") {
  WebWorld w("dep-scope");
  auto with_dep = [&](const std::string& name, const std::string& url) {
    auto cr = chartmuseum_for(name, w.daemon.url("web.git"), 1440);
    cr["spec"]["dependencies"][0]["url"].SetString(url.c_str(), cr.GetAllocator());
    return cr;
  };
  w.kube.create(resources::chartmuseums, kNs, with_dep("one", "https://one.example/charts"));
  w.kube.create(resources::chartmuseums, kNs, with_dep("two", "https://two.example/charts"));
  auto dependency_url = [&](const std::string& repo) {
    auto res = http("GET", w.sidecar.url() + "/repo/" + repo);
    if (res.status != 200) return std::string();
    auto state = json(res.body);
    return str_at(state["spec"]["dependencies"][0], "name") + "=" + str_at(state["spec"]["dependencies"][0], "url");
  };
  eventually("both registered", [&] { return !dependency_url("one").empty() && !dependency_url("two").empty(); });
  CHECK(dependency_url("one") == "stable=https://one.example/charts");
  CHECK(dependency_url("two") == "stable=https://two.example/charts");
  CHECK(json(http("GET", w.sidecar.url() + "/repo/dependency").body)["dependencies"].Empty());
}

// Issue 13, item 1: sync results come from the real sidecar, not from a fake's idea of
// them. A scheduled sync (the CronJob's `cmop trigger`) that fails turns Ready False
// with one Warning, however many resyncs follow; the next good one is one Recovered.
TEST_CASE("operator with the real cmop serve: a failing scheduled sync turns Ready False with one Warning, recovery one Normal") {
  WebWorld w("sched", {"--resync-seconds", "1"});
  w.kube.create(resources::chartmuseums, kNs, chartmuseum_for("web", w.daemon.url("web.git"), 1440));
  eventually("web Ready", [&] { return ready(w.kube, kNs, "web", 1); });
  auto events_with = [&](const std::string& reason) {
    int n = 0;
    for (auto& e : w.kube.list(resources::events, kNs)["items"].GetArray())
      if (str_at(e, "reason") == reason && str_at(e, "involvedObject.name") == "web") ++n;
    return n;
  };

  // The git remote goes away: the CronJob's sync fails as a whole.
  const fs::path moved = w.bare.string() + ".away";
  fs::rename(w.bare, moved);
  CHECK(w.run_cronjob("web", "1") != 0);
  eventually("Ready False from the scheduled sync", [&] {
    auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
    return condition(cr, "Ready", "status") == "False" && condition(cr, "Ready", "reason") == "SyncFailed";
  });
  eventually("a Warning event", [&] { return events_with("SyncFailed") == 1; });
  long seen = w.op.metric("cmop_operator_reconcile_total{result=\"success\"}");
  eventually("two more resyncs", [&] { return w.op.metric("cmop_operator_reconcile_total{result=\"success\"}") > seen + 2; });
  CHECK(events_with("SyncFailed") == 1);  // once per change, not per resync
  const std::string failed_syncs = sidecar_syncs(w.sidecar, "web", "error");  // the trigger's own retries
  CHECK_FALSE(failed_syncs.empty());
  eventually("two more resyncs", [&] { return w.op.metric("cmop_operator_reconcile_total{result=\"success\"}") > seen + 4; });
  CHECK(sidecar_syncs(w.sidecar, "web", "error") == failed_syncs);  // observing is not re-syncing

  fs::rename(moved, w.bare);
  std::string head = w.bump("1.1.0");
  CHECK(w.run_cronjob("web") == 0);
  eventually("Ready again with the new commit", [&] {
    return ready(w.kube, kNs, "web", 1) && str_at(w.kube.get(resources::chartmuseums, kNs, "web"), "status.lastCommit") == head;
  });
  eventually("a Recovered event", [&] { return events_with("Recovered") == 1; });
  CHECK(events_with("SyncFailed") == 1);
}

// Issue 23, item 1: a sidecar that restarts with an empty state dir (a pod rescheduled
// with persistence off) announces a new epoch on GET /syncs. The operator re-applies
// every resource at once (the resync is an hour away here), and no resource stays
// Ready=True for a repo the sidecar does not have.
TEST_CASE("operator with the real cmop serve: a sidecar restarted with an empty state dir gets every repo back at once") {
  WebWorld w("lost", {"--resync-seconds", "3600"});
  w.kube.create(resources::chartmuseums, kNs, chartmuseum_for("web", w.daemon.url("web.git"), 1440));
  eventually("web Ready", [&] { return ready(w.kube, kNs, "web", 1); });
  one_chart_bare(w.tmp.path() / "second", w.served, "beta", "0.1.0", "second.git");
  w.kube.create(resources::chartmuseums, kNs, chartmuseum_for("second", w.daemon.url("second.git"), 1440));
  eventually("second Ready", [&] { return ready(w.kube, kNs, "second", 1); });
  const std::string head = w.sidecar_commit();
  const std::string ready_since = condition(w.kube.get(resources::chartmuseums, kNs, "web"), "Ready", "lastTransitionTime");

  // The sidecar goes and comes back on the same address with nothing.
  const int port = w.sidecar.port;
  w.sidecar.process.kill(SIGTERM);
  REQUIRE(w.sidecar.process.wait(10000) >= 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // (lastTransitionTime has a 1 s resolution)
  util::TempDir again("cmop-operate-lost-again-");
  RealSidecar restarted(again.path(), {}, port);
  REQUIRE(http("GET", restarted.url() + "/repo/web").status == 404);
  auto restarted_at = std::chrono::steady_clock::now();

  eventually("both repos registered and synced again", [&] {
    auto v = restarted.index();
    return http("GET", restarted.url() + "/repo/web").status == 200 &&
           http("GET", restarted.url() + "/repo/second").status == 200 && v.count("alpha") &&
           str_at(json(http("GET", restarted.url() + "/repo/web").body), "lastCommit") == head &&
           v.count("beta") && !str_at(json(http("GET", restarted.url() + "/repo/second").body), "lastCommit").empty();
  }, std::chrono::seconds(60));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted_at).count();
  WARN("repos back " << took << " s after the sidecar restarted");
  CHECK(took < 30);  // the bound is the resync (an hour here), which this must beat by far
  eventually("web Ready again", [&] { return ready(w.kube, kNs, "web", 1); });
  // Ready went through Unknown (a sync of a repo the sidecar did not have) and back.
  auto cr = w.kube.get(resources::chartmuseums, kNs, "web");
  CHECK(condition(cr, "Ready", "lastTransitionTime") != ready_since);
  CHECK(str_at(cr, "status.lastCommit") == head);
  CHECK(published_names(cr) == std::set<std::string>{"alpha-1.0.0"});
}

TEST_CASE("operator with the real cmop serve: a Chartmuseum with spec.mirror mirrors the upstream's selected "
          "versions with the Secret's credentials, reports its mirrored charts, and the API refuses git and mirror together") {
  util::TempDir tmp("cmop-operate-mirror-");
  test::UpstreamHttpRepo upstream(nullptr, "mirror-user:m1rror-pw");
  for (auto v : {"1.0.0", "1.1.0", "2.0.0"}) upstream.add("alpha", v);
  upstream.add("beta", "0.1.0");
  upstream.index();
  upstream.serve();

  RealSidecar sidecar(tmp.path(), {{"CMOP_DEPENDENCY_HOSTS", "127.0.0.1"}});
  FakeApiServer api;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--trigger-endpoint", sidecar.url()});
  kube.create(resources::secrets, kNs,
              json(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"upstream-creds"},)"
                   R"("data":{"username":"bWlycm9yLXVzZXI=","password":"bTFycm9yLXB3"}})"));
  const std::string mirror = R"("mirror":{"url":")" + upstream.url() +
                             R"(","charts":[{"name":"alpha","versions":"<2.0.0"},{"name":"beta"}],)"
                             R"("prune":true,"secretRef":{"name":"upstream-creds"}})";
  kube.create(resources::chartmuseums, kNs,
              json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"up"},)"
                   R"("spec":{)" + mirror + R"(,"updateEveryMinutes":30}})"));
  eventually("up Ready", [&] { return ready(kube, kNs, "up", 1); });
  using Versions = std::map<std::string, std::set<std::string>>;
  CHECK(sidecar.index() == Versions{{"alpha", {"1.0.0", "1.1.0"}}, {"beta", {"0.1.0"}}});
  auto cr = kube.get(resources::chartmuseums, kNs, "up");
  CHECK(cr["status"]["charts"].GetInt() == 3);
  REQUIRE(cr["status"].HasMember("mirroredCharts"));
  CHECK(cr["status"]["mirroredCharts"].GetInt() == 2);
  CHECK(published_names(cr) == std::set<std::string>{"alpha-1.0.0", "alpha-1.1.0", "beta-0.1.0"});
  auto digest = util::sha256_hex(http("GET", sidecar.url() + "/charts/alpha-1.1.0.tgz").body);
  CHECK(digest == upstream.sha256_of("alpha-1.1.0.tgz"));
  auto repo = json(http("GET", sidecar.url() + "/repo/up").body);
  CHECK(str_at(repo, "spec.mirror.url") == upstream.url());
  CHECK(repo["spec"]["mirror"]["prune"].GetBool());
  CHECK(http("GET", sidecar.url() + "/repo/up").body.find("m1rror-pw") == std::string::npos);
  CHECK(sidecar.log().find("m1rror-pw") == std::string::npos);

  // What only a git repo has (here a push webhook) is refused on a mirror, by name.
  kube.create(resources::chartmuseums, kNs,
              json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"hooked"},)"
                   R"("spec":{)" + mirror + R"(,"webhook":{"secretRef":{"name":"upstream-creds"}}}})"));
  eventually("hooked Stalled on InvalidSpec", [&] {
    auto hooked = kube.get(resources::chartmuseums, kNs, "hooked");
    return condition(hooked, "Stalled", "reason") == "InvalidSpec";
  });
  CHECK(condition(kube.get(resources::chartmuseums, kNs, "hooked"), "Stalled", "message")
            .find("spec.webhook: is for git repos, not for a mirror") != std::string::npos);

  // Exactly one of git and mirror: the API server refuses both (and neither).
  bool refused = false;
  try {
    kube.create(resources::chartmuseums, kNs,
                json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"both"},)"
                     R"("spec":{"git":"https://git.example/x.git",)" + mirror + "}}"));
  } catch (const KubeApiError& e) {
    refused = e.http_status() == 422;
  }
  CHECK(refused);

  kube.remove(resources::chartmuseums, kNs, "up");
  eventually("up gone", [&] { return gone(kube, resources::chartmuseums, kNs, "up"); });
  CHECK(sidecar.index().empty());
}
