// OCI in both directions against the real CNCF Distribution registry (Debian's
// docker-registry) on 127.0.0.1: charts pushed as `helm push` lays them out,
// dependencies pulled as `helm dependency update` resolves them, with plain HTTP,
// TLS + htpasswd, and bearer tokens.
#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <fstream>
#include <thread>

#include "cmop/deps/resolver.hpp"
#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/error_of.hpp"
#include "support/git_fixture.hpp"
#include "support/registry_fixture.hpp"
#include "support/sync_report.hpp"

using namespace cmop;
namespace fs = std::filesystem;
using Status = sync::ChartOutcome::Status;
using test::error_of;

namespace {

// A chart packaged by cmop from a folder written here.
package::Package make_chart(const fs::path& root, const std::string& name, const std::string& version,
                            const std::string& extra = "") {
  const fs::path dir = root / (name + "-" + version);
  fs::create_directories(dir / "templates");
  std::ofstream(dir / "Chart.yaml") << "apiVersion: v2\nname: " << name << "\nversion: " << version
                                    << "\ndescription: the " << name << " chart\n";
  std::ofstream(dir / "templates" / "cm.yaml") << "kind: ConfigMap\n" << extra;
  package::PackageInput in{root, dir.filename().string(), {}, {}, {}, {}};
  auto pkg = package::package_chart(in);
  pkg.created = "2024-05-01T12:00:00Z";
  return pkg;
}

oci::ClientOptions plain(const test::Registry& r, int page = 1000) {
  oci::ClientOptions o;
  o.plain_http_hosts = {r.host()};
  o.tag_page_size = page;
  return o;
}

chart::Metadata needing(const std::string& dep, const std::string& constraint, const std::string& repo) {
  chart::Metadata md;
  md.api_version = "v2";
  md.name = "app";
  md.version = "1.0.0";
  chart::Dependency d;
  d.name = dep;
  d.version = constraint;
  d.repository = repo;
  md.dependencies.push_back(d);
  return md;
}

// A chart folder to resolve from (the resolver reads Chart.lock there).
struct ChartDir {
  util::TempDir tmp{"cmop-oci-chart-"};
  fs::path dir = tmp.path() / "app";
  ChartDir() { fs::create_directories(dir); }
};

}  // namespace

TEST_CASE("pushed as helm push lays it out: one repository per chart, version tag, Helm media types and annotations") {
  test::Registry registry;
  util::TempDir tmp;
  auto client = std::make_shared<oci::RegistryClient>(plain(registry));
  auto publisher = publish::make_oci_publisher({registry.oci("team/charts"), {}, client});
  publisher->probe();
  auto pkg = make_chart(tmp.path(), "web", "1.2.3+build.7");
  publisher->publish(pkg, false);

  const oci::Endpoint ep{registry.host(), {}};
  CHECK(client->tags(ep, "team/charts/web") == std::vector<std::string>{"1.2.3_build.7"});
  auto m = client->manifest(ep, "team/charts/web", "1.2.3_build.7");
  REQUIRE(m);
  CHECK(m->config.media_type == oci::kHelmConfigMediaType);
  REQUIRE(m->layers.size() == 1);
  CHECK(m->layers[0].media_type == oci::kHelmChartLayerMediaType);
  CHECK(m->layers[0].digest == "sha256:" + pkg.digest);
  CHECK(m->annotations["org.opencontainers.image.title"] == "web");
  CHECK(m->annotations["org.opencontainers.image.version"] == "1.2.3+build.7");
  CHECK(m->annotations["org.opencontainers.image.description"] == "the web chart");
  CHECK(m->annotations["org.opencontainers.image.created"] == "2024-05-01T12:00:00Z");
  const std::string config = client->blob(ep, "team/charts/web", m->config.digest, 1 << 20);
  CHECK(config.rfind("{\"name\":\"web\",\"version\":\"1.2.3+build.7\",\"description\":\"the web chart\",\"apiVersion\":\"v2\"", 0) == 0);
  CHECK(publisher->fetch("web", "1.2.3+build.7") == pkg.bytes);
  // A name no OCI repository can have fails that chart, not the registry.
  auto upper = make_chart(tmp.path() / "upper", "MyChart", "1.0.0");
  CHECK(error_of([&] { publisher->publish(upper, false); }).code() == Errc::invalid_chart);

  SECTION("the same chart again uploads nothing; other content under the version is a conflict") {
    const auto before = client->requests_sent();
    publisher->publish(pkg, false);
    CHECK(client->requests_sent() - before == 1);  // one HEAD of the tag
    auto other = make_chart(tmp.path() / "other", "web", "1.2.3+build.7", "data: changed\n");
    CHECK(error_of([&] { publisher->publish(other, false); }).code() == Errc::conflict);
    publisher->publish(other, true);
    CHECK(publisher->fetch("web", "1.2.3+build.7") == other.bytes);
  }
  SECTION("removal deletes the manifest by digest, and only when it is still the package published") {
    publisher->remove_exact("web", "1.2.3+build.7", "0000");  // not ours any more: left alone
    CHECK(client->resolve(ep, "team/charts/web", "1.2.3_build.7"));
    publisher->remove_exact("web", "1.2.3+build.7", pkg.digest);
    CHECK_FALSE(client->resolve(ep, "team/charts/web", "1.2.3_build.7"));
    publisher->remove_exact("web", "1.2.3+build.7", pkg.digest);  // idempotent
  }
}

