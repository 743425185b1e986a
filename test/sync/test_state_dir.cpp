// The state dir belongs to one Workspace: its lock and the secrets kept in it.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "cmop/error.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "support/error_of.hpp"

using namespace cmop;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::unique_ptr<sync::Workspace> workspace(const util::TempDir& tmp) {
  fs::create_directories(tmp.path() / "out");
  return std::make_unique<sync::Workspace>(tmp.path() / "state",
                                           publish::make_local_publisher((tmp.path() / "out").string()));
}

// Recorded without a sync (suspended), so no git remote is needed.
sync::RepoSpec suspended(const std::string& name, const std::string& key_file) {
  sync::RepoSpec s;
  s.name = name;
  s.git = "https://git.example.com/" + name + ".git";
  s.suspend = true;
  s.credentials.ssh_private_key_file = key_file;
  return s;
}

}  // namespace

TEST_CASE("a state dir has one Workspace at a time, and the next one gets it once the first is gone") {
  util::TempDir tmp;
  auto first = workspace(tmp);
  CHECK(mode_of(tmp.path() / "state") == 0700);  // it holds credentials
  auto e = test::error_of([&] { workspace(tmp); });
  CHECK(e.code() == Errc::io);
  CHECK(e.subject() == (tmp.path() / "state").string());
  CHECK_THAT(e.reason(), Catch::Contains("in use by another cmop serve"));
  first.reset();
  CHECK(workspace(tmp) != nullptr);
}

TEST_CASE("SSH keys are stored 0600 by content, a recorded spec keeps only its own, removal deletes them") {
  util::TempDir tmp;
  auto ws = workspace(tmp);
  const fs::path key1 = ws->store_ssh_key("a", "key one\n");
  const fs::path key2 = ws->store_ssh_key("a", "key two\n");
  const fs::path other = ws->store_ssh_key("a-b", "key of a-b\n");  // shares the prefix "a-"
  CHECK(key1 != key2);
  CHECK(key1.string() == ws->ssh_key_file("a", "key one\n"));  // the path is known before storing
  CHECK(util::read_file(key1) == "key one\n");
  CHECK(mode_of(key1) == 0600);
  CHECK(mode_of(key1.parent_path()) == 0700);
  CHECK(key1.parent_path().parent_path() == tmp.path() / "state");

  ws->apply(suspended("a", key2.string()));
  CHECK_FALSE(fs::exists(key1));  // no spec names it any more
  CHECK(fs::exists(key2));
  CHECK(fs::exists(other));

  ws->apply(suspended("a", ""));  // the spec names no key now
  CHECK_FALSE(fs::exists(key2));
  CHECK(fs::exists(other));

  ws->store_ssh_key("a", "key three\n");
  ws->remove("a");
  CHECK_FALSE(fs::exists(ws->ssh_key_file("a", "key three\n")));
  CHECK(fs::exists(other));

  CHECK(test::error_of([&] { ws->store_ssh_key("../x", "k"); }).code() == Errc::invalid_argument);
}

TEST_CASE("a refused spec leaves the repo's stored keys alone") {
  util::TempDir tmp;
  auto ws = workspace(tmp);
  const fs::path key1 = ws->store_ssh_key("a", "key one\n");
  auto owned = suspended("a", key1.string());
  owned.owner = "ns/a";
  ws->apply(owned);
  const fs::path key2 = ws->store_ssh_key("a", "key two\n");
  auto intruder = suspended("a", key2.string());
  intruder.owner = "other/a";
  CHECK(test::error_of([&] { ws->apply(intruder); }).code() == Errc::conflict);
  CHECK(fs::exists(key1));  // still the recorded spec's key
}
