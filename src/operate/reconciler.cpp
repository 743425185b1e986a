// Level-triggered reconcile of one Chartmuseum: finalizer, sidecar repo, CronJob, status.
#include <rapidjson/document.h>

#include <ctime>
#include <optional>
#include <set>
#include <vector>

#include "cmop/operate/controller.hpp"
#include "cmop/operate/cronjob.hpp"
#include "cmop/operate/schedule.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sidecar/client.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/time.hpp"

namespace cmop::operate {


namespace {

using rapidjson::Document;
using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;

Value str(std::string_view s, Alloc& a) { return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a); }

long int_at(const Value& v, std::string_view path, long fallback = 0) {
  auto* p = value_at(v, path);
  return p && p->IsInt64() ? static_cast<long>(p->GetInt64()) : fallback;
}

bool has_finalizer(const Value& cr) {
  auto* f = value_at(cr, "metadata.finalizers");
  if (!f || !f->IsArray()) return false;
  for (auto& e : f->GetArray())
    if (e.IsString() && std::string_view(e.GetString()) == kFinalizer) return true;
  return false;
}

// The condition reasons the status uses; Stalled means "won't progress until the spec changes".
struct Outcome {
  bool ready = false;
  std::string reason;   // Synced, ChartsFailed, SyncFailed, ChartMuseumUnauthorized, SidecarUnavailable, SidecarRejected, InvalidSpec, ...
  std::string message;
  bool stalled = false;
  bool retrying = false;  // Reconciling=True: a retry with backoff is scheduled
  bool in_progress = false;  // a sync is running: Ready=Unknown, Reconciling=True (kstatus)
};

struct Dependency {
  std::string name, url;
  std::string mirror_of;    // non-empty: stands in for that chart repo URL (scoped to this resource)
  std::string secret_name;  // Secret with username/password for it (scoped to this resource)
};

// spec.mirror: an upstream chart repository to mirror instead of a git repo.
struct MirrorSpec {
  std::string url;
  std::vector<std::pair<std::string, std::string>> charts;  // name, SemVer constraint ("" = all)
  bool prune = false;
};

struct Spec {
  // secret_name: spec.secretRef (git credentials), or for a mirror spec.mirror.secretRef
  // (username/password of the upstream); either way its rotation re-applies the spec.
  std::string git, ref, path, secret_name;
  std::optional<MirrorSpec> mirror;
  std::string webhook_secret_name, webhook_secret_key;  // spec.webhook.secretRef
  std::string versioning;  // "" = the sidecar's default (immutable)
  long every_minutes = 15;
  bool suspend = false;
  std::vector<Dependency> dependencies;
};

// spec.mirror, when present; a mirror has no ref, path, dependencies or versioning.
std::optional<MirrorSpec> parse_mirror(const Value& spec) {
  auto* m = value_at(spec, "mirror");
  if (!m || !m->IsObject()) return std::nullopt;
  MirrorSpec out;
  out.url = str_at(*m, "url");
  if (auto* prune = value_at(*m, "prune"); prune && prune->IsBool()) out.prune = prune->GetBool();
  if (out.url.empty()) throw Error(Errc::invalid_argument, "spec.mirror.url", "is required");
  if (auto* charts = value_at(*m, "charts"); charts && charts->IsArray())
    for (auto& c : charts->GetArray()) {
      if (str_at(c, "name").empty()) throw Error(Errc::invalid_argument, "spec.mirror.charts", "every entry needs a name");
      out.charts.emplace_back(str_at(c, "name"), str_at(c, "versions"));
    }
  for (const char* git_only : {"ref", "path", "versioning", "secretRef", "webhook"})
    if (value_at(spec, git_only))
      throw Error(Errc::invalid_argument, std::string("spec.") + git_only, "is for git repos, not for a mirror");
  if (auto* deps = value_at(spec, "dependencies"); deps && deps->IsArray() && !deps->Empty())
    throw Error(Errc::invalid_argument, "spec.dependencies", "are for git repos, not for a mirror");
  return out;
}

Spec parse_spec(const Value& cr, const std::string& name) {
  util::require_dns1123_label("Chartmuseum name (the sidecar repo name)", name);
  Spec s;
  auto* spec = value_at(cr, "spec");
  if (!spec || !spec->IsObject()) throw Error(Errc::invalid_argument, "spec", "is missing");
  s.git = str_at(*spec, "git");
  s.mirror = parse_mirror(*spec);
  if (s.git.empty() == !s.mirror)
    throw Error(Errc::invalid_argument, "spec", "needs exactly one of git and mirror");
  s.ref = str_at(*spec, "ref");
  s.path = str_at(*spec, "path");
  s.versioning = str_at(*spec, "versioning");
  if (!s.versioning.empty() && s.versioning != "immutable" && s.versioning != "revision" && s.versioning != "overwrite")
    throw Error(Errc::invalid_argument, "spec.versioning", "must be immutable, revision or overwrite");
  if (auto* m = value_at(*spec, "updateEveryMinutes")) {
    if (!m->IsInt64()) throw Error(Errc::invalid_argument, "spec.updateEveryMinutes", "must be an integer");
    s.every_minutes = static_cast<long>(m->GetInt64());
  }
  schedule_for_minutes(s.every_minutes);  // validates
  if (auto* b = value_at(*spec, "suspend"); b && b->IsBool()) s.suspend = b->GetBool();
  s.secret_name = str_at(*spec, s.mirror ? "mirror.secretRef.name" : "secretRef.name");
  s.webhook_secret_name = str_at(*spec, "webhook.secretRef.name");
  s.webhook_secret_key = str_at(*spec, "webhook.secretRef.key");
  if (s.webhook_secret_key.empty()) s.webhook_secret_key = "token";
  if (auto* deps = value_at(*spec, "dependencies"); deps && deps->IsArray()) {
    for (auto& d : deps->GetArray()) {
      Dependency dep{str_at(d, "name"), str_at(d, "url"), str_at(d, "mirrorOf"), str_at(d, "secretRef.name")};
      if (dep.name.empty() || dep.url.empty())
        throw Error(Errc::invalid_argument, "spec.dependencies", "every entry needs a name and a url");
      if (dep.url == "self" && dep.mirror_of.empty())
        throw Error(Errc::invalid_argument, "spec.dependencies[" + dep.name + "]",
                    "url \"self\" needs mirrorOf: the chart repository URL the charts name");
      s.dependencies.push_back(dep);
    }
  }
  return s;
}

// The value of cm.bitnami.com/requestedAt ("" when absent): any new value asks for a sync now.
std::string requested_at(const Value& cr) {
  auto* annotations = value_at(cr, "metadata.annotations");
  if (!annotations || !annotations->IsObject()) return {};
  auto it = annotations->FindMember(kRequestedAtAnnotation);
  return it != annotations->MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// A sync that failed because ChartMuseum refused the sidecar's credentials gets
// its own reason: no change of the resource fixes it, the sidecar's
// configuration does. The publisher says so in a fixed phrase that travels
// through the sidecar's answers.
bool chartmuseum_refused_credentials(std::string_view message) {
  return message.find(publish::kChartMuseumCredentialsRefused) != std::string_view::npos;
}

Outcome outcome_for_sidecar_error(const Error& e) {
  if (chartmuseum_refused_credentials(e.what())) return {false, "ChartMuseumUnauthorized", e.what(), false, true};
  switch (e.code()) {
    case Errc::network: return {false, "SidecarUnavailable", e.what(), false, true};
    // Another resource of the same name (in another namespace) manages the repo.
    case Errc::conflict: return {false, "NameConflict", e.what(), true, false};
    case Errc::invalid_argument: return {false, "InvalidSpec", e.what(), true, false};
    case Errc::unauthorized:
    case Errc::forbidden: return {false, "SidecarRejected", e.what(), false, true};
    default: return {false, "SyncFailed", e.what(), false, true};
  }
}

// Ready from the sidecar's state of the repo (lastError, lastSync.ok, failed charts).
Outcome outcome_from_state(const sidecar::RepoStatus& state) {
  if (!state.last_error.empty())
    return {false, chartmuseum_refused_credentials(state.last_error) ? "ChartMuseumUnauthorized" : "SyncFailed",
            state.last_error, false, false};
  // The sidecar's state lists the last sync's charts (a report, not the state,
  // carries "ok"): a failed chart means not Ready.
  auto failed_list = state.failed_charts();
  const auto failed = failed_list.size();
  std::string first = failed ? failed_list[0].path + ": " + failed_list[0].reason : "";
  if (failed > 0 || (state.last_sync_ok && !*state.last_sync_ok)) {
    std::string msg = std::to_string(failed) + " chart(s) failed to publish";
    if (!first.empty()) msg += "; first: " + first;
    return {false, "ChartsFailed", msg, false, false};
  }
  return {true, "Synced",
          "synced commit " + state.last_commit.substr(0, 12) + ": " + std::to_string(state.charts.size()) +
              " chart(s) published",
          false, false};
}

// --- status --------------------------------------------------------------------------

// A field ("status", "reason", ...) of a condition of the object's status; "" when absent.
std::string condition_field(const Value& cr, const char* type, const char* field) {
  if (auto* conditions = value_at(cr, "status.conditions"); conditions && conditions->IsArray())
    for (auto& c : conditions->GetArray())
      if (str_at(c, "type") == type) return str_at(c, field);
  return {};
}

// The condition carrying, while Ready is Unknown (a sync runs), the Ready outcome the
// resource had before: events mark changes of the settled outcome, and the status
// is where it is read from, so whichever process (or replica) sees the sync end
// emits them exactly once.
constexpr const char* kPreviousReady = "PreviousReady";

long condition_generation(const Value& cr, const char* type) {
  if (auto* conditions = value_at(cr, "status.conditions"); conditions && conditions->IsArray())
    for (auto& c : conditions->GetArray())
      if (str_at(c, "type") == type) return int_at(c, "observedGeneration");
  return 0;
}

// The last settled (True or False) Ready of a resource, as its status tells.
struct Settled {
  bool known = false;
  bool ready = false;
  std::string reason;
  long generation = 0;
};

Settled settled_from_status(const Value& cr) {
  const char* type = "Ready";
  std::string status = condition_field(cr, type, "status");
  if (status == "Unknown") status = condition_field(cr, type = kPreviousReady, "status");
  if (status != "True" && status != "False") return {};
  return {true, status == "True", condition_field(cr, type, "reason"), condition_generation(cr, type)};
}

// The Ready condition's transition an outcome is: a failure that is new (or has a new
// reason), a recovery, or a spec change synced; "" for none. A new resource's first
// good sync is no news.
std::string event_for(const Settled& previous, bool ready, const std::string& reason, long generation) {
  if (!ready) return !previous.known || previous.ready || previous.reason != reason ? reason : "";
  if (previous.known && !previous.ready) return "Recovered";
  if (previous.known && previous.generation != generation) return "Synced";
  return "";
}

void add_condition(Value& conditions, const Value* old_conditions, const char* type, std::string status_text,
                   const std::string& reason, const std::string& message, long generation, Alloc& a) {
  std::string transition = util::now_rfc3339();
  if (old_conditions && old_conditions->IsArray())
    for (auto& c : old_conditions->GetArray())
      if (str_at(c, "type") == type && str_at(c, "status") == status_text && !str_at(c, "lastTransitionTime").empty())
        transition = str_at(c, "lastTransitionTime");
  Value c(rapidjson::kObjectType);
  c.AddMember("type", str(type, a), a);
  c.AddMember("status", str(status_text, a), a);
  c.AddMember("reason", str(reason, a), a);
  c.AddMember("message", str(util::redact_text(message).substr(0, 1000), a), a);
  c.AddMember("lastTransitionTime", str(transition, a), a);
  c.AddMember("observedGeneration", Value(static_cast<int64_t>(generation)), a);
  conditions.PushBack(c, a);
}

// Builds the new status: conditions from the outcome, sync facts from the sidecar state
// (or kept from the old status when the sidecar could not be asked).
// Every status write reports the generation it looked at (kstatus: a failure of the
// current spec is Failed, not InProgress); `previous` is carried while Ready is Unknown.
Document build_status(const Value& cr, const Outcome& outcome, const sidecar::RepoStatus* state,
                      const Settled& previous, const std::string& secret_version, const std::string& handled_request) {
  Document st(rapidjson::kObjectType);
  auto& a = st.GetAllocator();
  const Value* old = value_at(cr, "status");
  long generation = int_at(cr, "metadata.generation");
  st.AddMember("observedGeneration", Value(static_cast<int64_t>(generation)), a);
  Value conditions(rapidjson::kArrayType);
  const Value* old_conditions = old ? value_at(*old, "conditions") : nullptr;
  // kstatus: Ready is True, False, or Unknown while a sync runs; Reconciling and
  // Stalled ("abnormal-true" conditions) are present only while True.
  add_condition(conditions, old_conditions, "Ready",
                outcome.in_progress ? "Unknown" : outcome.ready ? "True" : "False", outcome.reason, outcome.message,
                generation, a);
  if (outcome.in_progress)
    add_condition(conditions, old_conditions, "Reconciling", "True", outcome.reason, outcome.message, generation, a);
  else if (outcome.retrying)
    add_condition(conditions, old_conditions, "Reconciling", "True", "RetryScheduled",
                  "retrying with backoff: " + outcome.message, generation, a);
  if (outcome.stalled)
    add_condition(conditions, old_conditions, "Stalled", "True", outcome.reason, outcome.message, generation, a);
  if (outcome.in_progress && previous.known)
    add_condition(conditions, old_conditions, kPreviousReady, previous.ready ? "True" : "False", previous.reason,
                  "Ready before the sync that runs", previous.generation, a);
  st.AddMember("conditions", conditions, a);
  if (state) {
    st.AddMember("lastCommit", str(state->last_commit, a), a);
    Value published(rapidjson::kArrayType);
    for (auto& c : state->charts) {
      Value entry(rapidjson::kObjectType);
      entry.AddMember("name", str(c.name, a), a);
      entry.AddMember("version", str(c.version, a), a);
      published.PushBack(entry, a);
    }
    st.AddMember("charts", Value(static_cast<int64_t>(published.Size())), a);
    st.AddMember("failedCharts", Value(static_cast<int64_t>(state->failed_charts().size())), a);
    st.AddMember("publishedCharts", published, a);
    if (value_at(cr, "spec.mirror")) {
      std::set<std::string> names;  // a mirror's chart count: charts, each with its mirrored versions
      for (auto& c : state->charts) names.insert(c.name);
      st.AddMember("mirroredCharts", Value(static_cast<int64_t>(names.size())), a);
    }
    // "" (no sync finished yet) is not a date-time: the API server would refuse the status.
    if (!state->last_sync_time.empty()) st.AddMember("lastSyncTime", str(state->last_sync_time, a), a);
  } else if (old && old->IsObject()) {
    for (const char* key : {"lastCommit", "charts", "failedCharts", "publishedCharts", "mirroredCharts", "lastSyncTime"})
      if (old->HasMember(key)) st.AddMember(rapidjson::StringRef(key), Value((*old)[key], a), a);
  }
  if (!secret_version.empty()) st.AddMember("observedSecretVersion", str(secret_version, a), a);
  if (!handled_request.empty()) st.AddMember("lastHandledReconcileAt", str(handled_request, a), a);
  return st;
}

// True when every member of `want` is present in `have` with an equal value (recursively).
// Compares our intent with what the API server holds after its defaulting added fields.
bool is_subset(const Value& want, const Value& have) {
  if (want.IsObject()) {
    if (!have.IsObject()) return false;
    for (auto& m : want.GetObject()) {
      auto it = have.FindMember(m.name);
      if (it == have.MemberEnd() || !is_subset(m.value, it->value)) return false;
    }
    return true;
  }
  if (want.IsArray()) {
    if (!have.IsArray() || want.Size() != have.Size()) return false;
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i)
      if (!is_subset(want[i], have[i])) return false;
    return true;
  }
  return want == have;
}

}  // namespace

