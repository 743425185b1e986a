// The publication ledger: ownership rules and its JSON persistence.
#include <catch2/catch.hpp>

#include "cmop/error.hpp"
#include "cmop/publish/ledger.hpp"
#include "publish_fixtures.hpp"

using namespace cmop;
using publish::Ledger;
using publish::Publication;

TEST_CASE("ledger records, finds and lists publications per repo", "[ledger]") {
  Ledger ledger;
  ledger.record({"team-a", "web", "1.0.0", "d1", "charts/web"});
  ledger.record({"team-a", "db", "0.3.1", "d2", "charts/db"});
  ledger.record({"team-b", "cache", "2.0.0", "d3", "cache"});

  auto web = ledger.find("web", "1.0.0");
  REQUIRE(web);
  CHECK(web->repo == "team-a");
  CHECK(web->chart_path == "charts/web");
  CHECK_FALSE(ledger.find("web", "1.0.1"));
  CHECK(ledger.owned_by("team-a").size() == 2);
  CHECK(ledger.owned_by("team-b").size() == 1);
  CHECK(ledger.owned_by("nobody").empty());

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
  auto err = test::capture_error([&] { ledger.record({"team-b", "web", "1.0.0", "d9", "web"}); });
  CHECK(err.code() == Errc::conflict);
  CHECK(err.subject() == "web-1.0.0");
  CHECK_THAT(err.reason(), Catch::Contains("team-a") && Catch::Contains("charts/web"));
  CHECK(ledger.find("web", "1.0.0")->repo == "team-a");
  // Another version of the same chart is free.
  ledger.record({"team-b", "web", "1.0.1", "d9", "web"});
  CHECK(ledger.find("web", "1.0.1")->repo == "team-b");
}

TEST_CASE("ledger JSON round-trips exactly", "[ledger]") {
  Ledger ledger;
  ledger.record({"team-a", "web", "1.0.0", "d1", "charts/web"});
  ledger.record({"team-b", "ünïcode", "0.1.0-rc.1+build.5", "d2", "path with \"quotes\"\\"});
  auto json = ledger.to_json();
  auto back = Ledger::from_json(json);
  CHECK(back.to_json() == json);
  auto p = back.find("ünïcode", "0.1.0-rc.1+build.5");
  REQUIRE(p);
  CHECK(p->repo == "team-b");
  CHECK(p->digest == "d2");
  CHECK(p->chart_path == "path with \"quotes\"\\");
  // Ownership survives the round-trip.
  CHECK(test::capture_error([&] { back.record({"team-b", "web", "1.0.0", "x", "y"}); }).code() == Errc::conflict);
  CHECK(Ledger::from_json(Ledger().to_json()).owned_by("team-a").empty());
}

TEST_CASE("ledger from_json rejects corrupt input", "[ledger]") {
  const char* corrupt[] = {
      "",
      "{",
      "[]",
      "{\"version\":1}",
      "{\"version\":2,\"publications\":[]}",
      "{\"version\":1,\"publications\":{}}",
      "{\"version\":1,\"publications\":[42]}",
      "{\"version\":1,\"publications\":[{\"repo\":\"a\",\"name\":\"web\"}]}",
      "{\"version\":1,\"publications\":[{\"repo\":\"a\",\"name\":\"web\",\"version\":7}]}",
      "{\"version\":1,\"publications\":[{\"repo\":\"\",\"name\":\"web\",\"version\":\"1.0.0\"}]}",
      "{\"version\":1,\"publications\":[{\"repo\":\"a\",\"name\":\"web\",\"version\":\"1.0.0\"},"
      "{\"repo\":\"b\",\"name\":\"web\",\"version\":\"1.0.0\"}]}",
      "{\"version\":1,\"publications\":[]} trailing",
  };
  for (const char* text : corrupt) {
    INFO(text);
    auto err = test::capture_error([&] { Ledger::from_json(text); });
    CHECK(err.code() == Errc::invalid_argument);
    CHECK(err.subject() == "publication ledger");
  }
}
