// Publishing to a ChartMuseum server through its chart manipulation API
// (POST /api[/tenant]/charts, DELETE /api[/tenant]/charts/<name>/<version>).
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/url.hpp"

namespace cmop::publish {

namespace {

constexpr std::size_t kMaxAnswerBytes = 1u << 20;
// What the probe reads of an answer: enough for an error's text.
constexpr std::size_t kMaxProbeBytes = 4096;

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  std::size_t first = s.find_first_not_of('/');
  return first == std::string::npos ? std::string() : s.substr(first);
}

// ChartMuseum answers errors as {"error": "..."}; anything else (a proxy's HTML
// page) is quoted, shortened, so the reason still says what the peer said.
std::string answer_message(const net::Response& res) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("error");
    if (it != doc.MemberEnd() && it->value.IsString())
      return std::string(it->value.GetString(), it->value.GetStringLength());
  }
  std::string text = res.body.substr(0, 200);
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (res.body.size() > 200) text += "...";
  return text.empty() ? "(empty body)" : text;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string size_text(std::size_t bytes) {
  if (bytes < (1u << 20)) return std::to_string(bytes) + " bytes";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1u << 20));
  return buf;
}

// ChartMuseum answers 404 for *every* failed delete, with the storage backend's
// error text. Only these texts mean the object is not there (local storage's
// ENOENT, the cloud backends' missing-object errors, Helm's index lookups); a
// 404 saying anything else ("permission denied", "read-only file system", an S3
// access error) is a delete that failed with the chart still published.
bool means_already_gone(const std::string& message) {
  static const char* const kMissing[] = {
      "no such file or directory", "does not exist", "doesn't exist", "nosuchkey", "no such key",
      "object not found", "blobnotfound", "chart not found", "no chart version found",
  };
  const std::string m = lower(message);
  return std::any_of(std::begin(kMissing), std::end(kMissing),
                     [&](const char* text) { return m.find(text) != std::string::npos; });
}

class ChartMuseumPublisher final : public Publisher {
 public:
  explicit ChartMuseumPublisher(ChartMuseumOptions options)
      : options_(std::move(options)), client_(options_.tls) {
    if (options_.upload_timeout.count() <= 0 || options_.request_timeout.count() <= 0)
      throw Error(Errc::invalid_argument, options_.url, "ChartMuseum timeouts must be positive");
    if (options_.conflict_recheck_delay.count() < 0)
      throw Error(Errc::invalid_argument, options_.url, "the conflict re-check delay cannot be negative");
    base_url_ = options_.url;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    if (!util::is_http_url(base_url_))
      throw Error(Errc::invalid_argument, options_.url, "ChartMuseum URL must start with http:// or https://");
    // Each tenant segment is encoded on its own so "org/repo" keeps its slash.
    std::string tenant = trim_slashes(options_.tenant_path);
    api_url_ = base_url_ + "/api";
    repo_url_ = base_url_;
    std::size_t start = 0;
    while (start < tenant.size()) {
      std::size_t end = tenant.find('/', start);
      if (end == std::string::npos) end = tenant.size();
      std::string segment = tenant.substr(start, end - start);
      if (segment.empty() || segment == "." || segment == "..")
        throw Error(Errc::invalid_argument, options_.tenant_path, "invalid ChartMuseum tenant path segment");
      api_url_ += "/" + net::url_encode(segment);
      repo_url_ += "/" + net::url_encode(segment);
      start = end + 1;
    }
    api_url_ += "/charts";
  }

  bool holds(const package::Package& pkg) override {
    if (!pkg.provenance.empty() || pkg.digest.empty()) return false;  // publish() compares the .prov too
    auto listed = listed_digest(pkg.metadata.name, pkg.metadata.version);
    return listed && *listed == pkg.digest;
  }

  void publish(const package::Package& pkg, bool replace) override {
    const std::string chart = pkg.metadata.name + "-" + pkg.metadata.version;
    net::Request req = upload_request(pkg, replace);
    net::Response res = send(req, "uploading " + chart);
    if (res.status == 201 || res.status == 200) return;
    if (res.status == 409) {
      settle_conflict(pkg, replace, res);
      // The same package was there already: its .prov may not be (signed since).
      if (!pkg.provenance.empty()) upload_provenance(pkg, replace);
      return;
    }
    throw upload_error(res, req.url, chart, pkg.bytes.size());
  }

