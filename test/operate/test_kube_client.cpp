#include <atomic>
#include <fstream>

#include "cmop/operate/kube_client.hpp"
#include "cmop/util/fs.hpp"
#include "operate_fixtures.hpp"

using namespace cmop;
using namespace cmop::operate;
using cmop::test::chartmuseum;
using cmop::test::FakeApiServer;
using cmop::test::json;

TEST_CASE("kube client: create, get, list, update, status, patch, delete against the API server") {
  FakeApiServer api;
  KubeClient kube(api.config());

  auto created = kube.create(resources::chartmuseums, "team", chartmuseum("web", "https://example.com/charts"));
  CHECK(str_at(created, "metadata.namespace") == "team");
  CHECK_FALSE(str_at(created, "metadata.uid").empty());
  CHECK_FALSE(str_at(created, "metadata.resourceVersion").empty());
  CHECK(created["metadata"]["generation"].GetInt() == 1);

  SECTION("POST of an existing name is 409 AlreadyExists") {
    try {
      kube.create(resources::chartmuseums, "team", chartmuseum("web", "https://example.com/other"));
      FAIL("expected AlreadyExists");
    } catch (const KubeApiError& e) {
      CHECK(e.conflict());
      CHECK(e.status_reason() == "AlreadyExists");
      CHECK(e.code() == Errc::conflict);
    }
  }

  SECTION("GET of a missing object is 404 NotFound with the Status message") {
    try {
      kube.get(resources::chartmuseums, "team", "nope");
      FAIL("expected NotFound");
    } catch (const KubeApiError& e) {
      CHECK(e.not_found());
      CHECK(e.status_reason() == "NotFound");
      CHECK(std::string(e.what()).find("\"nope\" not found") != std::string::npos);
    }
    CHECK_FALSE(kube.remove(resources::chartmuseums, "team", "nope"));
  }

  SECTION("update bumps generation only for spec changes; a stale resourceVersion is 409") {
    auto obj = kube.get(resources::chartmuseums, "team", "web");
    obj["metadata"].AddMember("labels", rapidjson::Value(json(R"({"a":"b"})"), obj.GetAllocator()), obj.GetAllocator());
    auto labelled = kube.update(resources::chartmuseums, "team", "web", obj);
    CHECK(labelled["metadata"]["generation"].GetInt() == 1);

    labelled["spec"]["ref"].SetString("dev");
    auto changed = kube.update(resources::chartmuseums, "team", "web", labelled);
    CHECK(changed["metadata"]["generation"].GetInt() == 2);

    // obj still carries the first resourceVersion
    try {
      kube.update(resources::chartmuseums, "team", "web", obj);
      FAIL("expected Conflict");
    } catch (const KubeApiError& e) {
      CHECK(e.conflict());
      CHECK(e.status_reason() == "Conflict");
    }

    // status subresource: no generation bump, and main-resource updates ignore status
    changed.AddMember("status", rapidjson::Value(json(R"({"observedGeneration":2,"charts":3})"), changed.GetAllocator()), changed.GetAllocator());
    auto with_status = kube.update_status(resources::chartmuseums, "team", "web", changed);
    CHECK(with_status["metadata"]["generation"].GetInt() == 2);
    CHECK(with_status["status"]["charts"].GetInt() == 3);
    with_status["status"]["charts"].SetInt(99);
    auto after_main = kube.update(resources::chartmuseums, "team", "web", with_status);
    CHECK(after_main["status"]["charts"].GetInt() == 3);

    auto patched = kube.merge_patch(resources::chartmuseums, "team", "web",
                                    json(R"({"spec":{"suspend":true},"metadata":{"labels":{"a":null}}})"));
    CHECK(patched["spec"]["suspend"].GetBool());
    CHECK(patched["metadata"]["generation"].GetInt() == 3);
    CHECK_FALSE(patched["metadata"]["labels"].HasMember("a"));
  }

  SECTION("list carries the collection resourceVersion and honours the namespace") {
    kube.create(resources::chartmuseums, "other", chartmuseum("db", "https://example.com/db"));
    auto all = kube.list(resources::chartmuseums, "");
    CHECK(all["items"].Size() == 2);
    CHECK_FALSE(str_at(all, "metadata.resourceVersion").empty());
    CHECK(kube.list(resources::chartmuseums, "other")["items"].Size() == 1);
  }

  SECTION("delete with a finalizer keeps the object until the finalizer is removed; GC follows owners") {
    auto obj = kube.get(resources::chartmuseums, "team", "web");
    obj["metadata"].AddMember("finalizers", rapidjson::Value(json(R"(["cm.bitnami.com/cleanup"])"), obj.GetAllocator()),
                              obj.GetAllocator());
    obj = kube.update(resources::chartmuseums, "team", "web", obj);
    auto cj = json(R"({"metadata":{"name":"web","ownerReferences":[{"apiVersion":"cm.bitnami.com/v1alpha1",
      "kind":"Chartmuseum","name":"web","uid":")" + str_at(obj, "metadata.uid") + R"(","controller":true}]},
      "spec":{"schedule":"*/15 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"example.org/c:1"}]}}}}}})");
    kube.create(resources::cronjobs, "team", cj);

    CHECK(kube.remove(resources::chartmuseums, "team", "web"));
    auto deleting = kube.get(resources::chartmuseums, "team", "web");
    CHECK_FALSE(str_at(deleting, "metadata.deletionTimestamp").empty());
    deleting["metadata"]["finalizers"].Clear();
    kube.update(resources::chartmuseums, "team", "web", deleting);
    CHECK_THROWS_AS(kube.get(resources::chartmuseums, "team", "web"), KubeApiError);
    // The garbage collector runs on its own, as kube-controller-manager's does.
    test::eventually("the owned CronJob collected", [&] { return test::gone(kube, resources::cronjobs, "team", "web"); });
  }
}

