#include "cmop/serve/server.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>

#include "cmop/error.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/names.hpp"
#include "http_server.hpp"
#include "metrics.hpp"
#include "sync_scheduler.hpp"

namespace cmop::serve {
namespace fs = std::filesystem;
namespace log = util::log;
using Clock = std::chrono::steady_clock;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

// --- answers -----------------------------------------------------------------

int status_for(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
    case Errc::invalid_chart: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::conflict: return 409;
    case Errc::too_large: return 413;
    case Errc::git:
    case Errc::network:
    case Errc::upstream:
    case Errc::dependency: return 502;
    case Errc::io:
    case Errc::internal: return 500;
  }
  return 500;
}

HttpResponse error_response(const Error& e) { return json_error(status_for(e.code()), e.what()); }

HttpResponse json_ok(std::string body, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void put(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

template <typename Fill>
std::string json_object(Fill fill) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  fill(w);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

// A repo-level failure (clone/fetch, publish target down) carries no error
// category in the report; both are failures of a peer, hence 502.
HttpResponse report_response(const sync::SyncReport& report) {
  std::string body = sync::report_to_json(report);
  if (report.error.empty()) return json_ok(std::move(body));
  std::string wrapped = json_object([&](JsonWriter& w) { put(w, "error", report.error); });
  wrapped.pop_back();  // reopen the object to splice the report in verbatim
  wrapped += ",\"report\":" + body + "}";
  return json_ok(std::move(wrapped), 502);
}

std::string sync_result(const sync::SyncReport& report) {
  if (!report.error.empty()) return "error";
  return report.ok() ? "success" : "partial";
}

// --- request parsing -----------------------------------------------------------

struct Route {
  std::vector<std::string> segments;  // percent-decoded
  std::string path;                   // as sent, without the query
};

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

Route parse_target(const std::string& target) {
  Route r;
  r.path = target.substr(0, target.find('?'));
  if (r.path.empty() || r.path.front() != '/')
    throw Error(Errc::invalid_argument, "request target \"" + target + "\"", "must be an absolute path");
  std::size_t start = 1;
  while (start <= r.path.size()) {
    auto slash = r.path.find('/', start);
    if (slash == std::string::npos) slash = r.path.size();
    r.segments.push_back(percent_decode(std::string_view(r.path).substr(start, slash - start), false,
                                        "request path \"" + r.path + "\""));
    start = slash + 1;
  }
  if (!r.segments.empty() && r.segments.back().empty()) r.segments.pop_back();  // "/repo/" == "/repo"
  for (auto& s : r.segments)
    if (s == "." || s == "..")
      throw Error(Errc::invalid_argument, "request path \"" + r.path + "\"", "must not contain '.' or '..' segments");
  return r;
}

rapidjson::Document parse_json_object(const std::string& body) {
  rapidjson::Document doc;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(Errc::invalid_argument, "request body", "is empty; a JSON object is required");
  doc.Parse(body.data(), body.size());
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

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto amp = body.find('&', start);
    if (amp == std::string::npos) amp = body.size();
    std::string_view pair = std::string_view(body).substr(start, amp - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string key = percent_decode(pair.substr(0, eq), true, "form body");
      std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true, "form body");
      out[key] = value;
    }
    start = amp + 1;
  }
  return out;
}

bool is_form(const std::string& content_type) {
  std::string lower;
  for (char c : content_type.substr(0, content_type.find(';'))) lower += static_cast<char>(std::tolower(c));
  while (!lower.empty() && lower.back() == ' ') lower.pop_back();
  return lower == "application/x-www-form-urlencoded";
}

// Compares digests so that neither the content nor the length of the token leaks
// through timing.
bool constant_time_equal(const std::string& presented, const std::string& expected) {
  std::string a = util::sha256_hex(presented), b = util::sha256_hex(expected);
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// File names a Helm chart repository holds: <name>-<version>.tgz. No separators,
// no leading dot, so nothing outside the repo dir can be named.
bool is_chart_file_name(const std::string& f) {
  if (f.size() < 5 || f.size() > 255 || f.compare(f.size() - 4, 4, ".tgz") != 0) return false;
  if (!std::isalnum(static_cast<unsigned char>(f.front()))) return false;
  if (f.find("..") != std::string::npos) return false;
  for (unsigned char c : f)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '_' && c != '+') return false;
  return true;
}

}  // namespace

// --- the server ----------------------------------------------------------------

