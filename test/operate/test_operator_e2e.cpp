// The real `cmop operate` binary against the fake kube-apiserver and a fake sidecar:
// the controller's wiring and the sidecar's faults (down, state lost, a sync held
// running). Whatever a sync publishes is tested with the real cmop serve instead
// (test_operator_real_sidecar.cpp).
#include <signal.h>

#include <sstream>

#include "cmop/util/hash.hpp"
#include "cmop/operate/controller.hpp"
#include "cmop/operate/cronjob.hpp"
#include "cmop/operate/kube_client.hpp"
#include "cmop/operate/schedule.hpp"
#include "operate_fixtures.hpp"

using namespace cmop;
using namespace cmop::operate;
using namespace cmop::test;

namespace {

const std::string kNs = "team";

struct Sidecar {
  Peer peer = start_python_peer("fake_sidecar.py", {"--token", "side-token"});
  std::string url() const { return peer.url(); }
  int count(const std::string& method, const std::string& path) const {
    auto doc = json(http("GET", url() + "/__requests").body);
    int n = 0;
    for (auto& r : doc.GetArray())
      if (method == r["method"].GetString() && path == r["path"].GetString()) ++n;
    return n;
  }
  int status_of(const std::string& name) const { return http("GET", url() + "/repo/" + name).status; }
  void down(int status) const { REQUIRE(http("POST", url() + "/__down", "{\"status\":" + std::to_string(status) + "}").status == 200); }
};

bool ready(const KubeClient& kube, const std::string& name, long generation) {
  return cmop::test::ready(kube, kNs, name, generation);
}

bool gone(const KubeClient& kube, const ResourceType& type, const std::string& name) {
  return cmop::test::gone(kube, type, kNs, name);
}

void create_cr(const KubeClient& kube, const std::string& name, bool with_secret = false) {
  auto cr = chartmuseum(name, "https://git.example/" + name);
  if (with_secret)
    cr["spec"].AddMember("secretRef", rapidjson::Value(json(R"({"name":"git-creds"})"), cr.GetAllocator()), cr.GetAllocator());
  kube.create(resources::chartmuseums, kNs, cr);
}

}  // namespace

