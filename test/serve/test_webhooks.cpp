// Push webhooks (POST /hooks/{name}) over real sockets with real git repos: each
// provider's signature computed here with that provider's algorithm, refusals that
// reveal nothing about the repo, ignored refs and events, coalescing with running
// syncs, the rate limit and the body limit. Plus the pure functions underneath.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "cmop/serve/webhooks.hpp"
#include "cmop/sync/repo_state.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/util/hash.hpp"
#include "serve_fixtures.hpp"

using namespace cmop;
using test::call;
using test::json_of;
using test::str;

namespace {

const std::string kSecret = "It's a Secret to Everybody";

std::string github_push(const std::string& ref) {
  return "{\"ref\":\"" + ref +
         "\",\"before\":\"0000\",\"after\":\"1111\",\"repository\":{\"full_name\":\"foo/mycharts\","
         "\"default_branch\":\"main\"}}";
}

// Each call is another delivery (its own X-GitHub-Delivery) unless `delivery` names one.
net::Headers github_headers(const std::string& body, const std::string& secret, const std::string& event = "push",
                            std::string delivery = "") {
  static std::atomic<int> deliveries{0};
  if (delivery.empty()) delivery = "72d3162e-cc78-11e3-81ab-" + std::to_string(100000000000 + ++deliveries);
  return {{"Content-Type", "application/json"},
          {"X-GitHub-Event", event},
          {"X-GitHub-Delivery", delivery},
          {"X-Hub-Signature-256", "sha256=" + util::hmac_sha256_hex(secret, body)}};
}

std::string new_repo_with_secret(const std::string& name, const std::string& git, const std::string& extra = "") {
  return "{\"name\":\"" + name + "\",\"git\":\"" + git + "\",\"webhookSecret\":\"" + kSecret + "\"" + extra + "}";
}

std::string syncs_of(const std::string& base, const std::string& repo) {
  return test::metric(call(base, "GET", "/metrics").body,
                      "cmop_syncs_total{repo=\"" + repo + "\",result=\"success\"}");
}

struct HookedRepo {
  test::ChartsRepo git;
  std::unique_ptr<serve::Server> server;
  std::string base;

  explicit HookedRepo(std::function<void(serve::ServerOptions&)> tweak = {}, const std::string& extra = "") {
    auto o = test::local_options(git.state);
    if (tweak) tweak(o);
    server = std::make_unique<serve::Server>(o);
    server->start();
    base = server->url();
    net::Headers auth;
    if (!o.token.empty()) auth.push_back({"Authorization", "Bearer " + o.token});
    REQUIRE(call(base, "POST", "/repo/new", new_repo_with_secret("mycharts", git.git_url(), extra), auth).status ==
            200);
  }
  // A new commit on main that bumps alpha; returns its id.
  std::string push_bump(const std::string& version) {
    test::write_chart(git.work, "charts/alpha", "alpha", version);
    std::string id = git.work.commit("bump alpha to " + version);
    git.push();
    return id;
  }
  std::string last_commit() { return str(json_of(call(base, "GET", "/repo/mycharts")), "lastCommit"); }
};

}  // namespace

TEST_CASE("a signed GitHub push syncs the repo without a bearer token", "[serve][webhook]") {
  HookedRepo r([](serve::ServerOptions& o) { o.token = "sidecar-token"; });
  std::string head = r.push_bump("1.1.0");
  REQUIRE(r.last_commit() != head);

  std::string body = github_push("refs/heads/main");
  auto res = call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
  REQUIRE(res.status == 202);
  CHECK(str(json_of(res), "status") == "queued");
  test::eventually([&] { return r.last_commit() == head; }, "the pushed commit synced");
  test::eventually([&] { return call(r.base, "GET", "/charts/alpha-1.1.0.tgz").status == 200; }, "alpha 1.1.0 served");
  CHECK(test::metric(call(r.base, "GET", "/metrics").body, "cmop_webhooks_total{outcome=\"queued\"}") == "1");

  // Other mutations still need the bearer token.
  CHECK(call(r.base, "POST", "/repo/mycharts/update").status == 401);
}