TEST_CASE("a push and a pull of many charts share one connection to the registry (keep-alive)") {
  test::Registry registry;
  util::TempDir tmp;
  // Counts the connections the client opens to the registry.
  const fs::path count_file = tmp.path() / "accepted";
  auto proxy = test::start_python_peer("counting_proxy.py",
                                       {"--target", registry.host(), "--count-file", count_file.string()});
  auto accepted = [&] { return std::stoi(util::read_file(count_file)); };
  // The proxy's readiness probe is the first connection it counts.
  for (int i = 0; i < 500 && !fs::exists(count_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int before = accepted();
  const std::string host = "127.0.0.1:" + std::to_string(proxy.port);
  oci::ClientOptions o;
  o.plain_http_hosts = {host};
  auto client = std::make_shared<oci::RegistryClient>(o);
  auto publisher = publish::make_oci_publisher({"oci://" + host + "/team", {}, client});
  publisher->probe();
  for (int i = 0; i < 5; ++i)
    publisher->publish(make_chart(tmp.path() / std::to_string(i), "c" + std::to_string(i), "1.0.0"), false);
  const oci::Endpoint ep{host, {}};
  for (int i = 0; i < 5; ++i) {
    const std::string repo = "team/c" + std::to_string(i);
    CHECK(client->tags(ep, repo) == std::vector<std::string>{"1.0.0"});
    auto m = client->manifest(ep, repo, "1.0.0");
    REQUIRE(m);
    CHECK(client->blob(ep, repo, m->layers.at(0).digest, 1 << 20).size() > 0);
  }
  CHECK(client->requests_sent() > 30);
  CHECK(client->connections_opened() == 1);
  CHECK(accepted() - before == 1);

  // A sync's end closes the idle connection; the next request opens a new one.
  client->close_idle_connections();
  CHECK(client->tags(ep, "team/c0") == std::vector<std::string>{"1.0.0"});
  CHECK(client->connections_opened() == 2);
  CHECK(accepted() - before == 2);
}

TEST_CASE("oci:// dependencies resolve the highest matching tag, verified and locked") {
  test::Registry registry;
  util::TempDir tmp;
  auto client = std::make_shared<oci::RegistryClient>(plain(registry));
  auto publisher = publish::make_oci_publisher({registry.oci("deps"), {}, client});
  for (auto v : {"1.0.0", "1.0.9", "1.1.0", "1.2.0-rc.1", "1.9.9", "2.0.0", "1.5.0+meta", "0.9.0", "1.0.10"})
    publisher->publish(make_chart(tmp.path() / v, "redis", v), false);

  deps::Resolver resolver(tmp.path() / "cache", {}, {}, client);
  ChartDir chart;
  auto md = needing("redis", "~1.0.0", registry.oci("deps"));
  auto res = resolver.resolve(md, chart.dir, chart.tmp.path(), {});
  REQUIRE(res.archives.size() == 1);
  CHECK(res.archives[0].version == "1.0.10");
  CHECK(res.resolved[0].repository == registry.oci("deps"));
  CHECK_THAT(res.lock_yaml, Catch::Contains("repository: " + registry.oci("deps")) && Catch::Contains("version: 1.0.10"));
  // Not the manifest's created time: the same dependency reached through cmop's own
  // target (`self`), which knows no such time, must give the same Chart.lock bytes.
  CHECK_THAT(res.lock_yaml, Catch::Contains("generated: \"1980-01-01T00:00:00Z\""));

  CHECK(resolver.resolve(needing("redis", "1.5.x", registry.oci("deps")), chart.dir, chart.tmp.path(), {})
            .archives[0].version == "1.5.0+meta");  // tag 1.5.0_meta
  CHECK(resolver.resolve(needing("redis", ">=1.0.0-0 <2.0.0", registry.oci("deps")), chart.dir, chart.tmp.path(), {})
            .archives[0].version == "1.9.9");
  auto none = error_of([&] { resolver.resolve(needing("redis", "^3", registry.oci("deps")), chart.dir, chart.tmp.path(), {}); });
  CHECK(none.code() == Errc::dependency);
  CHECK_THAT(none.reason(), Catch::Contains("no version matches") && Catch::Contains("2.0.0"));
  auto missing = error_of([&] { resolver.resolve(needing("nope", "*", registry.oci("deps")), chart.dir, chart.tmp.path(), {}); });
  CHECK(missing.code() == Errc::dependency);

  SECTION("a second resolution in a new sync asks for tags and the tag's digest, nothing else") {
    const auto before = client->requests_sent();
    deps::Resolver::Session session;
    resolver.resolve(md, chart.dir, chart.tmp.path(), {}, &session);
    // One tag list (Distribution 2.8 sends all tags at once) + one HEAD; manifest
    // and layer come from the cache.
    CHECK(client->requests_sent() - before == 2);
  }
  SECTION("an in-sync Chart.lock skips the tag list") {
    std::ofstream(chart.dir / "Chart.lock") << res.lock_yaml;
    const auto before = client->requests_sent();
    auto again = resolver.resolve(md, chart.dir, chart.tmp.path(), {});
    CHECK(again.archives[0].version == "1.0.10");
    CHECK(client->requests_sent() - before == 1);
  }
}

TEST_CASE("a chart layer whose bytes do not match its digest is refused") {
  test::Registry registry;
  util::TempDir tmp;
  auto client = std::make_shared<oci::RegistryClient>(plain(registry));
  auto pkg = make_chart(tmp.path(), "lib", "1.0.0");
  publish::make_oci_publisher({registry.oci("deps"), {}, client})->publish(pkg, false);
  // Tamper with the stored blob behind the registry's back.
  const fs::path blob = registry.blob_file(pkg.digest);
  const bool tampered = fs::exists(blob);
  if (tampered) std::ofstream(blob, std::ios::binary | std::ios::trunc) << std::string(pkg.bytes.size(), 'x');
  REQUIRE(tampered);
  deps::Resolver resolver(tmp.path() / "cache", {}, {}, client);
  ChartDir chart;
  auto e = error_of([&] { resolver.resolve(needing("lib", "1.x", registry.oci("deps")), chart.dir, chart.tmp.path(), {}); });
  CHECK(e.code() == Errc::dependency);
  CHECK_THAT(e.reason(), Catch::Contains("digest mismatch"));
  CHECK_FALSE(fs::exists(tmp.path() / "cache" / "charts" / (pkg.digest + ".tgz")));
}

TEST_CASE("TLS with the test's own CA and htpasswd: refused without credentials, resolved with them") {
  test::Registry registry({true, "reader", "s3cret pass", false, "", ""});
  util::TempDir tmp;
  oci::ClientOptions o;
  o.tls.ca_file = registry.ca_file().string();
  auto client = std::make_shared<oci::RegistryClient>(o);
  auto publisher = publish::make_oci_publisher({registry.oci("private"), {"reader", "s3cret pass"}, client});
  publisher->probe();
  publisher->publish(make_chart(tmp.path(), "db", "3.1.0"), false);

  deps::Resolver resolver(tmp.path() / "cache", o.tls, {}, client);
  ChartDir chart;
  auto md = needing("db", "3.x", registry.oci("private"));
  auto refused = error_of([&] { resolver.resolve(md, chart.dir, chart.tmp.path(), {}); });
  CHECK(refused.code() == Errc::dependency);
  CHECK_THAT(refused.reason(), Catch::Contains("credentials"));
  CHECK_THAT(refused.reason(), !Catch::Contains("s3cret"));

  std::vector<deps::NamedRepository> repos{{"private", "oci://" + registry.host(), "reader", "s3cret pass", ""}};
  CHECK(resolver.resolve(md, chart.dir, chart.tmp.path(), repos).archives.at(0).version == "3.1.0");

  // Without the CA the registry's certificate is not trusted.
  deps::Resolver untrusting(tmp.path() / "cache2");
  auto untrusted = error_of([&] { untrusting.resolve(md, chart.dir, chart.tmp.path(), repos); });
  CHECK(untrusted.code() == Errc::dependency);
  CHECK_FALSE(publish::make_oci_publisher({registry.oci("private"), {"reader", "wrong"}, client}) == nullptr);
  CHECK(error_of([&] { publish::make_oci_publisher({registry.oci("private"), {"reader", "wrong"}, client})->probe(); })
            .code() == Errc::unauthorized);
}

TEST_CASE("bearer challenges: a token from the realm, cached until it expires, credentials when the realm wants them") {
  test::Registry registry({false, "", "", true, "pusher", "t0ken"});
  util::TempDir tmp;
  // The token server is plain HTTP on another port: declared so, it may have the credentials.
  oci::ClientOptions o = plain(registry);
  o.plain_http_hosts.push_back(registry.token_host());
  auto client = std::make_shared<oci::RegistryClient>(o);
  auto anonymous = publish::make_oci_publisher({registry.oci("apps"), {}, client});
  CHECK(error_of([&] { anonymous->publish(make_chart(tmp.path(), "api", "1.0.0"), false); }).code() ==
        Errc::unauthorized);

  auto publisher = publish::make_oci_publisher({registry.oci("apps"), {"pusher", "t0ken"}, client});
  publisher->publish(make_chart(tmp.path(), "api", "1.0.0"), false);
  publisher->publish(make_chart(tmp.path() / "b", "api", "1.1.0"), false);
  const int tokens = registry.token_requests();
  CHECK(tokens > 0);
  CHECK(tokens <= 3);  // one per scope (push; pull), not one per request

  deps::Resolver resolver(tmp.path() / "cache", {}, {}, client);
  ChartDir chart;
  std::vector<deps::NamedRepository> repos{{"apps", "oci://" + registry.host(), "pusher", "t0ken", ""}};
  auto md = needing("api", "1.x", registry.oci("apps"));
  CHECK(resolver.resolve(md, chart.dir, chart.tmp.path(), repos).archives.at(0).version == "1.1.0");
  const int after_first = registry.token_requests();
  deps::Resolver::Session next_sync;
  resolver.resolve(md, chart.dir, chart.tmp.path(), repos, &next_sync);
  CHECK(registry.token_requests() == after_first);  // the pull token is reused
  // ...but only by the same credentials: another password gets no cached token.
  std::vector<deps::NamedRepository> wrong{{"apps", "oci://" + registry.host(), "pusher", "guess", ""}};
  deps::Resolver::Session third_sync;
  auto refused = error_of([&] { resolver.resolve(md, chart.dir, chart.tmp.path(), wrong, &third_sync); });
  CHECK(refused.code() == Errc::dependency);
  CHECK_THAT(refused.reason(), Catch::Contains("refused"));
}

TEST_CASE("a sync publishing into a registry: re-sync uploads nothing, lost state adopts, registry down fails only its charts, removal deletes") {
  test::Registry deps_registry;
  test::Registry target;
  util::TempDir tmp;
  oci::ClientOptions o = plain(deps_registry);
  o.plain_http_hosts.push_back(target.host());
  auto client = std::make_shared<oci::RegistryClient>(o);
  publish::make_oci_publisher({deps_registry.oci("upstream"), {}, client})
      ->publish(make_chart(tmp.path() / "up", "common", "2.4.0"), false);

  test::GitWorkRepo work(tmp.path() / "work");
  test::write_chart(work, "charts/app", "app", "1.0.0",
                    "dependencies:\n- name: common\n  version: 2.x\n  repository: " + deps_registry.oci("upstream") + "\n");
  test::write_chart(work, "charts/plain", "plain", "0.1.0");
  const std::string commit = work.commit("initial");
  fs::path bare = test::make_bare(work, tmp.path() / "served", "charts.git");
  test::GitDaemon daemon(tmp.path() / "served");

  auto make_ws = [&](const fs::path& state) {
    sync::WorkspaceOptions wo;
    wo.registry = client;
    return std::make_unique<sync::Workspace>(state, publish::make_oci_publisher({target.oci("published"), {}, client}), wo);
  };
  sync::RepoSpec spec;
  spec.name = "charts";
  spec.git = daemon.url("charts.git");
  auto ws = make_ws(tmp.path() / "state");
  auto first = ws->apply(spec);
  INFO(test::describe(first));
  REQUIRE(first.ok());
  const oci::Endpoint ep{target.host(), {}};
  auto app = client->manifest(ep, "published/app", "1.0.0");
  REQUIRE(app);
  // created is the commit's time: the same commit makes the same manifest anywhere.
  CHECK(app->annotations["org.opencontainers.image.created"].size() == 20);
  auto pulled = client->blob(ep, "published/app", app->layers.at(0).digest, 1 << 20);
  bool vendored = false;
  for (auto& e : package::read_tgz(pulled, 5 << 20, 100 << 20)) vendored |= e.name == "app/charts/common/Chart.yaml";
  CHECK(vendored);

  auto before = client->requests_sent();
  auto again = ws->update("charts");
  REQUIRE(again.ok());
  CHECK(again.count(Status::unchanged) == 2);
  // No push: one tag list and one HEAD for the dependency, nothing for the target.
  CHECK(client->requests_sent() - before == 2);

  // A sidecar that lost its state finds its charts in the registry: nothing uploaded.
  auto first_manifest = client->manifest(ep, "published/app", "1.0.0")->body;
  auto fresh = make_ws(tmp.path() / "state2");
  before = client->requests_sent();
  auto adopted = fresh->apply(spec);
  REQUIRE(adopted.ok());
  CHECK(adopted.count(Status::published) == 2);
  // The new state dir has an empty cache: the dependency costs tags, HEAD, manifest
  // and layer; each chart one HEAD of its tag.
  CHECK(client->requests_sent() - before == 4 + 2);
  CHECK(client->manifest(ep, "published/app", "1.0.0")->body == first_manifest);
  fresh.reset();

  deps_registry.stop();
  test::write_chart(work, "charts/app", "app", "1.0.1",
                    "dependencies:\n- name: common\n  version: 2.x\n  repository: " + deps_registry.oci("upstream") + "\n");
  test::write_chart(work, "charts/plain", "plain", "0.1.1");
  work.commit("bump both");
  test::push_to_bare(work, bare);
  auto down = ws->update("charts");
  CHECK(down.error.empty());
  for (auto& c : down.charts) {
    if (c.path == "charts/app") {
      CHECK(c.status == Status::failed);
      CHECK_THAT(c.reason, Catch::Contains(deps_registry.oci("upstream")));
    }
    if (c.path == "charts/plain") CHECK(c.status == Status::published);
  }
  deps_registry.start();

  ws->remove("charts");
  CHECK_FALSE(client->resolve(ep, "published/app", "1.0.0"));
  CHECK_FALSE(client->resolve(ep, "published/plain", "0.1.0"));
  CHECK_FALSE(client->resolve(ep, "published/plain", "0.1.1"));
  (void)commit;
}

TEST_CASE("a registry that refuses deletion is reported and the repo's charts stay on record") {
  test::RegistryOptions no_delete;
  no_delete.allow_delete = false;
  test::Registry target(no_delete);
  util::TempDir tmp;
  auto client = std::make_shared<oci::RegistryClient>(plain(target));
  test::GitWorkRepo work(tmp.path() / "work");
  test::write_chart(work, "charts/app", "app", "1.0.0");
  work.commit("initial");
  test::make_bare(work, tmp.path() / "served", "charts.git");
  test::GitDaemon daemon(tmp.path() / "served");
  sync::WorkspaceOptions wo;
  wo.registry = client;
  sync::Workspace ws(tmp.path() / "state", publish::make_oci_publisher({target.oci("c"), {}, client}), wo);
  sync::RepoSpec spec;
  spec.name = "charts";
  spec.git = daemon.url("charts.git");
  REQUIRE(ws.apply(spec).ok());
  auto e = error_of([&] { ws.remove("charts"); });
  CHECK(e.code() == Errc::forbidden);
  CHECK_THAT(e.reason(), Catch::Contains("does not allow deleting"));
  REQUIRE(ws.get("charts"));
  CHECK(ws.get("charts")->published.size() == 1);
  CHECK(client->resolve({target.host(), {}}, "c/app", "1.0.0"));
}

TEST_CASE("tag lists follow Link pagination on the registry and refuse a next page on another host") {
  // Distribution 2.8 sends every tag at once; registries that page (v3, Harbor,
  // GHCR) are played by a scripted peer answering exactly as they do.
  test::Peer peer = test::start_python_peer("scripted_http_server.py");
  const std::string host = "127.0.0.1:" + std::to_string(peer.port);
  auto script = [&](const std::string& json) {
    net::Request req;
    req.method = "POST";
    req.url = peer.url() + "/__script";
    req.body = json;
    REQUIRE(net::HttpClient().send(req).status == 200);
  };
  script(R"([{"status":200,"body":"{\"name\":\"c/r\",\"tags\":[\"1.0.0\",\"1.1.0\"]}",)"
         R"("headers":{"Content-Type":"application/json","Link":"</v2/c/r/tags/list?last=1.1.0&n=2>; rel=\"next\""}},)"
         R"({"status":200,"body":"{\"name\":\"c/r\",\"tags\":[\"2.0.0_x\"]}","headers":{"Content-Type":"application/json"}}])");
  oci::ClientOptions o;
  o.plain_http_hosts = {host};
  o.tag_page_size = 2;
  oci::RegistryClient client(o);
  CHECK(client.tags({host, {}}, "c/r") == std::vector<std::string>{"1.0.0", "1.1.0", "2.0.0_x"});
  script(R"([{"status":200,"body":"{\"tags\":[\"1.0.0\"]}",)"
         R"("headers":{"Content-Type":"application/json","Link":"<http://elsewhere.example/v2/c/r/tags/list?last=1>; rel=\"next\""}}])");
  auto e = error_of([&] { client.tags({host, {}}, "c/r"); });
  CHECK(e.code() == Errc::upstream);
  CHECK_THAT(e.reason(), Catch::Contains("another host"));
}