  void remove(const std::string& name, const std::string& version) override {
    const std::string chart = name + "-" + version;
    net::Request req = chart_version_request("DELETE", name, version);
    net::Response res = send(req, "deleting " + chart);
    if (res.status == 200 || res.status == 202 || res.status == 204) return;
    if (res.status == 404) {
      // The router's own {"error":"not found"} means there is no DELETE route at
      // all (--disable-delete / --disable-api), which must not pass as success.
      std::string message = answer_message(res);
      if (message == "not found")
        throw Error(Errc::upstream, req.url,
                    "deleting " + chart +
                        ": HTTP 404: not found (the server has no delete route; is ChartMuseum running "
                        "with --disable-delete or --disable-api?)");
      if (means_already_gone(message)) return;
      throw Error(Errc::upstream, req.url,
                  "deleting " + chart + ": HTTP 404: " + message +
                      " (a storage error, not a missing chart: ChartMuseum answers 404 for every failed "
                      "delete; " + chart + " is still published)");
    }
    throw status_error(res, req.url, "deleting " + chart);
  }

  // /health answers anyone, so it proves nothing about credentials: the probe is
  // an authenticated read of the API (one entry of the tenant's chart list).
  void probe() override {
    net::Request req;
    req.url = api_url_ + "?offset=0&limit=1";
    req.headers = auth_headers();
    req.timeout = options_.request_timeout;
    req.max_redirects = 0;
    const std::string action = "probing the chart API";
    net::Response res;
    std::string head;
    try {
      // The status and the start of an error's text are all that matter: stop
      // reading a (possibly large) chart list after its first bytes.
      res = client_.stream(req, [&](std::string_view chunk) {
        head.append(chunk.substr(0, kMaxProbeBytes - head.size()));
        return head.size() < kMaxProbeBytes;
      });
    } catch (const Error& e) {
      throw Error(e.code(), e.subject().empty() ? req.url : e.subject(), action + ": " + e.reason());
    }
    res.body = std::move(head);
    if (res.status == 200) return;
    if (res.status == 404)
      throw Error(Errc::upstream, req.url,
                  action + ": HTTP 404 (no chart API at this path: is ChartMuseum running with --disable-api, "
                           "or does the tenant path not have --depth segments?)");
    throw status_error(res, req.url, action);
  }

  std::string fetch(const std::string& name, const std::string& version) override {
    // Charts are served at /<tenant>/charts/<file>, next to the API's /api/<tenant>/charts.
    const std::string prefix = "/api";
    std::string url = base_url_ + api_url_.substr(base_url_.size() + prefix.size()) + "/" +
                      net::url_encode(name + "-" + version + ".tgz");
    net::Request req;
    req.url = url;
    req.headers = auth_headers();
    req.timeout = options_.upload_timeout;
    req.max_response_body = 100u << 20;  // Helm's limit for a whole chart
    req.max_redirects = 0;
    net::Response res = send(req, "downloading " + name + "-" + version);
    if (res.status == 404) throw Error(Errc::not_found, url, "downloading " + name + "-" + version + ": HTTP 404");
    if (res.status != 200) throw status_error(res, url, "downloading " + name + "-" + version);
    return std::move(res.body);
  }

  std::string describe() const override {
    std::string tenant = trim_slashes(options_.tenant_path);
    return "chartmuseum " + base_url_ + (tenant.empty() ? "" : " (tenant " + tenant + ")");
  }

 private:
  // A request on /api/charts/{name}/{version}.
  net::Request chart_version_request(const char* method, const std::string& name, const std::string& version) const {
    net::Request req;
    req.method = method;
    req.url = api_url_ + "/" + net::url_encode(name) + "/" + net::url_encode(version);
    req.headers = auth_headers();
    req.timeout = options_.request_timeout;
    req.max_response_body = kMaxAnswerBytes;
    req.max_redirects = 0;
    return req;
  }

  net::Request upload_request(const package::Package& pkg, bool force) const {
    net::Request req;
    req.method = "POST";
    req.url = api_url_ + (force ? "?force=true" : "");
    req.headers = auth_headers();
    if (pkg.provenance.empty()) {
      req.headers.emplace_back("Content-Type", "application/octet-stream");
      req.body = pkg.bytes;
    } else {
      // Package and provenance in one form (fields "chart" and "prov"), as
      // ChartMuseum's POST /api/charts takes them: stored together or not at all.
      const std::string boundary = "cmop-" + util::sha256_hex(pkg.bytes).substr(0, 32);
      req.headers.emplace_back("Content-Type", "multipart/form-data; boundary=" + boundary);
      auto part = [&](const char* field, const std::string& filename, const std::string& type,
                      const std::string& bytes) {
        req.body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" +
                    filename + "\"\r\nContent-Type: " + type + "\r\n\r\n";
        req.body += bytes;
        req.body += "\r\n";
      };
      part("chart", pkg.filename, "application/gzip", pkg.bytes);
      part("prov", pkg.filename + ".prov", "application/pgp-signature", pkg.provenance);
      req.body += "--" + boundary + "--\r\n";
    }
    req.timeout = options_.upload_timeout;
    req.max_response_body = kMaxAnswerBytes;
    req.max_redirects = 0;
    return req;
  }

