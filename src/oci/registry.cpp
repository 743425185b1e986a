// The OCI distribution API (distribution-spec v1.1) as far as charts need it,
// and the registry token flow (the "Docker Registry v2 authentication" scheme
// every registry implements: 401 with a Bearer challenge, a token from the realm).
#include "cmop/oci/registry.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <regex>
#include <set>

#include "cmop/error.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/hash.hpp"

namespace cmop::oci {
namespace {

constexpr std::size_t kMaxManifestBytes = 4u << 20;  // distribution's own limit for a manifest
constexpr std::size_t kMaxTagPageBytes = 8u << 20;
constexpr int kMaxTagPages = 200;
constexpr std::size_t kMaxTags = 100000;            // across all pages
constexpr std::size_t kMaxTagBytesTotal = 32u << 20;
// Accept both manifest formats registries hand out for an OCI artifact.
constexpr const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool valid_component(std::string_view c) {
  static const std::regex re("^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*$");
  return std::regex_match(c.begin(), c.end(), re);
}

bool valid_digest(std::string_view d) {
  static const std::regex re("^sha256:[a-f0-9]{64}$");
  return std::regex_match(d.begin(), d.end(), re);
}

std::string sha256_digest(std::string_view bytes) { return "sha256:" + util::sha256_hex(bytes); }

// Short, content-free text of a registry's error answer: its error codes only, so
// nothing a hostile registry writes is reflected back verbatim.
std::string registry_error_codes(const net::Response& res) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
  std::string codes;
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("errors");
    if (it != doc.MemberEnd() && it->value.IsArray())
      for (auto& e : it->value.GetArray()) {
        if (!e.IsObject()) continue;
        auto c = e.FindMember("code");
        if (c == e.MemberEnd() || !c->value.IsString()) continue;
        std::string code = c->value.GetString();
        if (code.size() > 40 || !std::all_of(code.begin(), code.end(), [](char ch) { return std::isupper(static_cast<unsigned char>(ch)) || ch == '_'; }))
          continue;
        codes += (codes.empty() ? "" : ", ") + code;
      }
  }
  return codes;
}

Error status_error(const net::Response& res, const std::string& what, const std::string& action) {
  std::string reason = action + ": HTTP " + std::to_string(res.status);
  if (auto codes = registry_error_codes(res); !codes.empty()) reason += " (" + codes + ")";
  if (res.status == 401) return Error(Errc::unauthorized, what, reason + ": credentials missing or refused");
  // 403 is about this repository (no write access to one package), not the registry.
  if (res.status == 403) return Error(Errc::forbidden, what, reason + ": access to this repository denied");
  if (res.status == 404) return Error(Errc::not_found, what, reason);
  if (res.status == 413) return Error(Errc::too_large, what, reason);
  // Other 4xx refuse this request (an invalid name or manifest), not the registry as a whole.
  if (res.status >= 400 && res.status < 500 && res.status != 429) return Error(Errc::invalid_argument, what, reason);
  return Error(Errc::upstream, what, reason);
}

// The next page of a `Link: <url>; rel="next"` header, or "".
std::string next_link(const std::string& header) {
  // Link: <a>; rel="prev", <b>; rel="next" — look at each link, not just the first.
  std::size_t pos = 0;
  while (true) {
    auto open = header.find('<', pos);
    if (open == std::string::npos) return {};
    auto close = header.find('>', open);
    if (close == std::string::npos) return {};
    auto end = header.find('<', close);
    std::string params = lower(header.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1));
    if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos)
      return header.substr(open + 1, close - open - 1);
    pos = close + 1;
  }
}

constexpr long long kMaxTokenSeconds = 24 * 60 * 60;
// Blob downloads a registry redirects to object storage or a CDN: how many hops.
constexpr int kMaxBlobRedirects = 5;

// host[:port] of an http(s) URL as written, lower-cased, ":80" of http:// dropped;
// userinfo stays, so "http://registry@elsewhere/" never equals a registry host.
std::string realm_authority(const std::string& url) {
  const auto start = url.find("://");
  if (start == std::string::npos) return {};
  std::string a = lower(url.substr(start + 3, url.find_first_of("/?#", start + 3) - (start + 3)));
  if (lower(url.substr(0, 7)) == "http://" && a.size() > 3 && a.compare(a.size() - 3, 3, ":80") == 0)
    a.resize(a.size() - 3);
  return a;
}

