// The core of mirrors (issue 26), in process: a git repo and a mirror sharing one
// publish target under one ownership rule, the spec kept across restarts, and
// UpstreamSource's limits and checks against real peers on 127.0.0.1.
#include <catch2/catch.hpp>

#include "cmop/error.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/package/package_reader.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/upstream/upstream_source.hpp"
#include "cmop/util/fs.hpp"
#include "support/error_of.hpp"
#include "support/registry_fixture.hpp"
#include "support/served_repo.hpp"
#include "support/sync_report.hpp"
#include "upstream/upstream_fixtures.hpp"

using namespace cmop;
namespace fs = std::filesystem;

namespace {

sync::RepoSpec mirror_spec(const std::string& name, const std::string& url,
                           std::vector<upstream::ChartSelection> charts = {}) {
  sync::RepoSpec spec;
  spec.name = name;
  spec.upstream.url = url;
  spec.upstream.charts = std::move(charts);
  return spec;
}

const sync::ChartOutcome& outcome_of(const sync::SyncReport& report, const std::string& name,
                                     const std::string& version) {
  for (auto& c : report.charts)
    if (c.name == name && c.version == version) return c;
  FAIL("no " << name << " " << version << " in the report: " << test::describe(report));
  throw;
}

}  // namespace

TEST_CASE("A git repo and a mirror publish into one chart repository, and neither takes a name+version the "
          "other published",
          "[upstream]") {
  test::ServedRepo git("charts", "cmop-upstream-core-");
  test::write_chart(git.work, "charts/alpha", "alpha", "1.0.0");
  git.commit_and_serve("alpha 1.0.0");
  test::UpstreamHttpRepo upstream;
  upstream.add("alpha", "1.0.0");
  upstream.add("alpha", "1.1.0");
  upstream.add("beta", "0.1.0");
  upstream.index();
  upstream.serve();

  {
    auto ws = git.workspace();
    const auto from_git = ws->apply(git.spec_named("charts"));
    REQUIRE(from_git.ok());
    const std::string git_digest = test::outcome(from_git, "charts/alpha").digest;

    const auto mirrored = ws->apply(mirror_spec("up", upstream.url()));
    CHECK(outcome_of(mirrored, "alpha", "1.0.0").status == sync::ChartOutcome::Status::failed);
    CHECK_THAT(outcome_of(mirrored, "alpha", "1.0.0").reason, Catch::Contains("already published by repo \"charts\""));
    CHECK(outcome_of(mirrored, "alpha", "1.1.0").status == sync::ChartOutcome::Status::published);
    CHECK(outcome_of(mirrored, "beta", "0.1.0").status == sync::ChartOutcome::Status::published);
    CHECK(test::entry_of(git.index(), "alpha", "1.0.0").digest == git_digest);
    CHECK(test::entry_of(git.index(), "alpha", "1.1.0").digest == upstream.sha256_of("alpha-1.1.0.tgz"));

    // The git repo bumping to a version the mirror published is refused in turn.
    test::write_chart(git.work, "charts/alpha", "alpha", "1.1.0");
    git.commit_and_serve("alpha 1.1.0");
    const auto bumped = ws->update("charts");
    CHECK(test::outcome(bumped, "charts/alpha").status == sync::ChartOutcome::Status::failed);
    CHECK_THAT(test::outcome(bumped, "charts/alpha").reason, Catch::Contains("already published by repo \"up\""));
    CHECK(test::entry_of(git.index(), "alpha", "1.1.0").digest == upstream.sha256_of("alpha-1.1.0.tgz"));

    // versioning does not apply to a mirror, and a repo is git or a mirror.
    auto revision = mirror_spec("up2", upstream.url());
    revision.versioning = sync::Versioning::revision;
    CHECK(test::error_of([&] { ws->apply(revision); }).code() == Errc::invalid_argument);
    auto both = mirror_spec("up3", upstream.url());
    both.git = git.url();
    CHECK(test::error_of([&] { ws->apply(both); }).code() == Errc::invalid_argument);
  }
  // The spec survives a restart; removing the mirror removes exactly what it published.
  auto ws = git.workspace();
  auto state = ws->get("up");
  REQUIRE(state);
  CHECK(state->spec.upstream == mirror_spec("up", upstream.url()).upstream);
  CHECK(state->spec.git.empty());
  const auto again = ws->update("up");
  CHECK(outcome_of(again, "alpha", "1.1.0").status == sync::ChartOutcome::Status::unchanged);
  ws->remove("up");
  CHECK(test::versions_of(git.index(), "alpha") == std::vector<std::string>{"1.0.0"});
  CHECK(git.index().entries.count("beta") == 0);
}

