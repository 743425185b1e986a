#include "cmop/serve/request.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cctype>
#include <map>
#include <optional>
#include <utility>

#include "cmop/error.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/names.hpp"

namespace cmop::serve {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus_is_space` for form values.
std::string percent_decode(std::string_view in, bool plus_is_space, const std::string& what) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        throw Error(Errc::invalid_argument, what, "invalid percent-encoding at offset " + std::to_string(i));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

rapidjson::Document parse_json_object(std::string_view body) {
  rapidjson::Document doc;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw Error(Errc::invalid_argument, "request body", "is empty; a JSON object is required");
  // Iterative: the default parser recurses once per nesting level, and a body of
  // nothing but '[' (well within the size limit) overflowed the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError())
    throw Error(Errc::invalid_argument, "request body",
                "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
  if (!doc.IsObject()) throw Error(Errc::invalid_argument, "request body", "must be a JSON object");
  return doc;
}

std::optional<std::string> optional_string(const rapidjson::Value& obj, const char* field, const std::string& where) {
  auto it = obj.FindMember(field);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsString())
    throw Error(Errc::invalid_argument, where + "field \"" + field + "\"", "must be a string");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string required_string(const rapidjson::Value& obj, const char* field, const std::string& where) {
  auto v = optional_string(obj, field, where);
  if (!v || v->empty()) throw Error(Errc::invalid_argument, where + "field \"" + field + "\"", "is required");
  return *v;
}

// application/x-www-form-urlencoded; a repeated key keeps its last value.
std::map<std::string, std::string> parse_form(std::string_view body, const std::string& what = "form body") {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto amp = body.find('&', start);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(start, amp - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string key = percent_decode(pair.substr(0, eq), true, what);
      std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true, what);
      out[key] = value;
    }
    start = amp + 1;
  }
  return out;
}

bool is_form(std::string_view content_type) {
  std::string lower;
  for (char c : content_type.substr(0, content_type.find(';')))
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!lower.empty() && lower.back() == ' ') lower.pop_back();
  return lower == "application/x-www-form-urlencoded";
}

// Bounds for the free-text fields of a request: long enough for any real URL, ref
// or path, short enough that nothing downstream (state files, logs, git) has to
// cope with megabytes in one field.
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::size_t kMaxRefBytes = 1024;
constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxOwnerBytes = 512;

void require_length(const std::string& value, const std::string& field, std::size_t max) {
  if (value.size() > max)
    throw Error(Errc::invalid_argument, field, "longer than " + std::to_string(max) + " bytes");
}

deps::NamedRepository named_repository(const rapidjson::Value& obj, const std::string& where) {
  deps::NamedRepository repo;
  repo.name = required_string(obj, "name", where);
  require_name("dependency name", repo.name);
  repo.url = required_string(obj, "url", where);
  require_length(repo.url, where + "field \"url\"", kMaxUrlBytes);
  repo.username = optional_string(obj, "username", where).value_or("");
  repo.password = optional_string(obj, "password", where).value_or("");
  repo.mirror_of = optional_string(obj, "mirrorOf", where).value_or("");
  return repo;
}

// POST /repo/new's "mirror" (an upstream chart repository's URL) and "charts"
// ([{name, versions}]); an empty spec when "mirror" is absent.
upstream::UpstreamSpec mirror_request(const rapidjson::Value& doc, const std::string& where) {
  upstream::UpstreamSpec u;
  u.url = optional_string(doc, "mirror", where).value_or("");
  auto charts = doc.FindMember("charts");
  const bool has_charts = charts != doc.MemberEnd() && !charts->value.IsNull();
  if (u.url.empty()) {
    if (has_charts) throw Error(Errc::invalid_argument, where + "field \"charts\"", "is for a mirror (field \"mirror\")");
    return u;
  }
  require_length(u.url, where + "field \"mirror\"", kMaxUrlBytes);
  if (auto prune = doc.FindMember("prune"); prune != doc.MemberEnd() && !prune->value.IsNull()) {
    if (!prune->value.IsBool()) throw Error(Errc::invalid_argument, where + "field \"prune\"", "must be a boolean");
    u.prune = prune->value.GetBool();
  }
  if (!has_charts) return u;
  if (!charts->value.IsArray())
    throw Error(Errc::invalid_argument, where + "field \"charts\"", "must be an array of {name, versions}");
  std::size_t i = 0;
  for (auto& c : charts->value.GetArray()) {
    const std::string at = where + "charts[" + std::to_string(i++) + "] ";
    if (!c.IsObject()) throw Error(Errc::invalid_argument, at, "must be an object {name, versions}");
    upstream::ChartSelection selection{required_string(c, "name", at), optional_string(c, "versions", at).value_or("")};
    require_length(selection.name, at + "field \"name\"", kMaxPathBytes);
    require_length(selection.versions, at + "field \"versions\"", kMaxRefBytes);
    u.charts.push_back(std::move(selection));
  }
  return u;
}

}  // namespace

std::string echoed_input(std::string_view input, std::size_t max) {
  if (input.size() <= max) return std::string(input);
  // Not within a UTF-8 sequence: back up over continuation bytes.
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xC0) == 0x80) --cut;
  return std::string(input.substr(0, cut)) + "\u2026";
}

void require_name(std::string_view what, std::string_view name) {
  if (!util::is_dns1123_label(name))
    throw Error(Errc::invalid_argument, std::string(what) + " \"" + echoed_input(name) + "\"",
                "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or "
                "digit, at most 63 characters");
}

Route route_request(std::string_view method, std::string_view target, bool serve_local_repo) {
  Route r;
  r.path = std::string(target.substr(0, target.find('?')));
  if (r.path.empty() || r.path.front() != '/')
    throw Error(Errc::invalid_argument, "request target \"" + echoed_input(target) + "\"", "must be an absolute path");
  std::size_t start = 1;
  while (start <= r.path.size()) {
    auto slash = r.path.find('/', start);
    if (slash == std::string::npos) slash = r.path.size();
    r.segments.push_back(percent_decode(std::string_view(r.path).substr(start, slash - start), false,
                                        "request path \"" + echoed_input(r.path) + "\""));
    start = slash + 1;
  }
  if (!r.segments.empty() && r.segments.back().empty()) r.segments.pop_back();  // "/repo/" == "/repo"
  for (auto& s : r.segments)
    if (s == "." || s == "..")
      throw Error(Errc::invalid_argument, "request path \"" + echoed_input(r.path) + "\"",
                  "must not contain '.' or '..' segments");

  const auto& seg = r.segments;
  auto set = [&](Endpoint e, const char* allow) {
    r.endpoint = e;
    r.allow = allow;
  };
  if (seg.size() == 1 && seg[0] == "healthz") set(Endpoint::healthz, "GET, HEAD");
  else if (seg.size() == 1 && seg[0] == "readyz") set(Endpoint::readyz, "GET, HEAD");
  else if (seg.size() == 1 && seg[0] == "metrics") set(Endpoint::metrics, "GET, HEAD");
  else if (seg.size() == 1 && seg[0] == "repo") set(Endpoint::repos, "GET, HEAD");
  else if (seg.size() == 2 && seg[0] == "repo" && seg[1] == "dependency") set(Endpoint::dependency, "GET, HEAD, POST");
  else if (seg.size() == 2 && seg[0] == "repo" && seg[1] == "new") set(Endpoint::new_repo, "POST");
  else if (seg.size() == 2 && seg[0] == "repo") set(Endpoint::repo, "GET, HEAD, DELETE");
  else if (seg.size() == 3 && seg[0] == "repo" && seg[2] == "update") set(Endpoint::update, "GET, POST");
  else if (seg.size() == 2 && seg[0] == "hooks") set(Endpoint::hook, "POST");
  else if (seg.size() == 1 && seg[0] == "syncs") set(Endpoint::syncs, "GET, HEAD");
  else if (serve_local_repo && seg.size() == 2 && seg[0] == "charts" && seg[1] == "index.yaml")
    set(Endpoint::charts_index, "GET, HEAD");
  else if (serve_local_repo && seg.size() == 2 && seg[0] == "charts") set(Endpoint::chart_file, "GET, HEAD");

  if (r.endpoint == Endpoint::repo || r.endpoint == Endpoint::update || r.endpoint == Endpoint::chart_file ||
      r.endpoint == Endpoint::hook)
    r.subject = seg[1];
  if (r.endpoint != Endpoint::none) {
    std::string allowed = ", " + r.allow + ",";
    r.method_allowed = allowed.find(", " + std::string(method) + ",") != std::string::npos;
  }
  // GET /repo/{name}/update is a mutation too: `cmop trigger` and CronJobs use GET.
  // A webhook is authenticated by its provider's signature instead (git hosts send no bearer token).
  r.mutation = (method == "POST" || method == "DELETE" || r.endpoint == Endpoint::update) && r.endpoint != Endpoint::hook;
  return r;
}

bool bearer_authorized(std::string_view header, std::string_view expected_token) {
  if (expected_token.empty()) return true;
  // RFC 7235: the scheme is case-insensitive.
  if (header.size() < 7) return false;
  std::string scheme(header.substr(0, 7));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return false;
  std::string_view presented = header.substr(7);
  while (!presented.empty() && (presented.front() == ' ' || presented.front() == '\t')) presented.remove_prefix(1);
  while (!presented.empty() && (presented.back() == ' ' || presented.back() == '\t')) presented.remove_suffix(1);
  return util::secrets_equal(presented, expected_token);
}

deps::NamedRepository parse_dependency_request(std::string_view content_type, std::string_view body) {
  if (!is_form(content_type)) return named_repository(parse_json_object(body), "request body ");
  auto form = parse_form(body);
  auto field = [&](const char* key) {
    auto it = form.find(key);
    return it == form.end() ? std::string() : it->second;
  };
  deps::NamedRepository repo;
  repo.name = field("name");
  repo.url = field("addr").empty() ? field("url") : field("addr");
  repo.username = field("username");
  repo.password = field("password");
  repo.mirror_of = field("mirrorOf");
  if (repo.name.empty()) throw Error(Errc::invalid_argument, "form field \"name\"", "is required");
  require_name("dependency name", repo.name);
  if (repo.url.empty()) throw Error(Errc::invalid_argument, "form field \"addr\"", "is required");
  require_length(repo.url, "form field \"addr\"", kMaxUrlBytes);
  return repo;
}

NewRepoRequest parse_new_repo_request(std::string_view body) {
  auto doc = parse_json_object(body);
  const std::string where = "request body ";
  NewRepoRequest out;
  sync::RepoSpec& spec = out.spec;
  spec.name = required_string(doc, "name", where);
  require_name("repo name", spec.name);
  spec.upstream = mirror_request(doc, where);
  if (spec.upstream.empty())
    spec.git = required_string(doc, "git", where);
  else if (!optional_string(doc, "git", where).value_or("").empty())
    throw Error(Errc::invalid_argument, where + "fields \"git\" and \"mirror\"", "name one or the other, not both");
  spec.ref = optional_string(doc, "ref", where).value_or("");
  spec.path = optional_string(doc, "path", where).value_or("");
  spec.owner = optional_string(doc, "owner", where).value_or("");
  require_length(spec.git, where + "field \"git\"", kMaxUrlBytes);
  require_length(spec.ref, where + "field \"ref\"", kMaxRefBytes);
  require_length(spec.path, where + "field \"path\"", kMaxPathBytes);
  require_length(spec.owner, where + "field \"owner\"", kMaxOwnerBytes);
  if (auto policy = optional_string(doc, "versioning", where); policy && !policy->empty()) {
    try {
      spec.versioning = sync::parse_versioning(*policy);
    } catch (const Error& e) {
      throw Error(Errc::invalid_argument, where + "field \"versioning\"", e.reason());
    }
  }
  if (auto it = doc.FindMember("dependencies"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray())
      throw Error(Errc::invalid_argument, where + "field \"dependencies\"", "must be an array of {name, url}");
    std::size_t i = 0;
    for (auto& d : it->value.GetArray()) {
      std::string at = where + "dependencies[" + std::to_string(i++) + "] ";
      if (!d.IsObject()) throw Error(Errc::invalid_argument, at, "must be an object {name, url}");
      spec.dependencies.push_back(named_repository(d, at));
    }
  }
  if (auto it = doc.FindMember("auth"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsObject()) throw Error(Errc::invalid_argument, where + "field \"auth\"", "must be an object");
    std::string at = where + "auth ";
    spec.credentials.username = optional_string(it->value, "username", at).value_or("");
    spec.credentials.password = optional_string(it->value, "password", at).value_or("");
    out.ssh_private_key = optional_string(it->value, "sshPrivateKey", at).value_or("");
    spec.credentials.ssh_passphrase = optional_string(it->value, "sshPassphrase", at).value_or("");
  }
  spec.webhook_secret = optional_string(doc, "webhookSecret", where).value_or("");
  if (auto it = doc.FindMember("suspend"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsBool()) throw Error(Errc::invalid_argument, where + "field \"suspend\"", "must be a boolean");
    spec.suspend = it->value.GetBool();
  }
  if (spec.webhook_secret.size() > 1024)
    throw Error(Errc::invalid_argument, where + "field \"webhookSecret\"", "longer than 1024 bytes");
  if (!out.ssh_private_key.empty() && out.ssh_private_key.back() != '\n') out.ssh_private_key += '\n';
  if (!spec.upstream.empty()) {
    // A mirror's auth is the upstream's, as a dependency repository's is.
    spec.upstream.username = std::exchange(spec.credentials.username, {});
    spec.upstream.password = std::exchange(spec.credentials.password, {});
  }
  return out;
}

std::string query_parameter(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto params = parse_form(target.substr(q + 1), "query string");
  auto it = params.find(std::string(key));
  return it == params.end() ? std::string() : it->second;
}

}  // namespace cmop::serve
