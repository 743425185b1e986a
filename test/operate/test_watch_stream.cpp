// Watch stream decoding and the informer's reading of events, without a server
// (the same code fuzz/fuzz_watch_stream.cpp drives).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/operate/watch_stream.hpp"

using namespace cmop;
using namespace cmop::operate;

namespace {
const std::string kAdded =
    R"({"type":"ADDED","object":{"metadata":{"namespace":"team","name":"web","resourceVersion":"7"}}})";
const std::string kBookmark = R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})";
const std::string kGone =
    R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}})";
}  // namespace

TEST_CASE("watch stream: lines split across chunks, CRLF, blanks and a Status body", "[operate][watch]") {
  std::string stream = kAdded + "\r\n\n" + kBookmark + "\n" + kGone + "\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, stream.size()}) {
    WatchStreamDecoder decoder;
    std::vector<WatchAction> actions;
    for (std::size_t at = 0; at < stream.size(); at += chunk)
      decoder.feed(std::string_view(stream).substr(at, chunk), [&](WatchEvent& ev) {
        actions.push_back(interpret_watch_event(ev));
        return actions.back().kind != WatchAction::Kind::relist;
      });
    REQUIRE(actions.size() == 3);
    CHECK(actions[0].kind == WatchAction::Kind::upsert);
    CHECK(actions[0].key == "team/web");
    CHECK(actions[0].resource_version == "7");
    CHECK(actions[1].kind == WatchAction::Kind::bookmark);
    CHECK(actions[1].resource_version == "9");
    CHECK(actions[2].kind == WatchAction::Kind::relist);
    CHECK(actions[2].error_code == 410);
    CHECK(actions[2].error_reason == "Expired");
  }

  WatchStreamDecoder refused;
  std::string status = R"({"kind":"Status","code":403,"message":"forbidden"})";
  CHECK(refused.feed(status, [](WatchEvent&) { return true; }));
  CHECK(refused.unparsed_text() == status);
}

TEST_CASE("watch stream: a line over the limit is an error", "[operate][watch]") {
  WatchStreamDecoder decoder(16);
  CHECK_THROWS_AS(decoder.feed(std::string(17, 'x'), [](WatchEvent&) { return true; }), Error);
}

// Regression: the recursive JSON parser overflowed the stack on a deeply nested
// line (event lines may be 16 MiB long).
TEST_CASE("watch stream: deeply nested lines are not events, not a crash", "[operate][watch]") {
  CHECK_FALSE(parse_watch_line(std::string(1 << 20, '[')).has_value());
  std::string nested_object = R"({"type":"ADDED","object":)" + std::string(1 << 20, '[') + "\n";
  WatchStreamDecoder decoder;
  int events = 0;
  decoder.feed(nested_object, [&](WatchEvent&) { return ++events, true; });
  CHECK(events == 0);
}

// Regression (found by fuzz_watch_stream's low exec rate): each chunk rescanned the
// whole pending line for '\n', so a long line arriving in small chunks cost
// quadratic time (minutes for this one); now each byte is looked at once.
TEST_CASE("watch stream: a long line in small chunks is decoded in linear time", "[operate][watch]") {
  std::string line = R"({"type":"MODIFIED","object":{"metadata":{"namespace":"n","name":"x"},"pad":")" +
                     std::string(8 << 20, 'p') + "\"}}\n";
  WatchStreamDecoder decoder;
  int events = 0;
  for (std::size_t at = 0; at < line.size(); at += 256)
    decoder.feed(std::string_view(line).substr(at, 256), [&](WatchEvent&) { return ++events, true; });
  CHECK(events == 1);
}