TEST_CASE("kube client: a wrong token is a 401 naming the request") {
  FakeApiServer api;
  KubeClient kube(api.config("wrong"));
  try {
    kube.list(resources::chartmuseums, "");
    FAIL("expected Unauthorized");
  } catch (const KubeApiError& e) {
    CHECK(e.http_status() == 401);
    CHECK(e.code() == Errc::unauthorized);
    CHECK(std::string(e.what()).find("/apis/cm.bitnami.com/v1alpha1/chartmuseums") != std::string::npos);
  }
}

TEST_CASE("kube client: watch streams events after a resourceVersion, with bookmarks") {
  FakeApiServer api;
  KubeClient kube(api.config());
  auto list = kube.list(resources::chartmuseums, "team");
  std::string rv = str_at(list, "metadata.resourceVersion");

  std::thread writer([&] {
    kube.create(resources::chartmuseums, "team", chartmuseum("a", "https://example.com/a"));
    kube.create(resources::chartmuseums, "elsewhere", chartmuseum("b", "https://example.com/b"));
    kube.remove(resources::chartmuseums, "team", "a");
  });
  std::vector<std::string> seen;
  bool bookmark = false;
  std::string last_rv = rv;
  WatchOptions wo;
  wo.resource_version = rv;
  wo.timeout_seconds = 30;
  kube.watch(resources::chartmuseums, "team", wo, [&](WatchEvent& ev) {
    last_rv = str_at(ev.object, "metadata.resourceVersion");
    if (ev.type == "BOOKMARK") {
      bookmark = true;
    } else {
      seen.push_back(ev.type + " " + str_at(ev.object, "metadata.name"));
    }
    return !(bookmark && seen.size() >= 2);
  });
  writer.join();
  CHECK(seen == std::vector<std::string>{"ADDED a", "DELETED a"});
  CHECK(bookmark);
  CHECK(std::stol(last_rv) > std::stol(rv));
}

TEST_CASE("kube client: a watch from a compacted resourceVersion gets a 410 Expired ERROR event") {
  FakeApiServer api;
  KubeClient kube(api.config());
  std::string old_rv = str_at(kube.list(resources::chartmuseums, ""), "metadata.resourceVersion");
  kube.create(resources::chartmuseums, "team", chartmuseum("a", "https://example.com/a"));
  api.hook("/__compact");
  std::string type;
  long code = 0;
  WatchOptions wo;
  wo.resource_version = old_rv;
  kube.watch(resources::chartmuseums, "", wo, [&](WatchEvent& ev) {
    type = ev.type;
    code = ev.object["code"].GetInt();
    return false;
  });
  CHECK(type == "ERROR");
  CHECK(code == 410);

  // A relist gives a fresh resourceVersion the watch accepts (and it ends at timeoutSeconds).
  std::string fresh = str_at(kube.list(resources::chartmuseums, ""), "metadata.resourceVersion");
  wo.resource_version = fresh;
  wo.timeout_seconds = 1;
  wo.allow_bookmarks = false;
  int events = 0;
  kube.watch(resources::chartmuseums, "", wo, [&](WatchEvent&) { return ++events > 0; });
  CHECK(events == 0);
}

