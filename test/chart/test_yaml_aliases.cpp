// helm_alias_refusal replays go-yaml v2's alias accounting (decode.go: a document
// fails when, past 1000 decoded nodes and 100 aliased ones, aliased nodes exceed
// allowedAliasRatio of all decoded nodes) without expanding anything.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "cmop/chart/yaml_aliases.hpp"

using cmop::chart::helm_alias_refusal;

namespace {

// `levels` levels of ten-fold aliases: 10^levels nodes once expanded.
std::string laughs(int levels) {
  std::string doc = "l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= levels; ++i) {
    doc += "l" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) doc += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    doc += "]\n";
  }
  return doc;
}

// An anchored mapping of 500 pairs (1001 nodes once decoded) aliased `uses` times.
std::string shared_defaults(int uses) {
  std::string doc = "base: &b {";
  for (int i = 0; i < 500; ++i) doc += std::string(i ? ", " : "") + "k" + std::to_string(i) + ": v";
  doc += "}\n";
  for (int i = 0; i < uses; ++i) doc += "use" + std::to_string(i) + ": *b\n";
  return doc;
}

}  // namespace

TEST_CASE("alias bombs are refused as go-yaml refuses them, in linear time") {
  auto started = std::chrono::steady_clock::now();
  CHECK(helm_alias_refusal(laughs(9)) == "yaml: document contains excessive aliasing");
  CHECK(helm_alias_refusal(laughs(30)) == "yaml: document contains excessive aliasing");  // counts saturate
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  // Nested under a key nobody reads, after ordinary content.
  std::string nested = "outer: {x: 1}\nunknown:\n";
  const std::string bomb = laughs(9);
  for (std::size_t at = 0; at < bomb.size();) {
    auto eol = bomb.find('\n', at);
    nested += "  " + bomb.substr(at, eol + 1 - at);
    at = eol + 1;
  }
  CHECK(helm_alias_refusal(nested) == "yaml: document contains excessive aliasing");
}

TEST_CASE("ordinary documents and honest aliases pass") {
  CHECK_FALSE(helm_alias_refusal("replicas: 1\nimage: {repository: nginx, tag: '1.25'}\n"));
  CHECK_FALSE(helm_alias_refusal(""));
  CHECK_FALSE(helm_alias_refusal(laughs(2)));  // 100 aliased nodes: under go-yaml's floor of 100
  CHECK_FALSE(helm_alias_refusal("d: &d {cpu: 1}\na: *d\nb: *d\nc: [*d, *d]\n"));
  // Syntax errors are left to the caller's parser, which reports a position.
  CHECK_FALSE(helm_alias_refusal("a: [1, 2\n"));
  // Only the first document counts, as with go-yaml's Unmarshal.
  CHECK_FALSE(helm_alias_refusal("a: 1\n---\n" + laughs(9)));
}

TEST_CASE("the threshold is go-yaml's ratio, not a guess") {
  // 100 uses: 101304 nodes decoded, 100100 of them through an alias (98.8% <= 99%).
  CHECK_FALSE(helm_alias_refusal(shared_defaults(100)));
  // 200 uses: 201604 decoded, 200200 aliased (99.3% > 99%): go-yaml refuses this too.
  CHECK(helm_alias_refusal(shared_defaults(200)) == "yaml: document contains excessive aliasing");
}

TEST_CASE("an alias inside the node it names is refused") {
  auto refusal = helm_alias_refusal("a: &x [1, *x]\n");
  REQUIRE(refusal);
  CHECK_THAT(*refusal, Catch::Contains("contains it"));
}
