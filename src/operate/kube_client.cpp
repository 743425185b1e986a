#include "cmop/operate/kube_client.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "cmop/util/fs.hpp"
#include "cmop/operate/watch_stream.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/json.hpp"

namespace cmop::operate {
namespace fs = std::filesystem;

namespace {

// Projected service-account tokens rotate; kubelet refreshes the file well before
// expiry, and client-go re-reads it every minute. We do the same.
constexpr auto kTokenRefresh = std::chrono::minutes(1);

Errc errc_for_status(int status) {
  switch (status) {
    case 400: case 422: return Errc::invalid_argument;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 409: return Errc::conflict;
    case 413: return Errc::too_large;
    default: return Errc::upstream;
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string yaml_str(const YAML::Node& node, const char* key) {
  if (!node || !node.IsMap() || !node[key] || !node[key].IsScalar()) return {};
  return node[key].as<std::string>();
}

const YAML::Node find_named(const YAML::Node& list, const std::string& name, const char* field,
                            const fs::path& file) {
  if (list && list.IsSequence()) {
    for (const auto& entry : list)
      if (yaml_str(entry, "name") == name && entry[field]) return entry[field];
  }
  throw Error(Errc::invalid_argument, file.string(), std::string("no ") + field + " named \"" + name + "\"");
}

fs::path resolve_against(const fs::path& file, const std::string& ref) {
  fs::path p(ref);
  return p.is_absolute() ? p : file.parent_path() / p;
}

}  // namespace

KubeApiError::KubeApiError(int http_status, std::string status_reason, std::string subject, std::string message,
                           int retry_after_seconds)
    : Error(errc_for_status(http_status), std::move(subject),
            "HTTP " + std::to_string(http_status) + (status_reason.empty() ? "" : " " + status_reason) + ": " +
                message),
      http_status_(http_status),
      status_reason_(std::move(status_reason)),
      retry_after_seconds_(retry_after_seconds) {}

// --- configuration -----------------------------------------------------------------

KubeConfig in_cluster_config(const fs::path& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw Error(Errc::invalid_argument, "in-cluster config",
                "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod); "
                "pass --kubeconfig or set KUBECONFIG");
  KubeConfig cfg;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 service address
  cfg.server = "https://" + h + ":" + port;
  cfg.token_file = sa_dir / "token";
  if (!fs::exists(cfg.token_file))
    throw Error(Errc::invalid_argument, cfg.token_file.string(), "service account token is not mounted");
  cfg.tls.ca_file = (sa_dir / "ca.crt").string();
  if (fs::exists(sa_dir / "namespace")) cfg.default_namespace = trim(util::read_file(sa_dir / "namespace"));
  return cfg;
}

KubeConfig kubeconfig_from_file(const fs::path& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_argument, path.string(), std::string("cannot parse kubeconfig: ") + e.what());
  }
  std::string context_name = yaml_str(root, "current-context");
  if (context_name.empty()) throw Error(Errc::invalid_argument, path.string(), "kubeconfig has no current-context");
  auto context = find_named(root["contexts"], context_name, "context", path);
  std::string cluster_name = yaml_str(context, "cluster");
  std::string user_name = yaml_str(context, "user");
  auto cluster = find_named(root["clusters"], cluster_name, "cluster", path);

  KubeConfig cfg;
  cfg.server = yaml_str(cluster, "server");
  if (cfg.server.empty())
    throw Error(Errc::invalid_argument, path.string(), "cluster \"" + cluster_name + "\" has no server");
  while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
  if (auto ns = yaml_str(context, "namespace"); !ns.empty()) cfg.default_namespace = ns;
  if (auto data = yaml_str(cluster, "certificate-authority-data"); !data.empty())
    cfg.tls.ca_pem = base64_decode(data, "certificate-authority-data");
  else if (auto file = yaml_str(cluster, "certificate-authority"); !file.empty())
    cfg.tls.ca_file = resolve_against(path, file).string();
  cfg.tls.insecure_skip_verify = yaml_str(cluster, "insecure-skip-tls-verify") == "true";