TEST_CASE("oci references: what is accepted and what is refused before anything is sent") {
  auto r = oci::Reference::parse("OCI://Registry.Example.com:5000/team/charts/");
  CHECK(r.host == "registry.example.com:5000");
  CHECK(r.path == "team/charts");
  CHECK(r.repository("web") == "team/charts/web");
  CHECK(oci::Reference::parse("oci://ghcr.io").repository("web") == "web");
  for (auto bad : {"https://ghcr.io/x", "oci://user:pw@ghcr.io/x", "oci://ghcr.io/Team", "oci://ghcr.io/x:1.0",
                   "oci://ghcr.io/x?y", "oci:///x", "oci://ghcr.io/a//b"})
    CHECK(error_of([&] { oci::Reference::parse(bad); }).code() == Errc::invalid_argument);
  CHECK(oci::tag_for_version("1.0.0+a.b") == "1.0.0_a.b");
  CHECK(oci::version_for_tag("1.0.0_a.b") == "1.0.0+a.b");
}

TEST_CASE("WWW-Authenticate challenges are parsed as registries send them") {
  auto c = oci::parse_challenge(R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push")");
  REQUIRE(c);
  CHECK(c->scheme == "Bearer");
  CHECK(c->params["realm"] == "https://auth.example.com/token");
  CHECK(c->params["scope"] == "repository:a/b:pull,push");
  auto b = oci::parse_challenge(R"(Basic realm="Registry Realm")");
  REQUIRE(b);
  CHECK(b->scheme == "Basic");
  CHECK(b->params["realm"] == "Registry Realm");
  CHECK_FALSE(oci::parse_challenge(""));
}