// For messages: what a peer chose (a realm, a redirect's target), not too long.
std::string clipped(const std::string& text) { return text.size() > 200 ? text.substr(0, 200) + "..." : text; }

std::string scope_for(const std::string& repository, const std::string& method) {
  std::string actions = "pull";
  if (method == "POST" || method == "PUT" || method == "PATCH") actions = "pull,push";
  if (method == "DELETE") actions = "delete";
  return repository.empty() ? "" : "repository:" + repository + ":" + actions;
}

}  // namespace

bool valid_repository_component(std::string_view c) { return valid_component(c); }

bool valid_tag(std::string_view t) {
  static const std::regex re("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$");
  return std::regex_match(t.begin(), t.end(), re);
}

Reference Reference::parse(std::string_view url) {
  const std::string shown(url);
  if (lower(std::string(url.substr(0, 6))) != "oci://")
    throw Error(Errc::invalid_argument, shown, "an OCI reference must start with oci://");
  std::string_view rest = url.substr(6);
  if (rest.find_first_of("?#@ \t\r\n\\") != std::string_view::npos)
    throw Error(Errc::invalid_argument, shown,
                "must be oci://host[:port]/path, without credentials, query or fragment (give credentials separately)");
  Reference ref;
  auto slash = rest.find('/');
  ref.host = lower(std::string(rest.substr(0, slash)));
  static const std::regex host_re("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$|^\\[[0-9a-f:.]+\\](:[0-9]{1,5})?$");
  if (ref.host.empty() || !std::regex_match(ref.host, host_re))
    throw Error(Errc::invalid_argument, shown, "registry host is missing or malformed");
  std::string path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::size_t start = 0;
  while (!path.empty() && start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view component(path.data() + start, end - start);
    if (!valid_component(component))
      throw Error(Errc::invalid_argument, shown,
                  "path component \"" + std::string(component) +
                      "\" is not a valid OCI repository name (lower-case letters, digits, '.', '_', '-'; no tag)");
    start = end + 1;
  }
  ref.path = path;
  return ref;
}

std::string Reference::repository(const std::string& chart) const { return path.empty() ? chart : path + "/" + chart; }

std::string Reference::str() const { return "oci://" + host + (path.empty() ? "" : "/" + path); }

std::string tag_for_version(const std::string& version) {
  std::string t = version;
  std::replace(t.begin(), t.end(), '+', '_');
  return t;
}

std::string version_for_tag(const std::string& tag) {
  std::string v = tag;
  std::replace(v.begin(), v.end(), '_', '+');
  return v;
}

Manifest parse_manifest(std::string body, std::string digest, const std::string& origin) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) throw Error(Errc::upstream, origin, "manifest is not a JSON object");
  auto str = [](const rapidjson::Value& v, const char* key) -> std::string {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  };
  auto descriptor = [&](const rapidjson::Value& v, const std::string& where) {
    if (!v.IsObject()) throw Error(Errc::upstream, origin, where + " is not a descriptor");
    Descriptor d{str(v, "mediaType"), str(v, "digest"), 0};
    auto size = v.FindMember("size");
    if (size != v.MemberEnd() && size->value.IsUint64()) d.size = size->value.GetUint64();
    if (!valid_digest(d.digest)) throw Error(Errc::upstream, origin, where + " has no sha256 digest");
    return d;
  };
  Manifest m;
  m.media_type = str(doc, "mediaType");
  auto config = doc.FindMember("config");
  if (config == doc.MemberEnd()) throw Error(Errc::upstream, origin, "manifest has no config (is it an index?)");
  m.config = descriptor(config->value, "config");
  auto layers = doc.FindMember("layers");
  if (layers == doc.MemberEnd() || !layers->value.IsArray()) throw Error(Errc::upstream, origin, "manifest has no layers");
  for (auto& l : layers->value.GetArray()) m.layers.push_back(descriptor(l, "layer"));
  if (auto a = doc.FindMember("annotations"); a != doc.MemberEnd() && a->value.IsObject())
    for (auto& kv : a->value.GetObject())
      if (kv.value.IsString()) m.annotations[kv.name.GetString()] = kv.value.GetString();
  m.body = std::move(body);
  m.digest = std::move(digest);
  return m;
}

