// `cmop publish --once` as a CI job runs it: each run in a fresh working directory
// with no state kept between runs, a repo from `git daemon` published into Debian's
// docker-registry (uploads counted in the registry's own access log) and into a
// folder served by a static HTTP server, consumed by real Helm 3 and 4.
#include "cmop/util/hash.hpp"
#include "helm/helm_user.hpp"
#include "publish/publish_fixtures.hpp"
#include "oneshot_fixtures.hpp"
#include "support/gpg_key.hpp"
#include "support/registry_fixture.hpp"

using namespace cmop;
using namespace cmop::test;
namespace fs = std::filesystem;

namespace {

// Requests that upload something: blob uploads (POST, PATCH, PUT) and manifest PUTs.
std::size_t uploads(const std::vector<std::string>& requests, std::size_t from = 0) {
  std::size_t n = 0;
  for (std::size_t i = from; i < requests.size(); ++i)
    if (requests[i].rfind("PUT ", 0) == 0 || requests[i].rfind("POST ", 0) == 0 ||
        requests[i].rfind("PATCH ", 0) == 0)
      ++n;
  return n;
}

// The status word of each line of a text output ("published web 1.0.0 ..." -> web: published).
std::map<std::string, std::string> statuses_of(const std::string& out) {
  std::map<std::string, std::string> statuses;
  for (const auto& line : lines_of(out)) {
    std::istringstream in(line);
    std::string status, name;
    in >> status >> name;
    statuses[name] = status;
  }
  return statuses;
}

const std::map<std::string, std::string> kAllPublished{{"lib", "published"}, {"solo", "published"}, {"web", "published"}};
const std::map<std::string, std::string> kAllUnchanged{{"lib", "unchanged"}, {"solo", "unchanged"}, {"web", "unchanged"}};

// The first job: every chart published. Their digests by name.
std::map<std::string, std::string> first_job(ChartsRepo& repo, const std::vector<std::string>& args) {
  auto first = run_cmop(repo.fresh_dir("job"), args);
  INFO("stdout:\n" << first.out << "stderr:\n" << first.err);
  REQUIRE(first.rc == 0);
  CHECK(statuses_of(first.out) == kAllPublished);
  auto digests = digests_of(first.out, 1);
  REQUIRE(digests.size() == 3);
  return digests;
}

std::size_t manifest_puts(const std::vector<std::string>& requests, std::size_t from, const std::string& chart) {
  std::size_t n = 0;
  for (std::size_t i = from; i < requests.size(); ++i)
    if (requests[i].rfind("PUT /v2/charts/" + chart + "/manifests/", 0) == 0) ++n;
  return n;
}

}  // namespace