namespace {

// What a test peer (scripted_http_server.py, blob_storage_server.py) recorded:
// method, path and headers of each request.
struct Seen {
  std::string method, path;
  std::map<std::string, std::string> headers;
  std::string header(const std::string& name) const {
    for (auto& [k, v] : headers)
      if (Catch::toLower(k) == Catch::toLower(name)) return v;
    return {};
  }
};

std::vector<Seen> requests_seen(const std::string& peer_url) {
  net::Request req;
  req.url = peer_url + "/__requests";
  const std::string body = net::HttpClient().send(req).body;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  std::vector<Seen> out;
  REQUIRE(doc.IsArray());
  for (auto& r : doc.GetArray()) {
    Seen s{r["method"].GetString(), r["path"].GetString(), {}};
    for (auto& h : r["headers"].GetObject()) s.headers[h.name.GetString()] = h.value.GetString();
    out.push_back(std::move(s));
  }
  return out;
}

void script(const test::Peer& peer, const std::string& json) {
  net::Request req;
  req.method = "POST";
  req.url = peer.url() + "/__script";
  req.body = json;
  REQUIRE(net::HttpClient().send(req).status == 200);
}

}  // namespace

// Registries on S3, GCS or behind a CDN (Docker Hub, GHCR, ECR, GAR) answer blob
// GETs and HEADs with a redirect to another host. Distribution's `redirect`
// storage middleware does the same: a 307 to the storage server.
TEST_CASE("blobs a registry redirects to another server: an oci:// dependency and a publish through it, no credentials to the storage") {
  test::RegistryOptions ro;
  ro.token_auth = true;
  ro.token_user = "pusher";
  ro.token_password = "t0ken";
  ro.redirect_blobs = true;
  test::Registry registry(ro);
  util::TempDir tmp;
  oci::ClientOptions o = plain(registry);
  o.plain_http_hosts.push_back(registry.token_host());
  auto publish_client = std::make_shared<oci::RegistryClient>(o);
  // Dependencies come from chart authors: that client has the dependency-host
  // policy (loopback refused unless listed, as --dependency-hosts 127.0.0.1 does).
  oci::ClientOptions deps_options = o;
  deps_options.peers.allowed_hosts = {"127.0.0.1"};
  deps_options.peers.allow_local_addresses = false;
  auto deps_client = std::make_shared<oci::RegistryClient>(deps_options);
  const oci::Credentials creds{"pusher", "t0ken"};

  auto upstream = publish::make_oci_publisher({registry.oci("upstream"), creds, publish_client});
  auto common = make_chart(tmp.path() / "up", "common", "2.4.0");
  upstream->publish(common, false);
  CHECK(upstream->fetch("common", "2.4.0") == common.bytes);
  // Its tag deleted and the chart published again: the blobs are still there (the
  // HEADs are redirected too), only the manifest goes up.
  upstream->remove_exact("common", "2.4.0", common.digest);
  REQUIRE_FALSE(publish_client->resolve({registry.host(), creds}, "upstream/common", "2.4.0"));
  auto before = publish_client->requests_sent();
  const auto connections = publish_client->connections_opened();
  upstream->publish(common, false);
  CHECK(publish_client->requests_sent() - before == 4);  // HEAD tag, HEAD config, HEAD layer, PUT manifest
  // The registry's connection outlives its redirects, the storage's was kept from
  // the fetch: no new connection.
  CHECK(publish_client->connections_opened() - connections == 0);
  // The size bound holds for the redirected download.
  const oci::Endpoint ep{registry.host(), creds};
  auto too_large = error_of([&] { publish_client->blob(ep, "upstream/common", "sha256:" + common.digest, 100); });
  CHECK(too_large.code() == Errc::too_large);

  // A sync: a chart depending on the oci:// chart, published into the same registry.
  test::GitWorkRepo work(tmp.path() / "work");
  test::write_chart(work, "charts/app", "app", "1.0.0",
                    "dependencies:\n- name: common\n  version: 2.x\n  repository: " + registry.oci("upstream") + "\n");
  work.commit("initial");
  test::make_bare(work, tmp.path() / "served", "charts.git");
  test::GitDaemon daemon(tmp.path() / "served");
  sync::WorkspaceOptions wo;
  wo.dependency_peers = deps_options.peers;
  wo.registry = deps_client;
  sync::Workspace ws(tmp.path() / "state", publish::make_oci_publisher({registry.oci("published"), creds, publish_client}), wo);
  sync::RepoSpec spec;
  spec.name = "charts";
  spec.git = daemon.url("charts.git");
  spec.dependencies = {{"up", "oci://" + registry.host(), "pusher", "t0ken", ""}};
  auto report = ws.apply(spec);
  INFO(test::describe(report));
  REQUIRE(report.ok());
  CHECK(report.count(Status::published) == 1);
  auto app = publish_client->manifest(ep, "published/app", "1.0.0");
  REQUIRE(app);
  bool vendored = false;
  for (auto& e : package::read_tgz(publish_client->blob(ep, "published/app", app->layers.at(0).digest, 1 << 20),
                                   5 << 20, 100 << 20))
    vendored |= e.name == "app/charts/common/Chart.yaml";
  CHECK(vendored);

  // Every blob came from the storage server, which never saw the registry's
  // credentials (nor a token).
  int gets = 0, heads = 0;
  for (auto& r : requests_seen(registry.storage_url())) {
    INFO(r.method << " " << r.path);
    CHECK(r.header("Authorization").empty());
    gets += r.method == "GET";
    heads += r.method == "HEAD";
  }
  CHECK(gets >= 3);   // fetch, the dependency, the published app
  CHECK(heads >= 2);  // the re-publish's config and layer
}