// --- the reconcile ---------------------------------------------------------------------

// One reconcile of one resource, in the steps Controller::reconcile names: what it
// found (the object, its generations, its status as found) and the writes every step
// shares (status, events).
class Controller::Run {
 public:
  Run(Controller& c, std::string ns, std::string name, Document cr)
      : c_(c), ns(std::move(ns)), name(std::move(name)), cr(std::move(cr)), sidecar(c.options_.sidecar_url, c.options_.sidecar_token),
        uid(str_at(this->cr, "metadata.uid")), generation(int_at(this->cr, "metadata.generation")),
        observed(int_at(this->cr, "status.observedGeneration")),
        secret_version(str_at(this->cr, "status.observedSecretVersion")),
        before(settled_from_status(this->cr)),
        // The last reconcile stopped before the spec reached the sidecar (a retry or a
        // stall is in the status): observedGeneration says nothing about the sidecar then.
        apply_pending(condition_field(this->cr, "Stalled", "status") == "True" ||
                      condition_field(this->cr, "Reconciling", "reason") == "RetryScheduled"),
        // Nobody but this operator changed the resource since its last write: what it
        // read for that write (Secrets) is still good for a while.
        own_echo(c.own_write(this->ns + "/" + this->name) == str_at(this->cr, "metadata.resourceVersion")),
        handled_request(str_at(this->cr, "status.lastHandledReconcileAt")) {}

