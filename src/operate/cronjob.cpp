#include "cmop/operate/cronjob.hpp"

#include "cmop/operate/resource.hpp"
#include "cmop/operate/schedule.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"

namespace cmop::operate {

std::string cronjob_name_for(const std::string& resource_name) {
  constexpr std::size_t kMax = 52, kHash = 10;
  if (resource_name.size() <= kMax) return resource_name;
  std::string prefix = resource_name.substr(0, kMax - kHash - 1);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + "-" + util::sha256_hex(resource_name).substr(0, kHash);
}

namespace {
rapidjson::Value str(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}
// A Job or Pod template: {metadata: {labels}, spec}; both carry the CronJob's labels.
rapidjson::Value labelled_template(const rapidjson::Value& labels, rapidjson::Value& spec,
                                   rapidjson::Document::AllocatorType& a) {
  rapidjson::Value meta(rapidjson::kObjectType);
  meta.AddMember("labels", rapidjson::Value(labels, a), a);
  rapidjson::Value tmpl(rapidjson::kObjectType);
  tmpl.AddMember("metadata", meta, a);
  tmpl.AddMember("spec", spec, a);
  return tmpl;
}
}  // namespace

rapidjson::Document desired_cronjob(const CronJobTarget& target, const ControllerOptions& options) {
  using rapidjson::Value;
  rapidjson::Document desired(rapidjson::kObjectType);
  auto& a = desired.GetAllocator();
  Value labels(rapidjson::kObjectType);
  labels.AddMember(rapidjson::StringRef(kManagedByLabel), "cmop", a);
  labels.AddMember(rapidjson::StringRef(kRepoLabel), str(target.name, a), a);
  Value meta(rapidjson::kObjectType);
  meta.AddMember("name", str(cronjob_name_for(target.name), a), a);
  meta.AddMember("namespace", str(target.ns, a), a);
  meta.AddMember("labels", Value(labels, a), a);
  Value owner(rapidjson::kObjectType);
  owner.AddMember("apiVersion", str(kApiVersion, a), a);
  owner.AddMember("kind", str(kKind, a), a);
  owner.AddMember("name", str(target.name, a), a);
  owner.AddMember("uid", str(target.uid, a), a);
  owner.AddMember("controller", true, a);
  owner.AddMember("blockOwnerDeletion", true, a);
  Value owners(rapidjson::kArrayType);
  owners.PushBack(owner, a);
  meta.AddMember("ownerReferences", owners, a);
  desired.AddMember("apiVersion", "batch/v1", a);
  desired.AddMember("kind", "CronJob", a);
  desired.AddMember("metadata", meta, a);

  Value container(rapidjson::kObjectType);
  container.AddMember("name", "trigger", a);
  container.AddMember("image", str(options.image, a), a);
  Value command(rapidjson::kArrayType);
  for (std::string arg : {std::string("cmop"), std::string("trigger"), target.name, std::string("--endpoint"),
                          options.trigger_endpoint.empty() ? options.sidecar_url : options.trigger_endpoint})
    command.PushBack(str(arg, a), a);
  container.AddMember("command", command, a);
  if (!options.sidecar_token.empty()) {
    // The CronJob gets a token that can only trigger this repo's update
    // (derived from the sidecar's token, checked by the sidecar): no copy of
    // the sidecar's own token has to live in the CR's namespace.
    Value env(rapidjson::kObjectType);
    env.AddMember("name", "CMOP_TOKEN", a);
    env.AddMember("value", str(util::repo_trigger_token(options.sidecar_token, target.name), a), a);
    Value envs(rapidjson::kArrayType);
    envs.PushBack(env, a);
    container.AddMember("env", envs, a);
  } else if (!options.token_secret_name.empty()) {
    Value ref(rapidjson::kObjectType);
    ref.AddMember("name", str(options.token_secret_name, a), a);
    ref.AddMember("key", str(options.token_secret_key, a), a);
    Value from(rapidjson::kObjectType);
    from.AddMember("secretKeyRef", ref, a);
    Value env(rapidjson::kObjectType);
    env.AddMember("name", "CMOP_TOKEN", a);
    env.AddMember("valueFrom", from, a);
    Value envs(rapidjson::kArrayType);
    envs.PushBack(env, a);
    container.AddMember("env", envs, a);
  }
  // Fit for namespaces that enforce the "restricted" Pod Security Standard.
  Value drop(rapidjson::kArrayType);
  drop.PushBack("ALL", a);
  Value caps(rapidjson::kObjectType);
  caps.AddMember("drop", drop, a);
  Value container_security(rapidjson::kObjectType);
  container_security.AddMember("allowPrivilegeEscalation", false, a);
  container_security.AddMember("readOnlyRootFilesystem", true, a);
  container_security.AddMember("capabilities", caps, a);
  container.AddMember("securityContext", container_security, a);
  Value requests(rapidjson::kObjectType);
  requests.AddMember("cpu", "10m", a);
  requests.AddMember("memory", "16Mi", a);
  Value limits(rapidjson::kObjectType);
  limits.AddMember("memory", "64Mi", a);
  Value resources(rapidjson::kObjectType);
  resources.AddMember("requests", requests, a);
  resources.AddMember("limits", limits, a);
  container.AddMember("resources", resources, a);
  Value containers(rapidjson::kArrayType);
  containers.PushBack(container, a);
  Value seccomp(rapidjson::kObjectType);
  seccomp.AddMember("type", "RuntimeDefault", a);
  Value pod_security(rapidjson::kObjectType);
  pod_security.AddMember("runAsNonRoot", true, a);
  pod_security.AddMember("runAsUser", 65532, a);
  pod_security.AddMember("runAsGroup", 65532, a);
  pod_security.AddMember("seccompProfile", seccomp, a);
  Value pod_spec(rapidjson::kObjectType);
  pod_spec.AddMember("restartPolicy", "Never", a);
  pod_spec.AddMember("automountServiceAccountToken", false, a);
  pod_spec.AddMember("securityContext", pod_security, a);
  pod_spec.AddMember("containers", containers, a);
  Value job_spec(rapidjson::kObjectType);
  job_spec.AddMember("backoffLimit", options.job_backoff_limit, a);
  job_spec.AddMember("template", labelled_template(labels, pod_spec, a), a);
  Value job_template = labelled_template(labels, job_spec, a);
  Value cj_spec(rapidjson::kObjectType);
  cj_spec.AddMember("schedule", str(schedule_for_minutes(target.every_minutes, target.ns + "/" + target.name), a), a);
  cj_spec.AddMember("concurrencyPolicy", "Forbid", a);
  cj_spec.AddMember("suspend", target.suspend, a);
  cj_spec.AddMember("successfulJobsHistoryLimit", options.successful_jobs_history, a);
  cj_spec.AddMember("failedJobsHistoryLimit", options.failed_jobs_history, a);
  cj_spec.AddMember("jobTemplate", job_template, a);
  desired.AddMember("spec", cj_spec, a);
  return desired;
}

}  // namespace cmop::operate
