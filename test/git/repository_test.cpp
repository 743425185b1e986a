// Git sync against real repositories served on 127.0.0.1 by `git daemon` and by
// `git http-backend` (smart HTTP, optionally behind basic auth).
#include "cmop/git/repository.hpp"

#include <signal.h>
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <future>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include <pwd.h>
#include <unistd.h>

#include "cmop/error.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/fs.hpp"
#include "support/black_hole.hpp"
#include "support/git_fixture.hpp"
#include "support/error_of.hpp"

namespace fs = std::filesystem;
using cmop::Errc;
using cmop::Error;
using cmop::git::Repository;
using cmop::git::SyncOptions;
using cmop::git::SyncResult;
using cmop::test::GitDaemon;
using cmop::test::GitHttpServer;
using cmop::test::GitWorkRepo;

namespace {

// Runs `fn`, requires it to throw cmop::Error with `code`, returns the error.
template <typename Fn>
Error require_error(Errc code, Fn&& fn) {
  Error e = cmop::test::error_of(std::forward<Fn>(fn));
  INFO("error: " << e.what() << " subject=" << e.subject() << " reason=" << e.reason());
  REQUIRE(e.code() == code);
  return e;
}

std::string read(const fs::path& p) { return cmop::util::read_file(p); }

// A file of the current commit, read from the mirror's objects.
std::string read_at(const Repository& repo, const std::string& path) {
  return cmop::util::read_tree_file(repo.tree(), path, path, 0);
}

// What a mirror directory holds: never a checkout.
std::vector<std::string> mirror_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A work repo with a chart and a plain folder, published as bare `name` under base.
struct Served {
  cmop::util::TempDir tmp{"cmop-git-test-"};
  GitWorkRepo work{tmp.path() / "work"};
  fs::path base = tmp.path() / "served";
  fs::path bare;
  std::string first_commit;

  explicit Served(const std::string& name = "charts.git") {
    cmop::test::write_chart(work, "charts/app", "app", "1.0.0");
    work.write("docs/readme.txt", "hello v1\n");
    first_commit = work.commit("initial");
    bare = cmop::test::make_bare(work, base, name);
  }
  std::string publish(const std::string& message = "change") {
    std::string id = work.commit(message);
    cmop::test::push_to_bare(work, bare);
    return id;
  }
  fs::path mirror(const std::string& name = "mirror") const { return tmp.path() / name; }
};

SyncOptions options_for(const std::string& url, const std::string& ref = "") {
  SyncOptions o;
  o.url = url;
  o.ref = ref;
  return o;
}

}  // namespace

TEST_CASE("validate_url accepts remote transports and gates local ones", "[git][url]") {
  using cmop::git::validate_url;
  for (const char* ok : {"https://github.com/org/charts.git", "http://127.0.0.1:8080/charts", "git://host/charts",
                         "ssh://git@host:2222/org/charts.git", "git@github.com:org/charts.git",
                         "HTTPS://Example.com/x", "host.example:charts"}) {
    INFO(ok);
    REQUIRE_NOTHROW(validate_url(ok, false));
  }
  for (const char* local : {"file:///srv/git/charts", "/srv/git/charts", "./charts", "../charts"}) {
    INFO(local);
    Error e = require_error(Errc::forbidden, [&] { validate_url(local, false); });
    REQUIRE(e.reason().find("--allow-local-git") != std::string::npos);
    REQUIRE_NOTHROW(validate_url(local, true));
  }
  for (const char* bad : {"", "ftp://host/repo", "ext::sh -c evil", "https://host/re po", "https://host/x\n",
                          "https:///nohost", "https://host", "charts", "-uhttps://x/y", "git@host:",
                          "@host:path", "ht\ttps://x/y"}) {
    INFO(bad);
    require_error(Errc::invalid_argument, [&] { validate_url(bad, true); });
  }
}

TEST_CASE("clone over git://, no-change detection and new commits", "[git][daemon]") {
  Served served;
  GitDaemon daemon(served.base);
  Repository repo(served.mirror());
  REQUIRE_FALSE(repo.current_commit());
  require_error(Errc::not_found, [&] { repo.tree(); });

  SyncResult first = repo.sync(options_for(daemon.url("charts.git")));
  REQUIRE(first.changed);
  REQUIRE(first.commit == served.first_commit);
  REQUIRE(repo.current_commit() == served.first_commit);
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");
  REQUIRE(read_at(repo, "charts/app/Chart.yaml").find("name: app") != std::string::npos);
  REQUIRE(repo.tree().commit() == first.commit);
  // Nothing is checked out: the mirror holds the objects and the current commit id.
  REQUIRE(mirror_entries(served.mirror()) == std::vector<std::string>{"current", "repo.git", "sync.lock"});

  SyncResult again = repo.sync(options_for(daemon.url("charts.git")));
  REQUIRE_FALSE(again.changed);
  REQUIRE(again.commit == first.commit);

  served.work.write("docs/readme.txt", "hello v2\n");
  std::string second = served.publish("v2");
  SyncResult next = repo.sync(options_for(daemon.url("charts.git")));
  REQUIRE(next.changed);
  REQUIRE(next.commit == second);
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v2\n");
  REQUIRE(repo.current_commit() == second);
  REQUIRE(mirror_entries(served.mirror()) == std::vector<std::string>{"current", "repo.git", "sync.lock"});

  // A second Repository on the same directory sees the same state (it is on disk).
  Repository reopened(served.mirror());
  REQUIRE(reopened.current_commit() == second);
  REQUIRE_FALSE(reopened.sync(options_for(daemon.url("charts.git"))).changed);
}

