// The request reading of `cmop serve` without sockets: routes, the token check and
// the bodies (the same functions fuzz/fuzz_serve_request.cpp drives).
#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "cmop/error.hpp"
#include "cmop/serve/request.hpp"

#include "support/error_of.hpp"

using namespace cmop;
using namespace cmop::serve;

namespace {
using test::error_of;
Errc error_code_of(const std::function<void()>& f) { return error_of(f).code(); }
}  // namespace

TEST_CASE("routes: endpoints, methods, mutations and subjects", "[serve][request]") {
  auto update = route_request("GET", "/repo/web/update?now=1", false);
  CHECK(update.endpoint == Endpoint::update);
  CHECK(update.method_allowed);
  CHECK(update.mutation);  // GET, but it syncs
  CHECK(update.subject == "web");
  CHECK(update.path == "/repo/web/update");

  auto repo = route_request("PUT", "/repo/w%65b/", false);
  CHECK(repo.endpoint == Endpoint::repo);
  CHECK(repo.subject == "web");
  CHECK_FALSE(repo.method_allowed);
  CHECK(repo.allow == "GET, HEAD, DELETE");

  CHECK(route_request("POST", "/repo/dependency", false).mutation);
  CHECK_FALSE(route_request("GET", "/repo/dependency", false).mutation);
  CHECK(route_request("GET", "/nope", false).endpoint == Endpoint::none);
  CHECK(route_request("GET", "/charts/index.yaml", false).endpoint == Endpoint::none);
  CHECK(route_request("GET", "/charts/index.yaml", true).endpoint == Endpoint::charts_index);
  CHECK(route_request("GET", "/charts/a-1.0.0.tgz", true).subject == "a-1.0.0.tgz");

  CHECK(error_code_of([] { route_request("GET", "repo", false); }) == Errc::invalid_argument);
  CHECK(error_code_of([] { route_request("GET", "/charts/%2e%2e", true); }) == Errc::invalid_argument);
  CHECK(error_code_of([] { route_request("GET", "/repo/%4", false); }) == Errc::invalid_argument);
}

TEST_CASE("bearer tokens: scheme case-insensitive, blanks ignored", "[serve][request]") {
  CHECK(bearer_authorized("", ""));
  CHECK(bearer_authorized("Bearer t0k", "t0k"));
  CHECK(bearer_authorized("bEaReR \t t0k ", "t0k"));
  CHECK_FALSE(bearer_authorized("Bearer t0", "t0k"));
  CHECK_FALSE(bearer_authorized("Basic t0k", "t0k"));
  CHECK_FALSE(bearer_authorized("Bearer", "t0k"));
}

TEST_CASE("dependency bodies: JSON and the original sidecar's form", "[serve][request]") {
  auto form = parse_dependency_request("application/x-www-form-urlencoded; charset=utf-8",
                                       "name=bitnami&addr=https%3A%2F%2Fcharts.example.com&username=a+b");
  CHECK(form.name == "bitnami");
  CHECK(form.url == "https://charts.example.com");
  CHECK(form.username == "a b");
  auto json = parse_dependency_request("application/json", R"({"name":"stable","url":"https://s.example.com"})");
  CHECK(json.url == "https://s.example.com");
  CHECK(error_code_of([] { parse_dependency_request("application/x-www-form-urlencoded", "name=x&addr=%zz"); }) ==
        Errc::invalid_argument);
  CHECK(error_code_of([] { parse_dependency_request("", R"({"name":"Bad","url":"https://x"})"); }) ==
        Errc::invalid_argument);
}

TEST_CASE("new repo bodies: fields, dependencies and the SSH key", "[serve][request]") {
  auto parsed = parse_new_repo_request(
      R"({"name":"web","git":"ssh://git@example.com/x.git","ref":"main","dependencies":[{"name":"b","url":"https://b"}],)"
      R"("auth":{"username":"git","sshPrivateKey":"KEY","sshPassphrase":"pw"}})");
  CHECK(parsed.spec.name == "web");
  CHECK(parsed.spec.ref == "main");
  REQUIRE(parsed.spec.dependencies.size() == 1);
  CHECK(parsed.spec.dependencies[0].name == "b");
  CHECK(parsed.spec.credentials.username == "git");
  CHECK(parsed.spec.credentials.ssh_passphrase == "pw");
  CHECK(parsed.spec.credentials.ssh_private_key_file.empty());
  CHECK(parsed.ssh_private_key == "KEY\n");
  CHECK(error_code_of([] { parse_new_repo_request(R"({"name":"web","git":"x","auth":[]})"); }) ==
        Errc::invalid_argument);
}

TEST_CASE("new repo bodies: versioning policy and dependency mirrors", "[serve][request]") {
  auto parsed = parse_new_repo_request(
      R"({"name":"web","git":"https://g/x.git","versioning":"revision",)"
      R"("dependencies":[{"name":"ours","url":"self","mirrorOf":"https://example.github.io/charts"}]})");
  CHECK(parsed.spec.versioning == sync::Versioning::revision);
  REQUIRE(parsed.spec.dependencies.size() == 1);
  CHECK(parsed.spec.dependencies[0].url == "self");
  CHECK(parsed.spec.dependencies[0].mirror_of == "https://example.github.io/charts");
  CHECK(parse_new_repo_request(R"({"name":"web","git":"https://g/x.git"})").spec.versioning ==
        sync::Versioning::immutable);
  auto bad = error_of([] { parse_new_repo_request(R"({"name":"web","git":"x","versioning":"latest"})"); });
  CHECK(bad.code() == Errc::invalid_argument);
  CHECK_THAT(bad.what(), Catch::Contains("versioning") && Catch::Contains("immutable, revision or overwrite"));
  auto form = parse_dependency_request("application/x-www-form-urlencoded",
                                       "name=m&addr=https%3A%2F%2Fmirror.example&mirrorOf=https%3A%2F%2Fup.example");
  CHECK(form.mirror_of == "https://up.example");
}

// Regression: rapidjson's default parser recurses once per nesting level, so a body
// of 1 MiB of '[' (within the default body limit) overflowed the stack and killed
// the server. Deep nesting must be an ordinary 400.
TEST_CASE("deeply nested JSON bodies are refused, not a stack overflow", "[serve][request]") {
  std::string deep(1 << 20, '[');
  CHECK(error_code_of([&] { parse_new_repo_request(deep); }) == Errc::invalid_argument);
  CHECK(error_code_of([&] { parse_dependency_request("application/json", deep); }) == Errc::invalid_argument);
  std::string deep_object = R"({"name":"web","git":"https://e.com/x","path":)" + std::string(1 << 20, '[');
  CHECK(error_code_of([&] { parse_new_repo_request(deep_object); }) == Errc::invalid_argument);
}