TEST_CASE("operator: create -> applied and Ready, steady state writes nothing, spec change re-applies, "
          "delete cleans up, waiting for an unreachable sidecar") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  kube.create(resources::secrets, kNs,
              json(R"({"metadata":{"name":"git-creds"},"data":{"username":"Z2l0","password":"cGFzcw=="}})"));
  Operator op(api, sidecar.url());

  create_cr(kube, "web", true);
  eventually("web Ready at generation 1", [&] { return ready(kube, "web", 1); });

  auto cr = kube.get(resources::chartmuseums, kNs, "web");
  CHECK(std::string(cr["metadata"]["finalizers"][0].GetString()) == "cm.bitnami.com/cleanup");
  // What a sync published (charts, commit) is checked with the real cmop serve
  // (test_operator_real_sidecar.cpp); this fake is for the sidecar's faults.
  // kstatus: Stalled and Reconciling are present only while True.
  CHECK(condition(cr, "Stalled", "status").empty());
  CHECK(condition(cr, "Reconciling", "status").empty());

  auto state = json(http("GET", sidecar.url() + "/repo/web").body);
  CHECK(str_at(state, "spec.git") == "https://git.example/web");
  CHECK(str_at(state, "spec.ref") == "main");
  CHECK(state["hadAuth"].Size() == 2);  // username + password from the Secret
  // Dependency repos travel with the repo (scoped to it), never sidecar-wide.
  CHECK(sidecar.count("POST", "/repo/dependency") == 0);
  CHECK(str_at(state["spec"]["dependencies"][0], "name") == "bitnami");

  auto cj = kube.get(resources::cronjobs, kNs, "web");
  // Spread by a stable hash of "team/web" within the interval (docs/configuration.md).
  CHECK(str_at(cj, "spec.schedule") == "9-59/15 * * * *");
  CHECK(str_at(cj, "spec.concurrencyPolicy") == "Forbid");
  CHECK(cj["spec"]["suspend"].GetBool() == false);
  auto& owner = cj["metadata"]["ownerReferences"][0];
  CHECK(str_at(owner, "uid") == str_at(cr, "metadata.uid"));
  CHECK(owner["controller"].GetBool());
  CHECK(owner["blockOwnerDeletion"].GetBool());
  CHECK(std::string(cj["metadata"]["labels"]["app.kubernetes.io/managed-by"].GetString()) == "cmop");
  auto& container = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
  CHECK(str_at(container, "image") == "example.org/cmop:1.0");
  std::vector<std::string> command;
  for (auto& a : container["command"].GetArray()) command.push_back(a.GetString());
  CHECK(command == std::vector<std::string>{"cmop", "trigger", "web", "--endpoint", "http://cmop.ops.svc:8081"});
  // The CronJob holds web's trigger token, not the sidecar's token.
  CHECK(str_at(container["env"][0], "name") == "CMOP_TOKEN");
  CHECK(str_at(container["env"][0], "value") == util::repo_trigger_token("side-token", "web"));
  CHECK(container["securityContext"]["readOnlyRootFilesystem"].GetBool());
  CHECK_FALSE(container["securityContext"]["allowPrivilegeEscalation"].GetBool());
  auto& pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  CHECK(pod["securityContext"]["runAsNonRoot"].GetBool());
  CHECK_FALSE(pod["automountServiceAccountToken"].GetBool());
  // A new resource's first good sync is no news: no Event (4 API writes per create).
  CHECK(api.count("POST /api/v1/namespaces/team/events") == 0);

  SECTION("steady state: a reconcile without changes makes no writes and no sidecar mutation") {
    op.wait_reconciled_after(0);
    long before = op.metric("cmop_operator_reconcile_total{result=\"success\"}");
    int writes = api.writes();
    int applies = sidecar.count("POST", "/repo/new");
    kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"metadata":{"annotations":{"poke":"1"}}})"));
    op.wait_reconciled_after(before);
    CHECK(api.writes() == writes + 1);  // only the test's own PATCH
    CHECK(sidecar.count("POST", "/repo/new") == applies);
  }

  SECTION("spec change re-applies to the sidecar and the CronJob") {
    kube.merge_patch(resources::chartmuseums, kNs, "web",
                     json(R"({"spec":{"ref":"release","updateEveryMinutes":90,"suspend":true}})"));
    eventually("web Ready at generation 2", [&] { return ready(kube, "web", 2); });
    CHECK(str_at(json(http("GET", sidecar.url() + "/repo/web").body), "spec.ref") == "release");
    auto updated = kube.get(resources::cronjobs, kNs, "web");
    CHECK(str_at(updated, "spec.schedule") == "54 */2 * * *");
    CHECK(updated["spec"]["suspend"].GetBool());
  }

  SECTION("a rotated credentials Secret is given to the sidecar on the next reconcile") {
    CHECK_FALSE(str_at(kube.get(resources::chartmuseums, kNs, "web"), "status.observedSecretVersion").empty());
    int applies = sidecar.count("POST", "/repo/new");
    kube.merge_patch(resources::secrets, kNs, "git-creds", json(R"({"data":{"sshPassphrase":"cHc="}})"));
    // Secrets are not watched: a resync (or any event) picks the rotation up.
    kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"metadata":{"annotations":{"poke":"3"}}})"));
    eventually("re-applied with the new credentials",
               [&] { return json(http("GET", sidecar.url() + "/repo/web").body)["hadAuth"].Size() == 3; });
    CHECK(sidecar.count("POST", "/repo/new") == applies + 1);
    auto secret_version = str_at(kube.get(resources::secrets, kNs, "git-creds"), "metadata.resourceVersion");
    eventually("status records the Secret's version", [&] {
      return str_at(kube.get(resources::chartmuseums, kNs, "web"), "status.observedSecretVersion") == secret_version;
    });
  }

  SECTION("a sidecar that lost its state gets the repo again on the next reconcile") {
    REQUIRE(http("POST", sidecar.url() + "/__forget").status == 200);
    REQUIRE(sidecar.status_of("web") == 404);
    kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"metadata":{"annotations":{"poke":"2"}}})"));
    eventually("repo re-asserted", [&] { return sidecar.status_of("web") == 200; });
  }

  SECTION("delete after the sidecar lost its state re-registers the repo to remove its charts") {
    int applies = sidecar.count("POST", "/repo/new");
    REQUIRE(http("POST", sidecar.url() + "/__forget").status == 200);
    kube.remove(resources::chartmuseums, kNs, "web");
    eventually("web deleted", [&] { return gone(kube, resources::chartmuseums, "web"); });
    CHECK(sidecar.count("POST", "/repo/new") == applies + 1);
    CHECK(sidecar.count("DELETE", "/repo/web") == 2);  // 404, then the real removal
    CHECK(sidecar.status_of("web") == 404);
  }

  SECTION("delete while the sidecar is down keeps the finalizer until it is back") {
    sidecar.down(503);
    kube.remove(resources::chartmuseums, kNs, "web");
    eventually("SidecarUnavailable on the deleting object", [&] {
      auto c = kube.get(resources::chartmuseums, kNs, "web");
      return condition(c, "Ready", "reason") == "SidecarUnavailable";
    });
    CHECK_FALSE(gone(kube, resources::chartmuseums, "web"));
    sidecar.down(0);
    eventually("web deleted", [&] { return gone(kube, resources::chartmuseums, "web"); });
    CHECK(gone(kube, resources::cronjobs, "web"));
    CHECK(sidecar.status_of("web") == 404);
    CHECK(sidecar.count("DELETE", "/repo/web") >= 2);
  }
}