TEST_CASE("kube config: kubeconfig current-context with token file, CA file and insecure flag") {
  util::TempDir dir;
  std::ofstream(dir.path() / "token") << "from-file\n";
  std::ofstream(dir.path() / "ca.pem") << "-----BEGIN CERTIFICATE-----\n";
  std::ofstream(dir.path() / "config") << R"(apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: prod
  context: {cluster: prod, user: admin}
- name: dev
  context: {cluster: dev, user: dev-user, namespace: charts}
clusters:
- name: prod
  cluster: {server: "https://prod.example:6443"}
- name: dev
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: ca.pem
    insecure-skip-tls-verify: true
users:
- name: admin
  user: {token: nope}
- name: dev-user
  user:
    tokenFile: token
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
)";
  auto cfg = kubeconfig_from_file(dir.path() / "config");
  CHECK(cfg.server == "https://127.0.0.1:6443");
  CHECK(cfg.default_namespace == "charts");
  CHECK(cfg.tls.ca_file == (dir.path() / "ca.pem").string());
  CHECK(cfg.tls.insecure_skip_verify);
  CHECK(cfg.token_file == dir.path() / "token");
  CHECK(cfg.tls.client_cert_pem == "CERT");
  CHECK(cfg.tls.client_key_pem == "KEY");

  std::ofstream(dir.path() / "broken") << "current-context: missing\ncontexts: []\n";
  try {
    kubeconfig_from_file(dir.path() / "broken");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("missing") != std::string::npos);
  }
}

TEST_CASE("kube client: the token file is read for requests (service-account style)") {
  FakeApiServer api;
  util::TempDir dir;
  std::ofstream(dir.path() / "token") << "sekret\n";
  auto cfg = api.config("");
  cfg.token_file = dir.path() / "token";
  KubeClient kube(cfg);
  CHECK(kube.list(resources::chartmuseums, "")["items"].Size() == 0);
}

TEST_CASE("kube client: a 429's Retry-After is waited out, one that persists is thrown with it") {
  FakeApiServer api;
  KubeClient kube(api.config());
  api.hook("/__faults", R"([{"method":"GET","path":"/chartmuseums$","status":429,"retryAfter":1,"count":2,
                             "text":"Too many requests, please try again later.\n"}])");
  auto started = std::chrono::steady_clock::now();
  CHECK(kube.list(resources::chartmuseums, "team")["items"].Size() == 0);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(1900));
  CHECK(api.count("GET /apis/cm.bitnami.com/v1alpha1/namespaces/team/chartmuseums") == 3);

  api.hook("/__faults", R"([{"method":"POST","path":"/chartmuseums$","status":429,"reason":"TooManyRequests",
                             "message":"storage is (re)initializing","retryAfter":1,"count":-1}])");
  try {
    kube.create(resources::chartmuseums, "team", chartmuseum("web", "https://example.com/charts"));
    FAIL("expected 429");
  } catch (const KubeApiError& e) {
    CHECK(e.http_status() == 429);
    CHECK(e.retry_after_seconds() == 1);
    CHECK(std::string(e.what()).find("storage is (re)initializing") != std::string::npos);
  }
  CHECK(api.count("POST /apis/cm.bitnami.com/v1alpha1/namespaces/team/chartmuseums") == 1 + KubeClient::kMaxRetries);
}