TEST_CASE("the webhook secret is kept like a credential and never answered", "[serve][webhook]") {
  HookedRepo r;
  for (auto path : {"/repo/mycharts", "/repo"}) {
    auto res = call(r.base, "GET", path);
    REQUIRE(res.status == 200);
    CHECK(res.body.find(kSecret) == std::string::npos);
  }
  auto state = json_of(call(r.base, "GET", "/repo/mycharts"));
  CHECK(state["spec"]["webhook"].IsTrue());

  // Persisted in the state dir's repo file, readable by its owner only.
  bool found = false;
  for (auto& entry : std::filesystem::recursive_directory_iterator(r.git.state)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    std::string content = util::read_file(entry.path());
    if (content.find(kSecret) == std::string::npos) continue;
    found = true;
    struct stat st {};
    REQUIRE(::stat(entry.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0077) == 0);
  }
  CHECK(found);
}

TEST_CASE("bad, missing or unknown: refused alike and nothing synced", "[serve][webhook]") {
  HookedRepo r;
  std::string head = r.push_bump("1.1.0");
  std::string before = syncs_of(r.base, "mycharts");
  std::string body = github_push("refs/heads/main");

  auto wrong = call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, "not the secret"));
  CHECK(wrong.status == 403);
  auto tampered_headers = github_headers(body, kSecret);
  auto tampered = call(r.base, "POST", "/hooks/mycharts", body + " ", tampered_headers);
  CHECK(tampered.status == 403);
  auto unknown = call(r.base, "POST", "/hooks/nosuchrepo", body, github_headers(body, kSecret));
  CHECK(unknown.status == 403);
  auto bad_name = call(r.base, "POST", "/hooks/No_Such_Repo", body, github_headers(body, kSecret));
  CHECK(bad_name.status == 403);
  // The same answer whether or not the repo exists: nothing names it.
  CHECK(wrong.body == unknown.body);
  CHECK(wrong.body == bad_name.body);
  CHECK(wrong.body.find("mycharts") == std::string::npos);

  auto unsigned_known = call(r.base, "POST", "/hooks/mycharts", body, {{"X-GitHub-Event", "push"}});
  auto unsigned_unknown = call(r.base, "POST", "/hooks/nosuchrepo", body, {{"X-GitHub-Event", "push"}});
  CHECK(unsigned_known.status == 401);
  CHECK(unsigned_known.body == unsigned_unknown.body);
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, {{"X-Hub-Signature-256", "sha256="}}).status == 403);
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, {{"X-Hub-Signature-256", "garbage"}}).status == 403);
  CHECK(call(r.base, "GET", "/hooks/mycharts").status == 405);

  // A repo registered without a secret takes no webhooks at all.
  REQUIRE(call(r.base, "POST", "/repo/new", test::new_repo_body("other", r.git.git_url())).status == 200);
  auto no_secret = call(r.base, "POST", "/hooks/other", body, github_headers(body, ""));
  CHECK(no_secret.status == 403);
  CHECK(no_secret.body == unknown.body);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // room for a sync that must not happen
  CHECK(syncs_of(r.base, "mycharts") == before);
  CHECK(r.last_commit() != head);
  CHECK(test::metric(call(r.base, "GET", "/metrics").body, "cmop_webhooks_total{outcome=\"refused\"}") == "7");
}

TEST_CASE("pings answer 200, other events and untracked refs are ignored", "[serve][webhook]") {
  HookedRepo r;
  std::string head = r.push_bump("1.1.0");
  std::string before = syncs_of(r.base, "mycharts");

  std::string ping = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}";
  auto pong = call(r.base, "POST", "/hooks/mycharts", ping, github_headers(ping, kSecret, "ping"));
  CHECK(pong.status == 200);

  std::string issue = "{\"action\":\"opened\"}";
  auto other = call(r.base, "POST", "/hooks/mycharts", issue, github_headers(issue, kSecret, "issues"));
  CHECK(other.status == 200);
  CHECK(str(json_of(other), "status") == "ignored");

  for (auto ref : {"refs/heads/feature", "refs/tags/v1.0.0"}) {
    std::string body = github_push(ref);
    auto res = call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
    CHECK(res.status == 200);
    CHECK(str(json_of(res), "status") == "ignored");
    CHECK(str(json_of(res), "reason").find(ref) != std::string::npos);
  }
  // A signed push whose payload is not JSON is a client error, and syncs nothing.
  CHECK(call(r.base, "POST", "/hooks/mycharts", "{not json", github_headers("{not json", kSecret)).status == 400);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(syncs_of(r.base, "mycharts") == before);
  CHECK(r.last_commit() != head);
}

