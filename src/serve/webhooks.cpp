#include "cmop/serve/webhooks.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cctype>

#include "cmop/error.hpp"
#include "cmop/serve/request.hpp"
#include "cmop/util/hash.hpp"

namespace cmop::serve {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string string_member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const rapidjson::Value* object_member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() || !it->value.IsObject() ? nullptr : &it->value;
}

}  // namespace

std::string header_value(const HeaderList& headers, std::string_view name) {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

const char* to_string(HookProvider p) {
  switch (p) {
    case HookProvider::github: return "github";
    case HookProvider::gitlab: return "gitlab";
    case HookProvider::gitea: return "gitea";
    case HookProvider::generic: return "generic";
    case HookProvider::none: break;
  }
  return "none";
}

HookSignature find_hook_signature(const HeaderList& headers) {
  static const std::pair<const char*, HookProvider> kHeaders[] = {
      {"X-Gitlab-Token", HookProvider::gitlab},         {"X-Gitea-Signature", HookProvider::gitea},
      {"X-Forgejo-Signature", HookProvider::gitea},     {"X-Hub-Signature-256", HookProvider::github},
      {"X-Signature", HookProvider::generic},
  };
  for (auto& [name, provider] : kHeaders)
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return {provider, v};
  return {};
}

bool hook_signature_valid(const HookSignature& signature, std::string_view secret, std::string_view body) {
  if (secret.empty() || signature.provider == HookProvider::none) return false;
  std::string presented = trimmed(signature.value);
  if (signature.provider == HookProvider::gitlab) return util::secrets_equal(presented, secret);
  if (signature.provider == HookProvider::github || signature.provider == HookProvider::generic) {
    // "sha256=<hex>"; the algorithm name is matched case-insensitively, as some proxies upper-case it.
    if (presented.size() < 7 || !iequals(std::string_view(presented).substr(0, 7), "sha256=")) return false;
    presented.erase(0, 7);
  }
  // Hex digits in either case are the same digest.
  return util::secrets_equal(lower(presented), util::hmac_sha256_hex(secret, body));
}

std::string hook_delivery_id(const HeaderList& headers) {
  for (const char* h : {"X-GitHub-Delivery", "X-Gitea-Delivery", "X-Forgejo-Delivery", "Idempotency-Key",
                        "X-Gitlab-Event-UUID"}) {
    std::string id = trimmed(header_value(headers, h));
    if (!id.empty()) return lower(h) + ":" + id;
  }
  return {};
}

HookEvent parse_hook_event(const HeaderList& headers, std::string_view content_type, std::string_view body) {
  HookEvent event;
  for (const char* h : {"X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gitlab-Event", "X-Event"}) {
    event.name = trimmed(header_value(headers, h));
    if (!event.name.empty()) break;
  }
  const std::string name = lower(event.name);
  if (name == "ping") {
    event.kind = HookEvent::Kind::ping;
    return event;
  }
  // GitHub, Gitea, Forgejo: "push"; GitLab: "Push Hook" and "Tag Push Hook".
  if (!name.empty() && name != "push" && name != "push hook" && name != "tag push hook") {
    event.kind = HookEvent::Kind::other;
    return event;
  }
  event.kind = HookEvent::Kind::push;

  // GitHub's "application/x-www-form-urlencoded" content type sends payload=<JSON>.
  std::string ct = lower(content_type.substr(0, content_type.find(';')));
  std::string form_payload;
  if (trimmed(ct) == "application/x-www-form-urlencoded") {
    form_payload = query_parameter("?" + std::string(body), "payload");
    body = form_payload;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return event;  // a bare "sync now"
  rapidjson::Document doc;
  // Iterative: nesting depth costs heap, bounded by the body limit, not stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError())
    throw Error(Errc::invalid_argument, "webhook payload",
                "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
  if (!doc.IsObject()) throw Error(Errc::invalid_argument, "webhook payload", "must be a JSON object");
  event.ref = string_member(doc, "ref");
  // GitHub, Gitea and Forgejo: repository.default_branch; GitLab: project.default_branch.
  for (const char* holder : {"repository", "project"})
    if (auto* repo = object_member(doc, holder); repo && event.default_branch.empty())
      event.default_branch = string_member(*repo, "default_branch");
  return event;
}

bool hook_ref_tracked(std::string_view tracked_ref, std::string_view pushed_ref, std::string_view default_branch) {
  if (pushed_ref.empty()) return true;
  if (tracked_ref.empty()) {
    if (default_branch.empty()) return true;
    return pushed_ref == "refs/heads/" + std::string(default_branch);
  }
  if (tracked_ref.rfind("refs/", 0) == 0) return pushed_ref == tracked_ref;
  // A short name is a branch or a tag, as git resolves it. A commit id never moves,
  // so no push is tracked by a repo pinned to one.
  return pushed_ref == "refs/heads/" + std::string(tracked_ref) || pushed_ref == "refs/tags/" + std::string(tracked_ref);
}

}  // namespace cmop::serve