struct Server::Impl {
  ServerOptions options;
  std::shared_ptr<publish::Publisher> publisher;
  bool serve_local_repo = false;
  fs::path local_repo_dir;
  std::unique_ptr<sync::Workspace> workspace;
  Metrics metrics;

  std::atomic<bool> ready{false};
  mutable std::mutex probe_mu;  // guards the three below
  std::condition_variable probe_cv;
  bool probe_stop = false;
  std::string not_ready_reason = "publisher not probed yet";
  std::thread prober;

  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<RepoLanes> lanes;
  std::unique_ptr<HttpServer> http;
  bool started = false;
  bool stopped = false;

  explicit Impl(ServerOptions o);
  void stop_prober();
  void probe_until_ready();
  void teardown();

  void handle(HttpRequest req, const Responder& respond);
  bool authorized(const std::string& header) const;

  HttpResponse readiness() const;
  HttpResponse metrics_text() const;
  HttpResponse list_repos() const;
  HttpResponse get_repo(const std::string& name) const;
  HttpResponse list_dependencies() const;
  HttpResponse put_dependency(const HttpRequest& req);
  HttpResponse chart_file(const std::string& file, const std::string& method) const;
  void new_repo(const HttpRequest& req, const Responder& respond);
  void update_repo(const std::string& name, const Responder& respond);
  void delete_repo(const std::string& name, const Responder& respond);

  HttpResponse run_sync(const std::string& repo, const std::function<sync::SyncReport()>& sync_call);
  fs::path ssh_key_dir() const { return options.state_dir / "ssh-keys"; }
  void remove_ssh_keys(const std::string& repo, const std::string& keep) const;
};