  const Document& object() const { return cr; }
  bool deleting() const { return value_at(cr, "metadata.deletionTimestamp") != nullptr; }
  void clean_up();
  // An invalid spec is Stalled (no finalizer, no retry: only a spec change helps).
  void stall(const Error& invalid);
  void ensure_finalizer();
  // What the sidecar holds for the repo, and whether this reconcile queued a sync.
  struct SidecarView {
    std::optional<sidecar::RepoStatus> state;
    bool queued = false;
  };
  // Credentials, then the sidecar: the spec is applied (a sync queued, never waited
  // for) when it changed, the sidecar forgot it or the Secrets rotated; a
  // requestedAt value is served. nullopt: Stalled (status written); throws to retry.
  std::optional<SidecarView> apply_to_sidecar(const Spec& spec);
  void ensure_cronjob(const Spec& spec);
  // The status from what the sidecar holds (Ready Unknown while a sync is queued or
  // runs), and an event for each change of the settled outcome.
  void report(const Spec& spec, SidecarView view);

 private:
  void emit_event(const std::string& type, const std::string& reason, const std::string& message);
  // Writes the status only when it differs from what the object holds (steady state: 0 writes).
  bool write_status(const Outcome& outcome, const sidecar::RepoStatus* state);
  // The Secret a spec field names (nullopt when it names none); Error(not_found) naming the field.
  // Read at most once per reconcile, and taken from the operator's cache while the
  // resource changed only by our own writes (Controller::secret).
  std::optional<Document> read_named_secret(const std::string& secret_name, const std::string& field);
  std::optional<Document> read_secret(const Spec& spec) { return read_named_secret(spec.secret_name, "spec.secretRef"); }
  std::optional<Document> read_webhook_secret(const Spec& spec) {
    return read_named_secret(spec.webhook_secret_name, "spec.webhook.secretRef");
  }
  // POST /repo/new's body: the spec with its credentials and dependency repos.
  Document repo_body(const Spec& spec, const std::optional<Document>& secret);
  void log(const std::string& level, const std::string& message) const { log_line(level, message, ns + "/" + name); }