  if (!user_name.empty()) {
    auto user = find_named(root["users"], user_name, "user", path);
    cfg.token = yaml_str(user, "token");
    if (auto file = yaml_str(user, "tokenFile"); !file.empty()) cfg.token_file = resolve_against(path, file);
    if (auto data = yaml_str(user, "client-certificate-data"); !data.empty())
      cfg.tls.client_cert_pem = base64_decode(data, "client-certificate-data");
    else if (auto file = yaml_str(user, "client-certificate"); !file.empty())
      cfg.tls.client_cert_pem = util::read_file(resolve_against(path, file));
    if (auto data = yaml_str(user, "client-key-data"); !data.empty())
      cfg.tls.client_key_pem = base64_decode(data, "client-key-data");
    else if (auto file = yaml_str(user, "client-key"); !file.empty())
      cfg.tls.client_key_pem = util::read_file(resolve_against(path, file));
    if (user["exec"] || user["auth-provider"])
      throw Error(Errc::invalid_argument, path.string(),
                  "user \"" + user_name + "\" uses exec/auth-provider credentials, which cmop does not support; "
                  "use a token, tokenFile or client certificate");
  }
  return cfg;
}

KubeConfig load_kube_config(const std::string& kubeconfig_flag) {
  if (!kubeconfig_flag.empty()) return kubeconfig_from_file(kubeconfig_flag);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string first = env;
    first = first.substr(0, first.find(':'));
    return kubeconfig_from_file(first);
  }
  return in_cluster_config();
}

// --- JSON helpers --------------------------------------------------------------------

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

const rapidjson::Value* value_at(const rapidjson::Value& v, std::string_view dotted) {
  const rapidjson::Value* cur = &v;
  while (!dotted.empty()) {
    auto dot = dotted.find('.');
    auto key = dotted.substr(0, dot);
    if (!cur->IsObject()) return nullptr;
    auto it = cur->FindMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size())));
    if (it == cur->MemberEnd()) return nullptr;
    cur = &it->value;
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
  }
  return cur;
}

std::string str_at(const rapidjson::Value& v, std::string_view dotted) {
  auto* p = value_at(v, dotted);
  return p && p->IsString() ? std::string(p->GetString(), p->GetStringLength()) : std::string();
}

std::string base64_decode(std::string_view in, std::string_view what) {
  auto decoded = util::base64_decode(in, /*lenient=*/true);
  if (!decoded) throw Error(Errc::invalid_argument, std::string(what), "is not valid base64");
  return std::move(*decoded);
}

// --- client --------------------------------------------------------------------------

namespace {
net::Request with_body(net::Request req, const char* content_type, const rapidjson::Value& body) {
  req.headers.push_back({"Content-Type", content_type});
  req.body = to_json(body);
  return req;
}
}  // namespace

KubeClient::KubeClient(KubeConfig config) : config_(std::move(config)), http_(config_.tls) {}

std::string KubeClient::bearer_token() const {
  if (config_.token_file.empty()) return config_.token;
  std::lock_guard lock(token_mutex_);
  auto now = std::chrono::steady_clock::now();
  if (cached_token_.empty() || now - token_read_at_ >= kTokenRefresh) {
    try {
      cached_token_ = trim(util::read_file(config_.token_file));
      token_read_at_ = now;
    } catch (const Error&) {
      // A rotation in progress can briefly leave no file; keep using the last token
      // we had, and fail only when we never had one.
      if (cached_token_.empty()) throw;
    }
  }
  return cached_token_;
}