TEST_CASE("publish --once: into docker-registry, Helm pulls it, a second run uploads nothing, a change only itself") {
  ChartsRepo repo;
  RegistryOptions ro;
  ro.access_log = true;
  Registry registry(ro);
  const std::vector<std::string> args{"publish", "--once", "--git", repo.git_url(), "--path", "charts",
                                      "--oci-registry", registry.oci("charts"), "--plain-http-registries",
                                      registry.host(), "--dependency-hosts", "127.0.0.1"};

  const auto digests = first_job(repo, args);
  auto requests = registry.requests();
  CHECK(manifest_puts(requests, 0, "web") == 1);
  CHECK(manifest_puts(requests, 0, "lib") == 1);
  CHECK(manifest_puts(requests, 0, "solo") == 1);
  const std::size_t first_uploads = uploads(requests);
  CHECK(first_uploads >= 3 * 3);  // per chart at least the config and layer blobs and the manifest

  for (const auto& helm : helm_clients()) {
    INFO(helm.name);
    const HelmUser user(helm);
    const auto pulled = user.pull({registry.oci("charts") + "/web", "--version", "1.0.0", "--plain-http"});
    CHECK(pulled.filename() == "web-1.0.0.tgz");
    CHECK(util::sha256_hex(util::read_file(pulled)) == digests.at("web"));
  }

  // A second job, nothing changed: nothing is uploaded.
  std::size_t before = registry.requests().size();
  auto again = run_cmop(repo.fresh_dir("job"), args);
  INFO("second run:\n" << again.out << again.err);
  CHECK(again.rc == 0);
  CHECK(digests_of(again.out, 1) == digests);
  CHECK(statuses_of(again.out) == kAllUnchanged);
  requests = registry.requests();
  CHECK(uploads(requests, before) == 0);
  CHECK(requests.size() - before <= 3 * 2);  // a look at each tag (and its manifest), no more

  // A commit pushed, then a job in a fresh folder.
  auto job_after = [&](const std::string& change) {
    repo.work().commit(change);
    repo.push();
    before = registry.requests().size();
    return run_cmop(repo.fresh_dir("job"), args);
  };
  SECTION("a version bump uploads that chart only") {
    write_chart(repo.work(), "charts/solo", "solo", "0.2.0");
    repo.work().write("charts/solo/values.yaml", "replicaCount: 2\n");
    auto bumped = job_after("solo 0.2.0");
    INFO(bumped.out << bumped.err);
    CHECK(bumped.rc == 0);
    CHECK(statuses_of(bumped.out) ==
          std::map<std::string, std::string>{{"lib", "unchanged"}, {"solo", "published"}, {"web", "unchanged"}});
    requests = registry.requests();
    CHECK(manifest_puts(requests, before, "solo") == 1);
    CHECK(manifest_puts(requests, before, "web") == 0);
    CHECK(manifest_puts(requests, before, "lib") == 0);
    CHECK(uploads(requests, before) == 2 * 2 + 1);  // layer and config blobs (POST + PUT each), the manifest
    // The earlier version stays published.
    HelmUser(helm_clients().back()).pull({registry.oci("charts") + "/solo", "--version", "0.1.0", "--plain-http"});
  }
  SECTION("new content under a published version is refused under immutable, exit 1, nothing uploaded") {
    repo.work().write("charts/web/values.yaml", "replicaCount: 3\n");
    auto refused = job_after("web changed, not bumped");
    INFO(refused.out << refused.err);
    CHECK(refused.rc == 1);
    CHECK(refused.err.find("charts/web (web 1.0.0): failed:") != std::string::npos);
    CHECK(refused.err.find("already in the registry with other content") != std::string::npos);
    CHECK(uploads(registry.requests(), before) == 0);

    // --versioning overwrite replaces it.
    auto with_overwrite = args;
    with_overwrite.insert(with_overwrite.end(), {"--versioning", "overwrite"});
    auto replaced = run_cmop(repo.fresh_dir("job"), with_overwrite);
    INFO(replaced.out << replaced.err);
    CHECK(replaced.rc == 0);
    CHECK(digests_of(replaced.out, 1)["web"] != digests.at("web"));
  }
}

TEST_CASE("publish --once: into a folder served over HTTP (--index-url), helm repo add and pull it") {
  ChartsRepo repo;
  const fs::path site = repo.fresh_dir("site");
  auto server = start_python_peer("static_http_server.py", {"--root", site.string()});
  const std::vector<std::string> args{"publish",  "--once",         "--git",      repo.git_url(),
                                      "--path",   "charts",         "--local-repo-dir", site.string(),
                                      "--index-url", server.url(), "--dependency-hosts", "127.0.0.1"};
  const auto digests = first_job(repo, args);
  const std::string index = util::read_file(site / "index.yaml");
  CHECK(index.find("- " + server.url() + "/web-1.0.0.tgz") != std::string::npos);

  for (const auto& helm : helm_clients()) {
    INFO(helm.name);
    HelmUser user(helm);
    user.ok({"repo", "add", "ci", server.url()});
    const auto pulled = user.pull({"ci/web", "--version", "1.0.0"});
    CHECK(pulled.filename() == "web-1.0.0.tgz");
    CHECK(util::sha256_hex(util::read_file(pulled)) == digests.at("web"));
  }

  // A second job: the folder is left as it was (index.yaml byte for byte).
  const auto web_mtime = fs::last_write_time(site / "web-1.0.0.tgz");
  auto again = run_cmop(repo.fresh_dir("job"), args);
  INFO(again.out << again.err);
  CHECK(again.rc == 0);
  CHECK(statuses_of(again.out) == kAllUnchanged);
  CHECK(util::read_file(site / "index.yaml") == index);
  CHECK(fs::last_write_time(site / "web-1.0.0.tgz") == web_mtime);
}