std::optional<Challenge> parse_challenge(std::string_view header) {
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
  };
  skip_ws();
  std::size_t start = i;
  while (i < header.size() && header[i] != ' ' && header[i] != '\t' && header[i] != ',') ++i;
  if (i == start) return std::nullopt;
  Challenge c;
  c.scheme = std::string(header.substr(start, i - start));
  while (i < header.size()) {
    skip_ws();
    if (i < header.size() && header[i] == ',') {
      ++i;
      continue;
    }
    std::size_t key_start = i;
    while (i < header.size() && header[i] != '=' && header[i] != ',' && header[i] != ' ') ++i;
    std::string key = lower(std::string(header.substr(key_start, i - key_start)));
    skip_ws();
    if (i >= header.size() || header[i] != '=') {
      // A new scheme begins (several challenges in one header): the first is enough.
      if (!key.empty()) break;
      continue;
    }
    ++i;
    skip_ws();
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < header.size() && header[i] != ',' && header[i] != ' ') value += header[i++];
    }
    if (!key.empty()) c.params[key] = value;
  }
  return c;
}

struct RegistryClient::Impl {
  ClientOptions options;
  net::HttpClient http;
  std::atomic<std::uint64_t> sent{0};

  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mu;
  std::map<std::string, Token> tokens;  // host \n user \n scope -> token
  std::set<std::string> basic_hosts;    // hosts that answered with a Basic challenge

  explicit Impl(ClientOptions o) : options(std::move(o)), http(options.tls, options.peers) {
    // A push or pull is a run of small requests to one registry: one connection
    // (and TLS handshake) for them all.
    http.enable_keep_alive();
  }

  bool plain(const std::string& host) const {
    return std::find(options.plain_http_hosts.begin(), options.plain_http_hosts.end(), host) !=
           options.plain_http_hosts.end();
  }
  std::string base(const std::string& host) const { return (plain(host) ? "http://" : "https://") + host; }
  // The answer came from the registry itself, not from a host a redirect led to.
  bool from_registry(const Endpoint& ep, const net::Response& res) const {
    return res.url.empty() || res.url.rfind(base(ep.host) + "/", 0) == 0;
  }

  net::Response raw_send(net::Request req) {
    ++sent;
    return http.send(req);
  }

  // A token is reused only by the same credentials (a hash of them: two resources
  // naming one registry with the same user but different passwords must not share).
  static std::string token_key(const Endpoint& ep, const std::string& scope) {
    return ep.host + "\n" + util::sha256_hex(ep.credentials.username + "\n" + ep.credentials.password) + "\n" + scope;
  }
  std::string basic_header(const Endpoint& ep) const {
    return "Basic " + util::base64_encode(ep.credentials.username + ":" + ep.credentials.password);
  }

  // Sends with whatever authorization is known for the host, and on a 401 runs
  // the challenge it names once: Basic with the endpoint's credentials, or a
  // token from the Bearer realm (anonymous when there are no credentials).
  net::Response send(const Endpoint& ep, net::Request req, const std::string& repository) {
    req.timeout = options.timeout;
    const std::string scope = scope_for(repository, req.method);
    const net::Headers plain_headers = req.headers;
    auto with_auth = [&](const std::string& value) {
      net::Request r = req;
      r.headers = plain_headers;
      if (!value.empty()) r.headers.emplace_back("Authorization", value);
      return r;
    };
    std::string known;
    {
      std::lock_guard lk(mu);
      auto it = tokens.find(token_key(ep, scope));
      if (it != tokens.end() && it->second.expires > std::chrono::steady_clock::now())
        known = "Bearer " + it->second.value;
      else if (basic_hosts.count(ep.host) && !ep.credentials.empty())
        known = basic_header(ep);
    }
    net::Response res = raw_send(with_auth(known));
    if (res.status != 401) return res;
    // A 401 from where a redirect led (object storage) is that host's answer: its
    // challenge must never draw the registry's credentials or a token.
    if (!from_registry(ep, res)) return res;
    auto challenge = parse_challenge(res.header("WWW-Authenticate"));
    if (!challenge) return res;
    const std::string scheme = lower(challenge->scheme);
    if (scheme == "basic") {
      if (ep.credentials.empty()) return res;
      {
        std::lock_guard lk(mu);
        basic_hosts.insert(ep.host);
      }
      return raw_send(with_auth(basic_header(ep)));
    }
    if (scheme != "bearer") return res;
    const std::string token = fetch_token(ep, *challenge, scope);
    return raw_send(with_auth("Bearer " + token));
  }

