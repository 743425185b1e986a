// The desired CronJob is a pure function of (resource, options): compared as JSON
// with a checked-in golden file, so any change to what the operator creates shows in
// review as a diff of test/operate/golden/cronjob.json.
// CMOP_UPDATE_GOLDEN=1 rewrites the file from the current code (then review the diff).
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "cmop/operate/cronjob.hpp"
#include "cmop/operate/json.hpp"
#include "cmop/util/fs.hpp"

using namespace cmop;
using namespace cmop::operate;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(CMOP_SOURCE_DIR) / "test/operate/golden/cronjob.json";

// Two resources under two option sets: the repo's trigger token or the token
// Secret, a name over 52 characters, suspended, other history limits.
rapidjson::Document cases() {
  rapidjson::Document all(rapidjson::kObjectType);
  auto& a = all.GetAllocator();
  ControllerOptions trigger_token;
  trigger_token.image = "ghcr.io/cmop/cmop:0.1.0";
  trigger_token.sidecar_url = "http://127.0.0.1:8081";
  trigger_token.sidecar_token = "side-token";
  trigger_token.trigger_endpoint = "http://cmop.ops.svc:8081";
  auto first = desired_cronjob(CronJobTarget{"team", "web", "uid-1", 15, false}, trigger_token);
  all.AddMember("triggerToken", rapidjson::Value(first, a), a);

  ControllerOptions token_secret;
  token_secret.image = "example.org/cmop:1.0";
  token_secret.token_secret_name = "cmop-token";
  token_secret.token_secret_key = "token";
  token_secret.successful_jobs_history = 1;
  token_secret.failed_jobs_history = 5;
  token_secret.job_backoff_limit = 0;
  const std::string long_name(60, 'x');
  auto second = desired_cronjob(CronJobTarget{"ops", long_name, "uid-2", 90, true}, token_secret);
  all.AddMember("tokenSecretLongNameSuspended", rapidjson::Value(second, a), a);
  return all;
}

}  // namespace

TEST_CASE("the desired CronJob matches the golden file", "[operate][cronjob]") {
  auto actual = cases();
  if (std::getenv("CMOP_UPDATE_GOLDEN")) {
    rapidjson::StringBuffer sb;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
    w.SetIndent(' ', 2);
    actual.Accept(w);
    util::write_file_atomic(kGolden, std::string(sb.GetString(), sb.GetSize()) + "\n");
  }
  auto expected = parse_json(util::read_file(kGolden), kGolden.string());
  INFO("actual: " << to_json(actual));
  CHECK(actual == expected);
}

TEST_CASE("the desired CronJob depends on nothing but its arguments", "[operate][cronjob]") {
  CHECK(cases() == cases());
}
