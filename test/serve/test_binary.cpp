// The real `cmop serve` binary: flags and environment, JSON logs, graceful stop on
// SIGTERM, and a kill -9 followed by a restart on the same state dir.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "cmop/oci/registry.hpp"
#include "serve_fixtures.hpp"
#include "support/registry_fixture.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ServeProcess {
  int port = test::free_port();
  std::unique_ptr<test::Process> process;
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }

  void start(std::vector<std::string> args, const fs::path& log, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv{test::cmop_binary(), "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("CMOP_LISTEN", "127.0.0.1:" + std::to_string(port));
    process = std::make_unique<test::Process>(argv, env, fs::path{}, log);
    if (!test::wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << slurp(log));
  }
};

}  // namespace

TEST_CASE("cmop serve survives kill -9: repos and published charts are kept", "[serve][binary]") {
  test::ChartsRepo git;
  auto log = git.tmp.path() / "serve.log";
  ServeProcess serve;
  serve.start({"--state-dir", git.state.string(), "--token", "s3cret"}, log);
  net::Headers auth{{"Authorization", "Bearer s3cret"}};

  REQUIRE(call(serve.base(), "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()), auth).status == 200);
  auto index_before = call(serve.base(), "GET", "/charts/index.yaml").body;
  REQUIRE(index_before.find("alpha") != std::string::npos);

  serve.process->kill(SIGKILL);
  serve.process->wait();
  serve.start({"--state-dir", git.state.string(), "--token", "s3cret"}, git.tmp.path() / "serve2.log");

  auto state = call(serve.base(), "GET", "/repo/mycharts");
  REQUIRE(state.status == 200);
  auto s = json_of(state);
  CHECK(str(s, "lastCommit") == git.work.head());
  CHECK(s["charts"].Size() == 2);
  auto index_after = call(serve.base(), "GET", "/charts/index.yaml").body;
  CHECK(index_after.find("alpha") != std::string::npos);
  CHECK(index_after.find("beta") != std::string::npos);
  CHECK(call(serve.base(), "GET", "/charts/beta-0.2.0.tgz").status == 200);

  // Nothing changed: the restarted server knows what it published.
  auto update = call(serve.base(), "POST", "/repo/mycharts/update", "", auth);
  REQUIRE(update.status == 200);
  for (auto& c : json_of(update)["charts"].GetArray()) CHECK(str(c, "status") == "unchanged");
  CHECK(call(serve.base(), "POST", "/repo/mycharts/update").status == 401);
}

TEST_CASE("cmop serve stops gracefully on SIGTERM and logs JSON lines", "[serve][binary]") {
  util::TempDir tmp;
  auto log = tmp.path() / "serve.log";
  ServeProcess serve;
  serve.start({"--log-format", "json"}, log, {{"CMOP_STATE_DIR", (tmp.path() / "state").string()}, {"CMOP_WORKERS", "2"}});
  REQUIRE(call(serve.base(), "GET", "/healthz").status == 200);
  REQUIRE(call(serve.base(), "GET", "/nope").status == 404);
  CHECK(fs::exists(tmp.path() / "state" / "charts"));  // env var honoured

  serve.process->kill(SIGTERM);
  CHECK(serve.process->wait(30000) == 0);

  std::istringstream lines(slurp(log));
  std::string line;
  int requests = 0;
  bool saw_shutdown = false;
  while (std::getline(lines, line)) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    INFO("log line: " << line);
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());
    CHECK_FALSE(str(doc, "time").empty());
    if (str(doc, "msg") == "http request") {
      ++requests;
      CHECK(doc["status"].IsInt());
    }
    if (str(doc, "msg") == "stopped") saw_shutdown = doc["drained"].IsTrue();
  }
  CHECK(requests >= 2);
  CHECK(saw_shutdown);
}

TEST_CASE("cmop serve refuses bad flags", "[serve][binary]") {
  std::string out;
  CHECK(test::run({test::cmop_binary(), "serve", "--workers", "0"}, &out) != 0);
  CHECK(out.find("--workers") != std::string::npos);
  CHECK(test::run({test::cmop_binary(), "serve", "--log-format", "xml"}, &out) != 0);
  util::TempDir tmp;
  CHECK(test::run({test::cmop_binary(), "serve", "--listen", "nonsense", "--state-dir", tmp.path().string()}, &out) == 1);
  CHECK(out.find("host:port") != std::string::npos);
}

TEST_CASE("cmop serve with no flags, started from another working directory, publishes into ./cmop-state",
          "[serve][binary]") {
  test::ChartsRepo git;
  const fs::path elsewhere = git.tmp.path() / "elsewhere";
  fs::create_directories(elsewhere);
  auto log = git.tmp.path() / "serve.log";
  const int port = test::free_port();
  // Only the listen address (a free port) is set: everything else is the default.
  test::Process serve({test::cmop_binary(), "serve"}, {{"CMOP_LISTEN", "127.0.0.1:" + std::to_string(port)}},
                      elsewhere, log);
  if (!test::wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << slurp(log));
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  auto res = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(json_of(res)["ok"].GetBool());
  CHECK(fs::exists(elsewhere / "cmop-state" / "charts" / "alpha-1.0.0.tgz"));
  CHECK(call(base, "GET", "/charts/alpha-1.0.0.tgz").status == 200);
  // The log names the state dir as the absolute path it resolved to.
  CHECK_THAT(slurp(log), Catch::Contains((elsewhere / "cmop-state").string()));
}

TEST_CASE("cmop serve publishes into an OCI registry named by environment variables", "[serve][binary][oci]") {
  test::Registry registry;
  test::ChartsRepo git;
  auto log = git.tmp.path() / "serve.log";
  ServeProcess serve;
  serve.start({"--state-dir", git.state.string()}, log,
              {{"CMOP_OCI_REGISTRY", registry.oci("team")},
               {"CMOP_PLAIN_HTTP_REGISTRIES", "registry.invalid:1," + registry.host()}});
  test::eventually([&] { return call(serve.base(), "GET", "/readyz").status == 200; }, "readyz 200");

  auto res = call(serve.base(), "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(json_of(res)["ok"].GetBool());
  oci::ClientOptions o;
  o.plain_http_hosts = {registry.host()};
  oci::RegistryClient client(o);
  CHECK(client.tags({registry.host(), {}}, "team/alpha") == std::vector<std::string>{"1.0.0"});
  CHECK(client.tags({registry.host(), {}}, "team/beta") == std::vector<std::string>{"0.2.0"});
  CHECK(call(serve.base(), "GET", "/charts/index.yaml").status == 404);  // no embedded repo

  REQUIRE(call(serve.base(), "DELETE", "/repo/mycharts").status == 200);
  CHECK_FALSE(client.resolve({registry.host(), {}}, "team/alpha", "1.0.0"));
}
