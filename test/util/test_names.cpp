#include <catch2/catch.hpp>

#include <set>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"

using namespace cmop;

TEST_CASE("DNS-1123 labels are validated before they touch a path") {
  CHECK(util::is_dns1123_label("myrepo"));
  CHECK(util::is_dns1123_label("a-1"));
  CHECK_FALSE(util::is_dns1123_label(""));
  CHECK_FALSE(util::is_dns1123_label("-a"));
  CHECK_FALSE(util::is_dns1123_label("A"));
  CHECK_FALSE(util::is_dns1123_label("../etc"));
  CHECK_FALSE(util::is_dns1123_label(std::string(64, 'a')));
  CHECK_THROWS_AS(util::require_dns1123_label("repo name", "a/b"), Error);
}

TEST_CASE("sha256 matches the known digest of 'abc'") {
  CHECK(util::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("atomic writes replace content and leave no temp files") {
  util::TempDir dir;
  auto p = dir.path() / "state.json";
  util::write_file_atomic(p, "one");
  util::write_file_atomic(p, "two");
  CHECK(util::read_file(p) == "two");
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++n;
  CHECK(n == 1);
  CHECK_THROWS_AS(util::read_file(dir.path() / "missing"), Error);
}

TEST_CASE("temp files of a killed atomic write are cleared, other files are kept") {
  util::TempDir dir;
  util::write_file_atomic(dir.path() / "index.yaml", "kept");
  for (const char* name : {".web-1.0.0.tgz.tmp-a1B2c3", ".index.yaml.tmp-zzzzzz"})
    util::write_file_atomic(dir.path() / name, "half written");
  for (const char* name : {"notes.tmp-a1B2c3", ".hidden", ".x.tmp-short"})
    util::write_file_atomic(dir.path() / name, "not ours");
  CHECK(util::remove_stale_temp_files(dir.path()) == 2);
  std::set<std::string> left;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) left.insert(e.path().filename().string());
  CHECK(left == std::set<std::string>{"index.yaml", "notes.tmp-a1B2c3", ".hidden", ".x.tmp-short"});
}