TEST_CASE("operator: an invalid spec is Stalled without retries") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  // The API server refuses what the CRD's schema rules out (updateEveryMinutes 0 is a
  // 422); url "self" without mirrorOf passes the schema and only the operator refuses it.
  auto cr = json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":"bad"},
    "spec":{"git":"https://git.example/bad","dependencies":[{"name":"own","url":"self"}]}})");
  kube.create(resources::chartmuseums, kNs, cr);
  eventually("Stalled InvalidSpec", [&] {
    auto c = kube.get(resources::chartmuseums, kNs, "bad");
    return condition(c, "Stalled", "reason") == "InvalidSpec";
  });
  CHECK(sidecar.count("POST", "/repo/new") == 0);
  CHECK(gone(kube, resources::cronjobs, "bad"));
}

TEST_CASE("operator: a watch from a compacted resourceVersion relists, a restart mid-deletion converges") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  auto op = std::make_unique<Operator>(api, sidecar.url());
  create_cr(kube, "one");
  eventually("one Ready", [&] { return ready(kube, "one", 1); });

  // Freeze the operator, move history past its resourceVersion, end its watch.
  // Order matters: the stream must end before "two" exists, or the old stream (still
  // served while the operator is frozen) would carry it.
  op->process.kill(SIGSTOP);
  api.hook("/__close_watches");
  create_cr(kube, "two");
  api.hook("/__compact");
  op->process.kill(SIGCONT);
  eventually("two Ready after the relist", [&] { return ready(kube, "two", 1); });
  CHECK(op->metric("cmop_operator_relists_total") >= 2);

  // Deletion stuck on an unreachable sidecar, operator killed, sidecar back, new operator.
  sidecar.down(503);
  kube.remove(resources::chartmuseums, kNs, "one");
  eventually("cleanup failing", [&] {
    auto c = kube.get(resources::chartmuseums, kNs, "one");
    return condition(c, "Ready", "reason") == "SidecarUnavailable";
  });
  op->process.kill(SIGKILL);
  op->process.wait();
  op.reset();
  sidecar.down(0);
  Operator restarted(api, sidecar.url());
  eventually("one deleted by the new operator", [&] { return gone(kube, resources::chartmuseums, "one"); });
  CHECK(sidecar.status_of("one") == 404);
  CHECK(ready(kube, "two", 1));
}

TEST_CASE("operator: with leader election only the Lease holder reconciles, a successor takes over") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  auto first = std::make_unique<Operator>(api, sidecar.url(), std::vector<std::string>{"--leader-elect"});
  eventually("first leads", [&] { return first->metric("cmop_operator_is_leader") == 1; });
  Operator second(api, sidecar.url(), {"--leader-elect"});
  auto lease = kube.get(resources::leases, "ops", "cmop-operator");
  CHECK(lease["spec"]["leaseDurationSeconds"].GetInt() == 15);
  CHECK(second.metric("cmop_operator_is_leader") == 0);

  first->process.kill(SIGTERM);  // graceful: releases the Lease
  CHECK(first->process.wait() == 0);
  first.reset();
  eventually("second leads", [&] { return second.metric("cmop_operator_is_leader") == 1; });
  create_cr(kube, "led");
  eventually("led Ready via the new leader", [&] { return ready(kube, "led", 1); });
}

// A failing scheduled sync and its recovery: test_operator_real_sidecar.cpp, with the
// real cmop serve (issue 13, item 1: sync results never come from this fake).

// --- what a real API server enforces, and the operator copes with ------------------------

TEST_CASE("operator: a resource name of 53-63 characters gets a CronJob named within 52, deleted with it") {
  // The API server refuses CronJob names over 52 characters (422 on metadata.name).
  const std::string name53(53, 'a'), name63 = std::string(41, 'a') + std::string(22, 'b');
  CHECK(cronjob_name_for("web") == "web");
  CHECK(cronjob_name_for(std::string(52, 'a')) == std::string(52, 'a'));
  CHECK(cronjob_name_for(name53).size() == 52);
  CHECK(cronjob_name_for(name63).size() == 52);
  CHECK(cronjob_name_for(name53) != cronjob_name_for(name63));  // same first 41 characters, different hash
  CHECK(cronjob_name_for(std::string(40, 'a') + "-" + std::string(22, 'c')).find("--") == std::string::npos);

  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  for (const auto& name : {name53, name63}) create_cr(kube, name);
  for (const auto& name : {name53, name63}) {
    eventually("a long-named resource Ready", [&] { return ready(kube, name, 1); });
    auto cj = kube.get(resources::cronjobs, kNs, cronjob_name_for(name));
    CHECK(std::string(cj["metadata"]["labels"]["cm.bitnami.com/repo"].GetString()) == name);
    CHECK(std::string(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][2].GetString()) ==
          name);
  }
  CHECK(op.metric("cmop_operator_reconcile_total{result=\"error\"}") == 0);
  kube.remove(resources::chartmuseums, kNs, name63);
  eventually("the long-named resource deleted", [&] { return gone(kube, resources::chartmuseums, name63); });
  CHECK(gone(kube, resources::cronjobs, cronjob_name_for(name63)));
  CHECK_FALSE(gone(kube, resources::cronjobs, cronjob_name_for(name53)));
}