Server::Impl::Impl(ServerOptions o) : options(std::move(o)) {
  if (options.workers < 1)
    throw Error(Errc::invalid_argument, "--workers", "must be at least 1, got " + std::to_string(options.workers));
  if (options.io_threads < 1)
    throw Error(Errc::invalid_argument, "io threads", "must be at least 1, got " + std::to_string(options.io_threads));
  if (options.state_dir.empty()) throw Error(Errc::invalid_argument, "--state-dir", "must not be empty");

  try {
    fs::create_directories(options.state_dir);
    if (options.chartmuseum_url.empty()) {
      local_repo_dir = options.local_repo_dir.empty() ? options.state_dir / "charts" : options.local_repo_dir;
      fs::create_directories(local_repo_dir);
      serve_local_repo = true;
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(Errc::io, e.path1().string(), e.code().message());
  }

  if (options.publisher) {
    publisher = options.publisher;
  } else if (!options.chartmuseum_url.empty()) {
    if (options.chartmuseum_url.rfind("http://", 0) != 0 && options.chartmuseum_url.rfind("https://", 0) != 0)
      throw Error(Errc::invalid_argument, "--chartmuseum-url \"" + options.chartmuseum_url + "\"",
                  "must be an http:// or https:// URL");
    publish::ChartMuseumOptions cm;
    cm.url = options.chartmuseum_url;
    cm.tenant_path = options.chartmuseum_tenant;
    cm.username = options.chartmuseum_username;
    cm.password = options.chartmuseum_password;
    cm.bearer_token = options.chartmuseum_token;
    publisher = publish::make_chartmuseum_publisher(std::move(cm));
  } else {
    publisher = publish::make_local_publisher(local_repo_dir.string());
  }

  sync::WorkspaceOptions wo;
  wo.allow_local_git = options.allow_local_git;
  try {
    workspace = std::make_unique<sync::Workspace>(options.state_dir, publisher, wo);
  } catch (const fs::filesystem_error& e) {
    throw Error(Errc::io, e.path1().string(), "loading the state dir: " + e.code().message());
  }

  pool = std::make_unique<WorkerPool>(options.workers);
  lanes = std::make_unique<RepoLanes>(*pool);
  HttpLimits limits{options.max_header_bytes, options.max_body_bytes, options.io_timeout};
  http = std::make_unique<HttpServer>(
      options.listen, limits, [this](HttpRequest req, Responder respond) { handle(std::move(req), respond); },
      [this](const std::string& method, const std::string& target, int status, std::size_t bytes, double seconds,
             const std::string& remote) {
        metrics.record_http(status);
        log::write(status >= 500 ? log::Level::warn : log::Level::info, "http request",
                   {{"method", method},
                    {"path", target.substr(0, target.find('?'))},
                    {"status", status},
                    {"bytes", bytes},
                    {"ms", seconds * 1000.0},
                    {"remote", remote}});
      });
}

void Server::Impl::probe_until_ready() {
  std::string last_logged;
  for (;;) {
    std::string reason;
    try {
      publisher->probe();
      ready = true;
      log::info("publisher reachable; ready", {{"publisher", publisher->describe()}});
      return;
    } catch (const std::exception& e) {
      reason = e.what();
    }
    if (reason != last_logged) {
      log::warn("publisher not reachable; not ready", {{"publisher", publisher->describe()}, {"error", reason}});
      last_logged = reason;
    }
    std::unique_lock lk(probe_mu);
    not_ready_reason = reason;
    if (probe_cv.wait_for(lk, options.probe_interval, [this] { return probe_stop; })) return;
  }
}

void Server::Impl::stop_prober() {
  {
    std::lock_guard lk(probe_mu);
    probe_stop = true;
  }
  probe_cv.notify_all();
  if (prober.joinable()) prober.join();
}

// Order: nothing may answer a request after its connection is gone, and no sync
// may run without its workspace.
void Server::Impl::teardown() {
  stop_prober();
  if (lanes) lanes->abandon_queued(json_error(503, "server: shutting down"));
  if (pool) pool->stop();
  http.reset();
  lanes.reset();
  pool.reset();
  workspace.reset();
}

bool Server::Impl::authorized(const std::string& header) const {
  if (options.token.empty()) return true;
  // RFC 7235: the scheme is case-insensitive.
  if (header.size() < 7) return false;
  std::string scheme = header.substr(0, 7);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return false;
  std::string presented = header.substr(7);
  while (!presented.empty() && (presented.front() == ' ' || presented.front() == '\t')) presented.erase(0, 1);
  while (!presented.empty() && (presented.back() == ' ' || presented.back() == '\t')) presented.pop_back();
  return constant_time_equal(presented, options.token);
}

void Server::Impl::handle(HttpRequest req, const Responder& respond) {
  try {
    Route route = parse_target(req.target);
    const auto& seg = route.segments;
    const std::string& m = req.method;
    bool get = m == "GET" || m == "HEAD";

    // Route table: which methods a path allows, and whether it is a mutation.
    enum class Kind {
      none, healthz, readyz, metrics, repos, dependency, new_repo, repo, update, charts_index, chart_file
    } kind = Kind::none;
    const char* allow = "";
    if (seg.size() == 1 && seg[0] == "healthz") kind = Kind::healthz, allow = "GET, HEAD";
    else if (seg.size() == 1 && seg[0] == "readyz") kind = Kind::readyz, allow = "GET, HEAD";
    else if (seg.size() == 1 && seg[0] == "metrics") kind = Kind::metrics, allow = "GET, HEAD";
    else if (seg.size() == 1 && seg[0] == "repo") kind = Kind::repos, allow = "GET, HEAD";
    else if (seg.size() == 2 && seg[0] == "repo" && seg[1] == "dependency") kind = Kind::dependency, allow = "GET, HEAD, POST";
    else if (seg.size() == 2 && seg[0] == "repo" && seg[1] == "new") kind = Kind::new_repo, allow = "POST";
    else if (seg.size() == 2 && seg[0] == "repo") kind = Kind::repo, allow = "GET, HEAD, DELETE";
    else if (seg.size() == 3 && seg[0] == "repo" && seg[2] == "update") kind = Kind::update, allow = "GET, POST";
    else if (serve_local_repo && seg.size() == 2 && seg[0] == "charts" && seg[1] == "index.yaml")
      kind = Kind::charts_index, allow = "GET, HEAD";
    else if (serve_local_repo && seg.size() == 2 && seg[0] == "charts") kind = Kind::chart_file, allow = "GET, HEAD";

    if (kind == Kind::none) return respond(json_error(404, m + " " + route.path + ": no such endpoint"));
    std::string allowed = std::string(", ") + allow + ",";
    if (allowed.find(", " + m + ",") == std::string::npos) {
      auto r = json_error(405, m + " " + route.path + ": method not allowed (allowed: " + allow + ")");
      r.headers.push_back({"Allow", allow});
      return respond(std::move(r));
    }
    bool mutation = m == "POST" || m == "DELETE" || kind == Kind::update;
    if (mutation && !authorized(req.authorization)) {
      auto r = json_error(401, m + " " + route.path + ": " +
                                   (req.authorization.empty() ? "a bearer token is required"
                                                              : "the bearer token was refused"));
      r.headers.push_back({"WWW-Authenticate",
                           req.authorization.empty() ? "Bearer realm=\"cmop\""
                                                     : "Bearer realm=\"cmop\", error=\"invalid_token\""});
      return respond(std::move(r));
    }

    switch (kind) {
      case Kind::healthz: return respond(json_ok("{\"status\":\"ok\"}"));
      case Kind::readyz: return respond(readiness());
      case Kind::metrics: return respond(metrics_text());
      case Kind::repos: return respond(list_repos());
      case Kind::dependency: return respond(get ? list_dependencies() : put_dependency(req));
      case Kind::new_repo: return new_repo(req, respond);
      case Kind::repo:
        util::require_dns1123_label("repo name", seg[1]);
        if (get) return respond(get_repo(seg[1]));
        return delete_repo(seg[1], respond);
      case Kind::update:
        util::require_dns1123_label("repo name", seg[1]);
        return update_repo(seg[1], respond);
      case Kind::charts_index: return respond(chart_file("index.yaml", m));
      case Kind::chart_file: return respond(chart_file(seg[1], m));
      case Kind::none: break;
    }
    respond(json_error(404, m + " " + route.path + ": no such endpoint"));
  } catch (const Error& e) {
    respond(error_response(e));
  } catch (const std::exception& e) {
    respond(json_error(500, std::string("internal error: ") + e.what()));
  }
}

HttpResponse Server::Impl::readiness() const {
  if (ready) return json_ok("{\"status\":\"ready\"}");
  std::string reason;
  {
    std::lock_guard lk(probe_mu);
    reason = not_ready_reason;
  }
  return json_ok(json_object([&](JsonWriter& w) {
                   put(w, "status", "not ready");
                   put(w, "error", "publisher " + publisher->describe() + ": " + reason);
                 }),
                 503);
}

HttpResponse Server::Impl::metrics_text() const {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics.render(workspace->list().size(), lanes->waiting(), pool->running(), ready);
  return r;
}

HttpResponse Server::Impl::list_repos() const {
  std::string body = "{\"repos\":[";
  bool first = true;
  for (auto& s : workspace->list()) {
    if (!first) body += ',';
    first = false;
    body += sync::state_to_json(s);
  }
  body += "]}";
  return json_ok(std::move(body));
}

HttpResponse Server::Impl::get_repo(const std::string& name) const {
  auto state = workspace->get(name);
  if (!state) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
  return json_ok(sync::state_to_json(*state));
}

HttpResponse Server::Impl::list_dependencies() const {
  return json_ok(json_object([&](JsonWriter& w) {
    w.Key("dependencies");
    w.StartArray();
    for (auto& d : workspace->dependency_repos()) {
      w.StartObject();
      put(w, "name", d.name);
      put(w, "url", d.url);
      w.EndObject();
    }
    w.EndArray();
  }));
}

HttpResponse Server::Impl::put_dependency(const HttpRequest& req) {
  deps::NamedRepository repo;
  if (is_form(req.content_type)) {
    auto form = parse_form(req.body);
    auto field = [&](const char* key) {
      auto it = form.find(key);
      return it == form.end() ? std::string() : it->second;
    };
    repo.name = field("name");
    repo.url = field("addr").empty() ? field("url") : field("addr");
    repo.username = field("username");
    repo.password = field("password");
    if (repo.name.empty()) throw Error(Errc::invalid_argument, "form field \"name\"", "is required");
    util::require_dns1123_label("dependency name", repo.name);
    if (repo.url.empty()) throw Error(Errc::invalid_argument, "form field \"addr\"", "is required");
  } else {
    auto doc = parse_json_object(req.body);
    repo.name = required_string(doc, "name", "request body ");
    util::require_dns1123_label("dependency name", repo.name);
    repo.url = required_string(doc, "url", "request body ");
    repo.username = optional_string(doc, "username", "request body ").value_or("");
    repo.password = optional_string(doc, "password", "request body ").value_or("");
  }
  workspace->put_dependency_repo(repo);
  log::info("dependency repository registered", {{"name", repo.name}, {"url", repo.url}});
  return json_ok(json_object([&](JsonWriter& w) {
    put(w, "name", repo.name);
    put(w, "url", repo.url);
  }));
}

HttpResponse Server::Impl::chart_file(const std::string& file, const std::string& method) const {
  HttpResponse r;
  if (file == "index.yaml") {
    r.content_type = "application/x-yaml";
    fs::path p = local_repo_dir / "index.yaml";
    std::error_code ec;
    if (fs::exists(p, ec))
      r.body = util::read_file(p);
    else  // nothing published yet: still a valid, empty repository for `helm repo add`
      r.body = "apiVersion: v1\nentries: {}\ngenerated: \"" + now_rfc3339() + "\"\n";
    return r;
  }
  if (!is_chart_file_name(file))
    throw Error(Errc::invalid_argument, "chart file \"" + file + "\"", "not a chart archive name (<name>-<version>.tgz)");
  fs::path p = local_repo_dir / file;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) throw Error(Errc::not_found, "chart file \"" + file + "\"", "not in the repository");
  r.content_type = "application/gzip";
  r.body = util::read_file(p);
  return r;
}