std::string KubeClient::path(const ResourceType& type, std::string_view ns, std::string_view name,
                             std::string_view subresource) const {
  std::string p = config_.server + type.api_prefix;
  if (!ns.empty()) p += "/namespaces/" + net::url_encode(ns);
  p += "/" + type.plural;
  if (!name.empty()) p += "/" + net::url_encode(name);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

net::Request KubeClient::request(std::string method, std::string url) const {
  net::Request req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.headers.push_back({"Accept", "application/json"});
  req.headers.push_back({"User-Agent", "cmop-operator"});
  if (auto token = bearer_token(); !token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
  req.max_redirects = 0;
  return req;
}

namespace {
// Retry-After in seconds (the delta form; an HTTP date is not what an API server sends),
// 0 when absent or unreadable.
int retry_after_of(const net::Response& res) {
  auto text = res.header("Retry-After");
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoi(text);
}
}  // namespace

rapidjson::Document KubeClient::call(net::Request req) const {
  std::string subject = req.method + " " + req.url;
  auto res = http_.send(req);
  // 429 means the request was not processed (priority and fairness, or storage still
  // initializing), so even a POST is safe to send again.
  for (int retry = 0; res.status == 429 && retry_after_of(res) > 0 && retry < kMaxRetries; ++retry) {
    std::this_thread::sleep_for(std::chrono::seconds(std::min(retry_after_of(res), kMaxRetryAfterSeconds)));
    res = http_.send(req);
  }
  if (res.status >= 200 && res.status < 300) return parse_json(res.body, subject);
  std::string message, reason;
  if (auto status = util::try_parse_json_object(res.body)) {
    message = str_at(*status, "message");
    reason = str_at(*status, "reason");
  }
  if (message.empty()) message = res.body.substr(0, 300);
  throw KubeApiError(res.status, reason, subject, message, retry_after_of(res));
}

rapidjson::Document KubeClient::get(const ResourceType& type, std::string_view ns, std::string_view name) const {
  return call(request("GET", path(type, ns, name, {})));
}

rapidjson::Document KubeClient::list(const ResourceType& type, std::string_view ns,
                                     std::string_view label_selector) const {
  std::string url = path(type, ns, {}, {});
  if (!label_selector.empty()) url += "?labelSelector=" + net::url_encode(label_selector);
  return call(request("GET", url));
}

rapidjson::Document KubeClient::create(const ResourceType& type, std::string_view ns,
                                       const rapidjson::Value& object) const {
  return call(with_body(request("POST", path(type, ns, {}, {})), "application/json", object));
}

rapidjson::Document KubeClient::update(const ResourceType& type, std::string_view ns, std::string_view name,
                                       const rapidjson::Value& object) const {
  return call(with_body(request("PUT", path(type, ns, name, {})), "application/json", object));
}

rapidjson::Document KubeClient::update_status(const ResourceType& type, std::string_view ns, std::string_view name,
                                              const rapidjson::Value& object) const {
  return call(with_body(request("PUT", path(type, ns, name, "status")), "application/json", object));
}

rapidjson::Document KubeClient::merge_patch(const ResourceType& type, std::string_view ns, std::string_view name,
                                            const rapidjson::Value& patch) const {
  return call(with_body(request("PATCH", path(type, ns, name, {})), "application/merge-patch+json", patch));
}

bool KubeClient::remove(const ResourceType& type, std::string_view ns, std::string_view name) const {
  auto req = request("DELETE", path(type, ns, name, {}));
  req.headers.push_back({"Content-Type", "application/json"});
  // Background propagation: dependents (owner references) are collected by the GC.
  req.body = R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"})";
  try {
    call(std::move(req));
    return true;
  } catch (const KubeApiError& e) {
    if (e.not_found()) return false;
    throw;
  }
}

void KubeClient::watch(const ResourceType& type, std::string_view ns, const WatchOptions& options,
                       const std::function<bool(WatchEvent&)>& on_event) const {
  std::string url = path(type, ns, {}, {}) + "?watch=1";
  if (!options.resource_version.empty()) url += "&resourceVersion=" + net::url_encode(options.resource_version);
  if (options.allow_bookmarks) url += "&allowWatchBookmarks=true";
  url += "&timeoutSeconds=" + std::to_string(options.timeout_seconds);
  if (!options.label_selector.empty()) url += "&labelSelector=" + net::url_encode(options.label_selector);
  auto req = request("GET", url);
  // The server closes the stream after timeoutSeconds; allow a margin before we give up.
  req.timeout = std::chrono::seconds(options.timeout_seconds + 30);
  req.cancelled = options.cancelled;
  WatchStreamDecoder decoder;
  auto res = http_.stream(req, [&](std::string_view chunk) { return decoder.feed(chunk, on_event); });
  if (res.status < 200 || res.status >= 300) {
    std::string body = decoder.unparsed_text();
    auto st = util::try_parse_json_object(body);
    std::string message = st ? str_at(*st, "message") : body.substr(0, 300);
    std::string reason = st ? str_at(*st, "reason") : std::string();
    throw KubeApiError(res.status, reason, "watch " + url, message, retry_after_of(res));
  }
}

}  // namespace cmop::operate