TEST_CASE("operator: a watch ERROR other than 410 relists with backoff, not in a loop") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  eventually("listed once", [&] { return op.metric("cmop_operator_relists_total") >= 1; });
  // What kube-apiserver 1.32 on etcd 3.4 answers every watch from the current state with.
  api.hook("/__watch_error", R"({"code":500,"reason":"InternalError","count":-1,
    "message":"a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled"})");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  int lists = json(http("GET", api.url() + "/__stats").body)["byResource"]["list chartmuseums"].GetInt();
  // Backoff from 0.5 s doubling: a handful of relists in 4 s (a loop without backoff made thousands).
  CHECK(lists >= 2);
  CHECK(lists <= 6);
  CHECK(op.metric("cmop_operator_watch_errors_total") >= 2);
  CHECK(op.log().find("RequestWatchProgress is disabled") != std::string::npos);

  api.hook("/__watch_error", R"({"code":500,"count":0})");  // the server recovers
  create_cr(kube, "after");
  eventually("after Ready once watches work again", [&] { return ready(kube, "after", 1); });
}

TEST_CASE("operator: a 429 with Retry-After is waited out, whether a JSON Status or priority-and-fairness text") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  // Storage still initializing (JSON Status) for the operator's first list of
  // Chartmuseums, then priority and fairness (text/plain) for its CronJob's creation.
  api.hook("/__faults", R"([{"method":"GET","path":"/v1alpha1/chartmuseums$","as":"storage-initializing","count":1},
                             {"method":"POST","path":"/cronjobs$","as":"priority-and-fairness","count":2}])");
  Operator op(api, sidecar.url());
  // Nobody but the operator lists Chartmuseums: the test's own reads never take the fault.
  eventually("the operator's list retried",
             [&] { return api.count("GET /apis/cm.bitnami.com/v1alpha1/chartmuseums") >= 2; });
  create_cr(kube, "web");
  eventually("web Ready", [&] { return ready(kube, "web", 1); });
  CHECK(op.metric("cmop_operator_reconcile_total{result=\"error\"}") == 0);  // waited, not failed
  CHECK(api.count("POST /apis/batch/v1/namespaces/team/cronjobs") == 3);
}

TEST_CASE("operator: deleting the namespace cleans its resources up and lets the namespace go") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  auto ns = json(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"doomed"}})");
  REQUIRE(http("POST", api.url() + "/api/v1/namespaces", to_json(ns)).status == 401);  // the fake authenticates
  operate::ResourceType namespaces{"/api/v1", "namespaces"};
  kube.create(namespaces, "", ns);
  kube.create(resources::chartmuseums, "doomed", chartmuseum("web", "https://git.example/web"));
  eventually("doomed/web Ready", [&] { return cmop::test::ready(kube, "doomed", "web", 1); });

  kube.remove(namespaces, "", "doomed");
  // While it terminates nothing new can be created in it (403 NamespaceTerminating): the
  // operator's Events are refused, its cleanup is not.
  try {
    kube.create(resources::chartmuseums, "doomed", chartmuseum("late", "https://git.example/late"));
  } catch (const KubeApiError& e) {
    CHECK(e.http_status() == 403);
  }
  eventually("the namespace gone", [&] { return cmop::test::gone(kube, namespaces, "", "doomed"); });
  CHECK(sidecar.status_of("web") == 404);
  try {
    kube.create(resources::chartmuseums, "doomed", chartmuseum("late", "https://git.example/late"));
    FAIL("created in a deleted namespace");
  } catch (const KubeApiError& e) {
    CHECK(e.http_status() == 404);
  }
}

TEST_CASE("operator: a resource recreated under the same name gets a CronJob owned by the new uid") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  auto op = std::make_unique<Operator>(api, sidecar.url());
  create_cr(kube, "web");
  eventually("web Ready", [&] { return ready(kube, "web", 1); });
  // Recreated behind the operator's back: the finalizer removed by hand, then a new object.
  op->process.kill(SIGKILL);
  op->process.wait();
  op.reset();
  auto old = kube.get(resources::chartmuseums, kNs, "web");
  kube.remove(resources::chartmuseums, kNs, "web");
  old = kube.get(resources::chartmuseums, kNs, "web");
  old["metadata"].RemoveMember("finalizers");
  kube.update(resources::chartmuseums, kNs, "web", old);
  create_cr(kube, "web");
  const std::string uid = str_at(kube.get(resources::chartmuseums, kNs, "web"), "metadata.uid");

  Operator restarted(api, sidecar.url());
  eventually("web Ready again", [&] { return ready(kube, "web", 1); });
  eventually("its CronJob owned by the new object", [&] {
    try {
      auto cj = kube.get(resources::cronjobs, kNs, "web");
      return str_at(cj["metadata"]["ownerReferences"][0], "uid") == uid;
    } catch (const KubeApiError&) {
      return false;  // collected with its vanished owner, not yet created again
    }
  });
}