  std::string fetch_token(const Endpoint& ep, const Challenge& challenge, const std::string& scope) {
    auto param = [&](const char* k) {
      auto it = challenge.params.find(k);
      return it == challenge.params.end() ? std::string() : it->second;
    };
    const std::string realm = param("realm");
    const std::string subject = ep.host + " token";
    const bool https_realm = lower(realm.substr(0, 8)) == "https://";
    const bool http_realm = lower(realm.substr(0, 7)) == "http://";
    // Tokens come over TLS, unless the registry itself was declared plain HTTP.
    if (!https_realm && !(http_realm && plain(ep.host)))
      throw Error(Errc::upstream, subject, "the registry's token realm is not an https:// URL");
    // The registry's credentials go to an https:// realm on any host (Docker Hub's
    // is auth.docker.io), held like every connection to the client's
    // ConnectionPolicy; to a plain-http realm only on the registry's own host:port
    // or on one the operator declared plain HTTP too.
    if (http_realm && !ep.credentials.empty()) {
      const std::string authority = realm_authority(realm);
      const std::string shown = clipped(authority.substr(authority.rfind('@') + 1));  // npos + 1 == 0
      if (authority != lower(ep.host) && !plain_listed(authority))
        throw Error(Errc::unauthorized, subject,
                    "the token realm is plain HTTP on another host or port (" + shown +
                        ") than the registry: the credentials are not sent there (list it in --plain-http-registries "
                        "to allow it)");
    }
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    std::string query;
    if (auto service = param("service"); !service.empty()) query += "service=" + net::url_encode(service);
    // Only the scope this request needs (pull to read, pull,push to push), never
    // the broader one a challenge may name (push,delete for a pull).
    if (!scope.empty()) query += (query.empty() ? "" : "&") + std::string("scope=") + net::url_encode(scope);
    net::Request req;
    req.url = url + query;
    req.timeout = options.timeout;
    req.max_response_body = 1u << 20;
    req.max_redirects = 0;
    if (!ep.credentials.empty()) req.headers.emplace_back("Authorization", basic_header(ep));
    net::Response res = raw_send(req);
    if (res.status == 401 || res.status == 403)
      throw Error(Errc::unauthorized, subject,
                  ep.credentials.empty() ? "the registry wants credentials and none are configured for it"
                                         : "the token endpoint refused the credentials");
    if (res.status != 200) throw status_error(res, subject, "getting a token");
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
    if (doc.HasParseError() || !doc.IsObject()) throw Error(Errc::upstream, subject, "token answer is not JSON");
    std::string token;
    for (const char* k : {"token", "access_token"})
      if (auto it = doc.FindMember(k); it != doc.MemberEnd() && it->value.IsString() && it->value.GetStringLength())
        token = it->value.GetString();
    if (token.empty()) throw Error(Errc::upstream, subject, "token answer has no token");
    long long ttl = 60;  // the spec's default when expires_in is absent
    // At most a day: a huge expires_in (INT64_MAX) would overflow the clock.
    if (auto it = doc.FindMember("expires_in"); it != doc.MemberEnd() && it->value.IsInt64())
      ttl = std::clamp<long long>(it->value.GetInt64(), 1, kMaxTokenSeconds);
    // Renewed a little early so a token never expires between check and use.
    auto expires = std::chrono::steady_clock::now() + std::chrono::seconds(ttl > 20 ? ttl - 10 : ttl / 2);
    std::lock_guard lk(mu);
    tokens[token_key(ep, scope)] = Token{token, expires};
    return token;
  }

  // GET or HEAD of a blob. Registries redirect these to object storage or a CDN
  // (S3, GCS, Docker Hub's Cloudflare), on another host: the HTTP client follows
  // up to kMaxBlobRedirects hops within the request's timeout and size bound, each
  // held to the ConnectionPolicy, with the Authorization header left behind once
  // the origin changes; a 401 from such a host runs no challenge (see send). A
  // failure on a hop names the reference, and the hop only by its URL sans query.
  net::Response blob_call(const Endpoint& ep, const std::string& method, const std::string& repository,
                          const std::string& digest, std::size_t max_body, const std::string& what) {
    try {
      return call(ep, method, "/v2/" + repository + "/blobs/" + digest, repository, {}, {}, max_body,
                  kMaxBlobRedirects);
    } catch (const Error& e) {
      if (e.subject().rfind(base(ep.host) + "/", 0) == 0) throw;
      throw Error(e.code(), what, "following the registry's redirect to " + clipped(e.subject()) + ": " + e.reason());
    }
  }
  // The registry's own answer is judged as any other; one from where it redirected
  // is that host's failure (not a verdict on the credentials or the repository).
  Error blob_error(const Endpoint& ep, const net::Response& res, const std::string& what,
                   const std::string& action) const {
    if (from_registry(ep, res)) return status_error(res, what, action);
    const std::string storage = clipped(res.url.substr(0, res.url.find('?')));
    return Error(Errc::upstream, what,
                 action + ": HTTP " + std::to_string(res.status) + " from " + storage + " (where the registry redirected)");
  }