  Controller& c_;
  const std::string ns, name;
  Document cr;  // as found, then as last written
  sidecar::Client sidecar;
  const std::string uid;
  const long generation, observed;
  std::string secret_version;       // of the credentials the sidecar has (status.observedSecretVersion)
  const Settled before;             // the settled Ready as this reconcile found it (through Unknown)
  const bool apply_pending;
  const bool own_echo;
  std::string handled_request;      // the cm.bitnami.com/requestedAt value last acted on
  std::map<std::string, std::shared_ptr<const Document>> secrets_read;  // by name, this reconcile
};

void Controller::Run::emit_event(const std::string& type, const std::string& reason, const std::string& message) {
  Document ev(rapidjson::kObjectType);
  auto& a = ev.GetAllocator();
  Value meta(rapidjson::kObjectType);
  meta.AddMember("generateName", str(name + ".", a), a);
  meta.AddMember("namespace", str(ns, a), a);
  ev.AddMember("metadata", meta, a);
  Value involved(rapidjson::kObjectType);
  involved.AddMember("apiVersion", str(kApiVersion, a), a);
  involved.AddMember("kind", str(kKind, a), a);
  involved.AddMember("name", str(name, a), a);
  involved.AddMember("namespace", str(ns, a), a);
  involved.AddMember("uid", str(uid, a), a);
  ev.AddMember("involvedObject", involved, a);
  ev.AddMember("reason", str(reason, a), a);
  ev.AddMember("message", str(util::redact_text(message).substr(0, 1000), a), a);
  ev.AddMember("type", str(type, a), a);
  auto now = util::now_rfc3339();
  ev.AddMember("firstTimestamp", str(now, a), a);
  ev.AddMember("lastTimestamp", str(now, a), a);
  ev.AddMember("count", 1, a);
  Value source(rapidjson::kObjectType);
  source.AddMember("component", "cmop-operator", a);
  ev.AddMember("source", source, a);
  ev.AddMember("reportingComponent", "cmop-operator", a);
  ev.AddMember("reportingInstance", str(c_.options_.instance, a), a);
  if (c_.namespace_terminating(ns)) return;  // nothing can be created there: not even tried
  try {
    c_.kube_.create(resources::events, ns, ev);
  } catch (const KubeApiError& e) {
    if (Controller::terminating_refusal(e)) return c_.note_terminating(ns);
    log("warn", "cannot record event " + reason + ": " + e.what());
  } catch (const Error& e) {
    log("warn", "cannot record event " + reason + ": " + e.what());
  }
}

