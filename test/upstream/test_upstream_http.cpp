// Mirrors of HTTP chart repositories (issue 26) end to end: an upstream made by
// real `helm package --sign` and `helm repo index`, served over 127.0.0.1, mirrored
// by a real `cmop serve` into its embedded chart repo, pulled and verified from
// there by real Helm 3 and Helm 4.
#include <catch2/catch.hpp>

#include "cmop/deps/repo_index.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "upstream/upstream_fixtures.hpp"

using namespace cmop;
namespace fs = std::filesystem;

namespace {

const std::string kMirror = R"({"name":"up","mirror":"URL","charts":[{"name":"alpha","versions":"^1.0.0"},{"name":"beta"}]})";

std::string with_url(std::string json, const std::string& url) { return json.replace(json.find("URL"), 3, url); }

}  // namespace

TEST_CASE("A mirror publishes the selected versions of an HTTP chart repository byte for byte, Helm 3 and 4 "
          "pull them with --verify, and later syncs fetch only what is new upstream",
          "[upstream][helm]") {
  test::GpgKey key("upstream signer");
  test::UpstreamHttpRepo upstream(&key);
  for (auto v : {"1.0.0", "1.1.0", "2.0.0"}) upstream.add("alpha", v);
  for (auto v : {"0.1.0", "0.2.0-rc.1"}) upstream.add("beta", v);
  upstream.add("gamma", "1.0.0");
  upstream.index();
  upstream.serve();
  const auto upstream_index = upstream.parsed_index();

  test::MirroringServe cmop;
  const auto first = test::reported_charts(cmop.add(with_url(kMirror, upstream.url())));
  // alpha ^1.0.0 (not 2.0.0), every beta, no gamma.
  std::vector<std::string> names;
  for (auto& [nv, c] : first) {
    names.push_back(nv);
    INFO(nv << ": " << c.reason);
    CHECK(c.status == "published");
    const auto space = nv.find(' ');
    const auto file = nv.substr(0, space) + "-" + nv.substr(space + 1) + ".tgz";
    CHECK(c.digest == upstream.sha256_of(file));
    CHECK(c.digest == test::entry_of(upstream_index, nv.substr(0, space), nv.substr(space + 1)).digest);
  }
  CHECK(names == std::vector<std::string>{"alpha 1.0.0", "alpha 1.1.0", "beta 0.1.0", "beta 0.2.0-rc.1"});

  // The served index is what `helm repo index` says of those files: same metadata, same digests.
  const auto served = cmop.served_index();
  CHECK(test::versions_of(served, "alpha") == std::vector<std::string>{"1.0.0", "1.1.0"});
  CHECK(test::versions_of(served, "beta") == std::vector<std::string>{"0.1.0", "0.2.0-rc.1"});
  CHECK(served.entries.count("gamma") == 0);
  for (const auto& [name, entries] : served.entries)
    for (const auto& e : entries) {
      const auto& up = test::entry_of(upstream_index, name, e.metadata.version);
      CHECK(deps::chart_metadata_json(e.metadata) == deps::chart_metadata_json(up.metadata));
      CHECK(e.digest == up.digest);
    }

  // Every package and its .prov fetched once, the index once.
  auto counted = upstream.requests();
  CHECK(counted == std::map<std::string, int>{{"/index.yaml", 1},
                                              {"/alpha-1.0.0.tgz", 1}, {"/alpha-1.0.0.tgz.prov", 1},
                                              {"/alpha-1.1.0.tgz", 1}, {"/alpha-1.1.0.tgz.prov", 1},
                                              {"/beta-0.1.0.tgz", 1}, {"/beta-0.1.0.tgz.prov", 1},
                                              {"/beta-0.2.0-rc.1.tgz", 1}, {"/beta-0.2.0-rc.1.tgz.prov", 1}});

  // Metrics per mirror, as for git repos.
  const auto metrics = cmop.serve.call("GET", "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("cmop_repo_last_sync_success{repo=\"up\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("cmop_syncs_total{repo=\"up\",result=\"success\"} 1"));

  test::pull_verified_with_each_helm(cmop.charts_url(), "alpha", "1.1.0", upstream.sha256_of("alpha-1.1.0.tgz"),
                                     key.pubring, upstream.root);

  SECTION("a new upstream version is fetched alone") {
    upstream.add("alpha", "1.2.0");
    upstream.add("alpha", "3.0.0");  // outside ^1.0.0
    upstream.index();
    const auto before = upstream.requests();
    const auto second = test::reported_charts(cmop.update("up"));
    CHECK(second.at("alpha 1.2.0").status == "published");
    CHECK(second.at("alpha 1.2.0").digest == upstream.sha256_of("alpha-1.2.0.tgz"));
    for (auto nv : {"alpha 1.0.0", "alpha 1.1.0", "beta 0.1.0", "beta 0.2.0-rc.1"}) CHECK(second.at(nv).status == "unchanged");
    CHECK(second.count("alpha 3.0.0") == 0);
    CHECK(test::new_requests(before, upstream.requests()) ==
          std::map<std::string, int>{{"/index.yaml", 1}, {"/alpha-1.2.0.tgz", 1}, {"/alpha-1.2.0.tgz.prov", 1}});
    CHECK(test::versions_of(cmop.served_index(), "alpha") == std::vector<std::string>{"1.0.0", "1.1.0", "1.2.0"});

    // Nothing new: one request, for the index.
    const auto idle = upstream.requests();
    const auto third = test::reported_charts(cmop.update("up"));
    for (auto& [nv, c] : third) CHECK(c.status == "unchanged");
    CHECK(test::new_requests(idle, upstream.requests()) == std::map<std::string, int>{{"/index.yaml", 1}});
  }

  SECTION("a version removed upstream stays mirrored") {
    fs::remove(upstream.root / "alpha-1.0.0.tgz");
    fs::remove(upstream.root / "alpha-1.0.0.tgz.prov");
    fs::remove(upstream.root / "index.yaml");
    upstream.index();
    const auto after = test::reported_charts(cmop.update("up"));
    CHECK(after.count("alpha 1.0.0") == 0);
    CHECK(test::versions_of(cmop.served_index(), "alpha") == std::vector<std::string>{"1.0.0", "1.1.0"});
  }
}

TEST_CASE("An upstream serving bytes that do not match its index digest fails that version only, and no "
          "credential of the upstream shows in any answer or log line",
          "[upstream]") {
  const std::string password = "s3cr3t-upstream-pw";
  test::UpstreamHttpRepo upstream(nullptr, "mirror-user:" + password);
  upstream.add("alpha", "1.0.0");
  upstream.add("alpha", "1.1.0");
  upstream.index();
  // alpha-1.1.0.tgz replaced by other content after indexing: the index's digest no longer holds.
  const auto good = util::read_file(upstream.root / "alpha-1.1.0.tgz");
  const auto other = upstream.package_into(upstream.tmp.path() / "other", "alpha", "1.1.0", "tampered");
  fs::copy_file(other, upstream.root / "alpha-1.1.0.tgz", fs::copy_options::overwrite_existing);
  upstream.serve();

  test::MirroringServe cmop;
  const std::string spec = R"({"name":"up","mirror":")" + upstream.url() +
                           R"(","auth":{"username":"mirror-user","password":")" + password + R"("}})";
  const std::string report = cmop.add(spec);
  auto charts = test::reported_charts(report);
  CHECK(charts.at("alpha 1.0.0").status == "published");
  CHECK(charts.at("alpha 1.1.0").status == "failed");
  CHECK_THAT(charts.at("alpha 1.1.0").reason, Catch::Contains("digest mismatch"));
  CHECK(test::versions_of(cmop.served_index(), "alpha") == std::vector<std::string>{"1.0.0"});
  CHECK(cmop.serve.call("GET", "/charts/alpha-1.1.0.tgz").status == 404);

  // Without the credentials the upstream refuses: the repo's error says so.
  SECTION("wrong credentials are reported, not shown") {
    const std::string wrong = R"({"name":"other","mirror":")" + upstream.url() +
                              R"(","auth":{"username":"mirror-user","password":"not-it"}})";
    const auto res = cmop.serve.call("POST", "/repo/new", wrong);
    CHECK(res.status == 502);
    CHECK_THAT(test::json_str(test::parse_json(res.body), "error"), Catch::Contains("credentials missing or refused"));
    CHECK(res.body.find("not-it") == std::string::npos);
  }

  // The upstream fixed: the next sync publishes the version.
  util::write_file_atomic(upstream.root / "alpha-1.1.0.tgz", good);
  charts = test::reported_charts(cmop.update("up"));
  CHECK(charts.at("alpha 1.0.0").status == "unchanged");
  CHECK(charts.at("alpha 1.1.0").status == "published");
  CHECK(charts.at("alpha 1.1.0").digest == util::sha256_hex(good));

  for (const auto& path : {"/repo", "/repo/up", "/metrics"}) {
    const auto res = cmop.serve.call("GET", path);
    INFO(path);
    CHECK(res.body.find(password) == std::string::npos);
  }
  const auto state = test::parse_json(cmop.serve.call("GET", "/repo/up").body);
  REQUIRE(state.HasMember("spec"));
  REQUIRE(state["spec"].HasMember("mirror"));
  CHECK(test::json_str(state["spec"]["mirror"], "url") == upstream.url());
  CHECK(test::slurp(cmop.serve.log).find(password) == std::string::npos);
  CHECK(report.find(password) == std::string::npos);
}