TEST_CASE("a repo pinned to a branch syncs on pushes to that branch only", "[serve][webhook]") {
  HookedRepo r({}, ",\"ref\":\"main\"");
  std::string head = r.push_bump("1.1.0");
  // The payload's default branch does not matter when the repo names its branch.
  std::string other = "{\"ref\":\"refs/heads/dev\",\"repository\":{\"default_branch\":\"main\"}}";
  CHECK(call(r.base, "POST", "/hooks/mycharts", other, github_headers(other, kSecret)).status == 200);
  std::string body = "{\"ref\":\"refs/heads/main\",\"repository\":{\"default_branch\":\"dev\"}}";
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);
  test::eventually([&] { return r.last_commit() == head; }, "the pushed commit synced");
}

TEST_CASE("GitLab, Gitea, Forgejo and generic signatures each sync", "[serve][webhook]") {
  HookedRepo r;
  std::string version = "1.1.0";
  struct Case {
    const char* provider;
    std::function<net::Headers(const std::string&)> headers;
    std::string body;
  };
  std::string gitlab_body =
      "{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\",\"project\":{\"default_branch\":\"main\"}}";
  std::string gitea_body = github_push("refs/heads/main");
  std::vector<Case> cases{
      {"gitlab",
       [](const std::string&) {
         return net::Headers{{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", kSecret}};
       },
       gitlab_body},
      // Gitea also sends GitHub's headers; its own signature is hex without a prefix.
      {"gitea",
       [](const std::string& b) {
         return net::Headers{{"X-Gitea-Event", "push"},
                             {"X-GitHub-Event", "push"},
                             {"X-Gitea-Signature", util::hmac_sha256_hex(kSecret, b)}};
       },
       gitea_body},
      {"forgejo",
       [](const std::string& b) {
         return net::Headers{{"X-Forgejo-Event", "push"}, {"X-Forgejo-Signature", util::hmac_sha256_hex(kSecret, b)}};
       },
       gitea_body},
      {"generic",
       [](const std::string& b) {
         return net::Headers{{"X-Signature", "sha256=" + util::hmac_sha256_hex(kSecret, b)}};
       },
       ""},
  };
  int minor = 1;
  for (auto& c : cases) {
    INFO(c.provider);
    std::string head = r.push_bump("1." + std::to_string(minor++) + ".0");
    auto res = call(r.base, "POST", "/hooks/mycharts", c.body, c.headers(c.body));
    REQUIRE(res.status == 202);
    test::eventually([&] { return r.last_commit() == head; }, std::string(c.provider) + " push synced");
  }
  // GitLab's token must match exactly.
  CHECK(call(r.base, "POST", "/hooks/mycharts", gitlab_body,
             {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", kSecret + "x"}})
            .status == 403);
  // Gitea's signature over other bytes is refused.
  CHECK(call(r.base, "POST", "/hooks/mycharts", gitea_body,
             {{"X-Gitea-Event", "push"}, {"X-Gitea-Signature", util::hmac_sha256_hex(kSecret, gitea_body + "x")}})
            .status == 403);
}

TEST_CASE("GitHub's form-encoded payloads are read too", "[serve][webhook]") {
  HookedRepo r;
  std::string head = r.push_bump("1.1.0");
  const std::string repository = "%2C%22repository%22%3A%7B%22default_branch%22%3A%22main%22%7D";
  std::string feature = "payload=%7B%22ref%22%3A%22refs%2Fheads%2Ffeature%22" + repository + "%7D";
  auto headers = github_headers(feature, kSecret);
  headers[0].second = "application/x-www-form-urlencoded";
  auto ignored = call(r.base, "POST", "/hooks/mycharts", feature, headers);
  CHECK(ignored.status == 200);
  CHECK(str(json_of(ignored), "status") == "ignored");

  std::string main_push = "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22" + repository + "%7D";
  headers = github_headers(main_push, kSecret);
  headers[0].second = "application/x-www-form-urlencoded";
  CHECK(call(r.base, "POST", "/hooks/mycharts", main_push, headers).status == 202);
  test::eventually([&] { return r.last_commit() == head; }, "the pushed commit synced");
}

TEST_CASE("pushes during a running sync coalesce into one follow-up sync", "[serve][webhook][concurrency]") {
  test::ChartsRepo git;
  test::GatedServer gated(git);
  auto& gate = gated.gate;
  const std::string base = gated.base;
  REQUIRE(call(base, "POST", "/repo/new", new_repo_with_secret("mycharts", git.git_url())).status == 200);

  test::write_chart(git.work, "charts/alpha", "alpha", "1.1.0");
  git.work.commit("bump");
  git.push();
  gate->close();
  std::string body = github_push("refs/heads/main");
  auto first = call(base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
  REQUIRE(first.status == 202);
  gate->wait_until_held();  // the first sync runs, held at publishing

  // Pushed after that sync fetched: one more sync must follow, however many hooks arrive.
  test::write_chart(git.work, "charts/alpha", "alpha", "1.2.0");
  std::string head = git.work.commit("bump again");
  git.push();
  for (int i = 0; i < 4; ++i) {
    auto res = call(base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
    REQUIRE(res.status == 202);
    if (i > 0) CHECK(str(json_of(res), "reason").find("joined") != std::string::npos);
  }
  gate->open();
  test::eventually([&] { return str(json_of(call(base, "GET", "/repo/mycharts")), "lastCommit") == head; },
                   "the second push synced");
  test::eventually([&] { return call(base, "GET", "/charts/alpha-1.2.0.tgz").status == 200; }, "alpha 1.2.0 served");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Registration, the held sync, one follow-up.
  CHECK(syncs_of(base, "mycharts") == "3");
}

TEST_CASE("webhooks are rate limited per repo", "[serve][webhook]") {
  HookedRepo r([](serve::ServerOptions& o) { o.hook_rate_per_minute = 2; });
  std::string body = github_push("refs/heads/main");
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);
  auto limited = call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
  CHECK(limited.status == 429);
  CHECK(std::stoi(limited.header("Retry-After")) >= 1);
  CHECK(std::stoi(limited.header("Retry-After")) <= 30);
  CHECK(test::metric(call(r.base, "GET", "/metrics").body, "cmop_webhooks_total{outcome=\"rate_limited\"}") == "1");
}

// Only authenticated pushes count: nobody without the secret can starve the repo's real hooks.
TEST_CASE("refused webhooks do not use up the repo's budget", "[serve][webhook]") {
  HookedRepo r([](serve::ServerOptions& o) { o.hook_rate_per_minute = 1; });
  std::string body = github_push("refs/heads/main");
  for (int i = 0; i < 5; ++i)
    CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, "wrong")).status == 403);
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);
}

TEST_CASE("webhook bodies are size-limited", "[serve][webhook]") {
  HookedRepo r([](serve::ServerOptions& o) { o.max_body_bytes = 4096; });
  std::string before = syncs_of(r.base, "mycharts");
  std::string body = "{\"ref\":\"refs/heads/main\",\"pad\":\"" + std::string(8192, 'x') + "\"}";
  auto res = call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
  CHECK(res.status == 413);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(syncs_of(r.base, "mycharts") == before);
}

// Issue 22: a captured signed delivery could be sent again and again, each time
// syncing the repo and taking from its rate budget.
TEST_CASE("a delivery seen before is acknowledged and not acted on again", "[serve][webhook][replay]") {
  HookedRepo r([](serve::ServerOptions& o) { o.hook_rate_per_minute = 3; });
  const std::string body = github_push("refs/heads/main");
  const auto headers = github_headers(body, kSecret, "push", "d6a4d0f0-0000-4000-8000-000000000001");
  REQUIRE(call(r.base, "POST", "/hooks/mycharts", body, headers).status == 202);
  for (int i = 0; i < 5; ++i) {
    auto again = call(r.base, "POST", "/hooks/mycharts", body, headers);
    CHECK(again.status == 200);
    CHECK(str(json_of(again), "status") == "duplicate");
  }
  auto metrics = call(r.base, "GET", "/metrics").body;
  CHECK(test::metric(metrics, "cmop_webhooks_total{outcome=\"replayed\"}") == "5");
  CHECK(test::metric(metrics, "cmop_webhooks_total{outcome=\"queued\"}") == "1");
  // The replays took nothing from the budget: two new deliveries still pass.
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);

  // GitLab's idempotency key (the same on its retries), and its event UUID.
  const net::Headers gitlab = {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", kSecret},
                               {"Idempotency-Key", "4f1c1a4e-1111-4222-8333-944445555666"}};
  HookedRepo g([](serve::ServerOptions& o) { o.hook_rate_per_minute = 100; });
  CHECK(call(g.base, "POST", "/hooks/mycharts", body, gitlab).status == 202);
  CHECK(str(json_of(call(g.base, "POST", "/hooks/mycharts", body, gitlab)), "status") == "duplicate");
  const net::Headers uuid = {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", kSecret},
                             {"X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"}};
  CHECK(call(g.base, "POST", "/hooks/mycharts", body, uuid).status == 202);
  CHECK(str(json_of(call(g.base, "POST", "/hooks/mycharts", body, uuid)), "status") == "duplicate");
  // A wrong signature with a known delivery id is refused as before (and remembers nothing).
  auto forged = github_headers(body, "wrong", "push", "d6a4d0f0-0000-4000-8000-000000000002");
  CHECK(call(g.base, "POST", "/hooks/mycharts", body, forged).status == 403);
}