TEST_CASE("publish --once --signing-key: a second job finds every chart and its .prov there, and writes nothing") {
  ChartsRepo repo;
  GpgKey key("cmop-ci");
  const fs::path site = repo.fresh_dir("site");
  const std::vector<std::string> args{"publish",        "--once",          "--git",  repo.git_url(),
                                      "--path",         "charts",          "--local-repo-dir", site.string(),
                                      "--signing-key",  key.armored.string(), "--dependency-hosts", "127.0.0.1"};
  first_job(repo, args);
  REQUIRE(fs::exists(site / "web-1.0.0.tgz.prov"));
  const std::string index = util::read_file(site / "index.yaml");
  const auto prov_mtime = fs::last_write_time(site / "web-1.0.0.tgz.prov");

  auto again = run_cmop(repo.fresh_dir("job"), args);
  INFO(again.out << again.err);
  CHECK(again.rc == 0);
  CHECK(statuses_of(again.out) == kAllUnchanged);
  CHECK(util::read_file(site / "index.yaml") == index);
  CHECK(fs::last_write_time(site / "web-1.0.0.tgz.prov") == prov_mtime);

  // Another key signs differently: the same package is not "there" under it.
  GpgKey other("cmop-other");
  std::vector<std::string> resigned = args;
  resigned[std::find(resigned.begin(), resigned.end(), "--signing-key") - resigned.begin() + 1] = other.armored.string();
  auto rotated = run_cmop(repo.fresh_dir("job"), resigned);
  INFO(rotated.out << rotated.err);
  CHECK(rotated.rc == 0);
  CHECK(statuses_of(rotated.out).at("web") == "published");
}

TEST_CASE("publish --once: a bad repo or target fails the run with exit 2, naming it") {
  ChartsRepo repo;
  const fs::path job = repo.fresh_dir("job");
  auto no_target = run_cmop(job, {"publish", "--once", "--git", repo.git_url()});
  CHECK(no_target.rc == 2);
  CHECK(no_target.err.find("a publish target is required") != std::string::npos);
  auto two_targets = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--local-repo-dir", "a",
                                    "--chartmuseum-url", "http://127.0.0.1:1"});
  CHECK(two_targets.rc == 2);
  CHECK(two_targets.err.find("give only one of them") != std::string::npos);
  auto stray_index_url = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--oci-registry",
                                        "oci://127.0.0.1:1/charts", "--index-url", "https://example.com"});
  CHECK(stray_index_url.rc == 2);
  CHECK(stray_index_url.err.find("--index-url: goes with --local-repo-dir") != std::string::npos);
  auto no_once = run_cmop(job, {"publish", "--git", repo.git_url(), "--local-repo-dir", "a"});
  CHECK(no_once.rc == 2);
  CHECK(no_once.err.find("--once is required") != std::string::npos);
  auto no_repo = run_cmop(job, {"publish", "--once", "--git", repo.git_url() + "-missing", "--local-repo-dir", "a"});
  INFO(no_repo.err);
  CHECK(no_repo.rc == 2);
  CHECK(no_repo.err.find("charts.git-missing") != std::string::npos);
  const std::string nobody = "127.0.0.1:" + std::to_string(free_port());
  auto registry_down = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--path", "charts",
                                      "--dependency-hosts", "127.0.0.1", "--oci-registry", "oci://" + nobody + "/charts",
                                      "--plain-http-registries", nobody, "--network-timeout", "5"});
  INFO(registry_down.err);
  CHECK(registry_down.rc == 2);
  CHECK(registry_down.err.find("publishing to") != std::string::npos);

  std::ofstream(job / "known_hosts") << "\n";
  auto no_host_keys = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--local-repo-dir", "a",
                                     "--ssh-known-hosts", "known_hosts"});
  CHECK(no_host_keys.rc == 2);
  CHECK(no_host_keys.err.find("--ssh-known-hosts: known_hosts holds no host keys") != std::string::npos);
  auto no_git = run_cmop(job, {"publish", "--once", "--local-repo-dir", "a"});
  CHECK(no_git.rc == 2);  // a flag CLI11 refuses exits 2 too, not CLI11's 106
  CHECK(no_git.err.find("--git is required") != std::string::npos);
  auto bad_versioning = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--local-repo-dir", "a",
                                       "--versioning", "sometimes"});
  CHECK(bad_versioning.rc == 2);
  CHECK(bad_versioning.err.find("--versioning") != std::string::npos);
}