TEST_CASE("POST /repo/new refuses a mirror that also names git, a versioning policy or an oci:// namespace "
          "without charts",
          "[upstream]") {
  test::MirroringServe cmop;
  auto refused = [&](const std::string& json) {
    auto res = cmop.serve.call("POST", "/repo/new", json);
    INFO(json << " -> " << res.body);
    CHECK(res.status == 400);
    return test::json_str(test::parse_json(res.body), "error");
  };
  CHECK_THAT(refused(R"({"name":"m","mirror":"http://127.0.0.1:1/","git":"https://example.com/x.git"})"),
             Catch::Contains("not both"));
  CHECK_THAT(refused(R"({"name":"m","mirror":"http://127.0.0.1:1/","versioning":"revision"})"),
             Catch::Contains("versioning does not apply"));
  CHECK_THAT(refused(R"({"name":"m","mirror":"oci://127.0.0.1:1/charts"})"), Catch::Contains("must list its charts"));
  CHECK_THAT(refused(R"({"name":"m","mirror":"ftp://example.com/charts"})"), Catch::Contains("http(s)://"));
  CHECK_THAT(refused(R"({"name":"m","mirror":"http://127.0.0.1:1/","charts":[{"name":"a","versions":"not a range"}]})"),
             Catch::Contains("versions"));
  CHECK_THAT(refused(R"({"name":"m","git":"https://example.com/x.git","charts":[{"name":"a"}]})"),
             Catch::Contains("for a mirror"));
}
