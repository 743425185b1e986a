#pragma once
// How the sidecar API answers: JSON bodies, error categories as HTTP statuses, sync
// reports. Shared by the handlers of every endpoint (docs/sidecar-api.md).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "cmop/error.hpp"
#include "cmop/sync/workspace.hpp"
#include "http.hpp"

namespace cmop::serve {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

int status_for(Errc code);
HttpResponse error_response(const Error& e);
HttpResponse json_ok(std::string body, int status = 200);

// Values may quote names from git (bytes, not necessarily UTF-8): the answer stays
// valid JSON. Every answer is readable without a token: URLs in it are redacted.
void put(JsonWriter& w, const char* key, const std::string& value);

template <typename Fill>
std::string json_object(Fill fill) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  fill(w);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

// The report of a sync: 200, or 502 with the report inside an error answer when
// the repo-level step (git, the publish target) failed.
HttpResponse report_response(const sync::SyncReport& report);

// ?async=true|false (absent: false).
bool async_requested(const std::string& target);

// Sync jobs are keyed "apply:<spec digest>" and "update"; "record:…" (a suspended
// spec) and "remove" sync nothing.
bool is_sync_job(const std::string& key);

// "success", "partial" or "error": the result label of metrics and logs.
std::string sync_result(const sync::SyncReport& report);

}  // namespace cmop::serve