TEST_CASE("a blob redirect to a host the connection policy refuses is not followed, and says so") {
  test::RegistryOptions to_loopback;
  to_loopback.redirect_blobs = true;  // to 127.0.0.1:<storage port>
  test::Registry registry(to_loopback);
  test::RegistryOptions to_metadata;
  to_metadata.redirect_blobs = true;
  to_metadata.redirect_baseurl = "http://169.254.169.254/latest/";
  test::Registry metadata(to_metadata);
  util::TempDir tmp;
  for (test::Registry* r : {&registry, &metadata}) {
    // The registry is reached as localhost, the only host the policy lists.
    const std::string host = "localhost" + r->host().substr(r->host().find(':'));
    oci::ClientOptions o;
    o.plain_http_hosts = {host};
    auto publisher = publish::make_oci_publisher({"oci://" + host + "/c", {}, std::make_shared<oci::RegistryClient>(o)});
    auto pkg = make_chart(tmp.path() / host, "web", "1.0.0");
    publisher->publish(pkg, false);

    o.peers.allowed_hosts = {"localhost"};
    o.peers.allow_local_addresses = false;
    oci::RegistryClient client(o);
    const oci::Endpoint ep{host, {}};
    REQUIRE(client.manifest(ep, "c/web", "1.0.0"));
    const std::string digest = "sha256:" + pkg.digest;
    const std::string target = r == &registry ? r->storage_url() : "http://169.254.169.254";
    for (auto& e : {error_of([&] { client.blob(ep, "c/web", digest, 1 << 20); }),
                    error_of([&] { client.has_blob(ep, "c/web", digest); })}) {
      INFO(e.what());
      CHECK(e.code() == Errc::forbidden);
      CHECK(e.subject() == "oci://" + host + "/c/web@" + digest);
      CHECK_THAT(e.reason(), Catch::StartsWith("following the registry's redirect to " + target + "/") &&
                                 Catch::Contains("not in the allowed list"));
    }
  }
  CHECK(requests_seen(registry.storage_url()).empty());
}

