#pragma once
// GET /syncs: who learns about a finished sync, and when. Every sync that ran (the
// API's, a CronJob's, a webhook's) bumps a generation; a client that knows the
// generation it saw last asks for what came after and is answered as soon as there
// is something (a long poll), so the operator updates a resource's status within a
// moment of the sidecar finishing its sync, whoever asked for it.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http.hpp"

namespace cmop::serve {

class SyncFeed {
 public:
  // At most this many trusted requests (with the bearer token) wait at once; more
  // are answered 503 at once. Untrusted ones wait in a pool of their own, at most
  // kMaxUntrustedWaiters and kMaxUntrustedWaitersPerClient from one client address
  // (more are answered 429), so they never take a trusted client's place.
  static constexpr std::size_t kMaxWaiters = 64;
  static constexpr std::size_t kMaxUntrustedWaiters = 16;
  static constexpr std::size_t kMaxUntrustedWaitersPerClient = 2;

  SyncFeed();
  ~SyncFeed();  // stop()
  SyncFeed(const SyncFeed&) = delete;
  SyncFeed& operator=(const SyncFeed&) = delete;

  // A sync of `repo` (managed by `owner`, "" for none) started (`running`) or
  // finished. Both are news: a client shows a running sync (kstatus: Ready Unknown)
  // whoever asked for it.
  void record(const std::string& repo, const std::string& owner, bool running = false);
  // The repo is gone: it is no longer listed.
  void forget(const std::string& repo);

  // Answers {"epoch","generation","repos":[{"name","owner","generation","syncing"}]} with the
  // repos whose last sync came after generation `after`: at once when there are
  // any, else when the next sync finishes or `wait` has passed (then with none).
  // An `epoch` other than this process's (the sidecar restarted, or the client has
  // none yet) counts as after = 0.
  // `client`: the requester's address; `trusted`: it presented the bearer token.
  void watch(std::uint64_t after, const std::string& epoch, std::chrono::milliseconds wait, Responder respond,
             const std::string& client = {}, bool trusted = true);

  // Answers every waiting request now (shutdown) and refuses new waits.
  void stop();

 private:
  struct Waiter {
    std::uint64_t after;
    std::chrono::steady_clock::time_point deadline;
    Responder respond;
    std::string client;  // "" for trusted waiters
    bool trusted = true;
  };
  HttpResponse answer(std::uint64_t after) const;  // with mu_ held
  void expire_waiters();

  const std::string epoch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
  struct Entry {
    std::uint64_t generation = 0;
    std::string owner;
    bool running = false;
  };
  std::map<std::string, Entry> repos_;
  std::vector<Waiter> waiters_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace cmop::serve
