#pragma once
// Leader election over a coordination.k8s.io/v1 Lease, with client-go's semantics:
// a candidate takes the Lease when it is free or when its holder has not renewed it for
// leaseDurationSeconds as measured on OUR clock (we time how long the record stays
// unchanged, so clock skew between nodes does not matter); the leader renews every
// retry period and gives up leadership when it could not renew for renew_deadline.
// Every write carries the resourceVersion read, so two candidates never both win.
#include <chrono>
#include <string>

#include "cmop/operate/controller.hpp"
#include "cmop/operate/kube_client.hpp"

namespace cmop::operate {

struct LeaseOptions {
  std::string name = "cmop-operator";
  std::string ns;
  std::string identity;  // unique per process (hostname + pid)
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

class LeaderElector {
 public:
  LeaderElector(const KubeClient& kube, LeaseOptions options);
  // Blocks until this process holds the Lease (true) or stop is requested (false).
  bool acquire(StopSignal& stop);
  // Renews until renewal fails for renew_deadline (returns false: leadership lost) or
  // stop is requested (returns true, still holding the Lease: stop the work it
  // guards first, then release()).
  bool hold(StopSignal& stop);
  // Gives the Lease up so a successor need not wait for it to expire.
  void release();
  // One attempt to take or renew; true when we hold the Lease afterwards.
  bool try_acquire_or_renew();
  bool is_leader() const { return leader_; }

 private:
  const KubeClient& kube_;
  LeaseOptions options_;
  std::string observed_record_;  // holder + renewTime as last read
  std::chrono::steady_clock::time_point observed_at_{};
  bool leader_ = false;
};

}  // namespace cmop::operate
