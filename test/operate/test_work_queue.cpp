#include <catch2/catch.hpp>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "cmop/operate/work_queue.hpp"

using cmop::operate::WorkQueue;
using namespace std::chrono_literals;

TEST_CASE("work queue: a key is queued once however often it is added") {
  WorkQueue q;
  q.add("ns/a");
  q.add("ns/b");
  q.add("ns/a");
  CHECK(q.depth() == 2);
  CHECK(*q.get() == "ns/a");
  CHECK(*q.get() == "ns/b");
}

TEST_CASE("work queue: a key added while processing is handed out again only after done()") {
  WorkQueue q;
  q.add("ns/a");
  auto key = q.get();
  q.add("ns/a");  // an event arrives during the reconcile
  q.add("ns/b");
  CHECK(*q.get() == "ns/b");  // not ns/a: it is still being processed
  q.done("ns/b");
  q.done(*key);
  CHECK(*q.get() == "ns/a");
}

TEST_CASE("work queue: rate-limited retries back off exponentially up to the cap, forget resets") {
  WorkQueue q(100ms, 1s);
  auto d1 = q.add_rate_limited("k");
  auto d2 = q.add_rate_limited("k");
  auto d3 = q.add_rate_limited("k");
  for (int i = 0; i < 10; ++i) q.add_rate_limited("k");
  auto capped = q.add_rate_limited("k");
  CHECK(d1 >= 100ms);
  CHECK(d1 <= 110ms);
  CHECK(d2 >= 200ms);
  CHECK(d3 >= 400ms);
  CHECK(capped >= 1s);
  CHECK(capped <= 1100ms);
  CHECK(q.failures("k") == 14);
  q.forget("k");
  CHECK(q.failures("k") == 0);
  CHECK(*q.get() == "k");  // the delayed add comes due
}

TEST_CASE("work queue: shutdown releases waiting workers") {
  WorkQueue q;
  std::thread worker([&] { CHECK_FALSE(q.get().has_value()); });
  q.shutdown();
  worker.join();
}

TEST_CASE("work queue: a key has at most one delayed entry, the earliest deadline wins") {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.add_after("k", 600ms);
  q.add_after("k", 150ms);
  q.add_after("k", 400ms);  // later than the pending one: no second entry
  CHECK(q.depth() == 1);
  CHECK(*q.get() == "k");
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 150ms);
  CHECK(waited < 400ms);
  q.done("k");
  CHECK(q.depth() == 0);  // no interleaved chain left behind
  // A retry scheduled while the key is delayed replaces it only when sooner.
  q.add_after("j", 100ms);
  q.add_rate_limited("j");  // 1 s base delay: the 100 ms entry stays
  CHECK(q.depth() == 1);
  CHECK(*q.get() == "j");
  q.done("j");
  CHECK(q.depth() == 0);
}

// Issue 23, item 8: the reconcile that reports a finished sync (the sidecar feed's) goes
// ahead of the initial ones, each key still once and never to two workers at once.
TEST_CASE("work queue: an urgent key is handed out before everything queued, once") {
  WorkQueue q;
  for (int i = 0; i < 100; ++i) q.add("ns/r" + std::to_string(i));
  q.add_urgent("ns/r50");  // queued already: it jumps the line
  q.add_urgent("ns/new");
  q.add_urgent("ns/new");
  CHECK(q.depth() == 101);
  CHECK(*q.get() == "ns/r50");
  CHECK(*q.get() == "ns/new");
  auto first = q.get();
  CHECK(*first == "ns/r0");
  q.add_urgent("ns/r0");  // while it is processed: again after done(), first of all
  for (int i = 1; i < 50; ++i) CHECK(*q.get() == "ns/r" + std::to_string(i));
  q.done("ns/r0");
  CHECK(*q.get() == "ns/r0");
  std::vector<std::string> rest;
  while (q.depth() > 0) rest.push_back(*q.get());
  CHECK(rest.size() == 49);  // r51..r99: the stale entry of r50 was skipped
  CHECK(std::find(rest.begin(), rest.end(), "ns/r50") == rest.end());
}
