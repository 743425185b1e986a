// Repository forms and Helm's URL comparison (pkg/downloader/manager.go
// resolveRepoNames, urlutil.Equal), plus cmop's mirrors and `self`.
#include "deps/dependency_location.hpp"

#include <algorithm>

#include "cmop/error.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/url.hpp"

namespace cmop::deps::detail {

namespace {

// Helm's urlutil.Equal: the same URL up to a trailing slash and the case of
// scheme and host.
std::string normalized_url(const std::string& url) {
  std::string t = trim_trailing_slash(url);
  auto scheme_end = t.find("://");
  if (scheme_end == std::string::npos) return t;
  auto host_end = t.find_first_of("/?#", scheme_end + 3);
  if (host_end == std::string::npos) host_end = t.size();
  return lower(t.substr(0, host_end)) + t.substr(host_end);
}

bool same_url(const std::string& a, const std::string& b) { return normalized_url(a) == normalized_url(b); }

// The host of an oci:// URL ("" when it is not one).
std::string oci_host(const std::string& url) {
  if (!is_oci(url)) return {};
  try {
    return oci::Reference::parse(url).host;
  } catch (const Error&) {
    return {};
  }
}

Remote remote_of(const NamedRepository& r) {
  return Remote{r.url, r.username, r.password, r.url == kSelfRepositoryUrl, is_oci(r.url)};
}

// Registries authenticate per host, as `helm registry login` does; of several
// registered on one host, the one whose path is the longest prefix of ours.
Remote oci_remote(const std::string& url, const std::vector<NamedRepository>& repositories,
                  const std::string& subject) {
  try {
    oci::Reference::parse(url);
  } catch (const Error& e) {
    throw Error(Errc::dependency, subject, e.reason());
  }
  Remote remote{url, {}, {}, false, true};
  const oci::Reference wanted = oci::Reference::parse(url);
  std::size_t best = 0;
  bool found = false;
  for (const auto& r : repositories) {
    if (!r.mirror_of.empty() || oci_host(r.url) != wanted.host) continue;
    const std::string path = oci::Reference::parse(r.url).path;
    const bool prefix = path.empty() || wanted.path == path || wanted.path.rfind(path + "/", 0) == 0;
    if (!prefix || (found && path.size() < best)) continue;
    remote.username = r.username;
    remote.password = r.password;
    best = path.size();
    found = true;
  }
  return remote;
}

Remote http_remote(const std::string& url, const std::vector<NamedRepository>& repositories) {
  Remote remote{url, {}, {}, false, false};
  for (const auto& r : repositories)
    if (r.mirror_of.empty() && same_url(r.url, url)) {
      remote.username = r.username;
      remote.password = r.password;
      break;
    }
  return remote;
}

}  // namespace

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string trim_trailing_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string sha256_hex_of(const std::string& digest) {
  return lower(starts_with(digest, "sha256:") ? digest.substr(7) : digest);
}

bool is_oci(const std::string& url) { return lower(url.substr(0, 6)) == "oci://"; }

net::Headers auth_headers(const Remote& remote) {
  if (remote.username.empty() && remote.password.empty()) return {};
  return {{"Authorization", "Basic " + util::base64_encode(remote.username + ":" + remote.password)}};
}

std::optional<Remote> locate(const chart::Dependency& d, const std::vector<NamedRepository>& repositories,
                             const std::string& subject, std::string& recorded) {
  const std::string& repo = d.repository;
  recorded = repo;
  if (repo.empty() || starts_with(repo, "file://")) return std::nullopt;
  std::string url;
  if (starts_with(repo, "@") || starts_with(repo, "alias:")) {
    const std::string name = repo.substr(repo[0] == '@' ? 1 : 6);
    auto it = std::find_if(repositories.begin(), repositories.end(),
                           [&](const NamedRepository& r) { return r.name == name; });
    if (it == repositories.end())
      throw Error(Errc::dependency, subject, "repository " + repo + " is not registered");
    // A named mirror stands for the URL it mirrors.
    if (!it->mirror_of.empty()) {
      recorded = it->mirror_of;
      return remote_of(*it);
    }
    if (it->url == kSelfRepositoryUrl)
      throw Error(Errc::dependency, subject,
                  "repository " + repo + " is cmop's own chart repository; give it a mirrorOf URL to name it by");
    recorded = it->url;
    url = it->url;
  } else {
    if (!util::is_http_url(lower(repo.substr(0, 8))) && !is_oci(repo))  // Helm: any case
      throw Error(Errc::dependency, subject,
                  "repository must be an http(s) or oci:// URL, @name, alias:name or file://path (did you mean @" +
                      repo + "?)");
    url = repo;
  }
  for (const auto& r : repositories)
    if (!r.mirror_of.empty() && same_url(r.mirror_of, url)) return remote_of(r);
  if (is_oci(url)) return oci_remote(url, repositories, subject);
  return http_remote(url, repositories);
}

}  // namespace cmop::deps::detail
