#include "cmop/operate/leader_election.hpp"

#include <ctime>

#include "cmop/util/time.hpp"

namespace cmop::operate {
namespace {

std::string now_micro_time() { return util::now_rfc3339(6); }

}  // namespace

LeaderElector::LeaderElector(const KubeClient& kube, LeaseOptions options)
    : kube_(kube), options_(std::move(options)) {}

bool LeaderElector::try_acquire_or_renew() {
  using rapidjson::Value;
  const auto now = std::chrono::steady_clock::now();
  rapidjson::Document lease;
  bool exists = true;
  try {
    lease = kube_.get(resources::leases, options_.ns, options_.name);
  } catch (const KubeApiError& e) {
    if (!e.not_found()) throw;
    exists = false;
  }
  std::string holder = exists ? str_at(lease, "spec.holderIdentity") : "";
  long transitions = 0;
  if (exists) {
    std::string record = holder + "|" + str_at(lease, "spec.renewTime");
    if (record != observed_record_) {
      observed_record_ = record;
      observed_at_ = now;
    }
    if (auto* t = value_at(lease, "spec.leaseTransitions"); t && t->IsInt64()) transitions = t->GetInt64();
    long duration = options_.lease_duration.count();
    if (auto* d = value_at(lease, "spec.leaseDurationSeconds"); d && d->IsInt64()) duration = d->GetInt64();
    bool expired = now - observed_at_ > std::chrono::seconds(duration);
    if (!holder.empty() && holder != options_.identity && !expired) {
      leader_ = false;
      return false;
    }
  }
  rapidjson::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  if (exists) body.CopyFrom(lease, a);
  else {
    body.AddMember("apiVersion", "coordination.k8s.io/v1", a);
    body.AddMember("kind", "Lease", a);
    Value meta(rapidjson::kObjectType);
    meta.AddMember("name", Value(options_.name.c_str(), a), a);
    meta.AddMember("namespace", Value(options_.ns.c_str(), a), a);
    body.AddMember("metadata", meta, a);
  }
  Value spec(rapidjson::kObjectType);
  std::string now_text = now_micro_time();
  bool taking_over = holder != options_.identity;
  std::string acquire_time = taking_over ? now_text : str_at(lease, "spec.acquireTime");
  if (acquire_time.empty()) acquire_time = now_text;
  spec.AddMember("holderIdentity", Value(options_.identity.c_str(), a), a);
  spec.AddMember("leaseDurationSeconds", static_cast<int>(options_.lease_duration.count()), a);
  spec.AddMember("acquireTime", Value(acquire_time.c_str(), a), a);
  spec.AddMember("renewTime", Value(now_text.c_str(), a), a);
  spec.AddMember("leaseTransitions",
                 static_cast<int64_t>(transitions + (exists && taking_over && !holder.empty() ? 1 : 0)), a);
  if (body.HasMember("spec")) body.RemoveMember("spec");
  body.AddMember("spec", spec, a);
  try {
    auto written = exists ? kube_.update(resources::leases, options_.ns, options_.name, body)
                          : kube_.create(resources::leases, options_.ns, body);
    observed_record_ = options_.identity + "|" + now_text;
    observed_at_ = now;
    if (!leader_) log_line("info", "became leader (Lease " + options_.ns + "/" + options_.name + ")");
    leader_ = true;
    return true;
  } catch (const KubeApiError& e) {
    if (e.conflict()) {  // someone else wrote first
      leader_ = false;
      return false;
    }
    throw;
  }
}

bool LeaderElector::acquire(StopSignal& stop) {
  log_line("info", "waiting to acquire Lease " + options_.ns + "/" + options_.name + " as " + options_.identity);
  while (!stop.stop_requested()) {
    try {
      if (try_acquire_or_renew()) return true;
    } catch (const Error& e) {
      log_line("warn", std::string("leader election: ") + e.what());
    }
    stop.sleep_for(options_.retry_period);
  }
  return false;
}

bool LeaderElector::hold(StopSignal& stop) {
  auto last_renew = std::chrono::steady_clock::now();
  while (stop.sleep_for(options_.retry_period)) {
    bool renewed = false;
    try {
      renewed = try_acquire_or_renew();
    } catch (const Error& e) {
      log_line("warn", std::string("lease renewal failed: ") + e.what());
    }
    if (renewed) {
      last_renew = std::chrono::steady_clock::now();
    } else if (!leader_ || std::chrono::steady_clock::now() - last_renew > options_.renew_deadline) {
      leader_ = false;
      log_line("error", "lost leadership of Lease " + options_.ns + "/" + options_.name);
      return false;
    }
  }
  return true;  // the caller releases once its reconciles have stopped
}

void LeaderElector::release() {
  if (!leader_) return;
  try {
    auto lease = kube_.get(resources::leases, options_.ns, options_.name);
    if (str_at(lease, "spec.holderIdentity") != options_.identity) return;
    auto& a = lease.GetAllocator();
    lease["spec"]["holderIdentity"].SetString("", a);
    lease["spec"]["leaseDurationSeconds"].SetInt(1);
    kube_.update(resources::leases, options_.ns, options_.name, lease);
    log_line("info", "released Lease " + options_.ns + "/" + options_.name);
  } catch (const Error& e) {
    log_line("warn", std::string("cannot release Lease: ") + e.what());
  }
  leader_ = false;
}

}  // namespace cmop::operate