TEST_CASE("refs resolve as branch, tag, annotated tag and commit id", "[git][refs]") {
  Served served;
  served.work.git({"tag", "light-v1"});
  served.work.git({"tag", "-a", "v1.0.0", "-m", "release 1.0.0"});
  served.work.git({"checkout", "-q", "-b", "feature"});
  served.work.write("docs/readme.txt", "feature\n");
  std::string feature = served.work.commit("feature work");
  served.work.git({"push", "-q", served.bare.string(), "feature"});
  served.work.git({"checkout", "-q", "main"});
  served.work.write("docs/readme.txt", "main v2\n");
  std::string main_v2 = served.publish("main v2");
  GitDaemon daemon(served.base);
  const std::string url = daemon.url("charts.git");
  Repository repo(served.mirror());

  SECTION("empty ref is the remote's default branch") {
    REQUIRE(repo.sync(options_for(url)).commit == main_v2);
  }
  SECTION("branch by short and full name") {
    REQUIRE(repo.sync(options_for(url, "feature")).commit == feature);
    REQUIRE(read_at(repo, "docs/readme.txt") == "feature\n");
    REQUIRE(repo.sync(options_for(url, "refs/heads/main")).commit == main_v2);
  }
  SECTION("lightweight and annotated tags peel to the commit") {
    REQUIRE(repo.sync(options_for(url, "light-v1")).commit == served.first_commit);
    REQUIRE_FALSE(repo.sync(options_for(url, "v1.0.0")).changed);
    REQUIRE(repo.sync(options_for(url, "refs/tags/v1.0.0")).commit == served.first_commit);
    REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");
  }
  SECTION("full and abbreviated commit ids") {
    REQUIRE(repo.sync(options_for(url, served.first_commit)).commit == served.first_commit);
    REQUIRE(repo.sync(options_for(url, feature.substr(0, 10))).commit == feature);
  }
  SECTION("unknown refs are not_found and leave the current commit alone") {
    SyncResult good = repo.sync(options_for(url));
    Error e = require_error(Errc::not_found, [&] { repo.sync(options_for(url, "no-such-branch")); });
    REQUIRE(e.subject() == url);
    require_error(Errc::not_found, [&] { repo.sync(options_for(url, "0123456789abcdef0123456789abcdef01234567")); });
    require_error(Errc::invalid_argument, [&] { repo.sync(options_for(url, "bad..ref")); });
    REQUIRE(repo.current_commit() == good.commit);
    REQUIRE(read_at(repo, "docs/readme.txt") == "main v2\n");
  }
}

TEST_CASE("smart HTTP with and without basic auth", "[git][http]") {
  Served served;

  SECTION("anonymous") {
    GitHttpServer http(served.base);
    Repository repo(served.mirror());
    SyncResult r = repo.sync(options_for(http.url("charts.git")));
    REQUIRE(r.commit == served.first_commit);
    REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");
  }
  SECTION("basic auth: right password works, wrong or missing ones are unauthorized without hanging") {
    GitHttpServer http(served.base, "alice:s3cret");
    const std::string url = http.url("charts.git");
    Repository repo(served.mirror());

    SyncOptions wrong = options_for(url);
    wrong.credentials.username = "alice";
    wrong.credentials.password = "nope";
    Error e = require_error(Errc::unauthorized, [&] { repo.sync(wrong); });
    REQUIRE(e.subject() == url);
    REQUIRE(e.reason().find("rejected") != std::string::npos);

    Error none = require_error(Errc::unauthorized, [&] { repo.sync(options_for(url)); });
    REQUIRE(none.reason().find("no matching credentials") != std::string::npos);
    REQUIRE_FALSE(repo.current_commit());

    SyncOptions right = options_for(url);
    right.credentials.username = "alice";
    right.credentials.password = "s3cret";
    REQUIRE(repo.sync(right).commit == served.first_commit);

    served.work.write("docs/readme.txt", "authed v2\n");
    std::string second = served.publish();
    REQUIRE(repo.sync(right).commit == second);
  }
  SECTION("a token alone is sent with user x-access-token") {
    GitHttpServer http(served.base, "x-access-token:tok-123");
    SyncOptions o = options_for(http.url("charts.git"));
    o.credentials.password = "tok-123";
    REQUIRE(Repository(served.mirror()).sync(o).commit == served.first_commit);
  }
  SECTION("credentials embedded in the URL are masked in errors") {
    GitHttpServer http(served.base, "alice:s3cret");
    std::string url = http.url("charts.git");
    url.insert(std::string("http://").size(), "alice:wrong@");
    Error e = require_error(Errc::unauthorized, [&] { Repository(served.mirror()).sync(options_for(url)); });
    REQUIRE(e.subject().find("wrong") == std::string::npos);
    REQUIRE(e.subject().find("alice:***@") != std::string::npos);
  }
}

TEST_CASE("file:// and local paths need allow_local", "[git][local]") {
  Served served;
  Repository repo(served.mirror());
  const std::string url = "file://" + served.bare.string();
  Error e = require_error(Errc::forbidden, [&] { repo.sync(options_for(url)); });
  REQUIRE(e.reason().find("--allow-local-git") != std::string::npos);
  require_error(Errc::forbidden, [&] { repo.sync(options_for(served.bare.string())); });
  REQUIRE_FALSE(repo.current_commit());

  SyncOptions allowed = options_for(url);
  allowed.allow_local = true;
  REQUIRE(repo.sync(allowed).commit == served.first_commit);
  allowed.url = served.bare.string();  // URL change: the remote is repointed, same history
  REQUIRE_FALSE(repo.sync(allowed).changed);
}