TEST_CASE("UpstreamSource holds packages to the size limit and a provenance file to the package it names",
          "[upstream]") {
  test::UpstreamHttpRepo upstream;
  upstream.add("alpha", "1.0.0");
  upstream.add("alpha", "1.1.0");
  upstream.index();
  // A .prov beside 1.1.0 that is another package's.
  util::write_file_atomic(upstream.root / "alpha-1.1.0.tgz.prov",
                          "-----BEGIN PGP SIGNED MESSAGE-----\n\nfiles:\n  alpha-1.1.0.tgz: sha256:" +
                              upstream.sha256_of("alpha-1.0.0.tgz") + "\n");
  upstream.serve();
  upstream::UpstreamSpec spec{upstream.url(), {}, "", ""};

  upstream::UpstreamSource source(spec, net::HttpClient(), nullptr);
  const auto offers = source.list();
  REQUIRE(offers.size() == 2);
  CHECK(source.fetch(offers[0]).digest == upstream.sha256_of("alpha-1.0.0.tgz"));
  const auto bad_prov = test::error_of([&] { source.fetch(offers[1]); });
  CHECK(bad_prov.code() == Errc::upstream);
  CHECK_THAT(bad_prov.reason(), Catch::Contains("provenance file does not name the package's digest"));

  upstream::Limits small;
  small.max_package_bytes = 100;
  upstream::UpstreamSource bounded(spec, net::HttpClient(), nullptr, small);
  CHECK(test::error_of([&] { bounded.fetch(offers[0]); }).code() == Errc::too_large);

  // The dependency-host policy holds for mirror URLs: loopback refused unless allowed.
  net::ConnectionPolicy strict;
  strict.allow_local_addresses = false;
  upstream::UpstreamSource refused(spec, net::HttpClient({}, strict), nullptr);
  CHECK(test::error_of([&] { refused.list(); }).code() == Errc::forbidden);
}

TEST_CASE("An OCI upstream offers the tags that are versions matching the constraint, and a chart it lacks is not found", "[upstream][oci]") {
  test::Registry registry;
  test::UpstreamHttpRepo packages;
  test::HelmUser pusher(test::helm_clients().front());
  for (auto v : {"0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0"})
    pusher.ok({"push", packages.add("alpha", v).string(), registry.oci("up"), "--plain-http"});
  oci::ClientOptions o;
  o.plain_http_hosts = {registry.host()};
  o.tag_page_size = 2;
  auto client = std::make_shared<oci::RegistryClient>(o);
  // A tag that is no version (as `latest` is): not offered.
  auto m = client->manifest({registry.host(), {}}, "up/alpha", "0.5.0");
  REQUIRE(m);
  client->push_manifest({registry.host(), {}}, "up/alpha", "latest", m->body, oci::kImageManifestMediaType);

  upstream::UpstreamSource source({registry.oci("up"), {{"alpha", "<0.5.0"}}, "", ""}, net::HttpClient(), client);
  std::vector<std::string> versions;
  for (auto& offer : source.list()) versions.push_back(offer.version);
  CHECK(versions == std::vector<std::string>{"0.1.0", "0.2.0", "0.3.0", "0.4.0"});
  // (Distribution 2.8 sends every tag at once whatever `n` asks; the client's
  // following of Link pages is proven against a paging server in test/oci.)
  CHECK(source.requests() >= 1);
  CHECK(source.fetch(source.list().front()).digest == packages.sha256_of("alpha-0.1.0.tgz"));

  upstream::UpstreamSource missing({registry.oci("up"), {{"nothere", ""}}, "", ""}, net::HttpClient(), client);
  CHECK(test::error_of([&] { missing.list(); }).code() == Errc::not_found);
}