bool Controller::Run::write_status(const Outcome& outcome, const sidecar::RepoStatus* state) {
  Document st = build_status(cr, outcome, state, before, secret_version, handled_request);
  const Value* old = value_at(cr, "status");
  if (old && *old == st) return false;
  Document body;
  body.CopyFrom(cr, body.GetAllocator());
  if (body.HasMember("status")) body.RemoveMember("status");
  body.AddMember("status", Value(st, body.GetAllocator()), body.GetAllocator());
  // The object as written: a second write in this reconcile needs its resourceVersion.
  cr = c_.kube_.update_status(resources::chartmuseums, ns, name, body);
  c_.chartmuseums_->remember(cr);
  c_.note_own_write(cr);
  ++c_.metrics_.status_writes;
  return true;
}

std::optional<Document> Controller::Run::read_named_secret(const std::string& secret_name, const std::string& field) {
  if (secret_name.empty()) return std::nullopt;
  auto& found = secrets_read[secret_name];
  if (!found) {
    // A retry (the last reconcile failed, perhaps on this very Secret) reads it anew.
    found = c_.secret(ns, secret_name, own_echo && !apply_pending);
    if (!found) throw Error(Errc::not_found, field, "Secret \"" + secret_name + "\" not found in " + ns);
  }
  Document copy;
  copy.CopyFrom(*found, copy.GetAllocator());
  return copy;
}

// A mirror's part of POST /repo/new: "mirror", "charts" and the upstream's auth.
void add_mirror(Document& body, const MirrorSpec& mirror, const std::optional<Document>& secret,
                const std::string& secret_name) {
  auto& a = body.GetAllocator();
  body.AddMember("mirror", str(mirror.url, a), a);
  Value charts(rapidjson::kArrayType);
  for (const auto& [chart, versions] : mirror.charts) {
    Value c(rapidjson::kObjectType);
    c.AddMember("name", str(chart, a), a);
    if (!versions.empty()) c.AddMember("versions", str(versions, a), a);
    charts.PushBack(c, a);
  }
  body.AddMember("charts", charts, a);
  if (mirror.prune) body.AddMember("prune", true, a);
  if (!secret) return;
  Value auth(rapidjson::kObjectType);
  for (const char* key : {"username", "password"}) {
    auto encoded = str_at(*secret, std::string("data.") + key);
    if (!encoded.empty())
      auth.AddMember(rapidjson::StringRef(key), str(base64_decode(encoded, secret_name + "." + key), a), a);
  }
  body.AddMember("auth", auth, a);
}