TEST_CASE("a failed fetch keeps the previous commit", "[git][failure]") {
  Served served;
  std::optional<GitDaemon> daemon(std::in_place, served.base);
  const std::string url = daemon->url("charts.git");
  Repository repo(served.mirror());
  SyncResult good = repo.sync(options_for(url));

  served.work.write("docs/readme.txt", "never seen\n");
  served.publish();
  daemon.reset();  // the server process is gone

  Error e = require_error(Errc::git, [&] { repo.sync(options_for(url)); });
  REQUIRE(e.subject() == url);
  REQUIRE(e.reason().starts_with("fetch: "));
  REQUIRE(repo.current_commit() == good.commit);
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");
  REQUIRE(repo.tree().id("docs") != "");

  // Never cloned: the step is reported as clone.
  Repository fresh(served.mirror("fresh"));
  Error clone = require_error(Errc::git, [&] { fresh.sync(options_for(url)); });
  REQUIRE(clone.reason().starts_with("clone: "));
  REQUIRE_FALSE(fresh.current_commit());
}

TEST_CASE("force-pushed history rewrites are followed", "[git][rewrite]") {
  Served served;
  served.work.write("docs/readme.txt", "v2 to be dropped\n");
  std::string dropped = served.publish("v2");
  GitDaemon daemon(served.base);
  Repository repo(served.mirror());
  REQUIRE(repo.sync(options_for(daemon.url("charts.git"))).commit == dropped);

  served.work.git({"reset", "-q", "--hard", served.first_commit});
  served.work.write("docs/readme.txt", "rewritten\n");
  std::string rewritten = served.publish("rewrite");
  SyncResult r = repo.sync(options_for(daemon.url("charts.git")));
  REQUIRE(r.changed);
  REQUIRE(r.commit == rewritten);
  REQUIRE(read_at(repo, "docs/readme.txt") == "rewritten\n");
}

TEST_CASE("tree_id is a per-folder content key", "[git][tree]") {
  Served served;
  cmop::test::write_chart(served.work, "charts/other", "other", "0.1.0");
  served.publish("second chart");
  GitDaemon daemon(served.base);
  Repository repo(served.mirror());
  repo.sync(options_for(daemon.url("charts.git")));

  std::string app = repo.tree().id("charts/app");
  std::string other = repo.tree().id("charts/other");
  std::string root = repo.tree().id("");
  REQUIRE(app.size() == 40);
  REQUIRE(other.size() == 40);
  REQUIRE(app != other);
  REQUIRE(repo.tree().id("./charts/app/") == app);
  REQUIRE(repo.tree().id("charts/missing") == "");
  REQUIRE(repo.tree().id("docs/readme.txt") == "");  // a file is not a folder
  REQUIRE(repo.tree().id("../charts") == "");

  served.work.write("charts/other/values.yaml", "replicaCount: 3\n");
  served.publish("bump other");
  REQUIRE(repo.sync(options_for(daemon.url("charts.git"))).changed);
  REQUIRE(repo.tree().id("charts/app") == app);
  REQUIRE(repo.tree().id("charts/other") != other);
  REQUIRE(repo.tree().id("") != root);
}

TEST_CASE("symlinks, executable bits and submodule entries", "[git][checkout]") {
  Served served;
  served.work.symlink("charts/app/link-inside", "values.yaml");
  served.work.symlink("charts/app/link-escape", "../../../etc/passwd");
  served.work.write("scripts/run.sh", "#!/bin/sh\necho hi\n");
  fs::permissions(served.work.dir() / "scripts/run.sh", fs::perms::owner_exec, fs::perm_options::add);
  // A gitlink (submodule entry) without .gitmodules: unsupported, must not fail.
  // (Its empty folder keeps `git add -A` from dropping it.)
  fs::create_directories(served.work.dir() / "vendor/sub");
  served.work.git({"update-index", "--add", "--cacheinfo",
                   "160000," + served.first_commit + ",vendor/sub"});
  served.publish("links");
  GitDaemon daemon(served.base);
  Repository repo(served.mirror());
  repo.sync(options_for(daemon.url("charts.git")));
  auto tree = repo.tree();
  using Kind = cmop::util::FileTree::Kind;
  using Status = cmop::util::FileTree::Resolved::Status;

  // Links are entries of their own, resolved inside the commit.
  REQUIRE(tree.kind("charts/app/link-inside") == Kind::symlink);
  auto inside = tree.resolve("charts/app/link-inside");
  REQUIRE(inside.status == Status::ok);
  REQUIRE(inside.path == "charts/app/values.yaml");
  REQUIRE(inside.kind == Kind::file);
  REQUIRE(tree.kind("charts/app/link-escape") == Kind::symlink);
  REQUIRE(tree.resolve("charts/app/link-escape").status == Status::escapes);
  REQUIRE(tree.holds_symlink("charts/app"));
  REQUIRE_FALSE(tree.holds_symlink("docs"));
  // An executable blob is a regular file like any other (Helm writes 0644 for all).
  REQUIRE(tree.kind("scripts/run.sh") == Kind::file);
  REQUIRE(read_at(repo, "scripts/run.sh") == "#!/bin/sh\necho hi\n");
  // A submodule is an empty directory, as a checkout made it.
  REQUIRE(tree.kind("vendor/sub") == Kind::directory);
  REQUIRE(tree.list("vendor/sub").empty());
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");
}