TEST_CASE("operator: a resource deleted with Foreground or Orphan propagation is cleaned up, its CronJob too") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  for (std::string policy : {"Foreground", "Orphan"}) {
    std::string name = policy == "Foreground" ? "fg" : "orphan";
    create_cr(kube, name);
    eventually(name + " Ready", [&] { return ready(kube, name, 1); });
    // What `kubectl delete --cascade=foreground|orphan` sends.
    net::HttpClient client;
    net::Request req;
    req.method = "DELETE";
    req.url = api.url() + "/apis/cm.bitnami.com/v1alpha1/namespaces/" + kNs + "/chartmuseums/" + name;
    req.headers = {{"Authorization", "Bearer sekret"}, {"Content-Type", "application/json"}};
    req.body = R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":")" + policy + R"("})";
    REQUIRE(client.send(req).status == 200);
    eventually(name + " deleted", [&] { return gone(kube, resources::chartmuseums, name); });
    CHECK(gone(kube, resources::cronjobs, name));  // the operator deletes it even when orphaned
    CHECK(sidecar.status_of(name) == 404);
  }
}

TEST_CASE("operator: a repo whose first sync still runs gets a status the CRD's schema accepts") {
  // The sidecar has no lastSyncTime yet: "" is not a date-time, and the API server refuses
  // a status carrying it (422), so the field is left out until there is a time.
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--resync-seconds", "1"});
  create_cr(kube, "web");
  eventually("web Ready", [&] { return ready(kube, "web", 1); });
  REQUIRE(http("POST", sidecar.url() + "/__first_sync_running", R"({"name":"web"})").status == 200);
  eventually("the status without a sync time", [&] {
    return !value_at(kube.get(resources::chartmuseums, kNs, "web"), "status.lastSyncTime");
  });
  CHECK(op.metric("cmop_operator_reconcile_total{result=\"error\"}") == 0);
}

TEST_CASE("operator: after a CRD upgrade refuses a stored value, the resource keeps reconciling (ratcheting)") {
  // The CRD before the upgrade: spec.git without its pattern.
  util::TempDir dir;
  std::string crd = util::read_file(source_dir() / "manifests" / "crd.yaml");
  auto at = crd.find("pattern: '^((https?|git|ssh)://");
  REQUIRE(at != std::string::npos);
  crd.erase(crd.rfind('\n', at) + 1, crd.find('\n', at) - crd.rfind('\n', at));
  std::ofstream(dir.path() / "old-crd.yaml") << crd;
  FakeApiServer api({"--token", "sekret", "--bookmark-interval", "0.3", "--namespaces", FakeApiServer::kNamespaces,
                     "--crd", (dir.path() / "old-crd.yaml").string()});
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--resync-seconds", "1"});
  auto cr = chartmuseum("web", "ftp://git.example/web");
  kube.create(resources::chartmuseums, kNs, cr);
  eventually("web Ready", [&] { return ready(kube, "web", 1); });

  api.hook("/__crd", R"({"path":")" + (source_dir() / "manifests" / "crd.yaml").string() + R"("})");
  CHECK_THROWS_AS(kube.create(resources::chartmuseums, kNs, chartmuseum("new", "ftp://git.example/new")),
                  KubeApiError);
  // Status writes and spec changes that leave spec.git as it was are still accepted.
  REQUIRE(http("POST", sidecar.url() + "/__scheduled_sync", R"({"name":"web","error":"git fetch failed"})").status ==
          200);
  eventually("Ready False written", [&] {
    return condition(kube.get(resources::chartmuseums, kNs, "web"), "Ready", "status") == "False";
  });
  auto current = kube.get(resources::chartmuseums, kNs, "web");
  current["spec"]["ref"].SetString("release");
  kube.update(resources::chartmuseums, kNs, "web", current);
  eventually("web Ready at generation 2", [&] { return ready(kube, "web", 2); });
}

TEST_CASE("operator: SIGTERM ends a quiet watch and exits within 2 s, releasing the Lease") {
  const bool leader_elect = GENERATE(false, true);
  // No bookmarks: the operator's watch sees nothing until its (long) timeout.
  FakeApiServer api({"--token", "sekret", "--namespaces", FakeApiServer::kNamespaces});
  Sidecar sidecar;
  KubeClient kube(api.config());
  std::vector<std::string> extra{"--watch-timeout-seconds", "300"};
  if (leader_elect) extra.push_back("--leader-elect");
  Operator op(api, sidecar.url(), extra);
  create_cr(kube, "quiet");
  eventually("quiet Ready", [&] { return ready(kube, "quiet", 1); });
  op.wait_reconciled_after(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the informer sits in its watch

  auto started = std::chrono::steady_clock::now();
  op.process.kill(SIGTERM);
  CHECK(op.process.wait(5000) == 0);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  if (leader_elect)
    CHECK(str_at(kube.get(resources::leases, "ops", "cmop-operator"), "spec.holderIdentity").empty());
}

TEST_CASE("operator: after a 15 s outage of list and watch it sees changes within 5 s of the API answering") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  eventually("listed once", [&] { return op.metric("cmop_operator_relists_total") >= 1; });
  // Every list and watch of Chartmuseums fails (the server is down for the informer).
  api.hook("/__faults", R"([{"method":"GET","path":"/chartmuseums$","status":503,"reason":"ServiceUnavailable",
                             "count":-1}])");
  api.hook("/__close_watches");
  std::this_thread::sleep_for(std::chrono::seconds(15));
  CHECK(op.metric("cmop_operator_watch_errors_total") >= 3);
  api.hook("/__faults", "[]");
  auto back = std::chrono::steady_clock::now();
  create_cr(kube, "afteroutage");
  eventually("afteroutage Ready", [&] { return ready(kube, "afteroutage", 1); });
  CHECK(std::chrono::steady_clock::now() - back < std::chrono::seconds(5));
}