  // POST /api/prov: the provenance of a package ChartMuseum already stores. 409 is
  // one stored already: signatures are deterministic, so it is this one unless the
  // key changed (then `replace` forces it).
  void upload_provenance(const package::Package& pkg, bool force) {
    const std::string chart = pkg.metadata.name + "-" + pkg.metadata.version;
    net::Request req;
    req.method = "POST";
    req.url = api_url_.substr(0, api_url_.size() - std::string_view("/charts").size()) + "/prov" +
              (force ? "?force=true" : "");
    req.headers = auth_headers();
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.body = pkg.provenance;
    req.timeout = options_.request_timeout;
    req.max_response_body = kMaxAnswerBytes;
    req.max_redirects = 0;
    net::Response res = send(req, "uploading the provenance of " + chart);
    if (res.status == 201 || res.status == 200 || res.status == 409) return;
    throw status_error(res, req.url, "uploading the provenance of " + chart);
  }

  // The refusals of one package; they leave ChartMuseum usable for the others.
  Error upload_error(const net::Response& res, const std::string& url, const std::string& chart,
                     std::size_t bytes) const {
    const std::string what = "uploading " + chart + ": HTTP " + std::to_string(res.status) + ": " + answer_message(res);
    switch (res.status) {
      case 400:  // Helm's loader inside ChartMuseum refused the package (v0.16; older: 500)
        return Error(Errc::invalid_chart, url, what + " (ChartMuseum's chart loader refused the package)");
      case 413:
        return Error(Errc::too_large, url,
                     what + " (the package is " + size_text(bytes) + ", over ChartMuseum's --max-upload-size of " +
                         (options_.max_upload_bytes > 0
                              ? size_text(options_.max_upload_bytes)
                              : size_text(kChartMuseumDefaultMaxUploadBytes) + ", its default") +
                         ")");
      case 507:
        return Error(Errc::too_large, url,
                     what + " (ChartMuseum's --max-storage-objects is reached: delete charts or raise the limit)");
      default: return status_error(res, url, "uploading " + chart);
    }
  }

  // 409: name+version is stored already. The same bytes are success (a sidecar
  // that lost its state, an upload whose answer was lost). ChartMuseum's index
  // lags behind its storage (uploads reach it asynchronously; a restarted server
  // serves its old index cache for a while) and its storage writes are not
  // atomic, so "not in the API" is looked at twice, then at the stored object.
  void settle_conflict(const package::Package& pkg, bool replace, const net::Response& res) {
    const std::string& name = pkg.metadata.name;
    const std::string& version = pkg.metadata.version;
    const std::string chart = name + "-" + version;
    const std::string url = api_url_ + (replace ? "?force=true" : "");
    auto conflict = [&](const std::string& why) {
      return Error(Errc::conflict, url,
                   "uploading " + chart + ": HTTP 409: " + answer_message(res) + ": " + why +
                       (replace ? " (the server refuses ?force: --disable-force-overwrite)" : ""));
    };
    if (pkg.digest.empty()) throw conflict("no digest to compare");
    std::optional<std::string> listed = listed_digest(name, version);
    if (listed && *listed == pkg.digest) return;
    if (!listed) {
      std::this_thread::sleep_for(options_.conflict_recheck_delay);
      listed = listed_digest(name, version);
      if (listed && *listed == pkg.digest) {
        util::log::info("adopted identical chart once ChartMuseum's index caught up",
                        {{"chart", chart}, {"delay_ms", static_cast<long long>(options_.conflict_recheck_delay.count())}});
        return;
      }
    }
    if (listed && !listed->empty())
      throw conflict("ChartMuseum holds " + chart + " with another digest (sha256 " + listed->substr(0, 12) + ")");
    // Not in the index even after the delay: the stored object itself decides.
    // ChartMuseum names the object <name>-<version>.tgz from the package metadata.
    std::optional<std::string> stored =
        stored_object(chart + ".tgz", std::max(pkg.bytes.size(), kChartMuseumDefaultMaxUploadBytes) + (1u << 20));
    if (stored && util::sha256_hex(*stored) == pkg.digest) {
      util::log::info("adopted identical chart that ChartMuseum's index does not list yet", {{"chart", chart}});
      return;
    }
    if (stored && !readable_package(*stored)) {
      // A torn write (ChartMuseum died mid-upload): no chart anybody can install,
      // so it is replaced, once.
      const bool own_prefix = pkg.bytes.compare(0, stored->size(), *stored) == 0;
      util::log::warn("replacing a torn copy that ChartMuseum stores but cannot read",
                      {{"chart", chart}, {"stored_bytes", static_cast<long long>(stored->size())},
                       {"prefix_of_ours", own_prefix}});
      net::Request again = upload_request(pkg, true);
      net::Response retry = send(again, "replacing the torn " + chart);
      if (retry.status == 201 || retry.status == 200) return;
      if (retry.status == 409)
        throw conflict("ChartMuseum stores a torn, unreadable " + chart + ".tgz (" + size_text(stored->size()) +
                       ") and refuses to overwrite it (--disable-force-overwrite): delete it there");
      throw upload_error(retry, again.url, chart, pkg.bytes.size());
    }
    if (stored && !listed)
      throw conflict("ChartMuseum stores another " + chart + ".tgz that its index does not list yet (index lag, " +
                     "re-checked after " + std::to_string(options_.conflict_recheck_delay.count()) + " ms)");
    if (stored) throw conflict("ChartMuseum stores another " + chart + ".tgz; its API could not describe it");
    throw conflict("ChartMuseum's index does not list " + chart + " and its object cannot be read back");
  }