  bool plain_listed(const std::string& authority) const {
    return std::any_of(options.plain_http_hosts.begin(), options.plain_http_hosts.end(),
                       [&](const std::string& h) { return lower(h) == authority; });
  }

  net::Response call(const Endpoint& ep, const std::string& method, const std::string& path,
                     const std::string& repository, net::Headers headers = {}, std::string body = {},
                     std::size_t max_body = 1u << 20, int max_redirects = 0) {
    net::Request req;
    req.method = method;
    req.url = path.rfind("http", 0) == 0 ? path : base(ep.host) + path;
    req.headers = std::move(headers);
    req.body = std::move(body);
    req.max_response_body = max_body;
    req.max_redirects = max_redirects;
    return send(ep, std::move(req), repository);
  }
};

RegistryClient::RegistryClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RegistryClient::~RegistryClient() = default;

std::uint64_t RegistryClient::requests_sent() const { return impl_->sent.load(); }
std::uint64_t RegistryClient::connections_opened() const { return impl_->http.connections_opened(); }
void RegistryClient::close_idle_connections() { impl_->http.close_idle(); }

std::vector<std::string> RegistryClient::tags(const Endpoint& ep, const std::string& repository) {
  const std::string what = "oci://" + ep.host + "/" + repository;
  std::vector<std::string> out;
  std::size_t total_bytes = 0;
  std::string path = "/v2/" + repository + "/tags/list?n=" + std::to_string(impl_->options.tag_page_size);
  for (int page = 0; !path.empty(); ++page) {
    if (page >= kMaxTagPages)
      throw Error(Errc::too_large, what, "more than " + std::to_string(kMaxTagPages) + " pages of tags");
    net::Response res = impl_->call(ep, "GET", path, repository, {{"Accept", "application/json"}}, {}, kMaxTagPageBytes);
    if (res.status != 200) throw status_error(res, what, "listing tags");
    total_bytes += res.body.size();
    if (total_bytes > kMaxTagBytesTotal)
      throw Error(Errc::too_large, what, "the tag list is larger than " + std::to_string(kMaxTagBytesTotal >> 20) + " MiB");
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
    if (doc.HasParseError() || !doc.IsObject()) throw Error(Errc::upstream, what, "tag list is not a JSON object");
    if (auto it = doc.FindMember("tags"); it != doc.MemberEnd() && it->value.IsArray())
      for (auto& t : it->value.GetArray())
        if (t.IsString()) out.emplace_back(t.GetString(), t.GetStringLength());
    if (out.size() > kMaxTags) throw Error(Errc::too_large, what, "more than " + std::to_string(kMaxTags) + " tags");
    std::string next = next_link(res.header("Link"));
    if (next.empty()) break;
    path = net::resolve_url(impl_->base(ep.host) + "/", next);
    // Pages stay on the registry: a Link elsewhere would carry our token away.
    if (path.rfind(impl_->base(ep.host) + "/", 0) != 0)
      throw Error(Errc::upstream, what, "tag list pagination points to another host");
  }
  return out;
}

std::optional<std::string> RegistryClient::resolve(const Endpoint& ep, const std::string& repository,
                                                   const std::string& reference) {
  const std::string what = "oci://" + ep.host + "/" + repository + ":" + reference;
  net::Response res = impl_->call(ep, "HEAD", "/v2/" + repository + "/manifests/" + reference, repository,
                                  {{"Accept", kManifestAccept}});
  if (res.status == 404) return std::nullopt;
  if (res.status != 200) throw status_error(res, what, "resolving the tag");
  std::string digest = res.header("Docker-Content-Digest");
  if (valid_digest(digest)) return digest;
  auto m = manifest(ep, repository, reference);
  if (!m) return std::nullopt;
  return m->digest;
}

