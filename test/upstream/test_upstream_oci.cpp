// Mirrors of OCI registry namespaces (issue 26) end to end: charts pushed by real
// `helm push` (with their .prov) into Debian's docker-registry, mirrored by a real
// `cmop serve` into its embedded chart repo, pulled and verified by Helm 3 and 4.
#include <catch2/catch.hpp>

#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "support/registry_fixture.hpp"
#include "upstream/upstream_fixtures.hpp"

using namespace cmop;
namespace fs = std::filesystem;

TEST_CASE("A mirror of an OCI namespace publishes the selected tags' chart layers byte for byte with their "
          "provenance, and a later sync publishes only a newly pushed version",
          "[upstream][oci][helm]") {
  test::GpgKey key("upstream signer");
  test::Registry registry;
  test::UpstreamHttpRepo packages(&key);  // only its packaging is used: the charts go to the registry
  test::HelmUser pusher(test::helm_clients().front());
  auto push = [&](const std::string& name, const std::string& version) {
    const auto tgz = packages.add(name, version);
    pusher.ok({"push", tgz.string(), registry.oci("up"), "--plain-http"});
    return util::sha256_hex(util::read_file(tgz));
  };
  std::map<std::string, std::string> digests;  // "name version" -> sha256 of the package helm pushed
  for (auto v : {"1.0.0", "1.1.0", "1.2.0+build.1"}) digests[std::string("alpha ") + v] = push("alpha", v);
  digests["beta 0.1.0"] = push("beta", "0.1.0");

  test::MirroringServe cmop({"--plain-http-registries", registry.host()});
  const std::string spec = R"({"name":"from-oci","mirror":")" + registry.oci("up") +
                           R"(","charts":[{"name":"alpha","versions":">=1.1.0"},{"name":"beta"}]})";
  const auto first = test::reported_charts(cmop.add(spec));
  std::vector<std::string> names;
  for (auto& [nv, c] : first) {
    names.push_back(nv);
    INFO(nv << ": " << c.reason);
    CHECK(c.status == "published");
    CHECK(c.digest == digests.at(nv));
  }
  // alpha >=1.1.0 (the tag 1.2.0_build.1 read as 1.2.0+build.1), and beta.
  CHECK(names == std::vector<std::string>{"alpha 1.1.0", "alpha 1.2.0+build.1", "beta 0.1.0"});
  const auto served = cmop.served_index();
  CHECK(test::versions_of(served, "alpha") == std::vector<std::string>{"1.1.0", "1.2.0+build.1"});
  CHECK(test::entry_of(served, "alpha", "1.2.0+build.1").digest == digests.at("alpha 1.2.0+build.1"));

  test::pull_verified_with_each_helm(cmop.charts_url(), "alpha", "1.2.0+build.1", digests.at("alpha 1.2.0+build.1"),
                                     key.pubring, packages.root);

  digests["alpha 1.3.0"] = push("alpha", "1.3.0");
  const auto second = test::reported_charts(cmop.update("from-oci"));
  CHECK(second.at("alpha 1.3.0").status == "published");
  CHECK(second.at("alpha 1.3.0").digest == digests.at("alpha 1.3.0"));
  for (auto nv : {"alpha 1.1.0", "alpha 1.2.0+build.1", "beta 0.1.0"}) CHECK(second.at(nv).status == "unchanged");
  CHECK(test::versions_of(cmop.served_index(), "alpha") ==
        std::vector<std::string>{"1.1.0", "1.2.0+build.1", "1.3.0"});
}

TEST_CASE("A chart layer whose bytes do not match its manifest's digest fails that version of an OCI mirror",
          "[upstream][oci]") {
  test::Registry registry;
  test::UpstreamHttpRepo packages;
  test::HelmUser pusher(test::helm_clients().front());
  for (auto v : {"1.0.0", "1.1.0"})
    pusher.ok({"push", packages.add("alpha", v).string(), registry.oci("up"), "--plain-http"});
  // The registry's stored blob of 1.1.0 overwritten: it now serves other bytes under that digest.
  const std::string digest = packages.sha256_of("alpha-1.1.0.tgz");
  REQUIRE(fs::exists(registry.blob_file(digest)));
  util::write_file_atomic(registry.blob_file(digest), util::read_file(packages.root / "alpha-1.0.0.tgz"));

  test::MirroringServe cmop({"--plain-http-registries", registry.host()});
  const auto charts = test::reported_charts(
      cmop.add(R"({"name":"from-oci","mirror":")" + registry.oci("up") + R"(","charts":[{"name":"alpha"}]})"));
  CHECK(charts.at("alpha 1.0.0").status == "published");
  CHECK(charts.at("alpha 1.1.0").status == "failed");
  CHECK_THAT(charts.at("alpha 1.1.0").reason, Catch::Contains("digest mismatch"));
  CHECK(test::versions_of(cmop.served_index(), "alpha") == std::vector<std::string>{"1.0.0"});
}
