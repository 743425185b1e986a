// The publication ledger: its ownership rules.
#include <catch2/catch.hpp>

#include "cmop/error.hpp"
#include "cmop/publish/ledger.hpp"
#include "publish_fixtures.hpp"

using namespace cmop;
using publish::Ledger;
using publish::Publication;

TEST_CASE("ledger records, finds and lists publications", "[ledger]") {
  Ledger ledger;
  ledger.record({"team-a", "web", "1.0.0", "d1", "charts/web"});
  ledger.record({"team-a", "db", "0.3.1", "d2", "charts/db"});
  ledger.record({"team-b", "cache", "2.0.0", "d3", "cache"});

  auto web = ledger.find("web", "1.0.0");
  REQUIRE(web);
  CHECK(web->repo == "team-a");
  CHECK(web->chart_path == "charts/web");
  CHECK_FALSE(ledger.find("web", "1.0.1"));
  auto all = ledger.all();  // sorted by name, then version
  REQUIRE(all.size() == 3);
  CHECK(all[0].name == "cache");
  CHECK(all[1].name == "db");
  CHECK(all[2].name == "web");

  // The owner may re-record (a new digest after a rebuild).
  ledger.record({"team-a", "web", "1.0.0", "d1b", "charts/web"});
  CHECK(ledger.find("web", "1.0.0")->digest == "d1b");

  ledger.erase("web", "1.0.0");
  CHECK_FALSE(ledger.find("web", "1.0.0"));
  ledger.erase("web", "1.0.0");  // erasing twice is harmless
}

TEST_CASE("ledger refuses name+version owned by another repo", "[ledger]") {
  Ledger ledger;
  ledger.record({"team-a", "web", "1.0.0", "d1", "charts/web"});
  auto err = test::error_of([&] { ledger.record({"team-b", "web", "1.0.0", "d9", "web"}); });
  CHECK(err.code() == Errc::conflict);
  CHECK(err.subject() == "web-1.0.0");
  CHECK_THAT(err.reason(), Catch::Contains("team-a") && Catch::Contains("charts/web"));
  CHECK(ledger.find("web", "1.0.0")->repo == "team-a");
  // Another version of the same chart is free.
  ledger.record({"team-b", "web", "1.0.1", "d9", "web"});
  CHECK(ledger.find("web", "1.0.1")->repo == "team-b");
}