std::optional<Manifest> RegistryClient::manifest(const Endpoint& ep, const std::string& repository,
                                                 const std::string& reference) {
  const std::string what = "oci://" + ep.host + "/" + repository + (reference.rfind("sha256:", 0) == 0 ? "@" : ":") + reference;
  net::Response res = impl_->call(ep, "GET", "/v2/" + repository + "/manifests/" + reference, repository,
                                  {{"Accept", kManifestAccept}}, {}, kMaxManifestBytes);
  if (res.status == 404) return std::nullopt;
  if (res.status != 200) throw status_error(res, what, "fetching the manifest");
  std::string digest = sha256_digest(res.body);
  if (reference.rfind("sha256:", 0) == 0 && digest != reference)
    throw Error(Errc::upstream, what, "manifest digest mismatch: asked for " + reference + ", got " + digest);
  return parse_manifest(std::move(res.body), digest, what);
}

std::string RegistryClient::blob(const Endpoint& ep, const std::string& repository, const std::string& digest,
                                 std::uint64_t max_bytes) {
  const std::string what = "oci://" + ep.host + "/" + repository + "@" + digest;
  if (!valid_digest(digest)) throw Error(Errc::upstream, what, "not a sha256 digest");
  net::Response res = impl_->blob_call(ep, "GET", repository, digest, static_cast<std::size_t>(max_bytes), what);
  if (res.status != 200) throw impl_->blob_error(ep, res, what, "downloading the blob");
  const std::string actual = sha256_digest(res.body);
  if (actual != digest)
    throw Error(Errc::upstream, what, "digest mismatch: the manifest says " + digest + ", the registry sent " + actual);
  return std::move(res.body);
}

bool RegistryClient::has_blob(const Endpoint& ep, const std::string& repository, const std::string& digest) {
  const std::string what = "oci://" + ep.host + "/" + repository + "@" + digest;
  net::Response res = impl_->blob_call(ep, "HEAD", repository, digest, 1u << 20, what);
  if (res.status == 200) return true;
  if (res.status == 404) return false;
  throw impl_->blob_error(ep, res, what, "checking for the blob");
}

void RegistryClient::push_blob(const Endpoint& ep, const std::string& repository, const std::string& bytes,
                               const std::string& digest) {
  const std::string what = "oci://" + ep.host + "/" + repository;
  net::Response started = impl_->call(ep, "POST", "/v2/" + repository + "/blobs/uploads/", repository);
  if (started.status != 202) throw status_error(started, what, "starting a blob upload");
  std::string location = started.header("Location");
  if (location.empty()) throw Error(Errc::upstream, what, "blob upload answer has no Location");
  location = net::resolve_url(impl_->base(ep.host) + "/", location);
  if (location.rfind(impl_->base(ep.host) + "/", 0) != 0)
    throw Error(Errc::upstream, what, "blob upload location points to another host");
  location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + net::url_encode(digest);
  net::Response done = impl_->call(ep, "PUT", location, repository, {{"Content-Type", "application/octet-stream"}}, bytes);
  if (done.status != 201) throw status_error(done, what, "uploading blob " + digest);
}

std::string RegistryClient::push_manifest(const Endpoint& ep, const std::string& repository, const std::string& tag,
                                          const std::string& body, const std::string& media_type) {
  const std::string what = "oci://" + ep.host + "/" + repository + ":" + tag;
  net::Response res = impl_->call(ep, "PUT", "/v2/" + repository + "/manifests/" + tag, repository,
                                  {{"Content-Type", media_type}}, body);
  if (res.status != 201 && res.status != 200) throw status_error(res, what, "pushing the manifest");
  return sha256_digest(body);
}

void RegistryClient::delete_manifest(const Endpoint& ep, const std::string& repository, const std::string& digest) {
  const std::string what = "oci://" + ep.host + "/" + repository + "@" + digest;
  net::Response res = impl_->call(ep, "DELETE", "/v2/" + repository + "/manifests/" + digest, repository);
  if (res.status == 202 || res.status == 200 || res.status == 204) return;
  if (res.status == 405 || (res.status == 400 && registry_error_codes(res).find("UNSUPPORTED") != std::string::npos))
    throw Error(Errc::forbidden, what,
                "the registry does not allow deleting manifests (CNCF Distribution: storage.delete.enabled)");
  throw status_error(res, what, "deleting the manifest");
}

void RegistryClient::ping(const Endpoint& ep) {
  net::Response res = impl_->call(ep, "GET", "/v2/", "");
  if (res.status != 200) throw status_error(res, "oci://" + ep.host, "checking the registry (GET /v2/)");
}

}  // namespace cmop::oci