  // Digest the API lists for name+version; nullopt when the API says it has no
  // such version, "" when it cannot tell (an error, an unexpected answer).
  std::optional<std::string> listed_digest(const std::string& name, const std::string& version) {
    net::Request req = chart_version_request("GET", name, version);
    net::Response res;
    try {
      res = send(req, "describing " + name + "-" + version);
    } catch (const Error&) {
      return std::string();
    }
    if (res.status == 404) return std::nullopt;
    if (res.status != 200) return std::string();
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::string();
    auto it = doc.FindMember("digest");
    if (it == doc.MemberEnd() || !it->value.IsString()) return std::string();
    return std::string(it->value.GetString(), it->value.GetStringLength());
  }

  // The stored object as ChartMuseum's storage holds it (GET /<repo>/charts/<file>
  // reads storage, not the index); nullopt when it cannot be had or is larger
  // than `max_bytes` (bounded by what could have been uploaded).
  std::optional<std::string> stored_object(const std::string& filename, std::size_t max_bytes) {
    net::Request req;
    req.url = repo_url_ + "/charts/" + net::url_encode(filename);
    req.headers = auth_headers();
    req.timeout = options_.upload_timeout;
    req.max_response_body = max_bytes;
    req.max_redirects = 0;
    try {
      net::Response res = send(req, "reading back " + filename);
      if (res.status == 200) return std::move(res.body);
    } catch (const Error&) {
    }
    return std::nullopt;
  }

  static bool readable_package(const std::string& bytes) {
    try {
      package::read_tgz(bytes, 5ull << 20, 100ull << 20);
      return true;
    } catch (const Error&) {
      return false;
    }
  }

  net::Headers auth_headers() const {
    net::Headers h;
    if (!options_.bearer_token.empty())
      h.emplace_back("Authorization", "Bearer " + options_.bearer_token);
    else if (!options_.username.empty() || !options_.password.empty())
      h.emplace_back("Authorization", "Basic " + util::base64_encode(options_.username + ":" + options_.password));
    h.emplace_back("Accept", "application/json");
    return h;
  }

  // Network failures keep their category and subject; the reason gains the action.
  net::Response send(const net::Request& req, const std::string& action) const {
    try {
      return client_.send(req);
    } catch (const Error& e) {
      throw Error(e.code(), e.subject().empty() ? req.url : e.subject(), action + ": " + e.reason());
    }
  }

  Error status_error(const net::Response& res, const std::string& url, const std::string& action) const {
    std::string reason = action + ": HTTP " + std::to_string(res.status) + ": " + answer_message(res);
    if (res.status == 401 || res.status == 403) {
      const bool none = options_.bearer_token.empty() && options_.username.empty() && options_.password.empty();
      return Error(Errc::unauthorized, url,
                   reason + " (" + std::string(kChartMuseumCredentialsRefused) +
                       (none ? ": cmop has none configured (a basic-auth user and password, or a bearer token)"
                             : " given to cmop: check its basic-auth user and password or bearer token") +
                       ")");
    }
    if (res.status == 413) return Error(Errc::too_large, url, reason);
    return Error(Errc::upstream, url, reason);
  }

  ChartMuseumOptions options_;
  net::HttpClient client_;
  std::string base_url_;
  std::string api_url_;   // <base>/api[/tenant]/charts
  std::string repo_url_;  // <base>[/tenant]: index.yaml and charts/<file>
};

}  // namespace

std::unique_ptr<Publisher> make_chartmuseum_publisher(ChartMuseumOptions options) {
  return std::make_unique<ChartMuseumPublisher>(std::move(options));
}

}  // namespace cmop::publish
