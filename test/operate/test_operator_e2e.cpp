// The real `cmop operate` binary against the fake kube-apiserver and a fake sidecar.
#include <signal.h>

#include "cmop/util/hash.hpp"
#include "cmop/operate/kube_client.hpp"
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
  CHECK(cr["status"]["charts"].GetInt() == 1);
  CHECK(str_at(cr["status"]["publishedCharts"][0], "name") == "web");
  CHECK(str_at(cr, "status.lastCommit").size() == 40);
  CHECK_FALSE(str_at(cr, "status.lastSyncTime").empty());
  // kstatus: Stalled and Reconciling are present only while True.
  CHECK(condition(cr, "Stalled", "status").empty());
  CHECK(condition(cr, "Reconciling", "status").empty());

  auto state = json(http("GET", sidecar.url() + "/repo/web").body);
  CHECK(str_at(state, "spec.git") == "https://git.example/web");
  CHECK(str_at(state, "spec.ref") == "main");
  CHECK(state["hadAuth"].Size() == 2);  // username + password from the Secret
  CHECK(sidecar.count("POST", "/repo/dependency") >= 1);

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
  CHECK(api.count("POST /api/v1/namespaces/team/events") >= 1);

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
  auto cr = chartmuseum("bad", "https://git.example/bad", 0);
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

TEST_CASE("operator: a failing scheduled sync turns Ready False with one Warning event, recovery one Normal") {
  FakeApiServer api;
  Sidecar sidecar;
  KubeClient kube(api.config());
  Operator op(api, sidecar.url(), {"--resync-seconds", "1"});
  create_cr(kube, "sched");
  eventually("sched Ready", [&] { return ready(kube, "sched", 1); });
  auto events_with = [&](const std::string& reason) {
    int n = 0;
    auto list = kube.list(resources::events, kNs);
    for (auto& e : list["items"].GetArray())
      if (str_at(e, "reason") == reason && str_at(e, "involvedObject.name") == "sched") ++n;
    return n;
  };

  // What the CronJob's `cmop trigger sched` would leave in the sidecar.
  REQUIRE(http("POST", sidecar.url() + "/__scheduled_sync", R"({"name":"sched","error":"git fetch failed: boom"})")
              .status == 200);
  eventually("Ready False from the scheduled sync", [&] {
    auto cr = kube.get(resources::chartmuseums, kNs, "sched");
    return condition(cr, "Ready", "status") == "False" && condition(cr, "Ready", "reason") == "SyncFailed";
  });
  eventually("a Warning event", [&] { return events_with("SyncFailed") == 1; });
  long seen = op.metric("cmop_operator_reconcile_total{result=\"success\"}");
  eventually("two more resyncs", [&] { return op.metric("cmop_operator_reconcile_total{result=\"success\"}") > seen + 2; });
  CHECK(events_with("SyncFailed") == 1);  // once per transition, not per resync

  REQUIRE(http("POST", sidecar.url() + "/__scheduled_sync", R"({"name":"sched","error":""})").status == 200);
  eventually("Ready again", [&] { return ready(kube, "sched", 1); });
  eventually("a Recovered event", [&] { return events_with("Recovered") == 1; });
  CHECK(sidecar.count("POST", "/repo/new") == 1);  // observing is not re-applying
}
