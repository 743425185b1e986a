#include "cmop/sync/serialize.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <regex>

#include "cmop/error.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/utf8.hpp"

namespace cmop::sync {
namespace {

// What the API returns must be valid UTF-8 JSON, so strings from git (chart paths,
// names, reasons quoting them) have ill-formed bytes replaced by U+FFFD. The state
// files keep the exact bytes instead: chart paths are keys there and must read back
// identical, and only cmop reads those files (RapidJSON without validation).
struct Writer : rapidjson::Writer<rapidjson::StringBuffer> {
  Writer(rapidjson::StringBuffer& buffer, bool keep_raw_bytes, bool unauthenticated = false)
      : rapidjson::Writer<rapidjson::StringBuffer>(buffer),
        keep_raw_bytes(keep_raw_bytes),
        unauthenticated(unauthenticated) {}
  const bool keep_raw_bytes;
  const bool unauthenticated;  // the state as anyone may read it (GET /repo, GET /repo/{name})
};

// A failure reason as an unauthenticated reader sees it. Dependency URLs come from
// chart authors and may point anywhere the sidecar reaches (its own pod, internal
// services), so nothing a remote answered is reflected: no HTTP status, no YAML
// error position or index structure, no digest of a response. What failed, and
// where, stays.
std::string without_remote_content(const std::string& reason) {
  static const std::regex http_status(R"(HTTP [1-5][0-9][0-9]( \([^)]*\))?)");
  static const std::regex invalid_index(R"((invalid index \S+): .*)");
  static const std::regex invalid_yaml(R"(invalid YAML: .*)");
  static const std::regex digest(R"([0-9a-f]{64})");
  std::string out = std::regex_replace(reason, http_status, "an HTTP error");
  out = std::regex_replace(out, invalid_index, "$1: not a valid chart repository index");
  out = std::regex_replace(out, invalid_yaml, "invalid YAML");
  return std::regex_replace(out, digest, "(digest not shown)");
}

void reason(Writer& w, const char* key, const std::string& value);

void str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  if (w.keep_raw_bytes) {
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  } else {
    // Public JSON: a URL anywhere in it (spec, lastError, a chart's reason) is redacted.
    const std::string text = util::to_valid_utf8(util::redact_text(value));
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  }
}

void reason(Writer& w, const char* key, const std::string& value) {
  str(w, key, w.unauthenticated ? without_remote_content(value) : value);
}

void write_outcome(Writer& w, const ChartOutcome& c) {
  w.StartObject();
  str(w, "path", c.path);
  str(w, "name", c.name);
  str(w, "version", c.version);
  str(w, "digest", c.digest);
  str(w, "status", to_string(c.status));
  if (!c.reason.empty()) reason(w, "reason", c.reason);
  w.EndObject();
}

void write_report_body(Writer& w, const SyncReport& r, bool with_repo) {
  if (with_repo) str(w, "repo", r.repo);
  str(w, "commit", r.commit);
  w.Key("changed");
  w.Bool(r.fetched_changes);
  w.Key("ok");
  w.Bool(r.ok());
  w.Key("seconds");
  w.Double(r.seconds);
  w.Key("charts");
  w.StartArray();
  for (auto& c : r.charts) write_outcome(w, c);
  w.EndArray();
  str(w, "error", r.error);
}

void write_dependency(Writer& w, const deps::NamedRepository& d, bool secrets) {
  w.StartObject();
  str(w, "name", d.name);
  str(w, "url", secrets ? d.url : util::redact_url(d.url));
  if (!d.mirror_of.empty()) str(w, "mirrorOf", secrets ? d.mirror_of : util::redact_url(d.mirror_of));
  if (secrets) {
    if (!d.username.empty()) str(w, "username", d.username);
    if (!d.password.empty()) str(w, "password", d.password);
  }
  w.EndObject();
}

// A mirror's upstream: {"url", "charts": [{"name", "versions"}]}, plus
// "username"/"password" in the state file only.
void write_upstream(Writer& w, const upstream::UpstreamSpec& u, bool secrets) {
  w.Key("mirror");
  w.StartObject();
  str(w, "url", secrets ? u.url : util::redact_url(u.url));
  w.Key("charts");
  w.StartArray();
  for (const auto& c : u.charts) {
    w.StartObject();
    str(w, "name", c.name);
    if (!c.versions.empty()) str(w, "versions", c.versions);
    w.EndObject();
  }
  w.EndArray();
  if (u.prune) {
    w.Key("prune");
    w.Bool(true);
  }
  if (secrets) {
    if (!u.username.empty()) str(w, "username", u.username);
    if (!u.password.empty()) str(w, "password", u.password);
  }
  w.EndObject();
}

void write_spec(Writer& w, const RepoSpec& s, bool secrets) {
  w.StartObject();
  if (!s.upstream.empty()) write_upstream(w, s.upstream, secrets);
  str(w, "git", secrets ? s.git : util::redact_url(s.git));
  str(w, "ref", s.ref);
  str(w, "path", s.path);
  if (!s.owner.empty()) str(w, "owner", s.owner);
  if (s.suspend) {
    w.Key("suspend");
    w.Bool(true);
  }
  str(w, "versioning", to_string(s.versioning));
  w.Key("dependencies");
  w.StartArray();
  for (auto& d : s.dependencies) write_dependency(w, d, secrets);
  w.EndArray();
  if (secrets) {
    w.Key("auth");
    w.StartObject();
    str(w, "username", s.credentials.username);
    str(w, "password", s.credentials.password);
    str(w, "sshPrivateKeyFile", s.credentials.ssh_private_key_file);
    str(w, "sshPublicKeyFile", s.credentials.ssh_public_key_file);
    str(w, "sshPassphrase", s.credentials.ssh_passphrase);
    if (!s.webhook_secret.empty()) str(w, "webhookSecret", s.webhook_secret);
    w.EndObject();
  } else {
    w.Key("webhook");  // whether push webhooks are accepted; the secret itself never leaves
    w.Bool(!s.webhook_secret.empty());
  }
  w.EndObject();
}

void write_publications(Writer& w, const std::vector<publish::Publication>& pubs, const RepoSpec& spec,
                        bool secrets) {
  w.StartArray();
  for (auto& p : pubs) {
    w.StartObject();
    str(w, "name", p.name);
    str(w, "version", p.version);
    str(w, "digest", p.digest);
    str(w, "path", p.chart_path);
    if (!p.commit.empty()) {
      // Where the published bytes came from (docs/verifying.md): enough for
      // anyone to rebuild and compare them. The URL never carries credentials.
      w.Key("source");
      w.StartObject();
      if (!secrets) str(w, "git", util::redact_url(spec.git));
      str(w, "commit", p.commit);
      str(w, "path", p.chart_path);
      str(w, "cmopVersion", p.cmop_version);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
}

void write_state(Writer& w, const RepoState& s, bool secrets) {
  w.StartObject();
  str(w, "name", s.spec.name);
  w.Key("spec");
  write_spec(w, s.spec, secrets);
  str(w, "lastCommit", s.last_commit);
  str(w, "lastSyncTime", s.last_sync_time);
  str(w, "lastSuccessTime", s.last_success_time);
  reason(w, "lastError", s.last_error);
  w.Key("lastSync");
  w.StartObject();
  w.Key("charts");
  w.StartArray();
  for (auto& c : s.last_charts) write_outcome(w, c);
  w.EndArray();
  w.EndObject();
  w.Key("charts");
  write_publications(w, s.published, s.spec, secrets);
  if (secrets) {
    w.Key("chartKeys");
    w.StartObject();
    for (auto& [path, key] : s.chart_keys) str(w, path.c_str(), key);
    w.EndObject();
  }
  w.EndObject();
}

// --- reading -----------------------------------------------------------------

std::string get_str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const rapidjson::Value* get(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

rapidjson::Document parse(const std::string& json, const std::string& origin) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError())
    throw Error(Errc::invalid_argument, origin,
                std::string("corrupt JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
  return doc;
}

deps::NamedRepository read_dependency(const rapidjson::Value& v) {
  return {get_str(v, "name"), get_str(v, "url"), get_str(v, "username"), get_str(v, "password"),
          get_str(v, "mirrorOf")};
}

upstream::UpstreamSpec read_upstream(const rapidjson::Value& v) {
  upstream::UpstreamSpec u;
  u.url = get_str(v, "url");
  u.username = get_str(v, "username");
  u.password = get_str(v, "password");
  if (auto* prune = get(v, "prune"); prune && prune->IsBool()) u.prune = prune->GetBool();
  if (auto* charts = get(v, "charts"); charts && charts->IsArray())
    for (auto& c : charts->GetArray()) u.charts.push_back({get_str(c, "name"), get_str(c, "versions")});
  return u;
}

ChartOutcome::Status status_from(const std::string& s) {
  if (s == "published") return ChartOutcome::Status::published;
  if (s == "unchanged") return ChartOutcome::Status::unchanged;
  if (s == "removed") return ChartOutcome::Status::removed;
  return ChartOutcome::Status::failed;
}

}  // namespace

std::string report_to_json(const SyncReport& report) {
  rapidjson::StringBuffer buf;
  Writer w(buf, /*keep_raw_bytes=*/false);
  w.StartObject();
  write_report_body(w, report, true);
  w.EndObject();
  return buf.GetString();
}

std::string state_to_json(const RepoState& state) {
  rapidjson::StringBuffer buf;
  Writer w(buf, /*keep_raw_bytes=*/false, /*unauthenticated=*/true);
  write_state(w, state, false);
  return buf.GetString();
}

std::string to_state_file(const RepoState& state) {
  rapidjson::StringBuffer buf;
  Writer w(buf, /*keep_raw_bytes=*/true);
  write_state(w, state, true);
  return buf.GetString();
}

RepoState from_state_file(const std::string& json, const std::string& origin) {
  auto doc = parse(json, origin);
  if (!doc.IsObject()) throw Error(Errc::invalid_argument, origin, "expected a JSON object");
  RepoState s;
  s.spec.name = get_str(doc, "name");
  if (auto* spec = get(doc, "spec")) {
    s.spec.git = get_str(*spec, "git");
    if (auto* mirror = get(*spec, "mirror"); mirror && mirror->IsObject()) s.spec.upstream = read_upstream(*mirror);
    s.spec.ref = get_str(*spec, "ref");
    s.spec.path = get_str(*spec, "path");
    s.spec.owner = get_str(*spec, "owner");
    if (auto* suspend = get(*spec, "suspend"); suspend && suspend->IsBool()) s.spec.suspend = suspend->GetBool();
    // State written before versioning policies existed had none: the default applies.
    if (auto policy = get_str(*spec, "versioning"); !policy.empty()) s.spec.versioning = parse_versioning(policy);
    if (auto* d = get(*spec, "dependencies"); d && d->IsArray())
      for (auto& v : d->GetArray()) s.spec.dependencies.push_back(read_dependency(v));
    if (auto* a = get(*spec, "auth")) {
      s.spec.credentials.username = get_str(*a, "username");
      s.spec.credentials.password = get_str(*a, "password");
      s.spec.credentials.ssh_private_key_file = get_str(*a, "sshPrivateKeyFile");
      s.spec.credentials.ssh_public_key_file = get_str(*a, "sshPublicKeyFile");
      s.spec.credentials.ssh_passphrase = get_str(*a, "sshPassphrase");
      s.spec.webhook_secret = get_str(*a, "webhookSecret");
    }
  }
  s.last_commit = get_str(doc, "lastCommit");
  s.last_sync_time = get_str(doc, "lastSyncTime");
  s.last_success_time = get_str(doc, "lastSuccessTime");
  s.last_error = get_str(doc, "lastError");
  if (auto* ls = get(doc, "lastSync"))
    if (auto* cs = get(*ls, "charts"); cs && cs->IsArray())
      for (auto& v : cs->GetArray())
        s.last_charts.push_back({get_str(v, "path"), get_str(v, "name"), get_str(v, "version"),
                                 get_str(v, "digest"), status_from(get_str(v, "status")), get_str(v, "reason")});
  if (auto* ps = get(doc, "charts"); ps && ps->IsArray())
    for (auto& v : ps->GetArray())
    {
      publish::Publication p{s.spec.name, get_str(v, "name"), get_str(v, "version"), get_str(v, "digest"),
                             get_str(v, "path"), "", ""};
      if (auto* src = get(v, "source"); src && src->IsObject()) {
        p.commit = get_str(*src, "commit");
        p.cmop_version = get_str(*src, "cmopVersion");
      }
      s.published.push_back(std::move(p));
    }
  if (auto* keys = get(doc, "chartKeys"); keys && keys->IsObject())
    for (auto& m : keys->GetObject())
      if (m.value.IsString()) s.chart_keys[m.name.GetString()] = m.value.GetString();
  if (s.spec.name.empty() || (s.spec.git.empty() && s.spec.upstream.empty()))
    throw Error(Errc::invalid_argument, origin, "state file lacks name or spec.git (or spec.mirror)");
  return s;
}

std::string dependencies_to_json(const std::vector<deps::NamedRepository>& repos, bool include_secrets) {
  rapidjson::StringBuffer buf;
  Writer w(buf, /*keep_raw_bytes=*/include_secrets);  // persisted when with secrets
  w.StartObject();
  w.Key("dependencies");
  w.StartArray();
  for (auto& d : repos) write_dependency(w, d, include_secrets);
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::vector<deps::NamedRepository> dependencies_from_json(const std::string& json, const std::string& origin) {
  auto doc = parse(json, origin);
  std::vector<deps::NamedRepository> out;
  auto* arr = get(doc, "dependencies");
  if (!arr || !arr->IsArray()) throw Error(Errc::invalid_argument, origin, "expected {\"dependencies\": [...]}");
  for (auto& v : arr->GetArray()) out.push_back(read_dependency(v));
  return out;
}

}  // namespace cmop::sync
