#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include "cmop/net/http_client.hpp"
#include "cmop/trigger/trigger.hpp"
#include "support/process.hpp"

using namespace cmop;
using namespace std::chrono_literals;

namespace {

const char* kGoodReport =
    R"({"repo":"myrepo","commit":"0123456789abcdef0123","changed":true,"ok":true,"seconds":0.1,)"
    R"("charts":[{"path":"a","name":"a","version":"1.0.0","digest":"d","status":"published"},)"
    R"({"path":"b","name":"b","version":"1.0.0","digest":"d","status":"unchanged"}],"error":""})";

const char* kFailedChartReport =
    R"({"repo":"myrepo","commit":"0123456789abcdef0123","changed":true,"ok":false,"seconds":0.1,)"
    R"("charts":[{"path":"bad","name":"","version":"","digest":"","status":"failed",)"
    R"("reason":"bad/Chart.yaml: version is required"}],"error":""})";

void script(const test::Peer& peer, const std::string& json) {
  net::HttpClient client;
  net::Request req;  // named fields: a braced list would leave members without initializers (-Wextra)
  req.method = "POST";
  req.url = peer.url() + "/__script";
  req.body = json;
  auto res = client.send(req);
  REQUIRE(res.status == 200);
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

rapidjson::Document requests(const test::Peer& peer) {
  net::HttpClient client;
  net::Request req;
  req.url = peer.url() + "/__requests";
  auto res = client.send(req);
  rapidjson::Document doc;
  doc.Parse(res.body.c_str());
  REQUIRE(doc.IsArray());
  return doc;
}

trigger::Options options_for(const test::Peer& peer) {
  trigger::Options o;
  o.name = "myrepo";
  o.endpoint = peer.url();
  o.deadline = 20s;
  o.initial_backoff = 10ms;
  return o;
}

}  // namespace

TEST_CASE("trigger reports a successful sync with its counts and sends the token") {
  auto peer = test::start_python_peer("scripted_http_server.py");
  script(peer, std::string(R"([{"status":200,"body":")") + escape(kGoodReport) + R"("}])");
  auto o = options_for(peer);
  o.token = "s3cret";
  auto out = trigger::run(o);
  CHECK(out.exit_code == trigger::success);
  CHECK(out.message == "myrepo at 0123456789ab: 1 published, 1 unchanged, 0 removed");
  auto reqs = requests(peer);
  REQUIRE(reqs.Size() == 1);
  CHECK(std::string(reqs[0]["method"].GetString()) == "POST");
  CHECK(std::string(reqs[0]["path"].GetString()) == "/repo/myrepo/update");
  CHECK(std::string(reqs[0]["headers"]["Authorization"].GetString()) == "Bearer s3cret");
}

TEST_CASE("trigger fails with the first failing chart's reason") {
  auto peer = test::start_python_peer("scripted_http_server.py");
  script(peer, std::string(R"([{"status":200,"body":")") + escape(kFailedChartReport) + R"("}])");
  auto out = trigger::run(options_for(peer));
  CHECK(out.exit_code == trigger::sync_failed);
  CHECK_THAT(out.message, Catch::Contains("1 chart(s) failed") && Catch::Contains("version is required"));
}

TEST_CASE("trigger retries transient failures until the sidecar answers") {
  auto peer = test::start_python_peer("scripted_http_server.py");
  script(peer, std::string(R"([{"status":503,"body":"{\"error\":\"starting\"}"},)") +
                   R"({"status":500,"body":"oops"},{"status":200,"body":")" + escape(kGoodReport) + R"("}])");
  auto out = trigger::run(options_for(peer));
  CHECK(out.exit_code == trigger::success);
  CHECK(requests(peer).Size() == 3);
}

TEST_CASE("trigger does not retry a refusal") {
  auto peer = test::start_python_peer("scripted_http_server.py");
  script(peer, R"([{"status":401,"body":"{\"error\":\"missing or invalid bearer token\"}"}])");
  auto out = trigger::run(options_for(peer));
  CHECK(out.exit_code == trigger::rejected);
  CHECK_THAT(out.message, Catch::Contains("HTTP 401") && Catch::Contains("invalid bearer token"));
  CHECK(requests(peer).Size() == 1);
}

TEST_CASE("trigger gives up at the deadline when nothing listens") {
  trigger::Options o;
  o.name = "myrepo";
  o.endpoint = "http://127.0.0.1:" + std::to_string(test::free_port());
  o.deadline = 300ms;
  o.initial_backoff = 50ms;
  auto out = trigger::run(o);
  CHECK(out.exit_code == trigger::unavailable);
  CHECK_THAT(out.message, Catch::Contains("gave up"));
}

TEST_CASE("the cmop trigger command exits with the outcome's code and one line") {
  auto peer = test::start_python_peer("scripted_http_server.py");
  script(peer, std::string(R"([{"status":200,"body":")") + escape(kFailedChartReport) + R"("}])");
  std::string output;
  int rc = test::run({test::cmop_binary(), "trigger", "myrepo", "--endpoint", peer.url()}, &output);
  CHECK(rc == 1);
  CHECK_THAT(output, Catch::StartsWith("cmop trigger: myrepo at 0123456789ab: 1 chart(s) failed"));

  rc = test::run({test::cmop_binary(), "trigger", "Not_A_Name", "--endpoint", peer.url()}, &output);
  CHECK(rc == 2);
  CHECK_THAT(output, Catch::Contains("DNS-1123"));
}