HttpResponse Server::Impl::run_sync(const std::string& repo, const std::function<sync::SyncReport()>& sync_call) {
  auto started = Clock::now();
  sync::SyncReport report;
  try {
    report = sync_call();
  } catch (const Error& e) {
    log::write(e.code() == Errc::not_found || e.code() == Errc::invalid_argument ? log::Level::info : log::Level::warn,
               "sync refused", {{"repo", repo}, {"error", e.what()}});
    if (e.code() != Errc::not_found && e.code() != Errc::invalid_argument && e.code() != Errc::forbidden)
      metrics.record_sync(repo, "error", std::chrono::duration<double>(Clock::now() - started).count(), 0);
    return error_response(e);
  }
  std::string result = sync_result(report);
  metrics.record_sync(repo, result, report.seconds, report.count(sync::ChartOutcome::Status::published));
  std::string first_failure;
  for (auto& c : report.charts)
    if (c.status == sync::ChartOutcome::Status::failed) {
      first_failure = c.path + ": " + c.reason;
      break;
    }
  log::write(result == "success" ? log::Level::info : log::Level::warn, "sync finished",
             {{"repo", repo},
              {"result", result},
              {"commit", report.commit.substr(0, 12)},
              {"changed", report.fetched_changes},
              {"published", report.count(sync::ChartOutcome::Status::published)},
              {"unchanged", report.count(sync::ChartOutcome::Status::unchanged)},
              {"removed", report.count(sync::ChartOutcome::Status::removed)},
              {"failed", report.count(sync::ChartOutcome::Status::failed)},
              {"seconds", report.seconds},
              {"error", report.error.empty() ? first_failure : report.error}});
  return report_response(report);
}