TEST_CASE("kube client: a missing namespace is 404, a terminating one 403, a body naming another one 400") {
  FakeApiServer api;
  KubeClient kube(api.config());
  auto status_of = [&](const std::string& ns, const rapidjson::Document& cr) {
    try {
      kube.create(resources::chartmuseums, ns, cr);
      return 201;
    } catch (const KubeApiError& e) {
      return e.http_status();
    }
  };
  CHECK(status_of("nowhere", chartmuseum("web", "https://example.com/charts")) == 404);
  auto elsewhere = chartmuseum("web", "https://example.com/charts");
  elsewhere["metadata"].AddMember("namespace", "other", elsewhere.GetAllocator());
  CHECK(status_of("team", elsewhere) == 400);

  ResourceType namespaces{"/api/v1", "namespaces"};
  kube.create(namespaces, "", json(R"({"metadata":{"name":"doomed"}})"));
  auto cr = chartmuseum("keep", "https://example.com/charts");
  cr["metadata"].AddMember("finalizers", rapidjson::Value(json(R"(["example.com/hold"])"), cr.GetAllocator()),
                           cr.GetAllocator());
  CHECK(status_of("doomed", cr) == 201);
  kube.remove(namespaces, "", "doomed");
  try {
    kube.create(resources::chartmuseums, "doomed", chartmuseum("late", "https://example.com/charts"));
    FAIL("expected 403");
  } catch (const KubeApiError& e) {
    CHECK(e.http_status() == 403);
    CHECK(std::string(e.what()).find("because it is being terminated") != std::string::npos);
  }
  // The namespace waits for its last object's finalizer.
  test::eventually("keep marked for deletion", [&] {
    return !str_at(kube.get(resources::chartmuseums, "doomed", "keep"), "metadata.deletionTimestamp").empty();
  });
  CHECK_FALSE(test::gone(kube, namespaces, "", "doomed"));
  auto keep = kube.get(resources::chartmuseums, "doomed", "keep");
  keep["metadata"].RemoveMember("finalizers");
  kube.update(resources::chartmuseums, "doomed", "keep", keep);
  test::eventually("the namespace gone", [&] { return test::gone(kube, namespaces, "", "doomed"); });
}

TEST_CASE("kube client: the garbage collector deletes a dependent whose owner uid no longer exists") {
  FakeApiServer api;
  KubeClient kube(api.config());
  auto owner = kube.create(resources::chartmuseums, "team", chartmuseum("web", "https://example.com/charts"));
  auto cronjob = [&](const std::string& name, const std::string& uid) {
    return json(R"({"metadata":{"name":")" + name + R"(","ownerReferences":[{"apiVersion":"cm.bitnami.com/v1alpha1",
      "kind":"Chartmuseum","name":"web","uid":")" + uid + R"(","controller":true}]},
      "spec":{"schedule":"*/15 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"example.org/c:1"}]}}}}}})");
  };
  kube.create(resources::cronjobs, "team", cronjob("owned", str_at(owner, "metadata.uid")));
  kube.create(resources::cronjobs, "team", cronjob("stale", "uid-of-an-earlier-web"));
  test::eventually("the stale dependent collected", [&] { return test::gone(kube, resources::cronjobs, "team", "stale"); });
  CHECK_FALSE(test::gone(kube, resources::cronjobs, "team", "owned"));
}

TEST_CASE("kube client: a CronJob is stored with the server's defaults and without fields its kind lacks") {
  FakeApiServer api;
  KubeClient kube(api.config());
  auto cj = kube.create(resources::cronjobs, "team", json(R"({"metadata":{"name":"web"},"spec":{
    "schedule":"*/15 * * * *","concurrencyPolicy":"Forbid","scheduel":"typo","jobTemplate":{"spec":{"template":{"spec":{
    "restartPolicy":"Never","containers":[{"name":"c","image":"example.org/c:1","imagePullPolicyy":"Always"}]}}}}}})"));
  CHECK(value_at(cj, "spec.scheduel") == nullptr);
  auto& container = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
  CHECK_FALSE(container.HasMember("imagePullPolicyy"));
  CHECK(str_at(container, "imagePullPolicy") == "IfNotPresent");  // defaulted from the tag
  CHECK(str_at(cj, "spec.jobTemplate.spec.template.spec.dnsPolicy") == "ClusterFirst");
  CHECK(cj["spec"]["successfulJobsHistoryLimit"].GetInt() == 3);
  CHECK(kube.get(resources::cronjobs, "team", "web") == cj);
}