TEST_CASE("operator: a resource Stalled on NameConflict sends the sidecar nothing until the owner is gone, then takes over at once") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  create_cr(kube, "shared");
  eventually("team/shared Ready", [&] { return ready(kube, "shared", 1); });
  kube.create(resources::chartmuseums, "other", chartmuseum("shared", "https://git.example/other"));
  eventually("other/shared Stalled on the name", [&] {
    return condition(kube.get(resources::chartmuseums, "other", "shared"), "Stalled", "reason") == "NameConflict";
  });
  auto applies = [&] { return sidecar.count("POST", "/repo/new"); };
  int before = applies();
  // Reconciles without a spec change (what a resync does) mutate nothing.
  for (int i = 0; i < 3; ++i) {
    long done = op.metric("cmop_operator_reconcile_total{result=\"success\"}");
    kube.merge_patch(resources::chartmuseums, "other", "shared",
                     json(R"({"metadata":{"annotations":{"poke":")" + std::to_string(i) + R"("}}})"));
    op.wait_reconciled_after(done);
  }
  CHECK(applies() == before);
  CHECK(str_at(json(http("GET", sidecar.url() + "/repo/shared").body), "spec.owner") == kNs + "/shared");

  // The owner goes: the stalled one is reconciled at once (no resync for 5 minutes) and takes the name.
  kube.remove(resources::chartmuseums, kNs, "shared");
  eventually("other/shared Ready", [&] { return cmop::test::ready(kube, "other", "shared", 1); },
             std::chrono::seconds(10));
  CHECK(str_at(json(http("GET", sidecar.url() + "/repo/shared").body), "spec.owner") == "other/shared");
}

TEST_CASE("operator: a CronJob deleted or edited by hand is restored at once, without a resync") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());  // resync every 5 minutes: only the CronJob watch can bring it back
  create_cr(kube, "restored");
  eventually("restored Ready", [&] { return ready(kube, "restored", 1); });
  // Created after a look in the watch-fed cache, not after a GET (the test has not read it yet).
  CHECK(api.count("GET /apis/batch/v1/namespaces/team/cronjobs/restored") == 0);
  REQUIRE_FALSE(gone(kube, resources::cronjobs, "restored"));

  kube.merge_patch(resources::cronjobs, kNs, "restored", json(R"({"spec":{"schedule":"0 0 1 1 *","suspend":true}})"));
  eventually("schedule restored", [&] {
    auto cj = kube.get(resources::cronjobs, kNs, "restored");
    return str_at(cj, "spec.schedule") == schedule_for_minutes(15, kNs + "/restored") && !cj["spec"]["suspend"].GetBool();
  }, std::chrono::seconds(10));

  kube.remove(resources::cronjobs, kNs, "restored");
  eventually("CronJob recreated", [&] { return !gone(kube, resources::cronjobs, "restored"); },
             std::chrono::seconds(10));
}

// Issue 14, item 4 / issue 13, item 9: Ready is Unknown while ANY sync of the repo runs,
// not only one the operator queued; the sidecar's feed says when one starts and ends.
// (The fake sidecar holds a sync as running for as long as the test wants.)
TEST_CASE("operator: a sync the operator did not start shows Ready Unknown while it runs, without a resync") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--resync-seconds", "3600"});
  create_cr(kube, "cron");
  eventually("cron Ready", [&] { return ready(kube, "cron", 1); });

  REQUIRE(http("POST", sidecar.url() + "/__sync_running", R"({"name":"cron"})").status == 200);
  eventually("Ready Unknown and Reconciling True while the CronJob's sync runs", [&] {
    auto cr = kube.get(resources::chartmuseums, kNs, "cron");
    return condition(cr, "Ready", "status") == "Unknown" && condition(cr, "Reconciling", "status") == "True";
  });
  REQUIRE(http("POST", sidecar.url() + "/__scheduled_sync", R"({"name":"cron","error":""})").status == 200);
  eventually("Ready again when it ends", [&] {
    auto cr = kube.get(resources::chartmuseums, kNs, "cron");
    return ready(kube, "cron", 1) && condition(cr, "Reconciling", "status").empty();
  });
  CHECK(sidecar.count("POST", "/repo/new") == 1);  // observing is not re-applying
}

