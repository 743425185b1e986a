#include "cmop/sidecar/client.hpp"

#include <rapidjson/document.h>

#include "cmop/net/http_client.hpp"
#include "cmop/util/json.hpp"

namespace cmop::sidecar {
namespace {

using rapidjson::Value;

const Value* member(const Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string text(const Value& v, const char* key) {
  auto* m = member(v, key);
  return m && m->IsString() ? std::string(m->GetString(), m->GetStringLength()) : std::string();
}

std::vector<ChartOutcome> outcomes(const Value* charts) {
  std::vector<ChartOutcome> out;
  if (charts && charts->IsArray())
    for (auto& c : charts->GetArray())
      out.push_back({text(c, "path"), text(c, "name"), text(c, "version"), text(c, "status"), text(c, "reason")});
  return out;
}

// The category of a refused request: the one its "code" names, else the status's.
Errc category(int status, const std::optional<ErrorAnswer>& answer) {
  if (answer)
    if (auto named = errc_from_code(answer->code)) return *named;
  return status == 400   ? Errc::invalid_argument
         : status == 401 ? Errc::unauthorized
         : status == 403 ? Errc::forbidden
         : status == 404 ? Errc::not_found
         : status == 409 ? Errc::conflict
         : status == 502 ? Errc::upstream
         : status == 503 ? Errc::network
                         : Errc::internal;
}

}  // namespace

std::vector<ChartOutcome> RepoStatus::failed_charts() const {
  std::vector<ChartOutcome> failed;
  for (auto& c : last_sync)
    if (c.status == "failed") failed.push_back(c);
  return failed;
}

SyncReport parse_sync_report(std::string_view json, std::string_view what) {
  auto doc = util::parse_json_answer(json, what);
  return {text(doc, "commit"), text(doc, "error"), outcomes(member(doc, "charts"))};
}

RepoStatus parse_repo_status(std::string_view json, std::string_view what) {
  auto doc = util::parse_json_answer(json, what);
  RepoStatus s;
  if (auto* spec = member(doc, "spec")) s.owner = text(*spec, "owner");
  s.last_error = text(doc, "lastError");
  s.last_commit = text(doc, "lastCommit");
  s.last_sync_time = text(doc, "lastSyncTime");
  auto* syncing = member(doc, "syncing");
  s.syncing = syncing && syncing->IsTrue();
  if (auto* last = member(doc, "lastSync")) {
    if (auto* ok = member(*last, "ok"); ok && ok->IsBool()) s.last_sync_ok = ok->GetBool();
    s.last_sync = outcomes(member(*last, "charts"));
  }
  if (auto* charts = member(doc, "charts"); charts && charts->IsArray())
    for (auto& c : charts->GetArray()) s.charts.push_back({text(c, "name"), text(c, "version")});
  return s;
}

std::optional<ErrorAnswer> parse_error_answer(std::string_view json) {
  auto doc = util::try_parse_json_object(json);
  if (!doc) return std::nullopt;
  return ErrorAnswer{text(*doc, "error"), text(*doc, "code")};
}

std::optional<Errc> errc_from_code(std::string_view code) {
  if (code.empty()) return std::nullopt;
  if (code == "Unavailable" || code == "TooManyRequests") return Errc::network;
  if (code == "SyncFailed") return Errc::upstream;
  for (Errc e : {Errc::invalid_argument, Errc::not_found, Errc::conflict, Errc::unauthorized, Errc::forbidden,
                 Errc::invalid_chart, Errc::dependency, Errc::git, Errc::io, Errc::network, Errc::upstream,
                 Errc::too_large, Errc::internal})
    if (to_string(e) == code) return e;
  return std::nullopt;
}

// --- the client ------------------------------------------------------------------

struct Client::Http {
  net::HttpClient client;
};

Client::Client(std::string base_url, std::string token)
    : base_(std::move(base_url)), token_(std::move(token)), http_(std::make_shared<const Http>()) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

namespace {

net::Request request(const std::string& method, const std::string& url, std::string body, const std::string& token,
                     std::chrono::milliseconds timeout) {
  net::Request req;
  req.method = method;
  req.url = url;
  req.body = std::move(body);
  req.timeout = timeout;
  if (!req.body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  if (!token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
  return req;
}

// The operator's calls wait this long: only a cleanup's re-registration waits for
// a sync, which may clone a large repo.
constexpr std::chrono::minutes kOperatorTimeout{10};

// The body of a 200/202 answer; throws the refusal of any other (see client.hpp).
const std::string& accepted(const net::Response& res, const std::string& what) {
  if (res.status == 200 || res.status == 202) return res.body;
  auto answer = parse_error_answer(res.body);
  std::string error = answer ? answer->error : res.body.substr(0, 300);
  throw Error(category(res.status, answer), "sidecar " + what, "HTTP " + std::to_string(res.status) + ": " + error);
}

}  // namespace

std::optional<RepoStatus> Client::repo(const std::string& name) const {
  auto res = http_->client.send(request("GET", base_ + "/repo/" + name, "", token_, kOperatorTimeout));
  if (res.status == 404) return std::nullopt;
  const std::string what = "GET /repo/" + name;
  return parse_repo_status(accepted(res, what), "sidecar " + what);
}

SyncReport Client::apply(const std::string& body_json) const {
  auto res = http_->client.send(request("POST", base_ + "/repo/new", body_json, token_, kOperatorTimeout));
  return parse_sync_report(accepted(res, "POST /repo/new"), "sidecar POST /repo/new");
}

void Client::apply_async(const std::string& body_json) const {
  auto res = http_->client.send(request("POST", base_ + "/repo/new?async=true", body_json, token_, kOperatorTimeout));
  util::parse_json_answer(accepted(res, "POST /repo/new"), "sidecar POST /repo/new");
}

void Client::update_async(const std::string& name) const {
  auto res =
      http_->client.send(request("POST", base_ + "/repo/" + name + "/update?async=true", "", token_, kOperatorTimeout));
  const std::string what = "POST /repo/" + name + "/update";
  util::parse_json_answer(accepted(res, what), "sidecar " + what);
}

Client::Removal Client::remove(const std::string& name, const std::string& owner) const {
  auto res = http_->client.send(request(
      "DELETE", base_ + "/repo/" + net::url_encode(name) + "?owner=" + net::url_encode(owner), "", token_,
      kOperatorTimeout));
  if (res.status == 404 || res.status == 400) return Removal::unknown;
  if (res.status == 409) return Removal::not_ours;
  const std::string what = "DELETE /repo/" + name;
  util::parse_json_answer(accepted(res, what), "sidecar " + what);
  return Removal::removed;
}

SyncsPage Client::syncs(std::uint64_t after, const std::string& epoch, std::chrono::seconds wait,
                        std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) const {
  auto req = request("GET",
                     base_ + "/syncs?after=" + std::to_string(after) + "&epoch=" + net::url_encode(epoch) +
                         "&waitSeconds=" + std::to_string(wait.count()),
                     "", "", timeout);
  req.cancelled = cancelled;
  auto res = http_->client.send(req);
  SyncsPage page;
  page.status = res.status;
  if (res.status != 200) return page;
  auto doc = util::parse_json_answer(res.body, "sidecar GET /syncs");
  page.epoch = text(doc, "epoch");
  auto* generation = member(doc, "generation");
  auto* repos = member(doc, "repos");
  if (page.epoch.empty() || !generation || !generation->IsUint64() || !repos || !repos->IsArray())
    throw Error(Errc::upstream, "sidecar GET /syncs", "unexpected answer");
  page.generation = generation->GetUint64();
  for (auto& r : repos->GetArray()) page.owners.push_back(text(r, "owner"));
  return page;
}

UpdateAnswer Client::update(const std::string& name, std::chrono::milliseconds timeout) const {
  auto res = http_->client.send(request("POST", base_ + "/repo/" + name + "/update", "", token_, timeout));
  UpdateAnswer answer;
  answer.status = res.status;
  if (res.status == 200) {
    if (parse_error_answer(res.body)) answer.report = parse_sync_report(res.body, "sidecar POST /repo/" + name + "/update");
  } else {
    answer.error = parse_error_answer(res.body);
  }
  answer.body = std::move(res.body);
  return answer;
}

}  // namespace cmop::sidecar