// Issue 22: the refusal path copied the repo's whole state before the HMAC check:
// a bad signature for a repo of thousands of charts cost many times an unknown
// name's, which told whether the repo exists.
TEST_CASE("a refused webhook costs the same for a large repo as for an unknown name", "[serve][webhook][timing]") {
  util::TempDir tmp("cmop-serve-hook-timing-");
  const auto state = tmp.path() / "state";
  {
    sync::RepoState big;
    big.spec.name = "big";
    big.spec.git = "https://git.example.invalid/big.git";
    big.spec.webhook_secret = kSecret;
    big.last_commit = std::string(40, 'a');
    for (int i = 0; i < 20000; ++i) {
      const std::string name = "chart-" + std::to_string(i);
      big.published.push_back({"big", name, "1.0.0", "sha256:" + std::string(64, 'b'), "charts/" + name});
      big.chart_keys["charts/" + name] = std::string(64, 'c');
    }
    std::filesystem::create_directories(state / "repos");
    std::ofstream(state / "repos" / "big.json") << sync::to_state_file(big);
  }
  auto o = test::local_options(state);
  serve::Server server(o);
  server.start();
  const std::string base = server.url();
  const std::string body = github_push("refs/heads/main");
  auto once = [&](const std::string& repo) {
    const auto start = std::chrono::steady_clock::now();
    auto res = call(base, "POST", "/hooks/" + repo, body, github_headers(body, "not the secret"));
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    CHECK(res.status == 403);
    return std::make_pair(us, res.body);
  };
  std::vector<double> known, unknown;
  std::string known_body, unknown_body;
  for (int i = 0; i < 60; ++i) {
    auto [k, kb] = once("big");
    auto [u, ub] = once("nosuchrepo");
    known.push_back(k);
    unknown.push_back(u);
    known_body = kb;
    unknown_body = ub;
  }
  CHECK(known_body == unknown_body);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double mk = median(known), mu = median(unknown);
  INFO("median: big repo " << mk << " us, unknown name " << mu << " us");
  CHECK(mk < 2 * mu);
}