namespace {
// Events of one resource with this reason.
int events_with(const KubeClient& kube, const std::string& ns, const std::string& name, const std::string& reason) {
  int n = 0;
  for (auto& e : kube.list(resources::events, ns)["items"].GetArray())
    if (str_at(e, "reason") == reason && str_at(e, "involvedObject.name") == name) ++n;
  return n;
}

long observed_generation(const KubeClient& kube, const std::string& ns, const std::string& name) {
  auto* og = value_at(kube.get(resources::chartmuseums, ns, name), "status.observedGeneration");
  return og && og->IsInt64() ? og->GetInt64() : 0;
}
}  // namespace

// Issue 23, items 2 and 3: a first reconcile that fails still reports the generation
// it looked at (kstatus then says Failed, not InProgress), and the documented events
// come from the resource's own status: Recovered once the missing Secret exists or the
// conflicting owner is gone.
TEST_CASE("operator: a failed first reconcile sets observedGeneration: recovery from SecretNotFound and NameConflict is one Recovered") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());

  create_cr(kube, "nosecret", true);  // names git-creds, which does not exist yet
  eventually("SecretNotFound", [&] {
    return condition(kube.get(resources::chartmuseums, kNs, "nosecret"), "Ready", "reason") == "SecretNotFound";
  });
  CHECK(observed_generation(kube, kNs, "nosecret") == 1);

  create_cr(kube, "shared");
  eventually("team/shared Ready", [&] { return ready(kube, "shared", 1); });
  kube.create(resources::chartmuseums, "other", chartmuseum("shared", "https://git.example/other"));
  eventually("other/shared Stalled on the name", [&] {
    return condition(kube.get(resources::chartmuseums, "other", "shared"), "Stalled", "reason") == "NameConflict";
  });
  CHECK(observed_generation(kube, "other", "shared") == 1);

  kube.create(resources::secrets, kNs,
              json(R"({"metadata":{"name":"git-creds"},"data":{"username":"Z2l0","password":"cGFzcw=="}})"));
  eventually("nosecret Ready (retried with backoff)", [&] { return ready(kube, "nosecret", 1); });
  kube.remove(resources::chartmuseums, kNs, "shared");
  eventually("other/shared Ready", [&] { return cmop::test::ready(kube, "other", "shared", 1); });
  eventually("one Recovered each", [&] {
    return events_with(kube, kNs, "nosecret", "Recovered") == 1 && events_with(kube, "other", "shared", "Recovered") == 1;
  });
  op.wait_reconciled_after(0);
  CHECK(events_with(kube, kNs, "nosecret", "SecretNotFound") == 1);
  CHECK(events_with(kube, "other", "shared", "NameConflict") == 1);
  CHECK(events_with(kube, kNs, "nosecret", "Recovered") == 1);
  CHECK(events_with(kube, "other", "shared", "Recovered") == 1);
}

// Issue 23, item 3: after an operator restart, a spec change synced is one Synced event
// (the outcome before the sync is read from the status, which shows Ready Unknown while
// the sync runs, not from the memory of the process that wrote it).
TEST_CASE("operator: after a restart every spec change synced is exactly one Synced event") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  const int n = 6;
  {
    Operator first(api, sidecar.url());
    for (int i = 0; i < n; ++i) create_cr(kube, "r" + std::to_string(i));
    for (int i = 0; i < n; ++i) eventually("Ready", [&] { return ready(kube, "r" + std::to_string(i), 1); });
    first.wait_reconciled_after(0);
  }
  // Changed while no operator runs: the new one's first reconcile of each is the apply.
  for (int i = 0; i < n; ++i)
    kube.merge_patch(resources::chartmuseums, kNs, "r" + std::to_string(i), json(R"({"spec":{"ref":"release"}})"));
  Operator second(api, sidecar.url());
  for (int i = 0; i < n; ++i) eventually("Ready at 2", [&] { return ready(kube, "r" + std::to_string(i), 2); });
  for (int i = 0; i < n; ++i)
    eventually("one Synced for r" + std::to_string(i),
               [&] { return events_with(kube, kNs, "r" + std::to_string(i), "Synced") == 1; }, std::chrono::seconds(10));
  second.wait_reconciled_after(0);
  for (int i = 0; i < n; ++i) CHECK(events_with(kube, kNs, "r" + std::to_string(i), "Synced") == 1);
}

