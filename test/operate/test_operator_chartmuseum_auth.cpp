// The real `cmop operate` and `cmop serve` with the sidecar publishing to a
// ChartMuseum (test/support/fake_chartmuseum.py) that refuses its credentials:
// the resource's status names that, not a generic sync failure.
#include <filesystem>
#include <fstream>

#include "cmop/publish/publisher.hpp"
#include "operate_fixtures.hpp"
#include "support/git_fixture.hpp"

using namespace cmop;
using namespace cmop::operate;
using namespace cmop::test;
namespace fs = std::filesystem;

TEST_CASE("operator status: ChartMuseum refusing the sidecar's credentials is ChartMuseumUnauthorized") {
  util::TempDir tmp("cmop-operate-cm-auth-");
  GitWorkRepo web(tmp.path() / "web");
  write_chart(web, "charts/alpha", "alpha", "1.0.0");
  web.commit("initial");
  make_bare(web, tmp.path() / "served", "web.git");
  GitDaemon daemon(tmp.path() / "served");
  auto museum = start_python_peer("fake_chartmuseum.py", {"--basic-auth", "cm:pw"});

  const int port = free_port();
  const std::string sidecar_url = "http://127.0.0.1:" + std::to_string(port);
  Process sidecar({cmop_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port), "--state-dir",
                   (tmp.path() / "state").string(), "--token", "side-token", "--chartmuseum-url", museum.url(),
                   "--chartmuseum-username", "cm"},
                  {{"CMOP_CHARTMUSEUM_PASSWORD", "not-the-password"}}, {}, tmp.path() / "serve.log");
  REQUIRE(wait_for_port(port, 30000));
  FakeApiServer api;
  KubeClient kube(api.config());
  Operator op(api, sidecar_url, {"--trigger-endpoint", sidecar_url});

  kube.create(resources::chartmuseums, "platform", chartmuseum("web", daemon.url("web.git")));
  std::string reason, message;
  eventually("a Ready=False condition from the sync", [&] {
    auto cr = kube.get(resources::chartmuseums, "platform", "web");
    reason = condition(cr, "Ready", "reason");
    message = condition(cr, "Ready", "message");
    return condition(cr, "Ready", "status") == "False" && !reason.empty() && reason != "Progressing";
  });
  CHECK(reason == "ChartMuseumUnauthorized");
  // From the repo's state, which names what failed but quotes nothing the remote said.
  CHECK_THAT(message, Catch::Contains(std::string(publish::kChartMuseumCredentialsRefused)));
  CHECK_THAT(message, !Catch::Contains("not-the-password"));
}