Document Controller::Run::repo_body(const Spec& spec, const std::optional<Document>& secret) {
  Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  body.AddMember("name", str(name, a), a);
  body.AddMember("owner", str(ns + "/" + name, a), a);
  if (spec.mirror) {
    add_mirror(body, *spec.mirror, secret, spec.secret_name);
    if (spec.suspend) body.AddMember("suspend", true, a);
    return body;
  }
  body.AddMember("git", str(spec.git, a), a);
  if (!spec.ref.empty()) body.AddMember("ref", str(spec.ref, a), a);
  if (!spec.path.empty()) body.AddMember("path", str(spec.path, a), a);
  if (!spec.versioning.empty()) body.AddMember("versioning", str(spec.versioning, a), a);
  // Suspended: the sidecar records the spec and syncs nothing (not even for webhooks).
  if (spec.suspend) body.AddMember("suspend", true, a);
  Value deps(rapidjson::kArrayType);
  for (auto& d : spec.dependencies) {
    // Every dependency repo goes with this resource's repo only (the sidecar
    // resolves `@name` in the repo's own list first): two resources may name
    // different URLs alike, and nothing is registered for every repo.
    Value dv(rapidjson::kObjectType);
    dv.AddMember("name", str(d.name, a), a);
    dv.AddMember("url", str(d.url, a), a);
    if (!d.mirror_of.empty()) dv.AddMember("mirrorOf", str(d.mirror_of, a), a);
    if (!d.secret_name.empty()) {
      Document secret = *read_named_secret(d.secret_name, "spec.dependencies[" + d.name + "].secretRef");
      for (const char* key : {"username", "password"}) {
        auto encoded = str_at(secret, std::string("data.") + key);
        if (!encoded.empty())
          dv.AddMember(rapidjson::StringRef(key), str(base64_decode(encoded, d.secret_name + "." + key), a), a);
      }
    }
    deps.PushBack(dv, a);
  }
  body.AddMember("dependencies", deps, a);
  if (secret) {
    Value auth(rapidjson::kObjectType);
    for (const char* key : {"username", "password", "sshPrivateKey", "sshPassphrase"}) {
      auto encoded = str_at(*secret, std::string("data.") + key);
      if (!encoded.empty())
        auth.AddMember(rapidjson::StringRef(key), str(base64_decode(encoded, spec.secret_name + "." + key), a), a);
    }
    body.AddMember("auth", auth, a);
  }
  if (auto hook = read_webhook_secret(spec)) {
    auto encoded = str_at(*hook, "data." + spec.webhook_secret_key);
    if (encoded.empty())
      throw Error(Errc::not_found, "spec.webhook.secretRef",
                  "Secret \"" + spec.webhook_secret_name + "\" has no key \"" + spec.webhook_secret_key + "\"");
    body.AddMember("webhookSecret",
                   str(base64_decode(encoded, spec.webhook_secret_name + "." + spec.webhook_secret_key), a), a);
  }
  return body;
}

// Deletion: remove the repo (and its charts) from the sidecar, then let the object go.
void Controller::Run::clean_up() {
  if (!has_finalizer(cr)) return;
  {
    std::lock_guard lock(c_.cleaned_mutex_);
    if (!uid.empty() && c_.cleaned_uids_.count(uid)) return;  // a stale cached copy
  }
  bool removed = false;
  try {
    auto removal = sidecar.remove(name, ns + "/" + name);
    const Value* listed = value_at(cr, "status.publishedCharts");
    if (removal == sidecar::Client::Removal::unknown && listed && listed->IsArray() && !listed->Empty()) {
      // The sidecar lost its state (an emptyDir restarted) but charts of ours may
      // still be published: register the repo again, which takes back what is
      // still in git (identical packages are adopted), then remove it for real.
      try {
        Spec spec = parse_spec(cr, name);
        spec.suspend = false;  // the re-registration must sync to take its charts back
        log("info", "sidecar forgot the repo; re-registering it to remove its charts");
        sidecar.apply(to_json(repo_body(spec, read_secret(spec))));
      } catch (const Error& e) {
        if (e.code() == Errc::network || e.code() == Errc::unauthorized || e.code() == Errc::internal) throw;
        log("warn", std::string("cannot re-register for cleanup: ") + e.what());
      }
      removal = sidecar.remove(name, ns + "/" + name);
    }
    removed = removal == sidecar::Client::Removal::removed;
    log("info", (removal == sidecar::Client::Removal::removed   ? "removed repo from the sidecar"
                          : removal == sidecar::Client::Removal::unknown ? "sidecar had no such repo"
                                                                 : "the sidecar repo belongs to another resource; left alone"));
  } catch (const Error& e) {
    Outcome o = outcome_for_sidecar_error(e);
    o.ready = false;
    o.retrying = true;
    o.stalled = false;
    o.message = "cannot remove the repo from the sidecar, keeping the finalizer: " + std::string(e.what());
    emit_event("Warning", "CleanupFailed", o.message);
    try {
      write_status(o, nullptr);
    } catch (const Error& se) {
      log("warn", std::string("cannot write status: ") + se.what());
    }
    throw;
  }
  c_.kube_.remove(resources::cronjobs, ns, cronjob_name_for(name));
  emit_event("Normal", "CleanedUp", "repo removed from the sidecar and CronJob deleted");
  // A same-named resource elsewhere, stalled on the name, may take the repo now.
  if (removed) c_.requeue_same_name(ns, name);
  Document body;
  body.CopyFrom(cr, body.GetAllocator());
  auto& finalizers = body["metadata"]["finalizers"];
  for (auto it = finalizers.Begin(); it != finalizers.End();) {
    if (it->IsString() && std::string_view(it->GetString()) == kFinalizer) it = finalizers.Erase(it);
    else ++it;
  }
  // resourceVersion precondition: 409 -> retry. Not remembered: without its last
  // finalizer the object may be gone (and its DELETED event handled) already.
  c_.kube_.update(resources::chartmuseums, ns, name, body);
  c_.forget(ns + "/" + name);
  std::lock_guard lock(c_.cleaned_mutex_);
  if (c_.cleaned_uids_.size() > 100000) c_.cleaned_uids_.clear();  // a bound; uids never repeat
  if (!uid.empty()) c_.cleaned_uids_.insert(uid);
}

void Controller::Run::stall(const Error& invalid) {
  Outcome o{false, "InvalidSpec", invalid.what(), true, false};
  if (write_status(o, nullptr) && !event_for(before, false, o.reason, generation).empty())
    emit_event("Warning", "InvalidSpec", invalid.what());
}

