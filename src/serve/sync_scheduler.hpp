#pragma once
// Where syncs run: a bounded pool of worker threads (never the HTTP threads), and
// in front of it one lane per repo that serializes that repo's jobs and lets
// concurrent identical requests share one job, with a cap on the jobs of one git
// host running at once, so that a hanging host cannot hold every worker.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cmop/sync/repo_spec.hpp"
#include "http.hpp"

namespace cmop::serve {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> task);
  // Drops tasks not yet started and waits for the running ones.
  void stop();
  int running() const;
  // Start times of the running tasks, oldest first (stuck workers show here).
  std::vector<std::chrono::steady_clock::time_point> running_since() const;

 private:
  void work();
  mutable std::mutex mu_;
  std::multiset<std::chrono::steady_clock::time_point> started_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  int running_ = 0;
  bool stopping_ = false;
};

// The server a git URL names ("host[:port]", lower-case, without user): what the
// per-host cap counts by. "" for a local path.
std::string git_host(const std::string& url);
// The host a repo's syncs reach: its git remote's, or a mirror's upstream's.
std::string remote_host(const sync::RepoSpec& spec);

// At most `max_per_host` jobs of repos on one host (host_of(repo), asked when a
// job is submitted) run at once; the others wait in their lanes while jobs of
// other hosts take the free workers. Lanes held back start in the order they
// were held. 0 (or no host_of) = no cap.
struct HostCap {
  int max_per_host = 0;
  std::function<std::string(const std::string& repo)> host_of;
};

class RepoLanes {
 public:
  using Work = std::function<HttpResponse()>;
  using Waiter = std::function<void(const HttpResponse&)>;

  // Called with a job's repo and key once the job is done and its lane no longer
  // shows it running (before its waiters are answered): what a reader of
  // activity() sees after this is the lane without that job.
  using Finished = std::function<void(const std::string& repo, const std::string& key)>;

  explicit RepoLanes(WorkerPool& pool, Finished on_finished = {}, HostCap cap = {})
      : pool_(pool), on_finished_(std::move(on_finished)), cap_(std::move(cap)) {}

  // Queues `work` behind everything already queued or running for `repo`. When the
  // last queued job of that repo has not started yet and carries the same non-empty
  // `coalesce_key`, the request joins it instead: it waits for that job, which
  // starts only after the running one finished, and gets the same answer.
  // Returns true when it joined an existing job.
  bool submit(const std::string& repo, const std::string& coalesce_key, Work work, Waiter waiter);

  // Requests waiting for a job (running or queued).
  std::size_t waiting() const;
  // The coalesce keys of the repo's jobs: the running one ("" when none runs) and
  // those queued behind it, oldest first.
  struct Activity {
    bool running = false;
    std::string running_key;
    std::vector<std::string> queued_keys;
  };
  Activity activity(const std::string& repo) const;
  // At shutdown: answers the waiters of jobs not started with `answer` and drops them.
  void abandon_queued(const HttpResponse& answer);

 private:
  struct Job {
    std::string key;
    std::string host;
    Work work;
    std::vector<Waiter> waiters;
  };
  struct Lane {
    bool running = false;
    bool held = false;  // its next job waits for its host to drop below the cap (in held_)
    std::string running_key;
    std::deque<std::shared_ptr<Job>> queued;
  };
  // With mu_ held: starts the lane's next job, or holds the lane back when its host is at the cap.
  void start_next(const std::string& repo, Lane& lane);
  void start_held();  // with mu_ held: held lanes whose host is below the cap, oldest first
  bool host_full(const std::string& host) const;
  void run(const std::string& repo, const std::shared_ptr<Job>& job);

  WorkerPool& pool_;
  Finished on_finished_;
  HostCap cap_;
  mutable std::mutex mu_;
  std::map<std::string, Lane> lanes_;
  std::map<std::string, int> running_per_host_;
  std::list<std::string> held_;  // repos of held lanes, in the order they were held
  std::size_t waiting_ = 0;
};

}  // namespace cmop::serve
