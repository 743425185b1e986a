#include "answers.hpp"

#include "cmop/serve/request.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/utf8.hpp"

namespace cmop::serve {

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

HttpResponse error_response(const Error& e) { return json_error(status_for(e.code()), e.what(), to_string(e.code())); }

HttpResponse json_ok(std::string body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void put(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  const std::string text = util::to_valid_utf8(util::redact_text(value));
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// A repo-level failure (clone/fetch, publish target down) carries no error
// category in the report; both are failures of a peer, hence 502.
HttpResponse report_response(const sync::SyncReport& report) {
  std::string body = sync::report_to_json(report);
  if (report.error.empty()) return json_ok(std::move(body));
  std::string wrapped = json_object([&](JsonWriter& w) {
    put(w, "error", report.error);
    put(w, "code", "SyncFailed");  // git or the publish target: the report says which
  });
  wrapped.pop_back();  // reopen the object to splice the report in verbatim
  wrapped += ",\"report\":" + body + "}";
  return json_ok(std::move(wrapped), 502);
}

bool async_requested(const std::string& target) {
  const std::string value = query_parameter(target, "async");
  if (!value.empty() && value != "true" && value != "false")
    throw Error(Errc::invalid_argument, "query parameter \"async\"", "must be true or false");
  return value == "true";
}

bool is_sync_job(const std::string& key) { return key == "update" || key.rfind("apply:", 0) == 0; }

std::string sync_result(const sync::SyncReport& report) {
  if (!report.error.empty()) return "error";
  return report.ok() ? "success" : "partial";
}

}  // namespace cmop::serve