// Issue 23, item 4: a namespace being deleted is normal. Nothing can be created in it
// (403 NamespaceTerminating): no Event is attempted after the first refusal, no
// CronJob re-created, no warning or retry; one info line says so.
TEST_CASE("operator: a terminating namespace is quiet: no events, no CronJob re-created, one info line") {
  FakeApiServer api({"--token", "sekret", "--bookmark-interval", "0.3", "--namespaces", FakeApiServer::kNamespaces,
                     "--gc-interval", "2"});
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url());
  operate::ResourceType namespaces{"/api/v1", "namespaces"};
  kube.create(namespaces, "", json(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"going"}})"));
  for (const char* name : {"a", "b", "c"}) kube.create(resources::chartmuseums, "going", chartmuseum(name, "https://git.example/x"));
  for (const char* name : {"a", "b", "c"}) eventually("Ready", [&] { return cmop::test::ready(kube, "going", name, 1); });
  op.wait_reconciled_after(0);
  const int cronjob_creates = api.count("POST /apis/batch/v1/namespaces/going/cronjobs");

  kube.remove(namespaces, "", "going");
  // Before the namespace controller gets to them, a CronJob goes (as it may first on a
  // real cluster, where the namespace controller deletes kind after kind).
  kube.remove(resources::cronjobs, "going", "a");
  eventually("the namespace gone", [&] { return cmop::test::gone(kube, namespaces, "", "going"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  op.wait_reconciled_after(0);
  CHECK(sidecar.status_of("a") == 404);
  // At most the one create that found out.
  CHECK(api.count("POST /apis/batch/v1/namespaces/going/cronjobs") <= cronjob_creates + 1);
  CHECK(api.count("POST /api/v1/namespaces/going/events") <= 1);
  std::string log = op.log();
  INFO(log);
  std::istringstream lines(log);
  int warnings = 0, terminating = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("going/") == std::string::npos && line.find("namespace going") == std::string::npos) continue;
    if (line.find(" WARN ") != std::string::npos || line.find(" ERROR ") != std::string::npos) ++warnings;
    if (line.find("being terminated") != std::string::npos) ++terminating;
  }
  CHECK(warnings == 0);
  CHECK(terminating == 1);
}

// Issue 23, item 5: Secrets are read once per reconcile at most (the webhook Secret was
// read twice for an apply), and not again for the reconciles that follow the operator's
// own writes and the sidecar's sync reports; a CronJob status change (the CronJob
// controller's lastScheduleTime, active jobs) reconciles nothing.
TEST_CASE("operator: Secrets are not re-read for the operator's own echoes, CronJob status changes reconcile nothing") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  kube.create(resources::secrets, kNs,
              json(R"({"metadata":{"name":"git-creds"},"data":{"username":"Z2l0","password":"cGFzcw=="}})"));
  kube.create(resources::secrets, kNs, json(R"({"metadata":{"name":"hook"},"data":{"token":"czNjcmV0"}})"));
  Operator op(api, sidecar.url());
  auto cr = chartmuseum("web", "https://git.example/web");
  auto& a = cr.GetAllocator();
  cr["spec"].AddMember("secretRef", rapidjson::Value(json(R"({"name":"git-creds"})"), a), a);
  cr["spec"].AddMember("webhook", rapidjson::Value(json(R"({"secretRef":{"name":"hook"}})"), a), a);
  kube.create(resources::chartmuseums, kNs, cr);
  eventually("web Ready", [&] { return ready(kube, "web", 1); });
  op.wait_reconciled_after(0);
  const std::string creds = "GET /api/v1/namespaces/team/secrets/git-creds", hook = "GET /api/v1/namespaces/team/secrets/hook";
  // Create, finalizer, apply, Ready Unknown, the sync's start and end, Ready True: one read of each.
  CHECK(api.count(creds) == 1);
  CHECK(api.count(hook) == 1);

  kube.merge_patch(resources::chartmuseums, kNs, "web", json(R"({"spec":{"ref":"release"}})"));
  eventually("web Ready at 2", [&] { return ready(kube, "web", 2); });
  op.wait_reconciled_after(0);
  CHECK(api.count(hook) == 2);  // a change of the resource by someone else reads them again, once
  CHECK(api.count(creds) == 2);

  long reconciles = op.metric("cmop_operator_reconcile_total{result=\"success\"}");
  for (int i = 0; i < 3; ++i) {
    auto cj = kube.get(resources::cronjobs, kNs, "web");
    auto& ca = cj.GetAllocator();
    if (cj.HasMember("status")) cj.RemoveMember("status");
    cj.AddMember("status", rapidjson::Value(json(R"({"lastScheduleTime":"2026-01-01T00:0)" + std::to_string(i) +
                                                 R"(:00Z"})"), ca), ca);
    kube.update_status(resources::cronjobs, kNs, "web", cj);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(op.metric("cmop_operator_reconcile_total{result=\"success\"}") == reconciles);
}

// Issue 23, item 6: CronJobs are read from the watch-fed cache only: the operator needs
// no `get` on cronjobs (the chart's RBAC grants list, watch, create, update, delete). A
// CronJob list that fails at first delays the reconciles; they never GET.
TEST_CASE("operator: CronJobs are never read one by one, even while their cache is not filled yet") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  create_cr(kube, "early");
  create_cr(kube, "early2");
  api.hook("/__faults", R"([{"method":"GET","path":"/cronjobs$","status":503,"reason":"ServiceUnavailable","count":2}])");
  Operator op(api, sidecar.url());
  eventually("early Ready", [&] { return ready(kube, "early", 1); });
  eventually("early2 Ready", [&] { return ready(kube, "early2", 1); });
  CHECK(api.count("GET /apis/batch/v1/namespaces/team/cronjobs/early") == 0);
  CHECK(api.count("GET /apis/batch/v1/namespaces/team/cronjobs/early2") == 0);
  CHECK(api.count("POST /apis/batch/v1/namespaces/team/cronjobs") == 2);
}
