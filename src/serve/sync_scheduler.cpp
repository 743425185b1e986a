#include "sync_scheduler.hpp"

#include <algorithm>
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

bool RepoLanes::submit(const std::string& repo, const std::string& coalesce_key, Work work, Waiter waiter) {
  std::lock_guard lk(mu_);
  ++waiting_;
  auto& lane = lanes_[repo];
  if (!coalesce_key.empty() && !lane.queued.empty() && lane.queued.back()->key == coalesce_key) {
    lane.queued.back()->waiters.push_back(std::move(waiter));
    return true;
  }
  auto job = std::make_shared<Job>();
  job->key = coalesce_key;
  job->work = std::move(work);
  job->waiters.push_back(std::move(waiter));
  lane.queued.push_back(std::move(job));
  if (!lane.running) start_next(repo, lane);
  return false;
}

void RepoLanes::start_next(const std::string& repo, Lane& lane) {
  auto job = lane.queued.front();
  lane.queued.pop_front();
  lane.running = true;
  lane.running_key = job->key;
  pool_.post([this, repo, job] { run(repo, job); });
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
    auto it = lanes_.find(repo);
    if (it != lanes_.end()) {
      it->second.running = false;
      if (!it->second.queued.empty())
        start_next(repo, it->second);
      else
        lanes_.erase(it);
    }
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
    waiting_ -= waiters.size();
  }
  for (auto& w : waiters) w(answer);
}

}  // namespace cmop::serve
