#pragma once
// Shared helpers of the operator tests: the fake kube-apiserver and sidecar as real
// processes on 127.0.0.1, and small JSON/HTTP conveniences.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "cmop/net/http_client.hpp"
#include "cmop/operate/kube_client.hpp"
#include "support/process.hpp"

namespace cmop::test {

inline rapidjson::Document json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

inline net::Response http(const std::string& method, const std::string& url, const std::string& body = "") {
  net::HttpClient client;
  net::Request req;
  req.method = method;
  req.url = url;
  req.body = body;
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  return client.send(req);
}

// Polls until cond() holds; fails the test with `what` after the deadline. The deadline
// only bounds a hang: no assertion depends on how long anything takes.
inline void eventually(const std::string& what, const std::function<bool()>& cond,
                       std::chrono::seconds deadline = std::chrono::seconds(60)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) FAIL("timed out waiting for: " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

struct FakeApiServer {
  Peer peer;
  explicit FakeApiServer(std::vector<std::string> args = {"--token", "sekret", "--bookmark-interval", "0.3"})
      : peer(start_python_peer("fake_kube_apiserver.py", std::move(args))) {}
  std::string url() const { return peer.url(); }
  operate::KubeConfig config(const std::string& token = "sekret") const {
    operate::KubeConfig c;
    c.server = url();
    c.token = token;
    return c;
  }
  // Request counts by "METHOD /path".
  int count(const std::string& method_and_path) const {
    auto doc = json(http("GET", url() + "/__requests").body);
    auto it = doc.FindMember(method_and_path.c_str());
    return it == doc.MemberEnd() ? 0 : it->value.GetInt();
  }
  // All write requests (anything but GET) counted so far.
  int writes() const {
    auto doc = json(http("GET", url() + "/__requests").body);
    int n = 0;
    for (auto& m : doc.GetObject())
      if (std::string(m.name.GetString()).rfind("GET ", 0) != 0) n += m.value.GetInt();
    return n;
  }
  void hook(const std::string& path, const std::string& body = "{}") const {
    REQUIRE(http("POST", url() + path, body).status == 200);
  }
};

inline rapidjson::Document chartmuseum(const std::string& name, const std::string& git, int every = 15) {
  return json(R"({"apiVersion":"cm.bitnami.com/v1alpha1","kind":"Chartmuseum","metadata":{"name":")" + name +
              R"("},"spec":{"git":")" + git + R"(","ref":"main","path":"charts","updateEveryMinutes":)" +
              std::to_string(every) + R"(,"dependencies":[{"name":"bitnami","url":"https://charts.bitnami.com/bitnami"}]}})");
}

}  // namespace cmop::test
