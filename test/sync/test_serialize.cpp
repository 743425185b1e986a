// What the sidecar shows without a token must not carry credentials; what it
// keeps in its state dir must round-trip them.
#include <catch2/catch.hpp>

#include "cmop/sync/serialize.hpp"
#include "cmop/util/redact.hpp"

using namespace cmop;

TEST_CASE("passwords in URLs are masked in public JSON and kept in the state file") {
  sync::RepoState state;
  state.spec.name = "leak";
  state.spec.git = "https://alice:s3cret@git.example.com/charts.git";
  state.spec.credentials.password = "hunter2";
  state.spec.dependencies.push_back({"bitnami", "https://bob:pa55@charts.example.com/", "bob", "pa55", ""});

  std::string shown = sync::state_to_json(state);
  CHECK_THAT(shown, !Catch::Contains("s3cret") && !Catch::Contains("hunter2") && !Catch::Contains("pa55"));
  CHECK_THAT(shown, Catch::Contains("https://alice:***@git.example.com/charts.git"));

  std::string deps = sync::dependencies_to_json(state.spec.dependencies, false);
  CHECK_THAT(deps, !Catch::Contains("pa55"));

  auto back = sync::from_state_file(sync::to_state_file(state), "state");
  CHECK(back.spec.git == state.spec.git);
  CHECK(back.spec.credentials.password == "hunter2");
  CHECK(back.spec.dependencies.at(0).password == "pa55");
}

TEST_CASE("redact_url masks only the password of the userinfo") {
  CHECK(util::redact_url("https://u:p@h/x") == "https://u:***@h/x");
  CHECK(util::redact_url("https://h:8443/x@y") == "https://h:8443/x@y");
  CHECK(util::redact_url("ssh://git@github.com/foo/bar") == "ssh://git@github.com/foo/bar");
  CHECK(util::redact_url("not a url") == "not a url");
}

TEST_CASE("the webhook secret and suspension round-trip, and the secret is never shown") {
  sync::RepoState state;
  state.spec.name = "hooked";
  state.spec.git = "https://git.example.com/charts.git";
  state.spec.webhook_secret = "wh-s3cret";
  state.spec.suspend = true;
  std::string shown = sync::state_to_json(state);
  CHECK_THAT(shown, !Catch::Contains("wh-s3cret"));
  CHECK_THAT(shown, Catch::Contains("\"webhook\":true") && Catch::Contains("\"suspend\":true"));
  auto back = sync::from_state_file(sync::to_state_file(state), "state");
  CHECK(back.spec == state.spec);

  state.spec.webhook_secret.clear();
  state.spec.suspend = false;
  CHECK_THAT(sync::state_to_json(state), Catch::Contains("\"webhook\":false") && !Catch::Contains("suspend"));
  CHECK(sync::from_state_file(sync::to_state_file(state), "state").spec == state.spec);
}
