#include "sync_scheduler.hpp"

#include <algorithm>
#include <cctype>
#include <exception>

namespace cmop::serve {

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::post(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;  // dropped: the process is going away
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WorkerPool::stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    dropped.swap(tasks_);
  }
  cv_.notify_all();
  dropped.clear();  // destroy outside the lock: tasks may own arbitrary state
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

int WorkerPool::running() const {
  std::lock_guard lk(mu_);
  return running_;
}

std::vector<std::chrono::steady_clock::time_point> WorkerPool::running_since() const {
  std::lock_guard lk(mu_);
  return {started_.begin(), started_.end()};
}

void WorkerPool::work() {
  for (;;) {
    std::function<void()> task;
    std::multiset<std::chrono::steady_clock::time_point>::iterator since;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++running_;
      since = started_.insert(std::chrono::steady_clock::now());
    }
    task();  // tasks catch their own exceptions (RepoLanes::run)
    std::lock_guard lk(mu_);
    --running_;
    started_.erase(since);
  }
}

std::string git_host(const std::string& url) {
  std::string authority;
  if (auto scheme = url.find("://"); scheme != std::string::npos) {
    authority = url.substr(scheme + 3, url.find('/', scheme + 3) - (scheme + 3));
    if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  } else if (auto colon = url.find(':'); colon != std::string::npos && url.find('/') > colon) {
    authority = url.substr(0, colon);  // scp-like user@host:path
    if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  }
  std::transform(authority.begin(), authority.end(), authority.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return authority;
}

std::string remote_host(const sync::RepoSpec& spec) {
  return git_host(spec.upstream.empty() ? spec.git : spec.upstream.url);
}

bool RepoLanes::submit(const std::string& repo, const std::string& coalesce_key, Work work, Waiter waiter) {
  // Asked before the lock: host_of reads the caller's state.
  std::string host = cap_.max_per_host > 0 && cap_.host_of ? cap_.host_of(repo) : std::string();
  std::lock_guard lk(mu_);
  ++waiting_;
  auto& lane = lanes_[repo];
  if (!coalesce_key.empty() && !lane.queued.empty() && lane.queued.back()->key == coalesce_key) {
    lane.queued.back()->waiters.push_back(std::move(waiter));
    return true;
  }
  auto job = std::make_shared<Job>();
  job->key = coalesce_key;
  job->host = std::move(host);
  job->work = std::move(work);
  job->waiters.push_back(std::move(waiter));
  lane.queued.push_back(std::move(job));
  if (!lane.running && !lane.held) start_next(repo, lane);
  return false;
}

bool RepoLanes::host_full(const std::string& host) const {
  if (cap_.max_per_host <= 0) return false;
  auto it = running_per_host_.find(host);
  return it != running_per_host_.end() && it->second >= cap_.max_per_host;
}

void RepoLanes::start_next(const std::string& repo, Lane& lane) {
  auto job = lane.queued.front();
  if (host_full(job->host)) {
    lane.held = true;
    held_.push_back(repo);
    return;
  }
  lane.queued.pop_front();
  lane.running = true;
  lane.running_key = job->key;
  ++running_per_host_[job->host];
  pool_.post([this, repo, job] { run(repo, job); });
}

void RepoLanes::start_held() {
  for (auto it = held_.begin(); it != held_.end();) {
    auto lane = lanes_.find(*it);
    if (lane == lanes_.end() || lane->second.queued.empty()) {  // abandoned meanwhile
      if (lane != lanes_.end() && !lane->second.running) lanes_.erase(lane);
      it = held_.erase(it);
      continue;
    }
    if (host_full(lane->second.queued.front()->host)) {
      ++it;
      continue;
    }
    const std::string repo = *it;
    it = held_.erase(it);
    lane->second.held = false;
    start_next(repo, lane->second);  // starts: its host is below the cap
  }
}

void RepoLanes::run(const std::string& repo, const std::shared_ptr<Job>& job) {
  HttpResponse answer;
  try {
    answer = job->work();
  } catch (const std::exception& e) {
    answer = json_error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    answer = json_error(500, "internal error: unknown exception");
  }
  std::vector<Waiter> waiters;
  {
    std::lock_guard lk(mu_);
    waiters.swap(job->waiters);  // a started job is no longer queued: nobody joins it now
    waiting_ -= waiters.size();
    if (auto host = running_per_host_.find(job->host); host != running_per_host_.end() && --host->second <= 0)
      running_per_host_.erase(host);
    auto it = lanes_.find(repo);
    if (it != lanes_.end()) {
      it->second.running = false;
      if (it->second.queued.empty()) {
        lanes_.erase(it);
      } else {
        // Behind the lanes held before it: they get the host's free place first.
        it->second.held = true;
        held_.push_back(repo);
      }
    }
    start_held();
  }
  if (on_finished_) on_finished_(repo, job->key);
  for (auto& w : waiters) w(answer);
}

RepoLanes::Activity RepoLanes::activity(const std::string& repo) const {
  std::lock_guard lk(mu_);
  Activity a;
  auto it = lanes_.find(repo);
  if (it == lanes_.end()) return a;
  a.running = it->second.running;
  if (a.running) a.running_key = it->second.running_key;
  for (auto& job : it->second.queued) a.queued_keys.push_back(job->key);
  return a;
}

std::size_t RepoLanes::waiting() const {
  std::lock_guard lk(mu_);
  return waiting_;
}

void RepoLanes::abandon_queued(const HttpResponse& answer) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lk(mu_);
    for (auto& [repo, lane] : lanes_) {
      for (auto& job : lane.queued)
        for (auto& w : job->waiters) waiters.push_back(std::move(w));
      lane.queued.clear();
    }
    start_held();  // drops the held lanes, now empty
    waiting_ -= waiters.size();
  }
  for (auto& w : waiters) w(answer);
}

}  // namespace cmop::serve
