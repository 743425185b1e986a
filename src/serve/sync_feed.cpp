#include "sync_feed.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <random>

namespace cmop::serve {

namespace {

std::string random_epoch() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> digit(0, 15);
  std::string out;
  for (int i = 0; i < 16; ++i) out += "0123456789abcdef"[digit(rd)];
  return out;
}

}  // namespace

SyncFeed::SyncFeed() : epoch_(random_epoch()) {
  timer_ = std::thread([this] { expire_waiters(); });
}

SyncFeed::~SyncFeed() {
  stop();
  if (timer_.joinable()) timer_.join();
}

HttpResponse SyncFeed::answer(std::uint64_t after) const {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("epoch");
  w.String(epoch_.c_str());
  w.Key("generation");
  w.Uint64(generation_);
  w.Key("repos");
  w.StartArray();
  for (auto& [name, entry] : repos_) {
    if (entry.generation <= after) continue;
    w.StartObject();
    w.Key("name");
    w.String(name.c_str());
    w.Key("owner");
    w.String(entry.owner.c_str());
    w.Key("generation");
    w.Uint64(entry.generation);
    w.Key("syncing");
    w.Bool(entry.running);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  HttpResponse r;
  r.body.assign(sb.GetString(), sb.GetSize());
  return r;
}

void SyncFeed::record(const std::string& repo, const std::string& owner, bool running) {
  std::vector<std::pair<Responder, HttpResponse>> replies;
  {
    std::lock_guard lk(mu_);
    repos_[repo] = {++generation_, owner, running};
    // Every waiter saw an older generation: each has news now, after its own.
    for (auto& waiter : waiters_) replies.emplace_back(std::move(waiter.respond), answer(waiter.after));
    waiters_.clear();
  }
  cv_.notify_all();
  for (auto& [respond, reply] : replies) respond(std::move(reply));
}

void SyncFeed::forget(const std::string& repo) {
  std::lock_guard lk(mu_);
  repos_.erase(repo);
}

void SyncFeed::watch(std::uint64_t after, const std::string& epoch, std::chrono::milliseconds wait,
                     Responder respond, const std::string& client, bool trusted) {
  std::unique_lock lk(mu_);
  if (epoch != epoch_) after = 0;
  if (stopping_ || generation_ > after || wait.count() <= 0) {
    auto reply = answer(after);
    lk.unlock();
    return respond(std::move(reply));
  }
  std::size_t same_pool = 0, same_client = 0;
  for (auto& w : waiters_) {
    if (w.trusted != trusted) continue;
    ++same_pool;
    if (!trusted && w.client == client) ++same_client;
  }
  if (trusted && same_pool >= kMaxWaiters) {
    lk.unlock();
    return respond(json_error(503, "GET /syncs: too many waiting requests (" + std::to_string(kMaxWaiters) + ")"));
  }
  if (!trusted && (same_pool >= kMaxUntrustedWaiters || same_client >= kMaxUntrustedWaitersPerClient)) {
    lk.unlock();
    auto r = json_error(429, same_client >= kMaxUntrustedWaitersPerClient
                                 ? "GET /syncs: this client already waits " +
                                       std::to_string(kMaxUntrustedWaitersPerClient) +
                                       " times without a bearer token; send it to wait more"
                                 : "GET /syncs: too many requests wait without a bearer token (" +
                                       std::to_string(kMaxUntrustedWaiters) + "); send it to wait");
    r.headers.push_back({"Retry-After", "5"});
    return respond(std::move(r));
  }
  waiters_.push_back({after, std::chrono::steady_clock::now() + wait, std::move(respond), trusted ? std::string() : client,
                      trusted});
  lk.unlock();
  cv_.notify_all();
}

void SyncFeed::stop() {
  std::vector<std::pair<Responder, HttpResponse>> replies;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (auto& waiter : waiters_) replies.emplace_back(std::move(waiter.respond), answer(waiter.after));
    waiters_.clear();
  }
  cv_.notify_all();
  for (auto& [respond, reply] : replies) respond(std::move(reply));
}

void SyncFeed::expire_waiters() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<Responder, HttpResponse>> due;
    auto next = now + std::chrono::hours(1);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        due.emplace_back(std::move(it->respond), answer(it->after));
        it = waiters_.erase(it);
      } else {
        next = std::min(next, it->deadline);
        ++it;
      }
    }
    if (!due.empty()) {
      lk.unlock();
      for (auto& [respond, reply] : due) respond(std::move(reply));
      lk.lock();
      continue;
    }
    cv_.wait_until(lk, next);
  }
}

}  // namespace cmop::serve
