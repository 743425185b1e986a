// The HTTP surface of `cmop serve` in-process over real sockets: routing, request
// validation, limits, auth, health and metrics.
#include "serve_fixtures.hpp"

#include <fstream>
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/log.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;

using test::Running;

TEST_CASE("health, readiness and metrics answer", "[serve]") {
  Running r;
  auto health = call(r.base, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.header("Content-Type") == "application/json");
  CHECK(str(json_of(health), "status") == "ok");

  test::eventually([&] { return call(r.base, "GET", "/readyz").status == 200; }, "readyz 200");
  CHECK(call(r.base, "HEAD", "/healthz").status == 200);

  auto metrics = call(r.base, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(test::metric(metrics.body, "cmop_repos") == "0");
  CHECK(test::metric(metrics.body, "cmop_charts_published_total") == "0");
  CHECK(test::metric(metrics.body, "cmop_sync_failures_total") == "0");
  CHECK(metrics.body.find("# TYPE cmop_sync_duration_seconds histogram") != std::string::npos);
  // Earlier requests were counted by status code.
  CHECK(test::metric(metrics.body, "cmop_http_requests_total{code=\"200\"}") != "");
}

TEST_CASE("unknown routes are 404 and wrong methods 405 with Allow", "[serve]") {
  Running r;
  auto missing = call(r.base, "GET", "/nope");
  CHECK(missing.status == 404);
  CHECK(str(json_of(missing), "error").find("/nope") != std::string::npos);
  CHECK(call(r.base, "GET", "/repo/x/y/z").status == 404);
  CHECK(call(r.base, "GET", "/charts/../state").status == 400);

  auto wrong = call(r.base, "PUT", "/repo/new", "{}");
  CHECK(wrong.status == 405);
  CHECK(wrong.header("Allow") == "POST");
  CHECK_FALSE(str(json_of(wrong), "error").empty());

  auto wrong_delete = call(r.base, "DELETE", "/repo/dependency");
  CHECK(wrong_delete.status == 405);
  CHECK(wrong_delete.header("Allow") == "GET, HEAD, POST");

  auto wrong_health = call(r.base, "POST", "/healthz", "{}");
  CHECK(wrong_health.status == 405);
  CHECK(wrong_health.header("Allow") == "GET, HEAD");
}

TEST_CASE("request bodies are validated before anything runs", "[serve]") {
  Running r;
  SECTION("malformed JSON names the offset") {
    auto res = call(r.base, "POST", "/repo/new", "{\"name\": \"x\",, }");
    CHECK(res.status == 400);
    auto err = str(json_of(res), "error");
    CHECK(err.find("request body") != std::string::npos);
    CHECK(err.find("offset 13") != std::string::npos);
  }
  SECTION("not an object") {
    auto res = call(r.base, "POST", "/repo/new", "[1,2]");
    CHECK(res.status == 400);
    CHECK(str(json_of(res), "error").find("JSON object") != std::string::npos);
  }
  SECTION("empty body") {
    net::Request req;
    auto res = call(r.base, "POST", "/repo/new", "", {{"Content-Type", "application/json"}});
    CHECK(res.status == 400);
    CHECK(str(json_of(res), "error").find("empty") != std::string::npos);
  }
  SECTION("missing fields are named") {
    auto res = call(r.base, "POST", "/repo/new", "{\"name\":\"web\"}");
    CHECK(res.status == 400);
    CHECK(str(json_of(res), "error") == "request body field \"git\": is required");
    auto no_name = call(r.base, "POST", "/repo/new", "{\"git\":\"https://example.com/x.git\"}");
    CHECK(no_name.status == 400);
    CHECK(str(json_of(no_name), "error").find("field \"name\"") != std::string::npos);
  }
  SECTION("wrong types are named") {
    auto res = call(r.base, "POST", "/repo/new", "{\"name\":\"web\",\"git\":\"https://e.com/x\",\"ref\":5}");
    CHECK(res.status == 400);
    CHECK(str(json_of(res), "error") == "request body field \"ref\": must be a string");
    auto deps = call(r.base, "POST", "/repo/new", "{\"name\":\"web\",\"git\":\"https://e.com/x\",\"dependencies\":[{\"name\":\"a\"}]}");
    CHECK(deps.status == 400);
    CHECK(str(json_of(deps), "error").find("dependencies[0] field \"url\"") != std::string::npos);
  }
  SECTION("invalid names are refused") {
    auto res = call(r.base, "POST", "/repo/new", test::new_repo_body("../x", "https://example.com/x.git"));
    CHECK(res.status == 400);
    CHECK(str(json_of(res), "error").find("repo name") != std::string::npos);
    CHECK(call(r.base, "GET", "/repo/..%2Fx").status == 400);
    CHECK(call(r.base, "GET", "/repo/Upper/update").status == 400);
    CHECK(call(r.base, "DELETE", "/repo/a_b").status == 400);
    test::RawConnection c(r.server->port());
    REQUIRE(c.send("GET /repo/%zz HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(c.read_response().status == 400);
  }
  SECTION("file:// is forbidden without --allow-local-git") {
    auto res = call(r.base, "POST", "/repo/new", test::new_repo_body("web", "file:///etc"));
    CHECK(res.status == 403);
    CHECK(call(r.base, "GET", "/repo/web").status == 404);
  }
  SECTION("unknown repos are 404") {
    auto res = call(r.base, "GET", "/repo/ghost/update");
    CHECK(res.status == 404);
    CHECK(str(json_of(res), "error").find("ghost") != std::string::npos);
    CHECK(call(r.base, "GET", "/repo/ghost").status == 404);
    CHECK(call(r.base, "DELETE", "/repo/ghost").status == 404);
  }
}

TEST_CASE("dependency repositories: JSON and form-encoded", "[serve]") {
  Running r;
  auto form = call(r.base, "POST", "/repo/dependency", "name=bitnami&addr=https%3A%2F%2Fcharts.example.com%2Fbitnami",
                   {{"Content-Type", "application/x-www-form-urlencoded"}});
  REQUIRE(form.status == 200);
  auto doc = json_of(form);
  CHECK(str(doc, "name") == "bitnami");
  CHECK(str(doc, "url") == "https://charts.example.com/bitnami");

  auto json = call(r.base, "POST", "/repo/dependency",
                   "{\"name\":\"stable\",\"url\":\"https://stable.example.com\",\"password\":\"s3cret\"}");
  REQUIRE(json.status == 200);

  auto list = call(r.base, "GET", "/repo/dependency");
  REQUIRE(list.status == 200);
  CHECK(list.body.find("s3cret") == std::string::npos);  // never echoed
  auto listed = json_of(list);
  REQUIRE(listed["dependencies"].Size() == 2);

  auto missing = call(r.base, "POST", "/repo/dependency", "name=x", {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(missing.status == 400);
  CHECK(str(json_of(missing), "error") == "form field \"addr\": is required");
  auto bad_url = call(r.base, "POST", "/repo/dependency", "{\"name\":\"x\",\"url\":\"ftp://x\"}");
  CHECK(bad_url.status == 400);
  auto bad_name = call(r.base, "POST", "/repo/dependency", "name=..%2Fx&addr=https://x",
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(bad_name.status == 400);
}

TEST_CASE("size limits: 413 for bodies, 431 for headers", "[serve]") {
  Running r;
  SECTION("declared body over the limit is refused before it is read") {
    test::RawConnection c(r.server->port());
    REQUIRE(c.send("POST /repo/new HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(2 * 1024 * 1024) + "\r\n\r\n"));
    auto reply = c.read_response();
    CHECK(reply.status == 413);
    CHECK(reply.body.find("limit") != std::string::npos);
  }
  SECTION("a client that sends the whole oversized body still gets the answer") {
    auto res = call(r.base, "POST", "/repo/new", std::string(1024 * 1024 + 1, ' '));
    CHECK(res.status == 413);
    CHECK(str(json_of(res), "error").find("1048576") != std::string::npos);
  }
  SECTION("headers over 16 KiB") {
    test::RawConnection c(r.server->port());
    REQUIRE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
    auto reply = c.read_response();
    CHECK(reply.status == 431);
  }
  SECTION("garbage is a 400") {
    test::RawConnection c(r.server->port());
    REQUIRE(c.send("NOT HTTP AT ALL\r\n\r\n"));
    CHECK(c.read_response().status == 400);
  }
  // The server stays healthy after all of that.
  CHECK(call(r.base, "GET", "/healthz").status == 200);
}

TEST_CASE("keep-alive serves several requests on one connection", "[serve]") {
  Running r;
  test::RawConnection c(r.server->port());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto reply = c.read_response();
    REQUIRE(reply.status == 200);
    CHECK(reply.body == "{\"status\":\"ok\"}");
  }
  REQUIRE(c.send("GET /repo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(c.read_response().status == 200);
  CHECK(c.closed_by_peer());
}

TEST_CASE("Expect: 100-continue gets a 100 before the body", "[serve]") {
  Running r;
  test::RawConnection c(r.server->port());
  std::string body = "{\"name\":\"dep\",\"url\":\"https://dep.example.com\"}";
  REQUIRE(c.send("POST /repo/dependency HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: "
                 "100-continue\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n"));
  CHECK(c.read_response().status == 100);
  REQUIRE(c.send(body));
  CHECK(c.read_response().status == 200);
}

TEST_CASE("a token guards every mutation", "[serve]") {
  Running r([](serve::ServerOptions& o) { o.token = "t0ken"; });
  const std::string dep = "{\"name\":\"dep\",\"url\":\"https://dep.example.com\"}";

  auto none = call(r.base, "POST", "/repo/dependency", dep);
  CHECK(none.status == 401);
  CHECK(none.header("WWW-Authenticate").rfind("Bearer", 0) == 0);
  CHECK_FALSE(str(json_of(none), "error").empty());

  auto wrong = call(r.base, "POST", "/repo/dependency", dep, {{"Authorization", "Bearer t0ke"}});
  CHECK(wrong.status == 401);
  CHECK(wrong.header("WWW-Authenticate").find("invalid_token") != std::string::npos);
  CHECK(call(r.base, "POST", "/repo/dependency", dep, {{"Authorization", "Basic dDBrZW4="}}).status == 401);

  CHECK(call(r.base, "GET", "/repo/anything/update").status == 401);
  CHECK(call(r.base, "DELETE", "/repo/anything").status == 401);
  CHECK(call(r.base, "POST", "/repo/new", "{]").status == 401);  // auth before parsing

  // Reads need no token.
  CHECK(call(r.base, "GET", "/repo").status == 200);
  CHECK(call(r.base, "GET", "/repo/dependency").status == 200);
  CHECK(call(r.base, "GET", "/healthz").status == 200);

  auto ok = call(r.base, "POST", "/repo/dependency", dep, {{"Authorization", "Bearer t0ken"}});
  CHECK(ok.status == 200);
  CHECK(call(r.base, "POST", "/repo/dependency", dep, {{"Authorization", "bearer   t0ken "}}).status == 200);
  CHECK(call(r.base, "GET", "/repo/anything/update", "", {{"Authorization", "Bearer t0ken"}}).status == 404);
}

TEST_CASE("a repo's trigger token updates that repo and nothing else", "[serve]") {
  Running r([](serve::ServerOptions& o) { o.token = "t0ken"; });
  auto bearer = [](const std::string& t) { return net::Headers{{"Authorization", "Bearer " + t}}; };
  const std::string for_web = util::repo_trigger_token("t0ken", "web");
  CHECK(for_web != util::repo_trigger_token("t0ken", "db"));
  CHECK(for_web != util::repo_trigger_token("other", "web"));

  // Accepted for web's update (404: web is not registered, so auth passed)...
  CHECK(call(r.base, "POST", "/repo/web/update", "", bearer(for_web)).status == 404);
  CHECK(call(r.base, "GET", "/repo/web/update", "", bearer(for_web)).status == 404);
  // ...refused everywhere else.
  CHECK(call(r.base, "POST", "/repo/db/update", "", bearer(for_web)).status == 401);
  CHECK(call(r.base, "DELETE", "/repo/web", "", bearer(for_web)).status == 401);
  CHECK(call(r.base, "POST", "/repo/new", "{}", bearer(for_web)).status == 401);
  CHECK(call(r.base, "POST", "/repo/dependency", "{}", bearer(for_web)).status == 401);
}

TEST_CASE("a bad owner query parameter is a 400 naming it", "[serve]") {
  Running r;
  test::RawConnection c(r.server->port());
  REQUIRE(c.send("DELETE /repo/web?owner=team%zzweb HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto bad = c.read_response();
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("query string"));
  CHECK(call(r.base, "DELETE", "/repo/web?owner=team%2Fweb").status == 404);  // well-formed: web is unknown
}

TEST_CASE("the embedded chart repo serves an index even before anything is published", "[serve]") {
  Running r;
  auto index = call(r.base, "GET", "/charts/index.yaml");
  CHECK(index.status == 200);
  CHECK(index.body.find("apiVersion: v1") != std::string::npos);
  CHECK(index.body.find("entries: {}") != std::string::npos);
  CHECK(call(r.base, "GET", "/charts/missing-1.0.0.tgz").status == 404);
  CHECK(call(r.base, "GET", "/charts/%2e%2e%2fstate.tgz").status == 400);
  CHECK(call(r.base, "GET", "/charts/.hidden.tgz").status == 400);
  CHECK(call(r.base, "GET", "/charts/a%2fb.tgz").status == 400);
  CHECK(call(r.base, "GET", "/charts/index.json").status == 400);
}

TEST_CASE("bad options are refused with the flag named", "[serve]") {
  util::TempDir tmp;
  auto o = test::local_options(tmp.path());
  o.workers = 0;
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--workers"));
  // The library holds the options to the flags' ranges (serve::bounds).
  o.workers = 257;
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--workers: must be at most 256, got 257"));
  o.workers = 1;
  o.hook_rate_per_minute = 0;  // was taken as 1 before the ranges were shared
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--hook-rate-limit: must be at least 1, got 0"));
  o.hook_rate_per_minute = 30;
  o.network_timeout = std::chrono::seconds(86401);
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--network-timeout: must be at most 86400, got 86401"));
  o.network_timeout = std::chrono::seconds(60);
  // A refused option leaves no state dir behind: the checks run before it is made.
  const auto fresh_state = tmp.path() / "never-made";
  auto unopened = test::local_options(fresh_state);
  unopened.ca_file = tmp.path() / "missing-ca.pem";
  CHECK_THROWS_WITH(serve::Server(unopened), Catch::Contains("--ca-file"));
  CHECK_FALSE(std::filesystem::exists(fresh_state));
  o.listen = "127.0.0.1";
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("host:port"));
  o.listen = "127.0.0.1:0";
  o.chartmuseum_url = "ftp://x";
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--chartmuseum-url"));
  o.chartmuseum_url.clear();
  o.git_ca_file = tmp.path() / "missing-ca.pem";
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--git-ca-file") && Catch::Contains("missing-ca.pem"));
  o.git_ca_file.clear();
  o.ssh_known_hosts_file = tmp.path() / "missing_known_hosts";
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--ssh-known-hosts") && Catch::Contains("missing_known_hosts"));
  util::write_file_atomic(tmp.path() / "empty_known_hosts", "\n  \n");
  o.ssh_known_hosts_file = tmp.path() / "empty_known_hosts";
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("--ssh-known-hosts") && Catch::Contains("holds no host keys"));
}

TEST_CASE("one cmop serve per state dir", "[serve]") {
  Running first;
  auto o = test::local_options(first.tmp.path() / "state");
  CHECK_THROWS_WITH(serve::Server(o), Catch::Contains("in use by another cmop serve"));
  first.server.reset();
  CHECK_NOTHROW(serve::Server(o));  // released with its holder
}

TEST_CASE("log lines are structured", "[serve][log]") {
  namespace log = util::log;
  auto json = log::format_line(log::Format::json, log::Level::warn, "sync finished",
                               {{"repo", "web"}, {"seconds", 0.5}, {"ok", false}, {"note", "a \"q\"\n"}});
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(str(doc, "level") == "warn");
  CHECK(str(doc, "msg") == "sync finished");
  CHECK(str(doc, "repo") == "web");
  CHECK(doc["seconds"].GetDouble() == 0.5);
  CHECK(doc["ok"].IsFalse());
  CHECK(str(doc, "note") == "a \"q\"\n");

  // A chart path from git may be Latin-1: the line must stay valid UTF-8 JSON.
  auto latin1 = log::format_line(log::Format::json, log::Level::info, "chart", {{"path", "charts/caf\xe9"}});
  rapidjson::Document strict;
  strict.Parse<rapidjson::kParseValidateEncodingFlag>(latin1.c_str());
  CHECK_FALSE(strict.HasParseError());
  CHECK(str(strict, "path") == "charts/caf\xef\xbf\xbd");

  auto text = log::format_line(log::Format::text, log::Level::info, "http request", {{"path", "/a b"}, {"status", 200}});
  CHECK(text.find(" INFO http request path=\"/a b\" status=200") != std::string::npos);
  CHECK(text.find('\n') == std::string::npos);
  CHECK_THROWS_WITH(log::parse_format("xml"), Catch::Contains("--log-format"));

  std::vector<std::string> lines;
  log::set_sink([&](std::string_view line) { lines.emplace_back(line); });
  log::set_format(log::Format::json);
  log::info("hello", {{"k", 1}});
  log::debug("dropped");
  log::set_format(log::Format::text);
  log::set_sink(nullptr);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\"msg\":\"hello\",\"k\":1}\n") != std::string::npos);
}

// Issue 11, items 1 and 2: nothing secret in any answer or log line. Before the
// fix GET /repo/dependency listed user:password@ URLs verbatim, POST echoed them,
// the "registered" log line carried them, and only user:pass@ was masked anywhere.
TEST_CASE("credentials in URLs appear in no answer and no log line", "[serve][redact]") {
  std::vector<std::string> lines;
  util::log::set_sink([&](std::string_view line) { lines.emplace_back(line); });
  struct RestoreSink {
    ~RestoreSink() { util::log::set_sink(nullptr); }
  } restore;
  Running r;
  const std::vector<std::string> secrets = {"s3cretPW", "ghp_T0KENabc", "acc3ss", "priv4te", "sl/ash"};

  auto dep = call(r.base, "POST", "/repo/dependency",
                  "{\"name\":\"priv\",\"url\":\"https://bob:s3cretPW@charts.example.com/x?access_token=acc3ss\"}");
  REQUIRE(dep.status == 200);
  CHECK(str(json_of(dep), "url") == "https://bob:***@charts.example.com/x?access_token=***");
  auto slash = call(r.base, "POST", "/repo/dependency",
                    "{\"name\":\"slash\",\"url\":\"https://carol:sl/ash@charts.example.com/y\"}");
  REQUIRE(slash.status == 200);
  auto list = call(r.base, "GET", "/repo/dependency");
  REQUIRE(list.status == 200);
  CHECK_THAT(list.body, Catch::Contains("https://carol:***@charts.example.com/y"));

  // A token as the user name and a private_token query parameter in a git URL;
  // the sync fails (nothing listens there), and its error is shown too.
  auto created = call(r.base, "POST", "/repo/new",
                      test::new_repo_body("tok", "http://ghp_T0KENabc@127.0.0.1:1/o/r.git?private_token=priv4te"));
  CHECK(created.status == 502);
  auto repos = call(r.base, "GET", "/repo");
  auto one = call(r.base, "GET", "/repo/tok");
  REQUIRE(one.status == 200);
  CHECK(str(json_of(one)["spec"], "git") == "http://***@127.0.0.1:1/o/r.git?private_token=***");
  // A URL that fails validation is neither echoed nor logged raw.
  auto invalid = call(r.base, "POST", "/repo/new", test::new_repo_body("bad", "ftp://bob:s3cretPW@host/x.git"));
  CHECK(invalid.status == 400);
  auto bad_dep = call(r.base, "POST", "/repo/dependency", "{\"name\":\"b\",\"url\":\"ftp://bob:s3cretPW@h/\"}");
  CHECK(bad_dep.status == 400);

  for (const auto* answer : {&dep, &slash, &list, &created, &repos, &one, &invalid, &bad_dep})
    for (const auto& s : secrets) {
      INFO(answer->body);
      CHECK(answer->body.find(s) == std::string::npos);
    }
  REQUIRE_FALSE(lines.empty());
  for (const auto& line : lines)
    for (const auto& s : secrets) {
      INFO(line);
      CHECK(line.find(s) == std::string::npos);
    }
}

// Issue 11, item 10: before, "Transfer-Encoding: xchunked" left the body unread and
// it was parsed as a second request (a smuggled request).
TEST_CASE("Transfer-Encoding not ending in chunked is 400 and closes", "[serve][smuggling]") {
  Running r;
  for (const std::string te : {"xchunked", "chunked, gzip", "identity"}) {
    INFO(te);
    test::RawConnection c(r.server->port());
    const std::string smuggled = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(c.send("POST /repo/dependency HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: " + te + "\r\n\r\n" + smuggled));
    auto reply = c.read_response();
    CHECK(reply.status == 400);
    CHECK_THAT(reply.body, Catch::Contains("Transfer-Encoding"));
    CHECK(c.closed_by_peer());  // the smuggled GET is never answered
  }
}

// Issue 11, item 11: "100 Continue" went out before the token was checked, inviting
// the body of a request that was going to be refused anyway.
TEST_CASE("no 100 Continue before authentication, and over-long fields are 400", "[serve][auth]") {
  Running r([](serve::ServerOptions& o) { o.token = "t0ken"; });
  test::RawConnection c(r.server->port());
  REQUIRE(c.send("POST /repo/new HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n"));
  auto reply = c.read_response();
  CHECK(reply.status == 401);  // not 100

  net::Headers auth{{"Authorization", "Bearer t0ken"}};
  const std::string long_ref(2000, 'a'), long_path(2000, 'p'), long_git = "https://h/" + std::string(3000, 'g');
  auto body = [](const std::string& field, const std::string& value) {
    return "{\"name\":\"x\",\"git\":\"https://h/r.git\",\"" + field + "\":\"" + value + "\"}";
  };
  auto ref = call(r.base, "POST", "/repo/new", body("ref", long_ref), auth);
  CHECK(ref.status == 400);
  CHECK(str(json_of(ref), "error") == "request body field \"ref\": longer than 1024 bytes");
  CHECK(call(r.base, "POST", "/repo/new", body("path", long_path), auth).status == 400);
  auto git = call(r.base, "POST", "/repo/new", "{\"name\":\"x\",\"git\":\"" + long_git + "\"}", auth);
  CHECK(git.status == 400);
  CHECK_THAT(str(json_of(git), "error"), Catch::Contains("\"git\": longer than 2048 bytes"));
}

// Issue 11, item 8: no cap on connections, and an accept loop spinning on EMFILE.
TEST_CASE("at the connection cap the longest-idle connection makes room", "[serve][connections]") {
  Running r([](serve::ServerOptions& o) { o.max_connections = 4; });
  std::vector<std::unique_ptr<test::RawConnection>> idle;
  for (int i = 0; i < 12; ++i) idle.push_back(std::make_unique<test::RawConnection>(r.server->port()));
  // Every new request still gets through, displacing idle connections.
  for (int i = 0; i < 5; ++i) CHECK(call(r.base, "GET", "/healthz").status == 200);
  auto metrics = call(r.base, "GET", "/metrics").body;
  CHECK(std::stoi(test::metric(metrics, "cmop_http_connections_open")) <= 4);
  CHECK(idle.front()->closed_by_peer());  // the oldest idle one was closed
}

// Issue 11, item 6: /charts/*.tgz was read whole per request on the I/O threads.
TEST_CASE("chart archives are streamed, not held in memory per connection", "[serve][memory]") {
  Running r;
  const auto repo_dir = r.tmp.path() / "state" / "charts";
  const std::size_t size = 64u << 20;
  {
    std::ofstream out(repo_dir / "big-1.0.0.tgz", std::ios::binary);
    std::string block(1 << 20, 'x');
    for (std::size_t i = 0; i < size / block.size(); ++i) out << block;
  }
  auto head = call(r.base, "HEAD", "/charts/big-1.0.0.tgz");
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == std::to_string(size));

  auto rss_kib = [] {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0L;
  };
  const long before = rss_kib();
  std::vector<std::unique_ptr<test::RawConnection>> readers;
  for (int i = 0; i < 16; ++i) {
    readers.push_back(std::make_unique<test::RawConnection>(r.server->port()));
    REQUIRE(readers.back()->send("GET /charts/big-1.0.0.tgz HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  // The readers read nothing more: each download stalls on a full socket buffer.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const long grown_mib = (rss_kib() - before) / 1024;
  INFO("RSS grew by " << grown_mib << " MiB with 16 stalled downloads of a 64 MiB file");
  CHECK(grown_mib < 64);  // before: 16 x 64 MiB
  CHECK(call(r.base, "GET", "/healthz").status == 200);
}

TEST_CASE("an inline SSH key is kept while the repo's spec names it, and goes with the repo", "[serve]") {
  Running r;
  const std::filesystem::path keys = r.tmp.path() / "state" / "ssh-keys";
  // Suspended: the spec is recorded without a sync, so no SSH server is needed.
  auto body = [](const std::string& key) {
    return R"({"name":"sshrepo","git":"ssh://git@git.example.invalid/charts.git","suspend":true,)"
           R"("auth":{"sshPrivateKey":")" + key + R"("}})";
  };
  auto stored = [&] {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(keys, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
      out.push_back(it->path());
    return out;
  };
  REQUIRE(call(r.base, "POST", "/repo/new", body("key one")).status == 200);
  const auto first = stored();
  REQUIRE(first.size() == 1);
  CHECK(util::read_file(first[0]) == "key one\n");
  CHECK((std::filesystem::status(first[0]).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

  REQUIRE(call(r.base, "POST", "/repo/new", body("key two")).status == 200);
  const auto second = stored();
  REQUIRE(second.size() == 1);  // the first key is named by no spec any more
  CHECK(second[0] != first[0]);
  CHECK(util::read_file(second[0]) == "key two\n");

  REQUIRE(call(r.base, "DELETE", "/repo/sshrepo").status == 200);
  CHECK(stored().empty());
}