TEST_CASE("A mirror with prune removes the versions the upstream no longer offers, and only those", "[upstream]") {
  test::ServedRepo target("unused", "cmop-upstream-prune-");
  test::UpstreamHttpRepo upstream;
  for (auto v : {"1.0.0", "1.1.0", "1.2.0"}) upstream.add("alpha", v);
  upstream.index();
  upstream.serve();
  auto ws = target.workspace();
  auto spec = mirror_spec("up", upstream.url());
  spec.upstream.prune = true;
  REQUIRE(ws->apply(spec).ok());
  CHECK(test::versions_of(target.index(), "alpha") == std::vector<std::string>{"1.0.0", "1.1.0", "1.2.0"});

  fs::remove(upstream.root / "alpha-1.0.0.tgz");
  fs::remove(upstream.root / "index.yaml");
  upstream.index();
  const auto pruned = ws->update("up");
  INFO(test::describe(pruned));
  CHECK(pruned.ok());
  CHECK(outcome_of(pruned, "alpha", "1.0.0").status == sync::ChartOutcome::Status::removed);
  CHECK(outcome_of(pruned, "alpha", "1.1.0").status == sync::ChartOutcome::Status::unchanged);
  CHECK(test::versions_of(target.index(), "alpha") == std::vector<std::string>{"1.1.0", "1.2.0"});
  CHECK_FALSE(fs::exists(target.out / "alpha-1.0.0.tgz"));
  REQUIRE(ws->get("up"));
  CHECK(ws->get("up")->spec.upstream.prune);

  // An upstream that cannot be listed prunes nothing.
  fs::remove(upstream.root / "index.yaml");
  const auto unreadable = ws->update("up");
  CHECK_FALSE(unreadable.error.empty());
  CHECK(test::versions_of(target.index(), "alpha") == std::vector<std::string>{"1.1.0", "1.2.0"});
}

TEST_CASE("A mirror's sync ends by the sync timeout: downloads in flight are cut off and the rest not attempted",
          "[upstream]") {
  test::ServedRepo target("unused", "cmop-upstream-deadline-");
  test::UpstreamHttpRepo upstream;
  // Ten versions whose packages answer only after 20 s.
  deps::RepoIndex index;
  for (int i = 0; i < 10; ++i) {
    deps::IndexEntry e;
    e.metadata.api_version = "v2";
    e.metadata.name = "alpha";
    e.metadata.version = "1.0." + std::to_string(i);
    e.digest = std::string(64, 'a');
    e.urls = {"/__slow?ms=20000&v=" + std::to_string(i)};
    index.add(std::move(e));
  }
  util::write_file_atomic(upstream.root / "index.yaml", index.to_yaml());
  upstream.serve();
  sync::WorkspaceOptions options;
  options.sync_timeout = std::chrono::seconds(2);
  sync::Workspace ws(target.state, publish::make_local_publisher(target.out.string()), options);
  const auto started = std::chrono::steady_clock::now();
  const auto report = ws.apply(mirror_spec("up", upstream.url()));
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(test::describe(report));
  CHECK(took < std::chrono::seconds(10));
  CHECK_FALSE(report.error.empty());
  REQUIRE(report.charts.size() == 10);
  std::size_t not_attempted = 0;
  for (const auto& c : report.charts) {
    CHECK(c.status == sync::ChartOutcome::Status::failed);
    not_attempted += c.reason.rfind("not attempted", 0) == 0;
  }
  CHECK(not_attempted >= 6);  // at most four downloads were in flight
}

TEST_CASE("An OCI upstream behind token auth is read with the mirror's credentials, and refused without them",
          "[upstream][oci]") {
  test::RegistryOptions ro;
  ro.token_auth = true;
  ro.token_user = "mirror";
  ro.token_password = "t0ken-pw";
  test::Registry registry(ro);
  oci::ClientOptions o;
  o.plain_http_hosts = {registry.host(), registry.token_host()};
  auto client = std::make_shared<oci::RegistryClient>(o);
  test::UpstreamHttpRepo packages;
  // Pushed as `helm push` lays charts out (cmop's OCI publisher), with the credentials.
  auto pusher = publish::make_oci_publisher({registry.oci("up"), {"mirror", "t0ken-pw"}, client});
  for (auto v : {"1.0.0", "1.1.0"}) {
    const auto tgz = packages.add("alpha", v);
    pusher->publish(package::read_package(util::read_file(tgz), tgz.string()), false);
  }

  upstream::UpstreamSource source({registry.oci("up"), {{"alpha", ""}}, "mirror", "t0ken-pw"}, net::HttpClient(),
                                  client);
  const auto offers = source.list();
  REQUIRE(offers.size() == 2);
  CHECK(source.fetch(offers[1]).digest == packages.sha256_of("alpha-1.1.0.tgz"));

  upstream::UpstreamSource anonymous({registry.oci("up"), {{"alpha", ""}}, "", ""}, net::HttpClient(), client);
  const auto refused = test::error_of([&] { anonymous.list(); });
  CHECK(refused.code() == Errc::unauthorized);
  CHECK(std::string(refused.what()).find("t0ken-pw") == std::string::npos);
}
