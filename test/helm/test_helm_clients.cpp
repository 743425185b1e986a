// End to end with the real Helm clients users run, Helm 3 and Helm 4, each in its
// own HOME: a real `cmop serve` binary syncs a real git repo (served by `git daemon`
// on 127.0.0.1) and publishes to its embedded chart repo at /charts or to a real
// OCI registry (Debian's docker-registry, plain HTTP); Helm then does what a user
// does with it: repo add/update, search, pull, show, dependency build, template,
// install --dry-run=client, and oci:// pull, show and push.
#include <rapidjson/document.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cmop/deps/repo_index.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "helm/helm_user.hpp"
#include "hostile/hostile_fixtures.hpp"
#include "support/registry_fixture.hpp"

using namespace cmop;
namespace fs = std::filesystem;
using test::HelmUser;

namespace {

constexpr const char* kRepo = "mycharts";

// What a sync report says of one chart.
struct Published {
  std::string version, digest;
};

// A git repo of charts served by `git daemon`, and a real `cmop serve` syncing it
// as the repo `mycharts`.
struct ServedCharts : test::ServedRepo {
  test::ServeChild serve;

  ServedCharts() : ServedRepo(kRepo, "cmop-helm-") {}

  // Starts `cmop serve` (after the first commit_and_serve()) and waits until ready.
  void start(const std::vector<std::string>& flags = {}) {
    serve.start(state, flags);
    for (int i = 0; i < 3000 && serve.call("GET", "/readyz").status != 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    INFO("log:\n" << test::slurp(serve.log));
    REQUIRE(serve.call("GET", "/readyz").status == 200);
  }
  // POST /repo/new for this repo; `extra` is more JSON members (`"versioning":"revision"`).
  // Returns the sync report.
  std::string add(const std::string& extra = "") { return add_repo_named(kRepo, url(), extra); }
  // The same for another repo (see add_repo()).
  std::string add_repo_named(const std::string& name, const std::string& git, const std::string& extra = "") {
    std::string body = "{\"name\":\"" + name + "\",\"git\":\"" + git + "\"";
    if (!extra.empty()) body += "," + extra;
    return report_of(serve.call("POST", "/repo/new", body + "}"));
  }
  // Commits what was written, pushes it, and has cmop sync it (GET /repo/{name}/update).
  std::string push_and_sync(const std::string& message) {
    commit_and_serve(message);
    return report_of(serve.call("GET", "/repo/" + std::string(kRepo) + "/update"));
  }
  // The set-up the tests start from: charts/<name> in each version committed, served
  // and synced by a new `cmop serve` (`extra` as in add()); the sync report.
  std::string serve_charts(const std::vector<std::pair<std::string, std::string>>& charts,
                           const std::string& extra = "") {
    for (auto& [name, version] : charts) test::write_chart(work, "charts/" + name, name, version);
    commit_and_serve("initial");
    start();
    return add(extra);
  }
  std::string serve_alpha_and_beta() { return serve_charts({{"alpha", "1.0.0"}, {"beta", "0.2.0"}}); }
  std::string charts_url() const { return serve.base() + "/charts"; }
  deps::RepoIndex served_index() const {
    auto res = serve.call("GET", "/charts/index.yaml");
    REQUIRE(res.status == 200);
    return deps::RepoIndex::parse(res.body, "/charts/index.yaml");
  }

 private:
  static std::string report_of(const net::Response& res) {
    INFO("sync report: " << res.body);
    REQUIRE(res.status == 200);
    return res.body;
  }
};

// The chart `name` of a sync report, which must have been published.
Published published(const std::string& report_json, const std::string& name) {
  INFO("sync report: " << report_json);
  const auto report = test::parse_json(report_json);
  REQUIRE((report.HasMember("charts") && report["charts"].IsArray()));
  for (auto& c : report["charts"].GetArray()) {
    if (test::json_str(c, "name") != name) continue;
    REQUIRE(test::json_str(c, "status") == "published");
    return {test::json_str(c, "version"), test::json_str(c, "digest")};
  }
  FAIL("no chart " << name << " in the sync report");
  return {};
}

// The index.yaml `digest` of name-version.
std::string index_digest(const deps::RepoIndex& index, const std::string& name, const std::string& version) {
  auto it = index.entries.find(name);
  REQUIRE(it != index.entries.end());
  for (auto& e : it->second)
    if (e.metadata.version == version) return e.digest;
  FAIL("index.yaml has no " << name << " " << version);
  return {};
}

std::string file_sha256(const fs::path& file) { return util::sha256_hex(util::read_file(file)); }

// What the registry at `host` holds for repository:tag (plain HTTP, anonymous).
oci::Manifest manifest_of(const std::string& host, const std::string& repository, const std::string& tag) {
  oci::ClientOptions o;
  o.plain_http_hosts = {host};
  oci::RegistryClient client(o);
  auto manifest = client.manifest({host, {}}, repository, tag);
  INFO(repository << ":" << tag << " on " << host);
  REQUIRE(manifest);
  REQUIRE(manifest->layers.size() == 1);
  return *manifest;
}

// The chart cmop pushed as charts/<chart>:<version>, pulled and pushed again with
// `helm push` to the namespace `<client>`: both manifests, cmop's first.
std::pair<oci::Manifest, oci::Manifest> pushed_by_cmop_and_by_helm(const HelmUser& helm, const std::string& host,
                                                                   const std::string& chart,
                                                                   const std::string& version) {
  const auto package = helm.pull({"oci://" + host + "/charts/" + chart, "--version", version, "--plain-http"});
  helm.ok({"push", package.string(), "oci://" + host + "/" + helm.name(), "--plain-http"});
  const auto tag = oci::tag_for_version(version);
  return {manifest_of(host, "charts/" + chart, tag), manifest_of(host, helm.name() + "/" + chart, tag)};
}

// Annotations but the creation time (`helm push` stamps the wall clock there, cmop
// the commit's time) and where the chart came from (cmop adds the commit as
// `revision` and, for a chart naming no sources, the git URL as `source`:
// docs/oci.md), one "key=value" line each, newlines and tabs escaped.
std::string without_created(const std::map<std::string, std::string>& annotations) {
  std::string out;
  for (auto& [key, value] : annotations) {
    if (key == "org.opencontainers.image.created" || key == "org.opencontainers.image.revision" ||
        key == "org.opencontainers.image.source")
      continue;
    out += key + "=";
    for (char c : value) out += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
    out += "\n";
  }
  return out;
}

// Unpacks a chart package into a fresh folder of the user's; returns that folder.
fs::path unpack(const HelmUser& helm, const fs::path& package) {
  auto dir = helm.fresh_dir("unpacked");
  test::run_ok({"tar", "-xzf", package.string(), "-C", dir.string()});
  return dir;
}

// Every file below `dir`: relative path -> content.
std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> files;
  if (!fs::is_directory(dir)) return files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = util::read_file(e.path());
  return files;
}

// A chart folder written outside git (a user's own chart).
void write_local_chart(const fs::path& dir, const std::string& name, const std::string& version,
                       const std::string& dependencies = "") {
  fs::create_directories(dir / "templates");
  util::write_file_atomic(dir / "Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version +
                                                  "\ndescription: a chart of the user's\n" + dependencies);
  util::write_file_atomic(dir / "values.yaml", "replicaCount: 1\n");
  util::write_file_atomic(dir / "templates" / "configmap.yaml",
                          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\n");
}

// The versions sorted, as one string (a set that prints when a check fails).
std::string sorted_join(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string s;
  for (auto& x : v) s += x + " ";
  return s;
}

}  // namespace

TEST_CASE("Helm adds cmop serve's chart repo, searches every version, pulls the indexed digest, shows the chart "
          "and picks up a version bump after repo update",
          "[helm][e2e]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  ServedCharts repo;
  const auto first = repo.serve_alpha_and_beta();
  CHECK(published(first, "alpha").version == "1.0.0");
  CHECK(published(first, "beta").version == "0.2.0");

  helm.ok({"repo", "add", "cmop", repo.charts_url()});
  helm.ok({"repo", "update"});
  CHECK(helm.search_versions("cmop/alpha", {"-l"}) == std::vector<std::string>{"1.0.0"});
  CHECK(helm.search_versions("cmop/beta", {"-l"}) == std::vector<std::string>{"0.2.0"});

  // The pulled package is the one index.yaml names: its sha256 is the entry's digest.
  auto index = repo.served_index();
  const auto alpha = helm.pull({"cmop/alpha", "--version", "1.0.0"});
  CHECK(alpha.filename() == "alpha-1.0.0.tgz");
  CHECK(file_sha256(alpha) == index_digest(index, "alpha", "1.0.0"));
  CHECK(file_sha256(alpha) == published(first, "alpha").digest);

  const std::string shown = helm.ok({"show", "chart", "cmop/beta", "--version", "0.2.0"});
  CHECK_THAT(shown, Catch::Contains("name: beta") && Catch::Contains("version: 0.2.0") &&
                        Catch::Contains("description: test chart beta") && Catch::Contains("apiVersion: v2"));

  // A version bump pushed to git and synced: Helm sees it after `helm repo update`.
  test::write_chart(repo.work, "charts/alpha", "alpha", "1.1.0");
  repo.work.write("charts/alpha/values.yaml", "replicaCount: 2\n");
  const auto bump = repo.push_and_sync("alpha 1.1.0");
  CHECK(published(bump, "alpha").version == "1.1.0");
  CHECK(helm.search_versions("cmop/alpha") == std::vector<std::string>{"1.0.0"});  // Helm's cached index
  helm.ok({"repo", "update"});
  CHECK(helm.search_versions("cmop/alpha") == std::vector<std::string>{"1.1.0"});
  CHECK(helm.search_versions("cmop/alpha", {"-l"}) == std::vector<std::string>{"1.1.0", "1.0.0"});
  CHECK(helm.search_versions("cmop/beta", {"-l"}) == std::vector<std::string>{"0.2.0"});

  index = repo.served_index();
  const auto newest = helm.pull({"cmop/alpha"});
  CHECK(newest.filename() == "alpha-1.1.0.tgz");
  CHECK(file_sha256(newest) == index_digest(index, "alpha", "1.1.0"));
  CHECK(file_sha256(newest) == published(bump, "alpha").digest);
  // The earlier version stays installable, byte for byte.
  CHECK(file_sha256(helm.pull({"cmop/alpha", "--version", "1.0.0"})) == published(first, "alpha").digest);
  CHECK_THAT(helm.ok({"show", "values", "cmop/alpha"}), Catch::Contains("replicaCount: 2"));
  // Pulled by the repository's URL, without `helm repo add`.
  CHECK(file_sha256(helm.pull({"beta", "--repo", repo.charts_url(), "--version", "0.2.0"})) ==
        index_digest(index, "beta", "0.2.0"));

  // A chart folder removed from git takes its versions with it.
  repo.work.remove("charts/beta");
  repo.push_and_sync("beta removed");
  helm.ok({"repo", "update"});
  CHECK(helm.search_versions("cmop/beta", {"-l"}).empty());
  CHECK(helm.search_versions("cmop/alpha", {"-l"}) == std::vector<std::string>{"1.1.0", "1.0.0"});
  std::string out;
  CHECK(helm.run({"pull", "cmop/beta", "--destination", helm.fresh_dir("gone").string()}, &out) != 0);
  CHECK(repo.serve.call("GET", "/charts/beta-0.2.0.tgz").status == 404);
}

TEST_CASE("With versioning: overwrite, Helm pulls the replaced package after repo update", "[helm][e2e]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  ServedCharts repo;
  const auto before =
      published(repo.serve_charts({{"alpha", "1.0.0"}}, "\"versioning\":\"overwrite\""), "alpha");
  helm.ok({"repo", "add", "cmop", repo.charts_url()});
  CHECK(file_sha256(helm.pull({"cmop/alpha", "--version", "1.0.0"})) == before.digest);

  repo.work.write("charts/alpha/values.yaml", "replicaCount: 5\n");
  const auto after = published(repo.push_and_sync("same version, other content"), "alpha");
  REQUIRE(after.version == "1.0.0");
  REQUIRE(after.digest != before.digest);
  helm.ok({"repo", "update"});
  CHECK(helm.search_versions("cmop/alpha", {"-l"}) == std::vector<std::string>{"1.0.0"});
  const auto pulled = helm.pull({"cmop/alpha", "--version", "1.0.0"});
  CHECK(file_sha256(pulled) == after.digest);
  CHECK(file_sha256(pulled) == index_digest(repo.served_index(), "alpha", "1.0.0"));
  CHECK_THAT(helm.ok({"show", "values", "cmop/alpha", "--version", "1.0.0"}), Catch::Contains("replicaCount: 5"));
}

TEST_CASE("Helm builds a chart's dependencies from cmop serve by URL and by @alias, templates and dry-run installs",
          "[helm][e2e]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  ServedCharts repo;
  const auto report = repo.serve_alpha_and_beta();
  const auto index = repo.served_index();
  helm.ok({"repo", "add", "cmop", repo.charts_url()});

  // The user's umbrella chart: alpha by the repository's URL, beta by the name it was
  // added under (`@cmop`), and alpha once more by `alias:cmop`, under another alias.
  const auto app = helm.fresh_dir("app") / "app";
  write_local_chart(app, "app", "0.1.0",
                    "dependencies:\n"
                    "- name: alpha\n  version: ^1.0.0\n  repository: " + repo.charts_url() + "\n"
                    "- name: beta\n  version: 0.2.x\n  repository: \"@cmop\"\n"
                    "- name: alpha\n  alias: again\n  version: 1.0.0\n  repository: \"alias:cmop\"\n");
  helm.ok({"dependency", "build", app.string()});
  CHECK(file_sha256(app / "charts" / "alpha-1.0.0.tgz") == index_digest(index, "alpha", "1.0.0"));
  CHECK(file_sha256(app / "charts" / "beta-0.2.0.tgz") == index_digest(index, "beta", "0.2.0"));
  CHECK(file_sha256(app / "charts" / "beta-0.2.0.tgz") == published(report, "beta").digest);
  const std::string lock = util::read_file(app / "Chart.lock");
  CHECK_THAT(lock, Catch::Contains("repository: " + repo.charts_url()) && Catch::Contains("version: 1.0.0") &&
                       Catch::Contains("version: 0.2.0"));
  CHECK_THAT(helm.ok({"dependency", "list", app.string()}), !Catch::Contains("missing") && Catch::Contains("ok"));

  const std::string umbrella = helm.ok({"template", "rel", app.string()});
  CHECK_THAT(umbrella, Catch::Contains("name: rel-app") && Catch::Contains("name: rel-alpha") &&
                           Catch::Contains("name: rel-beta") &&
                           Catch::Contains("# Source: app/charts/again/templates/configmap.yaml"));
  const std::string served = helm.ok({"template", "rel", "cmop/alpha", "--version", "1.0.0"});
  CHECK_THAT(served, Catch::Contains("# Source: alpha/templates/configmap.yaml") && Catch::Contains("name: rel-alpha"));

  // install --dry-run=client: Helm 4 renders without a cluster. Helm 3 (3.17) checks
  // the cluster even then, after it has downloaded, loaded and checked the chart and
  // its dependencies, so with no cluster that check is the one thing that fails.
  for (const std::string& chart : {std::string("cmop/alpha"), app.string()}) {
    std::string out;
    const int rc = helm.run({"install", "rel", chart, "--dry-run=client"}, &out);
    INFO("helm install rel " << chart << " --dry-run=client exited " << rc << ":\n" << out);
    if (helm.is_helm3()) {
      CHECK(rc != 0);
      CHECK_THAT(out, Catch::Contains("Kubernetes cluster unreachable"));
    } else {
      CHECK(rc == 0);
      CHECK_THAT(out, Catch::Contains("name: rel-alpha"));
      if (chart == app.string()) CHECK_THAT(out, Catch::Contains("name: rel-beta") && Catch::Contains("name: rel-app"));
    }
  }
}

TEST_CASE("Helm pulls and shows charts cmop serve pushed to an OCI registry, and a chart pushed with helm push "
          "is vendored as an oci:// dependency",
          "[helm][e2e][oci]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  test::Registry registry;
  const std::string host = registry.host();

  // A library chart the user packages and pushes with Helm itself.
  const auto gamma_src = helm.fresh_dir("gamma") / "gamma";
  write_local_chart(gamma_src, "gamma", "0.3.0");
  const auto packaged = helm.fresh_dir("packaged");
  helm.ok({"package", gamma_src.string(), "--destination", packaged.string()});
  const auto gamma_tgz = packaged / "gamma-0.3.0.tgz";
  REQUIRE(fs::exists(gamma_tgz));
  helm.ok({"push", gamma_tgz.string(), "oci://" + host + "/deps", "--plain-http"});

  ServedCharts repo;
  test::write_chart(repo.work, "charts/alpha", "alpha", "1.0.0");
  test::write_chart(repo.work, "charts/delta", "delta", "0.4.0",
                    "dependencies:\n- name: gamma\n  version: 0.3.x\n  repository: oci://" + host + "/deps\n");
  repo.commit_and_serve("initial");
  repo.start({"--oci-registry", registry.oci("charts"), "--plain-http-registries", host, "--dependency-hosts",
              "127.0.0.1"});
  const auto report = repo.add();
  const auto alpha = published(report, "alpha");
  const auto delta = published(report, "delta");

  // What cmop pushed: the manifest's one layer.
  const auto manifest = manifest_of(host, "charts/alpha", "1.0.0");
  const auto pulled = helm.pull({"oci://" + host + "/charts/alpha", "--version", "1.0.0", "--plain-http"});
  CHECK(pulled.filename() == "alpha-1.0.0.tgz");
  CHECK("sha256:" + file_sha256(pulled) == manifest.layers[0].digest);
  CHECK(file_sha256(pulled) == alpha.digest);
  // `helm push` of that package writes the same config blob and annotations.
  const auto [by_cmop, by_helm] = pushed_by_cmop_and_by_helm(helm, host, "alpha", "1.0.0");
  CHECK(by_helm.layers[0].digest == by_cmop.layers[0].digest);
  CHECK(by_helm.config.digest == by_cmop.config.digest);
  CHECK(without_created(by_helm.annotations) == without_created(by_cmop.annotations));
  CHECK(by_cmop.annotations.count("org.opencontainers.image.revision") == 1);
  CHECK(by_helm.annotations.count("org.opencontainers.image.revision") == 0);

  const std::string shown = helm.ok({"show", "chart", "oci://" + host + "/charts/alpha", "--plain-http"});
  CHECK_THAT(shown, Catch::Contains("name: alpha") && Catch::Contains("version: 1.0.0") &&
                        Catch::Contains("description: test chart alpha"));

  // A repo under versioning: revision: Helm finds a revision by the version cmop
  // reports (today with build metadata, which the tag spells with '_' for '+').
  const auto epsilon =
      published(repo.add_repo_named("revs", repo.add_repo("revs", "epsilon", "2.0.0"), "\"versioning\":\"revision\""),
                "epsilon");
  const auto revision = helm.pull({"oci://" + host + "/charts/epsilon", "--version", epsilon.version, "--plain-http"});
  CHECK(file_sha256(revision) == epsilon.digest);
  CHECK_THAT(
      helm.ok({"show", "chart", "oci://" + host + "/charts/epsilon", "--version", epsilon.version, "--plain-http"}),
      Catch::Contains("version: " + epsilon.version));

  // delta's package holds the chart Helm pushed, byte for byte, locked to the oci:// URL.
  const auto delta_tgz = helm.pull({"oci://" + host + "/charts/delta", "--version", "0.4.0", "--plain-http"});
  CHECK(file_sha256(delta_tgz) == delta.digest);
  const auto unpacked = unpack(helm, delta_tgz);
  // (helm package writes a dependency as the files of charts/<name>/, not as its archive)
  const auto vendored = files_of(unpacked / "delta" / "charts" / "gamma");
  CHECK(vendored.count("Chart.yaml") == 1);
  CHECK(vendored == files_of(unpack(helm, gamma_tgz) / "gamma"));
  CHECK_THAT(util::read_file(unpacked / "delta" / "Chart.lock"),
             Catch::Contains("repository: oci://" + host + "/deps") && Catch::Contains("version: 0.3.0"));
  CHECK_THAT(helm.ok({"dependency", "list", (unpacked / "delta").string()}), !Catch::Contains("missing"));
  CHECK_THAT(helm.ok({"template", "rel", delta_tgz.string()}),
             Catch::Contains("name: rel-delta") && Catch::Contains("name: rel-gamma"));
  // Helm takes the package's Chart.lock as in sync with its Chart.yaml and rebuilds
  // charts/ from it: the very archive Helm pushed.
  fs::remove_all(unpacked / "delta" / "charts");
  helm.ok({"dependency", "build", (unpacked / "delta").string(), "--plain-http"});
  CHECK(file_sha256(unpacked / "delta" / "charts" / "gamma-0.3.0.tgz") == file_sha256(gamma_tgz));
}

TEST_CASE("An umbrella chart naming its sibling by the served repo's URL is published with it, and Helm accepts its "
          "Chart.lock",
          "[helm][e2e]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  ServedCharts repo;
  const std::string url = repo.charts_url();  // the port is chosen before `cmop serve` starts
  test::write_chart(repo.work, "charts/api", "api", "1.2.0");
  test::write_chart(repo.work, "charts/platform", "platform", "0.1.0",
                    "dependencies:\n- name: api\n  version: 1.x\n  repository: " + url + "\n");
  repo.commit_and_serve("initial");
  repo.start();
  // The documented monorepo set-up: the served URL is mirrored by `self`.
  const auto report = repo.add(R"("dependencies":[{"name":"ours","url":"self","mirrorOf":")" + url + R"("}])");
  const auto api = published(report, "api");
  const auto platform = published(report, "platform");

  helm.ok({"repo", "add", "cmop", url});
  const auto package = helm.pull({"cmop/platform"});
  CHECK(file_sha256(package) == platform.digest);
  const auto unpacked = unpack(helm, package) / "platform";
  CHECK(files_of(unpacked / "charts" / "api") == files_of(unpack(helm, helm.pull({"cmop/api"})) / "api"));
  CHECK_THAT(util::read_file(unpacked / "Chart.lock"),
             Catch::Contains("repository: " + url) && Catch::Contains("version: 1.2.0"));
  CHECK_THAT(helm.ok({"template", "rel", package.string()}),
             Catch::Contains("name: rel-platform") && Catch::Contains("name: rel-api"));
  fs::remove_all(unpacked / "charts");
  helm.ok({"dependency", "build", unpacked.string()});
  CHECK(file_sha256(unpacked / "charts" / "api-1.2.0.tgz") == api.digest);
}

// Helm turns newlines and tabs of a description into spaces when it loads a chart;
// the OCI config and annotations carry that sanitized text, as the package's
// Chart.yaml does.
TEST_CASE("An OCI chart with a multi-line description has the config and annotations helm push gives it",
          "[helm][e2e][oci]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  test::Registry registry;
  ServedCharts repo;
  test::write_chart(repo.work, "charts/multi", "multi", "0.1.0");
  repo.work.write("charts/multi/Chart.yaml",
                  "apiVersion: v2\nname: multi\nversion: 0.1.0\ndescription: |\n  first line\n  second\tline\n");
  repo.commit_and_serve("initial");
  repo.start({"--oci-registry", registry.oci("charts"), "--plain-http-registries", registry.host()});
  published(repo.add(), "multi");
  const auto [by_cmop, by_helm] = pushed_by_cmop_and_by_helm(helm, registry.host(), "multi", "0.1.0");
  CHECK(by_helm.layers[0].digest == by_cmop.layers[0].digest);
  CHECK(by_helm.config.digest == by_cmop.config.digest);
  CHECK(without_created(by_helm.annotations) == without_created(by_cmop.annotations));
}

// Revisions of one version (1.0.0+<a>, 1.0.0+<b>) have equal SemVer precedence; the
// served index lists them newest first, an order Helm keeps, so whatever resolves a
// chart through the index gets the newest.
TEST_CASE("With versioning: revision, Helm's pull and show without --version get the newest revision",
          "[helm][e2e][revision]") {
  const HelmUser helm(GENERATE(from_range(test::helm_clients())));
  INFO("client: " << helm.name());
  ServedCharts repo;
  std::vector<Published> revisions{
      published(repo.serve_charts({{"alpha", "1.0.0"}}, "\"versioning\":\"revision\""), "alpha")};
  for (const char* replicas : {"2", "3"}) {
    repo.work.write("charts/alpha/values.yaml", std::string("replicaCount: ") + replicas + "\n");
    revisions.push_back(published(repo.push_and_sync(std::string("replicaCount ") + replicas), "alpha"));
  }
  std::vector<std::string> versions;
  for (auto& r : revisions) versions.push_back(r.version);
  INFO("revisions published, oldest first: " << versions[0] << " " << versions[1] << " " << versions[2]);
  REQUIRE(std::set<std::string>(versions.begin(), versions.end()).size() == 3);
  const Published& newest = revisions.back();

  helm.ok({"repo", "add", "cmop", repo.charts_url()});
  CHECK(sorted_join(helm.search_versions("cmop/alpha", {"-l", "--devel"})) == sorted_join(versions));
  // (Not `helm search repo` without -l: Helm gathers versions through a Go map, so
  // among equal-precedence revisions its pick is random from run to run.)
  const auto pulled = helm.pull({"cmop/alpha"});
  CHECK(pulled.filename() == "alpha-" + newest.version + ".tgz");
  CHECK(file_sha256(pulled) == newest.digest);
  CHECK_THAT(helm.ok({"show", "values", "cmop/alpha"}), Catch::Contains("replicaCount: 3"));
  // Every earlier revision stays installable by its version.
  CHECK(file_sha256(helm.pull({"cmop/alpha", "--version", revisions.front().version})) == revisions.front().digest);
}