// Our finalizer before anything is registered, so a deletion can never skip the cleanup.
void Controller::Run::ensure_finalizer() {
  if (has_finalizer(cr)) return;
  Document body;
  body.CopyFrom(cr, body.GetAllocator());
  auto& a = body.GetAllocator();
  auto& meta = body["metadata"];
  if (!meta.HasMember("finalizers") || !meta["finalizers"].IsArray())
    meta.AddMember("finalizers", Value(rapidjson::kArrayType), a);
  meta["finalizers"].PushBack(Value(kFinalizer, a), a);
  cr = c_.kube_.update(resources::chartmuseums, ns, name, body);
  c_.chartmuseums_->remember(cr);
  c_.note_own_write(cr);
}

std::optional<Controller::Run::SidecarView> Controller::Run::apply_to_sidecar(const Spec& spec) {
  // Nothing here waits for a sync: an apply or a requested sync is queued (202) and
  // its result reaches the status through GET /syncs (sidecar_feed.hpp), which has
  // this resource reconciled when the sync starts and again when it ends.
  std::optional<sidecar::RepoStatus> state;
  bool applied = false;  // this reconcile queued a sync
  try {
    // The credentials Secret is read on every reconcile of a resource that names
    // one: rotating it (a new resourceVersion) re-applies the repo, even though
    // the resource's generation did not move.
    std::optional<Document> secret = read_secret(spec);
    std::string current_secret_version = secret ? str_at(*secret, "metadata.resourceVersion") : "";
    // A rotated webhook secret re-applies too; the field keeps its old form without one.
    if (auto hook = read_webhook_secret(spec)) current_secret_version += "/" + str_at(*hook, "metadata.resourceVersion");
    const bool secret_rotated = current_secret_version != secret_version;
    const std::string request = requested_at(cr);
    // A suspended resource takes no requests; one made meanwhile is served on resuming
    // (that apply syncs).
    const bool sync_requested = !spec.suspend && !request.empty() && request != handled_request;
    state = sidecar.repo(name);
    // Another resource of this name owns the repo: the sidecar would refuse the
    // apply (409), so none is sent, on no resync. The owner's deletion requeues us.
    if (state) {
      const std::string& owner = state->owner;
      if (!owner.empty() && owner != ns + "/" + name)
        throw Error(Errc::conflict, "repo " + name, "is managed by the resource " + owner + "; rename this one");
    }
    // The sidecar lost a repo it had synced (a restart on an empty state dir, a
    // restore): the others are likely gone too, so every resource is reconciled now.
    if (!state && !str_at(cr, "status.lastSyncTime").empty()) c_.sidecar_lost_state("repo " + name + " is gone");
    if (!state || generation != observed || secret_rotated || apply_pending) {
      Document body = repo_body(spec, secret);
      log("info", "applying repo to the sidecar (generation " + std::to_string(generation) +
                           (!state ? ", sidecar did not know it)" : secret_rotated && generation == observed
                                                                        ? ", credentials Secret changed)"
                                                                        : ")"));
      sidecar.apply_async(to_json(body));
      ++c_.metrics_.sidecar_applies;
      applied = !spec.suspend;
      secret_version = current_secret_version;
    } else if (sync_requested) {
      log("info", "sync requested (" + std::string(kRequestedAtAnnotation) + "=" +
                           request + ")");
      sidecar.update_async(name);
      applied = true;
    }
    // Applying syncs as well: either way the request was served.
    if (sync_requested) handled_request = request;
  } catch (const Error& e) {
    Outcome o = e.code() == Errc::not_found && (std::string_view(e.subject()) == "spec.secretRef" ||
                                                std::string_view(e.subject()) == "spec.webhook.secretRef")
                    ? Outcome{false, "SecretNotFound", e.what(), false, true}
                    : outcome_for_sidecar_error(e);
    // One event per change of the settled outcome, not one per retry or resync.
    const bool changed = write_status(o, nullptr);
    if (changed && !event_for(before, false, o.reason, generation).empty()) emit_event("Warning", o.reason, o.message);
    if (o.stalled) return std::nullopt;
    throw;
  }
  return SidecarView{std::move(state), applied};
}