TEST_CASE("blob redirects: bounded hops, the request's deadline over all of them, no challenge run for the storage host") {
  test::Peer registry = test::start_python_peer("scripted_http_server.py");
  test::Peer storage = test::start_python_peer("scripted_http_server.py");
  const std::string host = "127.0.0.1:" + std::to_string(registry.port);
  const std::string digest = "sha256:" + std::string(64, 'a');
  oci::ClientOptions o;
  o.plain_http_hosts = {host};
  o.timeout = std::chrono::milliseconds(1500);
  oci::RegistryClient client(o);
  const oci::Endpoint ep{host, {"user", "secret"}};

  // A redirect loop.
  script(registry, R"([{"status":307,"headers":{"Location":"/v2/c/r/blobs/)" + digest + R"("}}])");
  auto loop = error_of([&] { client.blob(ep, "c/r", digest, 1 << 20); });
  CHECK(loop.code() == Errc::network);
  CHECK_THAT(loop.reason(), Catch::Contains("too many redirects (more than 5)"));

  // The storage host drips: the download ends at the request's deadline.
  script(registry, R"([{"status":307,"headers":{"Location":")" + storage.url() + R"(/blob?X-Amz-Signature=s1gn"}}])");
  script(storage, R"([{"status":200,"body":"late","delay_ms":4000}])");
  const auto started = std::chrono::steady_clock::now();
  auto slow = error_of([&] { client.blob(ep, "c/r", digest, 1 << 20); });
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(3500));
  CHECK(slow.code() == Errc::network);
  CHECK(slow.subject() == "oci://" + host + "/c/r@" + digest);
  CHECK_THAT(slow.reason(), Catch::Contains("timed out") && Catch::Contains(storage.url() + "/blob") &&
                                !Catch::Contains("s1gn"));

  // A 401 with a Bearer challenge from the storage host draws neither the
  // registry's credentials nor a token request.
  script(storage, R"([{"status":401,"headers":{"WWW-Authenticate":"Bearer realm=\")" + storage.url() +
                      R"(/token\",service=\"s3\""}}])");
  auto refused = error_of([&] { client.blob(ep, "c/r", digest, 1 << 20); });
  CHECK(refused.code() == Errc::upstream);
  CHECK_THAT(refused.reason(), Catch::Contains("HTTP 401 from " + storage.url() + "/blob (where the registry redirected)"));
  auto at_storage = requests_seen(storage.url());
  REQUIRE(at_storage.size() == 2);  // the slow one, then this one: no /token
  for (auto& r : at_storage) CHECK(r.header("Authorization").empty());
  for (auto& r : requests_seen(registry.url())) CHECK(r.header("Authorization").empty());  // it never asked
}