// --- the pure functions -----------------------------------------------------------

TEST_CASE("webhook signatures: each provider's algorithm, constant-time shapes", "[serve][webhook][unit]") {
  using namespace cmop::serve;
  const std::string body = "{\"ref\":\"refs/heads/main\"}";
  const std::string mac = util::hmac_sha256_hex(kSecret, body);
  auto valid = [&](HeaderList h) { return hook_signature_valid(find_hook_signature(h), kSecret, body); };
  CHECK(valid({{"x-hub-signature-256", "sha256=" + mac}}));
  CHECK(valid({{"X-Hub-Signature-256", "SHA256=" + mac}}));
  std::string upper = mac;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(valid({{"X-Signature", "sha256=" + upper}}));
  CHECK(valid({{"X-Gitea-Signature", mac}}));
  CHECK(valid({{"X-Forgejo-Signature", " " + mac + " "}}));
  CHECK(valid({{"X-Gitlab-Token", kSecret}}));
  CHECK_FALSE(valid({{"X-Gitea-Signature", "sha256=" + mac}}));  // Gitea sends bare hex
  CHECK_FALSE(valid({{"X-Hub-Signature-256", mac}}));            // GitHub sends the prefix
  CHECK_FALSE(valid({{"X-Hub-Signature-256", "sha1=" + mac}}));
  CHECK_FALSE(valid({{"X-Hub-Signature-256", "sha256=" + mac.substr(0, 63)}}));
  CHECK_FALSE(valid({{"X-Gitlab-Token", kSecret.substr(1)}}));
  CHECK_FALSE(valid({{"X-Hub-Signature", "sha1=" + mac}}));  // SHA-1 signatures are not taken
  CHECK_FALSE(valid({}));
  // An empty secret verifies nothing, not even an HMAC made with the empty key.
  CHECK_FALSE(hook_signature_valid({HookProvider::github, "sha256=" + util::hmac_sha256_hex("", body)}, "", body));
  CHECK_FALSE(hook_signature_valid({HookProvider::gitlab, ""}, "", body));
  // Gitea sends its own and GitHub's header: its own is the one checked.
  CHECK(find_hook_signature({{"X-Hub-Signature-256", "x"}, {"X-Gitea-Signature", "y"}}).provider == HookProvider::gitea);
}

