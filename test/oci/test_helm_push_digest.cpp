// The manifest and config blob cmop pushes to an OCI registry against what real
// `helm push` (Helm 3 and Helm 4) writes for the same package: equal digests, so a
// registry filled by either holds the same bytes and cmop adopts what Helm pushed.
// The chart's metadata needs Go's JSON escaping (&, <, > as \u0026, \u003c, \u003e)
// and carries import-values of several types.
#include <catch2/catch.hpp>

#include <fstream>

#include "cmop/oci/registry.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/fs.hpp"
#include "support/process.hpp"
#include "support/registry_fixture.hpp"

using namespace cmop;
namespace fs = std::filesystem;

TEST_CASE("manifest and config digests equal helm push's, with Go's escaping of & < >", "[helm]") {
  test::Registry registry;
  util::TempDir tmp;
  const fs::path dir = tmp.path() / "src" / "amp";
  fs::create_directories(dir / "templates");
  std::ofstream(dir / "Chart.yaml")
      << "apiVersion: v2\nname: amp\nversion: 1.2.3+build.7\nappVersion: \"<1.0>\"\n"
         "description: Tom & Jerry <cartoon> \"quoted\" caf\xC3\xA9\n"
         "home: https://example.com/?a=1&b=2\n"
         "sources: [https://example.com/<src>]\n"
         "maintainers: [{name: A & B, email: a@example.com}, {name: C <c>}]\n"
         "keywords: [x&y]\n"
         "annotations:\n"
         "  org.opencontainers.image.created: \"2024-05-01T12:00:00Z\"\n"  // else Helm stamps its clock
         "  example.com/html: \"<b>bold</b> & more\"\n"
         "dependencies:\n"
         "  - name: sub\n    version: 1.0.0\n    repository: \"\"\n"
         "    import-values: [data, {child: 1, parent: ~}, {child: a<b, parent: c&d}, 2.50]\n";
  std::ofstream(dir / "templates" / "cm.yaml") << "kind: ConfigMap\n";
  fs::create_directories(dir / "charts" / "sub");
  std::ofstream(dir / "charts" / "sub" / "Chart.yaml") << "apiVersion: v2\nname: sub\nversion: 1.0.0\n";

  package::PackageInput in;
  in.clone_root = tmp.path() / "src";
  in.chart_dir = "amp";
  auto pkg = package::package_chart(in);
  pkg.created = "2001-01-01T00:00:00Z";  // the chart's annotation wins, as with Helm
  oci::ClientOptions options;
  options.plain_http_hosts = {registry.host()};
  auto client = std::make_shared<oci::RegistryClient>(options);
  publish::make_oci_publisher({registry.oci("cmop"), {}, client})->publish(pkg, false);
  const oci::Endpoint ep{registry.host(), {}};
  const auto ours = client->manifest(ep, "cmop/amp", "1.2.3_build.7");
  REQUIRE(ours);
  CHECK(ours->body.find("Tom \\u0026 Jerry \\u003ccartoon\\u003e") != std::string::npos);

  const fs::path tgz = tmp.path() / pkg.filename;
  std::ofstream(tgz, std::ios::binary) << pkg.bytes;
  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    util::TempDir home;
    const std::map<std::string, std::string> env = {{"HOME", home.path().string()},
                                                    {"HELM_CACHE_HOME", (home.path() / "cache").string()},
                                                    {"HELM_CONFIG_HOME", (home.path() / "config").string()},
                                                    {"HELM_DATA_HOME", (home.path() / "data").string()}};
    test::run_ok({helm.path, "push", tgz.string(), registry.oci(helm.name), "--plain-http"}, {}, env);
    const auto theirs = client->manifest(ep, helm.name + "/amp", "1.2.3_build.7");
    REQUIRE(theirs);
    CHECK(ours->config.digest == theirs->config.digest);
    CHECK(ours->layers.at(0).digest == theirs->layers.at(0).digest);
    INFO("cmop: " << ours->body << "\n" << helm.name << ": " << theirs->body);
    CHECK(ours->digest == theirs->digest);
  }
}