TEST_CASE("a token realm: credentials only over TLS or to the registry's own host and port, the scope the request needs, a bounded expiry") {
  test::Peer registry = test::start_python_peer("scripted_http_server.py");
  test::Peer realm = test::start_python_peer("scripted_http_server.py");
  const std::string host = "127.0.0.1:" + std::to_string(registry.port);
  const std::string realm_host = "127.0.0.1:" + std::to_string(realm.port);
  const oci::Endpoint ep{host, {"user", "secret"}};
  auto challenge = [](const std::string& realm_url) {
    return R"({"status":401,"headers":{"WWW-Authenticate":"Bearer realm=\")" + realm_url +
           R"(/token\",service=\"reg\",scope=\"repository:c/r:push,delete\""}})";
  };
  const std::string token = R"({"status":200,"body":"{\"token\":\"tk\",\"expires_in\":9223372036854775807}"})";
  const std::string tags = R"({"status":200,"body":"{\"tags\":[\"1.0.0\"]}"})";

  SECTION("a plain-http realm on another port does not get the registry's credentials") {
    oci::ClientOptions o;
    o.plain_http_hosts = {host};
    oci::RegistryClient client(o);
    script(registry, "[" + challenge(realm.url()) + "]");
    script(realm, "[" + token + "]");
    auto e = error_of([&] { client.tags(ep, "c/r"); });
    CHECK(e.code() == Errc::unauthorized);
    CHECK_THAT(e.reason(), Catch::Contains("plain HTTP on another host or port (" + realm_host + ")") &&
                               Catch::Contains("not sent"));
    CHECK(requests_seen(realm.url()).empty());
    // Declared plain HTTP by the operator, it may have them.
    o.plain_http_hosts.push_back(realm_host);
    oci::RegistryClient declared(o);
    script(registry, "[" + challenge(realm.url()) + "," + tags + "]");
    CHECK(declared.tags(ep, "c/r") == std::vector<std::string>{"1.0.0"});
    auto asked = requests_seen(realm.url());
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].header("Authorization") == "Basic dXNlcjpzZWNyZXQ=");
  }
  SECTION("the realm on the registry itself: only the pull scope for a read, and the token kept (expires_in clamped)") {
    oci::ClientOptions o;
    o.plain_http_hosts = {host};
    oci::RegistryClient client(o);
    script(registry, "[" + challenge(registry.url()) + "," + token + "," + tags + "]");
    CHECK(client.tags(ep, "c/r") == std::vector<std::string>{"1.0.0"});
    CHECK(client.tags(ep, "c/r") == std::vector<std::string>{"1.0.0"});
    auto seen = requests_seen(registry.url());
    REQUIRE(seen.size() == 4);
    CHECK(seen[1].path == "/token?service=reg&scope=repository%3Ac%2Fr%3Apull");
    CHECK(seen[1].header("Authorization") == "Basic dXNlcjpzZWNyZXQ=");
    CHECK(seen[2].header("Authorization") == "Bearer tk");
    CHECK(seen[3].header("Authorization") == "Bearer tk");  // not expired by an overflow
  }
}