TEST_CASE("webhook events and tracked refs", "[serve][webhook][unit]") {
  using namespace cmop::serve;
  auto ev = parse_hook_event({{"X-GitHub-Event", "ping"}}, "application/json", "not even json");
  CHECK(ev.kind == HookEvent::Kind::ping);
  CHECK(parse_hook_event({{"X-GitHub-Event", "pull_request"}}, "", "{}").kind == HookEvent::Kind::other);
  CHECK(parse_hook_event({{"X-Gitlab-Event", "Merge Request Hook"}}, "", "{}").kind == HookEvent::Kind::other);
  ev = parse_hook_event({{"X-Gitlab-Event", "Tag Push Hook"}}, "application/json",
                        "{\"ref\":\"refs/tags/v1\",\"project\":{\"default_branch\":\"trunk\"}}");
  CHECK(ev.kind == HookEvent::Kind::push);
  CHECK(ev.ref == "refs/tags/v1");
  CHECK(ev.default_branch == "trunk");
  CHECK(parse_hook_event({}, "", "").kind == HookEvent::Kind::push);
  CHECK_THROWS_AS(parse_hook_event({}, "", "[1]"), Error);
  CHECK_THROWS_AS(parse_hook_event({}, "", std::string(100000, '[')), Error);

  CHECK(hook_ref_tracked("", "refs/heads/main", "main"));
  CHECK_FALSE(hook_ref_tracked("", "refs/heads/dev", "main"));
  CHECK(hook_ref_tracked("", "refs/heads/dev", ""));  // default branch unknown: sync
  CHECK(hook_ref_tracked("", "", "main"));            // ref unknown: sync
  CHECK(hook_ref_tracked("dev", "refs/heads/dev", "main"));
  CHECK(hook_ref_tracked("v1", "refs/tags/v1", "main"));
  CHECK_FALSE(hook_ref_tracked("v1", "refs/tags/v10", "main"));
  CHECK(hook_ref_tracked("refs/heads/dev", "refs/heads/dev", ""));
  CHECK_FALSE(hook_ref_tracked("refs/heads/dev", "refs/tags/dev", ""));
  CHECK_FALSE(hook_ref_tracked("0123456789abcdef0123456789abcdef01234567", "refs/heads/main", "main"));
}

TEST_CASE("a suspended repo syncs for nothing: not on apply, update or webhook", "[serve][webhook][suspend]") {
  HookedRepo r;
  std::string head = r.push_bump("1.1.0");
  std::string before = syncs_of(r.base, "mycharts");
  auto suspended = call(r.base, "POST", "/repo/new",
                        new_repo_with_secret("mycharts", r.git.git_url(), ",\"suspend\":true"));
  REQUIRE(suspended.status == 200);
  CHECK(json_of(suspended)["charts"].Empty());
  CHECK(json_of(call(r.base, "GET", "/repo/mycharts"))["spec"]["suspend"].IsTrue());

  std::string body = github_push("refs/heads/main");
  auto hook = call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret));
  CHECK(hook.status == 200);
  CHECK(str(json_of(hook), "reason") == "the repo is suspended");
  auto update = call(r.base, "POST", "/repo/mycharts/update");
  CHECK(update.status == 409);
  CHECK(str(json_of(update), "error").find("suspended") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(syncs_of(r.base, "mycharts") == before);
  CHECK(r.last_commit() != head);

  // Resumed: the apply syncs, and so do webhooks again.
  auto resumed = call(r.base, "POST", "/repo/new", new_repo_with_secret("mycharts", r.git.git_url()));
  REQUIRE(resumed.status == 200);
  CHECK(r.last_commit() == head);
  CHECK(call(r.base, "POST", "/hooks/mycharts", body, github_headers(body, kSecret)).status == 202);
}