TEST_CASE("leftovers of a crashed sync are cleaned up", "[git][recovery]") {
  Served served;
  GitDaemon daemon(served.base);
  const std::string url = daemon.url("charts.git");
  Repository repo(served.mirror());
  SyncResult good = repo.sync(options_for(url));

  // Leftovers of earlier versions (worktrees under checkouts/, `current` as a
  // symlink to one), a crash mid-pointer-write and one inside a ref update.
  fs::path mirror = served.mirror();
  fs::create_directories(mirror / "checkouts/.tmp-deadbeef-1/charts");
  fs::create_directories(mirror / ("checkouts/" + good.commit));
  fs::remove(mirror / "current");
  fs::create_symlink("checkouts/" + good.commit, mirror / "current");
  fs::create_symlink("checkouts/nowhere", mirror / ".current.tmp-99-0");
  { std::ofstream(mirror / ".current.tmp-AbC123") << "half"; }
  fs::create_directories(mirror / "repo.git/refs/remotes/origin");
  { std::ofstream(mirror / "repo.git/refs/remotes/origin/main.lock") << "junk"; }
  REQUIRE(repo.current_commit() == good.commit);
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");

  served.work.write("docs/readme.txt", "after crash\n");
  std::string next = served.publish();
  SyncResult r = repo.sync(options_for(url));
  REQUIRE(r.commit == next);
  REQUIRE(read_at(repo, "docs/readme.txt") == "after crash\n");
  REQUIRE_FALSE(fs::exists(mirror / "checkouts"));
  REQUIRE_FALSE(fs::is_symlink(mirror / "current"));
  REQUIRE_FALSE(fs::is_symlink(mirror / ".current.tmp-99-0"));
  REQUIRE_FALSE(fs::exists(mirror / ".current.tmp-AbC123"));
  REQUIRE_FALSE(fs::exists(mirror / "repo.git/refs/remotes/origin/main.lock"));
  REQUIRE(mirror_entries(mirror) == std::vector<std::string>{"current", "repo.git", "sync.lock"});

  // A mirror directory damaged beyond opening is re-cloned.
  fs::remove_all(mirror / "repo.git");
  fs::create_directories(mirror / "repo.git");
  { std::ofstream(mirror / "repo.git/HEAD") << "garbage"; }
  SyncResult recloned = repo.sync(options_for(url));
  REQUIRE_FALSE(recloned.changed);
  REQUIRE(recloned.commit == next);
}

TEST_CASE("different repositories sync concurrently", "[git][threads]") {
  Served a("a.git");
  Served b("b.git");
  b.work.write("docs/readme.txt", "b\n");
  std::string b_head = b.publish();
  GitDaemon daemon_a(a.base);
  GitHttpServer http_b(b.base);
  Repository repo_a(a.mirror());
  Repository repo_b(b.mirror());
  std::string result_a, result_b, error;
  std::mutex error_mutex;
  auto run = [&](Repository& repo, const std::string& url, std::string& out) {
    try {
      for (int i = 0; i < 3; ++i) out = repo.sync(options_for(url)).commit;
    } catch (const std::exception& e) {
      std::lock_guard lock(error_mutex);
      error = e.what();
    }
  };
  std::thread ta(run, std::ref(repo_a), daemon_a.url("a.git"), std::ref(result_a));
  std::thread tb(run, std::ref(repo_b), http_b.url("b.git"), std::ref(result_b));
  ta.join();
  tb.join();
  REQUIRE(error == "");
  REQUIRE(result_a == a.first_commit);
  REQUIRE(result_b == b_head);
}