void Server::Impl::remove_ssh_keys(const std::string& repo, const std::string& keep) const {
  std::error_code ec;
  for (auto it = fs::directory_iterator(ssh_key_dir(), ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.rfind(repo + "-", 0) == 0 && name.size() == repo.size() + 1 + 16 + 4 && it->path().string() != keep) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

void Server::Impl::new_repo(const HttpRequest& req, const Responder& respond) {
  auto doc = parse_json_object(req.body);
  const std::string where = "request body ";
  sync::RepoSpec spec;
  spec.name = required_string(doc, "name", where);
  util::require_dns1123_label("repo name", spec.name);
  spec.git = required_string(doc, "git", where);
  spec.ref = optional_string(doc, "ref", where).value_or("");
  spec.path = optional_string(doc, "path", where).value_or("");
  if (auto it = doc.FindMember("dependencies"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray())
      throw Error(Errc::invalid_argument, where + "field \"dependencies\"", "must be an array of {name, url}");
    std::size_t i = 0;
    for (auto& d : it->value.GetArray()) {
      std::string at = where + "dependencies[" + std::to_string(i++) + "] ";
      if (!d.IsObject()) throw Error(Errc::invalid_argument, at, "must be an object {name, url}");
      deps::NamedRepository dep;
      dep.name = required_string(d, "name", at);
      util::require_dns1123_label("dependency name", dep.name);
      dep.url = required_string(d, "url", at);
      dep.username = optional_string(d, "username", at).value_or("");
      dep.password = optional_string(d, "password", at).value_or("");
      spec.dependencies.push_back(std::move(dep));
    }
  }
  std::string ssh_key;
  if (auto it = doc.FindMember("auth"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsObject()) throw Error(Errc::invalid_argument, where + "field \"auth\"", "must be an object");
    std::string at = where + "auth ";
    spec.credentials.username = optional_string(it->value, "username", at).value_or("");
    spec.credentials.password = optional_string(it->value, "password", at).value_or("");
    ssh_key = optional_string(it->value, "sshPrivateKey", at).value_or("");
    spec.credentials.ssh_passphrase = optional_string(it->value, "sshPassphrase", at).value_or("");
  }
  // libgit2 reads SSH keys from files: keep the key in the (0700) state dir under
  // a name derived from its content, so a changed key never overwrites the one a
  // running sync may be using.
  std::string key_file;
  if (!ssh_key.empty()) {
    if (ssh_key.back() != '\n') ssh_key += '\n';
    key_file = (ssh_key_dir() / (spec.name + "-" + util::sha256_hex(ssh_key).substr(0, 16) + ".key")).string();
    spec.credentials.ssh_private_key_file = key_file;
  }
  // Identical specs (credentials included) may share one sync.
  sync::RepoState as_state;
  as_state.spec = spec;
  std::string key = "apply:" + util::sha256_hex(sync::to_state_file(as_state));
  lanes->submit(
      spec.name, key,
      [this, spec, ssh_key, key_file]() -> HttpResponse {
        if (!key_file.empty()) {
          std::error_code ec;
          fs::create_directories(ssh_key_dir(), ec);
          ::chmod(ssh_key_dir().c_str(), 0700);
          util::write_file_atomic(key_file, ssh_key);
          ::chmod(key_file.c_str(), 0600);
        }
        auto answer = run_sync(spec.name, [&] { return workspace->apply(spec); });
        if (answer.status < 400 || answer.status == 502) remove_ssh_keys(spec.name, key_file);
        return answer;
      },
      respond);
}

void Server::Impl::update_repo(const std::string& name, const Responder& respond) {
  lanes->submit(
      name, "update", [this, name] { return run_sync(name, [&] { return workspace->update(name); }); }, respond);
}

void Server::Impl::delete_repo(const std::string& name, const Responder& respond) {
  lanes->submit(
      name, "remove",
      [this, name]() -> HttpResponse {
        auto state = workspace->get(name);
        if (!state) return error_response(Error(Errc::not_found, "repo \"" + name + "\"", "not registered"));
        try {
          workspace->remove(name);
        } catch (const Error& e) {
          log::warn("repo removal failed", {{"repo", name}, {"error", e.what()}});
          return error_response(e);
        }
        remove_ssh_keys(name, "");
        log::info("repo removed", {{"repo", name}, {"charts", state->published.size()}});
        return json_ok(json_object([&](JsonWriter& w) {
          put(w, "removed", name);
          w.Key("charts");
          w.StartArray();
          for (auto& p : state->published) {
            w.StartObject();
            put(w, "name", p.name);
            put(w, "version", p.version);
            w.EndObject();
          }
          w.EndArray();
        }));
      },
      respond);
}

// --- public face -------------------------------------------------------------------

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  if (impl_) impl_->teardown();
}

void Server::start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->http->start(impl_->options.io_threads);
  impl_->prober = std::thread([impl = impl_.get()] { impl->probe_until_ready(); });
  log::info("serving",
            {{"url", url()},
             {"state_dir", impl_->options.state_dir.string()},
             {"publisher", impl_->publisher->describe()},
             {"charts", impl_->serve_local_repo ? url() + "/charts" : std::string("-")},
             {"workers", impl_->options.workers},
             {"auth", !impl_->options.token.empty()}});
}

int Server::port() const { return impl_->http ? impl_->http->port() : 0; }

std::string Server::url() const { return "http://" + impl_->http->host() + ":" + std::to_string(port()); }

bool Server::shutdown(std::chrono::milliseconds grace) {
  if (!impl_->started || impl_->stopped) return true;
  impl_->stopped = true;
  auto deadline = Clock::now() + grace;
  log::info("shutting down", {{"grace_seconds", grace.count() / 1000.0}, {"waiting_requests", impl_->lanes->waiting()}});
  bool drained = impl_->http->shutdown(deadline);
  impl_->stop_prober();
  impl_->lanes->abandon_queued(json_error(503, "server: shutting down"));
  // Syncs whose requesters went away may still be running.
  while (impl_->pool->running() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  bool idle = impl_->pool->running() == 0;
  if (idle) impl_->pool->stop();
  log::write(drained && idle ? log::Level::info : log::Level::warn, "stopped",
             {{"drained", drained}, {"syncs_still_running", impl_->pool->running()}});
  return drained && idle;
}

}  // namespace cmop::serve