// The resource's CronJob: desired_cronjob() (cronjob.hpp), created or brought back to it.
void Controller::Run::ensure_cronjob(const Spec& spec) {
  Document desired = desired_cronjob(CronJobTarget{ns, name, uid, spec.every_minutes, spec.suspend}, c_.options_);
  // The resource's CronJob: from the watch-fed cache, by its repo label whatever its
  // name (no GET); by the name we give it until the cache has listed once.
  // (no GET: workers start once the cache has listed, so no RBAC `get` is needed).
  if (!c_.cronjobs_->synced()) throw Error(Errc::network, "CronJob cache", "not filled yet");
  // Nothing can be created in a namespace being deleted, and nothing needs to be.
  if (c_.namespace_terminating(ns)) return;
  std::optional<Document> existing;
  {
    auto found = c_.cronjobs_->select(ns, [&](const Value& cj) {
      auto* labels = value_at(cj, "metadata.labels");
      if (!labels || !labels->IsObject()) return false;
      auto it = labels->FindMember(kRepoLabel);
      return it != labels->MemberEnd() && it->value.IsString() && name == it->value.GetString();
    });
    if (!found.empty()) existing.emplace().CopyFrom(*found.front(), existing->GetAllocator());
  }
  if (existing) {
    bool same = is_subset(desired["spec"], (*existing)["spec"]) &&
                is_subset(desired["metadata"]["labels"], (*existing)["metadata"]["labels"]) &&
                is_subset(desired["metadata"]["ownerReferences"], (*existing)["metadata"]["ownerReferences"]);
    if (!same) {
      auto& a = existing->GetAllocator();
      for (const char* key : {"apiVersion", "kind"})  // list items carry neither
        if (!existing->HasMember(key)) existing->AddMember(rapidjson::StringRef(key), Value(desired[key], a), a);
      (*existing)["spec"].CopyFrom(desired["spec"], a);
      auto& meta = (*existing)["metadata"];
      if (!meta.HasMember("labels")) meta.AddMember("labels", Value(rapidjson::kObjectType), a);
      for (auto& l : desired["metadata"]["labels"].GetObject()) {
        auto it = meta["labels"].FindMember(l.name);
        if (it != meta["labels"].MemberEnd()) it->value.CopyFrom(l.value, a);
        else meta["labels"].AddMember(Value(l.name, a), Value(l.value, a), a);
      }
      if (meta.HasMember("ownerReferences")) meta.RemoveMember("ownerReferences");
      meta.AddMember("ownerReferences", Value(desired["metadata"]["ownerReferences"], a), a);
      c_.cronjobs_->remember(c_.kube_.update(resources::cronjobs, ns, str_at(*existing, "metadata.name"), *existing));
      log("info", "updated CronJob");
    }
  } else {
    // A 409 AlreadyExists (the cache lags our own create) is retried with backoff.
    try {
      c_.cronjobs_->remember(c_.kube_.create(resources::cronjobs, ns, desired));
    } catch (const KubeApiError& e) {
      if (!Controller::terminating_refusal(e)) throw;
      return c_.note_terminating(ns);
    }
    log("info", "created CronJob (" + schedule_for_minutes(spec.every_minutes, ns + "/" + name) + ")");
  }
}

void Controller::Run::report(const Spec& spec, SidecarView view) {
  // kstatus: while any sync of the repo is queued or runs (ours, a CronJob's, a
  // webhook's), Ready is Unknown and Reconciling True.
  auto& state = view.state;
  const bool applied = view.queued;
  const bool syncing = applied || (state && state->syncing);
  if (spec.suspend && !state) state = sidecar.repo(name);  // just recorded: shows the spec and last commit
  Outcome outcome;
  if (syncing && !spec.suspend) {
    // One message whether the sync is queued or runs, ours or not: a status write
    // per sync, not one per stage of it.
    outcome = {false, "Progressing", "syncing generation " + std::to_string(generation), false, false, true};
  } else if (state) {
    outcome = outcome_from_state(*state);
  }
  if (spec.suspend) outcome.message += " (suspended: no syncs until spec.suspend is false)";
  // While a sync runs the facts of the last one stand (nullptr keeps them), and the
  // settled outcome before it is carried in the status (PreviousReady).
  write_status(outcome, state && !outcome.in_progress ? &*state : nullptr);
  if (outcome.in_progress) return;

  // Events say what changed, once: a new failure reason (Warning), a recovery, a spec
  // change synced, each judged against the settled outcome the status held.
  const std::string event = event_for(before, outcome.ready, outcome.reason, generation);
  if (event.empty()) return;
  emit_event(outcome.ready ? "Normal" : "Warning", event, outcome.message);
}

// The object to reconcile: from the watch-fed cache (which also holds what our own
// writes returned: no GET) once it has listed; nullopt when it is gone.
std::optional<Document> Controller::current_chartmuseum(const std::string& ns, const std::string& name) const {
  Document cr;
  if (chartmuseums_->synced()) {
    auto cached = chartmuseums_->get(ns + "/" + name);
    if (!cached) return std::nullopt;
    auto& a = cr.GetAllocator();
    cr.CopyFrom(*cached, a);
    if (!cr.HasMember("apiVersion")) cr.AddMember("apiVersion", Value(kApiVersion, a), a);  // list items carry neither
    if (!cr.HasMember("kind")) cr.AddMember("kind", Value(kKind, a), a);
    return cr;
  }
  try {
    return kube_.get(resources::chartmuseums, ns, name);
  } catch (const KubeApiError& e) {
    if (e.not_found()) return std::nullopt;
    throw;
  }
}

void Controller::reconcile(const std::string& ns, const std::string& name) {
  auto cr = current_chartmuseum(ns, name);
  if (!cr) return;  // gone: our finalizer already ran (or was never added)
  Run run(*this, ns, name, std::move(*cr));
  if (run.deleting()) return run.clean_up();
  // A valid spec first: a resource that can never be registered gets no finalizer.
  Spec spec;
  try {
    spec = parse_spec(run.object(), name);
  } catch (const Error& e) {
    return run.stall(e);  // nothing to retry until the spec changes (which brings a watch event)
  }
  run.ensure_finalizer();
  auto view = run.apply_to_sidecar(spec);
  if (!view) return;  // Stalled: nothing is retried until the spec or the conflicting owner changes
  run.ensure_cronjob(spec);
  run.report(spec, std::move(*view));
}

}  // namespace cmop::operate
