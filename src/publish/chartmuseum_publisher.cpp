// Publishing to a ChartMuseum server through its chart manipulation API
// (POST /api[/tenant]/charts, DELETE /api[/tenant]/charts/<name>/<version>).
#include <rapidjson/document.h>

#include <chrono>
#include <string>
#include <utility>

#include "cmop/error.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/base64.hpp"

namespace cmop::publish {

namespace {

constexpr std::size_t kMaxAnswerBytes = 1u << 20;

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

class ChartMuseumPublisher final : public Publisher {
 public:
  explicit ChartMuseumPublisher(ChartMuseumOptions options)
      : options_(std::move(options)), client_(options_.tls) {
    if (options_.upload_timeout.count() <= 0 || options_.request_timeout.count() <= 0)
      throw Error(Errc::invalid_argument, options_.url, "ChartMuseum timeouts must be positive");
    base_url_ = options_.url;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    if (base_url_.rfind("http://", 0) != 0 && base_url_.rfind("https://", 0) != 0)
      throw Error(Errc::invalid_argument, options_.url, "ChartMuseum URL must start with http:// or https://");
    // Each tenant segment is encoded on its own so "org/repo" keeps its slash.
    std::string tenant = trim_slashes(options_.tenant_path);
    api_url_ = base_url_ + "/api";
    std::size_t start = 0;
    while (start < tenant.size()) {
      std::size_t end = tenant.find('/', start);
      if (end == std::string::npos) end = tenant.size();
      std::string segment = tenant.substr(start, end - start);
      if (segment.empty() || segment == "." || segment == "..")
        throw Error(Errc::invalid_argument, options_.tenant_path, "invalid ChartMuseum tenant path segment");
      api_url_ += "/" + net::url_encode(segment);
      start = end + 1;
    }
    api_url_ += "/charts";
  }

  void publish(const package::Package& pkg, bool replace) override {
    const std::string chart = pkg.metadata.name + "-" + pkg.metadata.version;
    net::Request req;
    req.method = "POST";
    req.url = api_url_ + (replace ? "?force=true" : "");
    req.headers = auth_headers();
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.body = pkg.bytes;
    req.timeout = options_.upload_timeout;
    req.max_response_body = kMaxAnswerBytes;
    req.max_redirects = 0;
    net::Response res = send(req, "uploading " + chart);
    if (res.status == 201 || res.status == 200) return;
    // The same bytes are already there (a sidecar that lost its state, or an
    // upload whose answer was lost): nothing to replace, so that is success.
    if (res.status == 409 && !pkg.digest.empty() && stored_digest(pkg.metadata.name, pkg.metadata.version) == pkg.digest) return;
    if (res.status == 409)
      throw Error(Errc::conflict, req.url,
                  "uploading " + chart + ": HTTP 409: " + answer_message(res) +
                      (replace ? " (the server refuses ?force: --disable-force-overwrite)" : ""));
    throw status_error(res, req.url, "uploading " + chart);
  }

  void remove(const std::string& name, const std::string& version) override {
    const std::string chart = name + "-" + version;
    net::Request req = chart_version_request("DELETE", name, version);
    net::Response res = send(req, "deleting " + chart);
    if (res.status == 200 || res.status == 202 || res.status == 204) return;
    if (res.status == 404) {
      // A missing chart is 404 with the storage backend's message; the router's
      // own {"error":"not found"} means there is no DELETE route at all
      // (--disable-delete / --disable-api), which must not pass as success.
      std::string message = answer_message(res);
      if (message == "not found")
        throw Error(Errc::upstream, req.url,
                    "deleting " + chart +
                        ": HTTP 404: not found (the server has no delete route; is ChartMuseum running "
                        "with --disable-delete or --disable-api?)");
      return;
    }
    throw status_error(res, req.url, "deleting " + chart);
  }

  void probe() override {
    net::Request req;
    req.url = base_url_ + "/health";
    req.headers = auth_headers();
    req.timeout = options_.request_timeout;
    req.max_response_body = kMaxAnswerBytes;
    net::Response res = send(req, "health check");
    if (res.status != 200) throw status_error(res, req.url, "health check");
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

  // Digest ChartMuseum holds for name+version, or "" when it cannot tell.
  std::string stored_digest(const std::string& name, const std::string& version) {
    net::Request req = chart_version_request("GET", name, version);
    net::Response res;
    try {
      res = send(req, "describing " + name + "-" + version);
    } catch (const Error&) {
      return {};
    }
    if (res.status != 200) return {};
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
    if (doc.HasParseError() || !doc.IsObject()) return {};
    auto it = doc.FindMember("digest");
    if (it == doc.MemberEnd() || !it->value.IsString()) return {};
    return it->value.GetString();
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

  static Error status_error(const net::Response& res, const std::string& url, const std::string& action) {
    std::string reason = action + ": HTTP " + std::to_string(res.status) + ": " + answer_message(res);
    if (res.status == 401 || res.status == 403) return Error(Errc::unauthorized, url, reason);
    if (res.status == 413) return Error(Errc::too_large, url, reason);
    return Error(Errc::upstream, url, reason);
  }

  ChartMuseumOptions options_;
  net::HttpClient client_;
  std::string base_url_;
  std::string api_url_;
};

}  // namespace

std::unique_ptr<Publisher> make_chartmuseum_publisher(ChartMuseumOptions options) {
  return std::make_unique<ChartMuseumPublisher>(std::move(options));
}

}  // namespace cmop::publish