TEST_CASE("publish --once: credentials in a git or registry URL never reach the output") {
  ChartsRepo repo;
  const fs::path job = repo.fresh_dir("job");
  const std::string nobody = "127.0.0.1:" + std::to_string(free_port());
  auto git_down = run_cmop(job, {"publish", "--once", "--git", "https://ci:s3cr3t-git@" + nobody + "/charts.git",
                                 "--local-repo-dir", "a", "--network-timeout", "5"});
  INFO(git_down.err);
  CHECK(git_down.rc == 2);
  CHECK(git_down.err.find(nobody) != std::string::npos);
  CHECK(git_down.err.find("s3cr3t") == std::string::npos);
  for (const std::string output : {"text", "json"}) {
    auto bad_registry = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--oci-registry",
                                       "oci://ci:s3cr3t-oci@" + nobody + "/charts", "-o", output});
    INFO(bad_registry.err);
    CHECK(bad_registry.rc == 2);
    CHECK(bad_registry.err.find("--oci-registry") != std::string::npos);
    CHECK((bad_registry.out + bad_registry.err).find("s3cr3t") == std::string::npos);
  }
}

TEST_CASE("publish --once: into a ChartMuseum, the second job posts nothing") {
  ChartsRepo repo;
  auto museum = start_python_peer("fake_chartmuseum.py");
  const std::vector<std::string> args{"publish", "--once", "--git", repo.git_url(), "--path", "charts",
                                      "--chartmuseum-url", museum.url(), "--dependency-hosts", "127.0.0.1"};
  const auto digests = first_job(repo, args);
  CHECK(request_count(museum.url(), "POST /api/charts") == 3);
  CHECK(stored_charts(museum.url())["web"]["1.0.0"] == digests.at("web"));
  auto again = run_cmop(repo.fresh_dir("job"), args);
  INFO(again.out << again.err);
  CHECK(again.rc == 0);
  CHECK(statuses_of(again.out) == kAllUnchanged);
  CHECK(request_count(museum.url(), "POST /api/charts") == 3);
}

TEST_CASE("publish --once: a terminal gets a progress line per chart, a log none") {
  ChartsRepo repo;
  const fs::path site = repo.fresh_dir("site");
  const fs::path job = repo.fresh_dir("job");
  const std::string cmd = "cd '" + job.string() + "' && '" + cmop_binary() + "' publish --once --git " +
                          repo.git_url() + " --path charts --local-repo-dir '" + site.string() +
                          "' --dependency-hosts 127.0.0.1 2>&1";
  std::string out;
  CHECK(run({"script", "-qec", cmd, "/dev/null"}, &out) == 0);
  INFO(out);
  CHECK(out.find("syncing " + repo.git_url()) != std::string::npos);
  CHECK(out.find("charts/web: uploading web-1.0.0.tgz") != std::string::npos);
  CHECK(run({"script", "-qec", cmd, "/dev/null"}, &out) == 0);
  CHECK(out.find("charts/web: web-1.0.0.tgz is already there") != std::string::npos);
  auto logged = run_cmop(job, {"publish", "--once", "--git", repo.git_url(), "--path", "charts", "--local-repo-dir",
                               site.string(), "--dependency-hosts", "127.0.0.1"});
  CHECK(logged.rc == 0);
  CHECK(logged.err.empty());
}