TEST_CASE("https trusts a per-repository CA bundle", "[git][https]") {
  Served served;
  auto self_signed = [&](const std::string& name, const std::string& san) {
    fs::path cert = served.tmp.path() / (name + ".pem");
    fs::path key = served.tmp.path() / (name + ".key");
    cmop::test::run_ok({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.string(), "-out",
                        cert.string(), "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san});
    return std::pair{cert, key};
  };
  auto [cert, key] = self_signed("git-server", "IP:127.0.0.1");
  auto [stranger, stranger_key] = self_signed("stranger", "IP:127.0.0.1");
  cmop::test::Peer server = cmop::test::start_python_peer(
      "git_http_server.py", {"--root", served.base.string(), "--tls-cert", cert.string(), "--tls-key", key.string()});
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port) + "/charts.git";
  Repository repo(served.mirror());

  Error untrusted = require_error(Errc::git, [&] { repo.sync(options_for(url)); });
  REQUIRE(untrusted.reason().find("certificate") != std::string::npos);

  SyncOptions wrong_ca = options_for(url);
  wrong_ca.ca_file = stranger.string();
  require_error(Errc::git, [&] { repo.sync(wrong_ca); });

  SyncOptions missing_ca = options_for(url);
  missing_ca.ca_file = (served.tmp.path() / "missing.pem").string();
  require_error(Errc::io, [&] { repo.sync(missing_ca); });
  REQUIRE_FALSE(repo.current_commit());

  SyncOptions trusted = options_for(url);
  trusted.ca_file = cert.string();
  SyncResult r = repo.sync(trusted);
  REQUIRE(r.commit == served.first_commit);
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");
  // The bundle is scoped to the sync that names it, not installed process-wide.
  Repository other(served.mirror("other"));
  require_error(Errc::git, [&] { other.sync(options_for(url)); });
}

TEST_CASE("ssh with a passphrase-protected key against a real sshd", "[git][ssh]") {
  const fs::path sshd_binary = "/usr/sbin/sshd";
  if (!fs::exists(sshd_binary)) {
    WARN("openssh-server is not installed (scripts/install-deps.sh installs it); skipping the SSH test");
    return;
  }
  Served served;
  fs::path ssh_dir = served.tmp.path() / "ssh";
  fs::create_directories(ssh_dir);
  auto keygen = [&](const std::string& name, const std::string& passphrase) {
    cmop::test::run_ok({"ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "cmop-test", "-f",
                        (ssh_dir / name).string()});
  };
  keygen("host_key", "");
  keygen("client_key", "pass phrase");
  keygen("stranger_key", "");
  fs::copy_file(ssh_dir / "client_key.pub", ssh_dir / "authorized_keys");
  int port = cmop::test::free_port();
  {
    std::ofstream config(ssh_dir / "sshd_config");
    config << "Port " << port << "\nListenAddress 127.0.0.1\nHostKey " << (ssh_dir / "host_key").string()
           << "\nAuthorizedKeysFile " << (ssh_dir / "authorized_keys").string()
           << "\nPidFile none\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
              "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n";
  }
  // sshd started as root insists on its privilege-separation directory, which only
  // the distribution's service script creates.
  if (::geteuid() == 0 && !fs::exists("/run/sshd")) fs::create_directories("/run/sshd");
  cmop::test::Process sshd({sshd_binary.string(), "-D", "-e", "-f", (ssh_dir / "sshd_config").string()}, {}, {},
                           ssh_dir / "sshd.log");
  REQUIRE(cmop::test::wait_for_port(port));
  const std::string user = ::getpwuid(::getuid())->pw_name;
  const std::string url = "ssh://" + user + "@127.0.0.1:" + std::to_string(port) + served.bare.string();
  Repository repo(served.mirror());

  SyncOptions stranger = options_for(url);
  stranger.credentials.ssh_private_key_file = (ssh_dir / "stranger_key").string();
  require_error(Errc::unauthorized, [&] { repo.sync(stranger); });

  Error no_key = require_error(Errc::unauthorized, [&] { repo.sync(options_for(url)); });
  REQUIRE(no_key.reason().find("no matching credentials") != std::string::npos);

  SyncOptions good = options_for(url);
  good.credentials.ssh_private_key_file = (ssh_dir / "client_key").string();
  good.credentials.ssh_public_key_file = (ssh_dir / "client_key.pub").string();
  good.credentials.ssh_passphrase = "pass phrase";

  // Host key verification against known_hosts ("[host]:port" entries off port 22).
  auto known_hosts_line = [&](const std::string& pub_file) {
    std::string pub = read(ssh_dir / pub_file);
    return "[127.0.0.1]:" + std::to_string(port) + " " + pub.substr(0, pub.rfind(' ')) + "\n";
  };
  SyncOptions spoofed = good;
  spoofed.ssh_known_hosts = known_hosts_line("stranger_key.pub");
  Error mitm = require_error(Errc::git, [&] { repo.sync(spoofed); });
  REQUIRE(mitm.reason().find("does not match the configured known_hosts") != std::string::npos);
  SyncOptions unlisted = good;
  unlisted.ssh_known_hosts = "other.example " + known_hosts_line("host_key.pub").substr(known_hosts_line("host_key.pub").find(' ') + 1);
  Error unknown = require_error(Errc::git, [&] { repo.sync(unlisted); });
  REQUIRE(unknown.reason().find("not listed") != std::string::npos);
  REQUIRE_FALSE(repo.current_commit());

  {  // hashed by OpenSSH itself
    std::ofstream(ssh_dir / "known_hosts") << known_hosts_line("host_key.pub");
  }
  cmop::test::run_ok({"ssh-keygen", "-q", "-H", "-f", (ssh_dir / "known_hosts").string()});
  REQUIRE(read(ssh_dir / "known_hosts").starts_with("|1|"));
  good.ssh_known_hosts = read(ssh_dir / "known_hosts");
  SyncResult r = repo.sync(good);
  REQUIRE(r.commit == served.first_commit);
  REQUIRE(read_at(repo, "docs/readme.txt") == "hello v1\n");

  served.work.write("docs/readme.txt", "over ssh\n");
  std::string second = served.publish();
  REQUIRE(repo.sync(good).commit == second);
}

namespace {
// Every object the branches and tags of a repository reach (`git rev-list --objects`),
// sorted: what a fetch of all of them must leave in a mirror.
std::vector<std::string> reachable_objects(const fs::path& git_dir, const std::vector<std::string>& which) {
  std::vector<std::string> args = {"git", "--git-dir", git_dir.string(), "rev-list", "--objects"};
  args.insert(args.end(), which.begin(), which.end());
  std::string listed = cmop::test::run_ok(args);
  std::vector<std::string> ids;
  for (std::size_t at = 0; at < listed.size();) {
    std::size_t end = listed.find('\n', at);
    if (end == std::string::npos) end = listed.size();
    ids.push_back(listed.substr(at, 40));
    at = end + 1;
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Whether the mirror's object database holds `id` (any type).
bool mirror_has(const fs::path& mirror, const std::string& id) {
  return cmop::test::run({"git", "--git-dir", (mirror / "repo.git").string(), "cat-file", "-e", id}) == 0;
}
}  // namespace

// Issue 28 item 5: a local remote is fetched by copying its objects (no delta
// search). The copy must bring exactly what a fetch of every branch and tag
// brings, shallow first and the whole history when a commit id asks for it, and
// the mirror must own it.
TEST_CASE("a local fetch copies the branches and tags, shallow then deepened, and nothing else", "[git][local]") {
  Served served;
  std::vector<std::string> history = {served.first_commit};
  for (int i = 1; i <= 4; ++i) {
    served.work.write("charts/app/values.yaml", "replicas: " + std::to_string(i) + "\n");
    served.work.write("docs/readme.txt", "v" + std::to_string(i) + "\n");
    history.push_back(served.publish("round " + std::to_string(i)));
  }
  served.work.git({"tag", "-a", "v4", "-m", "release 4"});
  served.work.git({"checkout", "-q", "-b", "feature", history[2]});
  served.work.write("docs/feature.txt", "feature only\n");
  const std::string feature = served.work.commit("feature work");
  served.work.git({"push", "-q", served.bare.string(), "feature", "--tags"});
  // A ref outside refs/heads and refs/tags: a fetch does not take it, nor its objects.
  served.work.git({"checkout", "-q", "--detach", history[4]});
  served.work.write("docs/private.txt", "kept out of the mirror\n");
  const std::string outside = served.work.commit("outside the refspecs");
  served.work.git({"push", "-q", served.bare.string(), "HEAD:refs/custom/outside"});
  served.work.git({"checkout", "-q", "main"});
  const std::string private_blob = cmop::test::run_ok({"git", "-C", served.work.dir().string(), "rev-parse",
                                                        outside + ":docs/private.txt"}).substr(0, 40);
  // Packed like a real repository, with a loose object or two on top.
  cmop::test::run_ok({"git", "--git-dir", served.bare.string(), "repack", "-adq"});

  const bool as_path = GENERATE(false, true);
  const std::string url = as_path ? served.bare.string() : "file://" + served.bare.string();
  INFO("url: " << url);
  Repository repo(served.mirror());
  SyncOptions options = options_for(url);
  options.allow_local = true;
  SyncResult cold = repo.sync(options);
  REQUIRE(cold.commit == history[4]);
  REQUIRE(read_at(repo, "docs/readme.txt") == "v4\n");
  REQUIRE(read_at(repo, "charts/app/values.yaml") == "replicas: 4\n");

  // The first fetch of a branch is shallow, as over git://: the tips of every
  // branch and tag with their trees and blobs (and the annotated tag object).
  const fs::path mirror_git = served.mirror() / "repo.git";
  const auto tips = reachable_objects(served.bare, {"--no-walk", "--branches", "--tags"});
  REQUIRE(reachable_objects(mirror_git, {"--all"}) == tips);
  REQUIRE(cold.received_objects == tips.size());
  REQUIRE(fs::exists(mirror_git / "shallow"));
  REQUIRE_FALSE(mirror_has(served.mirror(), history[3]));
  REQUIRE_FALSE(mirror_has(served.mirror(), outside));
  REQUIRE_FALSE(mirror_has(served.mirror(), private_blob));
  cmop::test::run_ok({"git", "--git-dir", mirror_git.string(), "fsck", "--no-dangling"});
  REQUIRE(repo.sync([&] { auto o = options; o.ref = "feature"; return o; }()).commit == feature);
  REQUIRE(read_at(repo, "docs/feature.txt") == "feature only\n");
  REQUIRE(repo.sync([&] { auto o = options; o.ref = "v4"; return o; }()).commit == history[4]);

  // A commit id deepens it to the whole history of the branches and tags, and nothing else.
  SyncOptions at = options;
  at.ref = history[1];
  SyncResult deepened = repo.sync(at);
  REQUIRE(deepened.commit == history[1]);
  REQUIRE(read_at(repo, "docs/readme.txt") == "v1\n");
  const auto wanted = reachable_objects(served.bare, {"--branches", "--tags"});
  REQUIRE(reachable_objects(mirror_git, {"--all"}) == wanted);
  REQUIRE(deepened.received_objects == wanted.size() - tips.size());
  REQUIRE_FALSE(fs::exists(mirror_git / "shallow"));
  REQUIRE_FALSE(mirror_has(served.mirror(), outside));
  REQUIRE_FALSE(mirror_has(served.mirror(), private_blob));
  cmop::test::run_ok({"git", "--git-dir", mirror_git.string(), "fsck", "--no-dangling"});
  for (const std::string& commit : history) {
    at.ref = commit;
    REQUIRE(repo.sync(at).commit == commit);
    REQUIRE(repo.tree_at(commit).commit() == commit);
  }
  REQUIRE(repo.sync([&] { auto o = options; o.ref = "feature"; return o; }()).commit == feature);
  REQUIRE(read_at(repo, "docs/feature.txt") == "feature only\n");
}

TEST_CASE("a local copy longer than the stall limit is progress, not a remote that stopped answering",
          "[git][local]") {
  Served served;
  // ~80 MiB of poorly compressible files: a copy that takes far longer than the
  // stall limit below, in steps far shorter than it.
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; ++i) {
    std::string content(4096, '\0');
    for (char& c : content) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c = static_cast<char>(x);
    }
    served.work.write("data/" + std::to_string(i / 1000) + "/" + std::to_string(i) + ".bin", content);
  }
  const std::string tip = served.publish("many files");
  Repository repo(served.mirror());
  SyncOptions options = options_for("file://" + served.bare.string());
  options.allow_local = true;
  options.stall_timeout = std::chrono::milliseconds(200);
  SyncResult cold = repo.sync(options);
  CHECK(cold.commit == tip);
  CHECK(cold.received_objects > 20000);
}

TEST_CASE("a local mirror fetches what a new commit adds and outlives its source", "[git][local]") {
  Served served;
  for (int d = 0; d < 10; ++d)
    served.work.write("charts/c" + std::to_string(d) + "/values.yaml", "folder " + std::to_string(d) + "\n");
  const std::string tip = served.publish("ten folders");
  Repository repo(served.mirror());
  SyncOptions options = options_for("file://" + served.bare.string());
  options.allow_local = true;
  REQUIRE(repo.sync(options).commit == tip);

  SyncResult same = repo.sync(options);
  REQUIRE_FALSE(same.changed);
  REQUIRE(same.received_objects == 0);

  served.work.write("charts/c3/values.yaml", "changed\n");
  const std::string next = served.publish("one file");
  SyncResult one = repo.sync(options);
  REQUIRE(one.changed);
  REQUIRE(one.commit == next);
  // The commit, the trees on the way down (root, charts, c3) and the blob.
  REQUIRE(one.received_objects == 5);
  REQUIRE(read_at(repo, "charts/c3/values.yaml") == "changed\n");
  REQUIRE(read_at(repo, "charts/c4/values.yaml") == "folder 4\n");

  SECTION("an object missing from the source fails the sync and keeps the commit") {
    served.work.write("charts/c5/values.yaml", "lost\n");
    served.publish("a blob that goes missing");
    const std::string blob =
        cmop::test::run_ok({"git", "--git-dir", served.bare.string(), "rev-parse", "main:charts/c5/values.yaml"})
            .substr(0, 40);
    fs::remove(served.bare / "objects" / blob.substr(0, 2) / blob.substr(2));
    Error e = require_error(Errc::git, [&] { repo.sync(options); });
    REQUIRE(e.reason().find(blob) != std::string::npos);
    REQUIRE(repo.current_commit() == next);
    REQUIRE(read_at(repo, "charts/c3/values.yaml") == "changed\n");
  }
  SECTION("the source deleted: the mirror still reads, a sync fails and keeps the commit") {
    fs::remove_all(served.bare);
    REQUIRE(read_at(repo, "charts/c3/values.yaml") == "changed\n");
    REQUIRE(cmop::util::read_tree_file(repo.tree_at(tip), "charts/c3/values.yaml", "", 0) == "folder 3\n");
    Error e = require_error(Errc::git, [&] { repo.sync(options); });
    REQUIRE(e.reason() == "fetch: no such folder: " + served.bare.string());
    REQUIRE(repo.current_commit() == next);
  }
  SECTION("the source replaced by another history at the same path is followed") {
    fs::remove_all(served.bare);
    GitWorkRepo other(served.tmp.path() / "other");
    other.write("charts/c3/values.yaml", "another history\n");
    const std::string unrelated = other.commit("unrelated");
    cmop::test::make_bare(other, served.base, "charts.git");
    SyncResult replaced = repo.sync(options);
    REQUIRE(replaced.changed);
    REQUIRE(replaced.commit == unrelated);
    REQUIRE(read_at(repo, "charts/c3/values.yaml") == "another history\n");
    REQUIRE(repo.tree().kind("charts/c4") == cmop::util::FileTree::Kind::missing);
  }
}

TEST_CASE("deleted branches and moved tags follow the remote", "[git][refs]") {
  Served served;
  served.work.git({"tag", "stable"});
  served.work.git({"branch", "short-lived"});
  served.work.git({"push", "-q", served.bare.string(), "short-lived", "--tags"});
  GitDaemon daemon(served.base);
  const std::string url = daemon.url("charts.git");
  Repository repo(served.mirror());
  REQUIRE(repo.sync(options_for(url, "short-lived")).commit == served.first_commit);
  REQUIRE(repo.sync(options_for(url, "stable")).commit == served.first_commit);

  served.work.write("docs/readme.txt", "retagged\n");
  std::string second = served.work.commit("second");
  served.work.git({"tag", "-f", "stable"});
  served.work.git({"push", "-q", "--force", served.bare.string(), "HEAD:refs/heads/main", "refs/tags/stable",
                   ":refs/heads/short-lived"});

  SyncResult moved = repo.sync(options_for(url, "stable"));
  REQUIRE(moved.changed);
  REQUIRE(moved.commit == second);
  require_error(Errc::not_found, [&] { repo.sync(options_for(url, "short-lived")); });
  REQUIRE(repo.current_commit() == second);
}

// Issue 11, item 4: a remote that accepts and never answers held a sync for more
// than 11 minutes (http) before the deadline existed. Each transport must now give
// up after the stall timeout, naming the remote and the step. Should a sync still
// hang (the bug), the black hole lets go of its connections so the test ends.
namespace {
// The network error a sync against `hole` ends with. Should it still be blocked
// after 20 s (no deadline: the bug), the hole lets go of its connections so that
// the test fails instead of hanging.
Error black_hole_sync_error(Repository& repo, const SyncOptions& o, cmop::test::BlackHole& hole) {
  auto pending = std::async(std::launch::async, [&] { return repo.sync(o); });
  if (pending.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    hole.release();
    pending.wait();
    FAIL("the sync was still blocked after 20 s");
  }
  return require_error(Errc::network, [&] { pending.get(); });
}
}  // namespace

TEST_CASE("a black-hole remote times out on every transport", "[git][deadline]") {
  cmop::test::BlackHole hole;
  cmop::util::TempDir tmp("cmop-git-blackhole-");
  const std::vector<std::string> urls = {hole.url("http", "o/r.git"), hole.url("https", "o/r.git"),
                                         hole.url("git", "o/r.git"), hole.url("ssh", "o/r.git")};
  int n = 0;
  for (const auto& url : urls) {
    INFO(url);
    Repository repo(tmp.path() / std::to_string(n++));
    SyncOptions o;
    o.url = url;
    o.stall_timeout = std::chrono::milliseconds(1000);
    const auto started = std::chrono::steady_clock::now();
    auto e = black_hole_sync_error(repo, o, hole);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
    CHECK_THAT(e.subject(), Catch::Contains("127.0.0.1:" + std::to_string(hole.port())));
    CHECK_THAT(e.reason(), Catch::Contains("timed out: no answer from the remote for 1 s during connect"));
  }
  CHECK(hole.accepted() >= urls.size());
}

TEST_CASE("the overall deadline ends a transfer even without a stall limit", "[git][deadline]") {
  cmop::test::BlackHole hole;
  cmop::util::TempDir tmp("cmop-git-deadline-");
  Repository repo(tmp.path() / "r");
  SyncOptions o;
  o.url = hole.url("http", "o/r.git");
  o.stall_timeout = std::chrono::milliseconds(0);  // no stall limit: only the deadline
  o.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
  auto e = black_hole_sync_error(repo, o, hole);
  CHECK_THAT(e.reason(), Catch::Contains("timed out: the sync deadline passed during connect"));
}

TEST_CASE("branches and tags are fetched shallow, new commits and commit ids still sync", "[git][shallow]") {
  Served served;
  served.work.write("docs/readme.txt", "v2\n");
  std::string v2 = served.publish("v2");
  served.work.write("docs/readme.txt", "v3\n");
  std::string v3 = served.publish("v3");
  GitDaemon daemon(served.base);
  GitHttpServer http(served.base);
  const std::string url = GENERATE(as<std::string>{}, "git", "http") == "git" ? daemon.url("charts.git")
                                                                             : http.url("charts.git");
  INFO("url: " << url);
  Repository repo(served.mirror());
  const std::string mirror_git = (served.mirror() / "repo.git").string();
  auto shallow = [&] { return cmop::test::run_ok({cmop::test::git(), "-C", mirror_git, "rev-parse", "--is-shallow-repository"}); };
  auto commits_held = [&] {
    return cmop::test::run_ok({cmop::test::git(), "-C", mirror_git, "rev-list", "--all", "--count"});
  };

  // The default branch: only its tip is fetched.
  REQUIRE(repo.sync(options_for(url)).commit == v3);
  REQUIRE(shallow() == "true\n");
  REQUIRE(commits_held() == "1\n");
  REQUIRE(read_at(repo, "docs/readme.txt") == "v3\n");

  // Commits pushed after the first sync are fetched, packaged from the new tip.
  served.work.write("docs/readme.txt", "v4\n");
  served.work.commit("v4");
  served.work.write("docs/readme.txt", "v5\n");
  std::string v5 = served.publish("v5");
  SyncResult next = repo.sync(options_for(url));
  REQUIRE(next.changed);
  REQUIRE(next.commit == v5);
  REQUIRE(read_at(repo, "docs/readme.txt") == "v5\n");
  REQUIRE(shallow() == "true\n");
  REQUIRE_FALSE(repo.sync(options_for(url, "main")).changed);

  // A commit id below the tips needs history: the mirror is deepened again.
  SyncResult old = repo.sync(options_for(url, v2.substr(0, 12)));
  REQUIRE(old.commit == v2);
  REQUIRE(read_at(repo, "docs/readme.txt") == "v2\n");
  REQUIRE(shallow() == "false\n");
  REQUIRE(repo.sync(options_for(url, served.first_commit)).commit == served.first_commit);

  // And back to the branch, then onwards to a commit pushed in the meantime.
  served.work.write("docs/readme.txt", "v6\n");
  std::string v6 = served.publish("v6");
  REQUIRE(repo.sync(options_for(url, "main")).commit == v6);
  REQUIRE(read_at(repo, "docs/readme.txt") == "v6\n");
  served.work.write("docs/readme.txt", "v7\n");
  std::string v7 = served.publish("v7");
  REQUIRE(repo.sync(options_for(url)).commit == v7);
  REQUIRE(read_at(repo, "docs/readme.txt") == "v7\n");
}

TEST_CASE("an existing mirror fetches only what a new commit adds", "[git][shallow]") {
  Served served;
  for (int d = 0; d < 10; ++d)
    for (int f = 0; f < 5; ++f)
      served.work.write("charts/c" + std::to_string(d) + "/files/f" + std::to_string(f) + ".txt",
                        "file " + std::to_string(d) + "/" + std::to_string(f) + "\n");
  served.publish("fifty files");
  GitDaemon daemon(served.base);
  GitHttpServer http(served.base);
  const std::string url = GENERATE(as<std::string>{}, "git", "http") == "git" ? daemon.url("charts.git")
                                                                             : http.url("charts.git");
  INFO("url: " << url);
  Repository repo(served.mirror());
  SyncResult cold = repo.sync(options_for(url));
  // The tip's commit, its trees and blobs: 50 files in 10+ folders and the chart.
  REQUIRE(cold.received_objects >= 60);

  SyncResult same = repo.sync(options_for(url));
  REQUIRE_FALSE(same.changed);
  REQUIRE(same.received_objects == 0);

  served.work.write("charts/c3/files/f2.txt", "changed\n");
  std::string next = served.publish("one file");
  SyncResult one = repo.sync(options_for(url));
  REQUIRE(one.changed);
  REQUIRE(one.commit == next);
  // The commit, the trees on the way down (root, charts, c3, files) and the blob.
  REQUIRE(one.received_objects > 0);
  REQUIRE(one.received_objects <= 6);
  REQUIRE(read_at(repo, "charts/c3/files/f2.txt") == "changed\n");
  REQUIRE(read_at(repo, "charts/c4/files/f2.txt") == "file 4/2\n");
}

namespace {
void pipe_handler_of_the_embedder(int) {}
}  // namespace

// libgit2 sends without MSG_NOSIGNAL: a git server that hangs up mid-request would
// otherwise kill the process (seen as a SIGPIPE death of the "git server killed
// mid-fetch" fault test).
TEST_CASE("a sync ignores SIGPIPE unless the process handles it itself", "[git][signals]") {
  Served served;
  GitDaemon daemon(served.base);
  Repository repo(served.mirror());
  auto disposition = [] {
    struct sigaction now {};
    ::sigaction(SIGPIPE, nullptr, &now);
    return now.sa_handler;
  };
  ::signal(SIGPIPE, SIG_DFL);
  REQUIRE(repo.sync(options_for(daemon.url("charts.git"))).changed);
  REQUIRE(disposition() == SIG_IGN);

  ::signal(SIGPIPE, pipe_handler_of_the_embedder);
  REQUIRE_FALSE(repo.sync(options_for(daemon.url("charts.git"))).changed);
  REQUIRE(disposition() == &pipe_handler_of_the_embedder);
  ::signal(SIGPIPE, SIG_IGN);
}
