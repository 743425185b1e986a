// An HTTP request to `cmop serve`, as Beast hands it to the handler: routing, the
// bearer-token check and the JSON / form bodies of the mutating endpoints.
// Input layout (each field up to its '\n'; the body is the rest, newlines and all):
//   METHOD \n TARGET \n CONTENT-TYPE \n AUTHORIZATION \n BODY
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cmop/error.hpp"
#include "fuzz_fields.hpp"
#include "cmop/serve/request.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/util/names.hpp"

namespace {

using cmop::fuzz::check;
using cmop::fuzz::next_field;

// What the server does with a request that passed routing and auth, minus the I/O.
void parse_body(const cmop::serve::Route& route, std::string_view method, std::string_view content_type,
                std::string_view body) {
  using cmop::serve::Endpoint;
  if (route.endpoint == Endpoint::dependency && method == "POST") {
    auto repo = cmop::serve::parse_dependency_request(content_type, body);
    check(cmop::util::is_dns1123_label(repo.name) && !repo.url.empty());
  } else if (route.endpoint == Endpoint::new_repo) {
    auto parsed = cmop::serve::parse_new_repo_request(body);
    check(cmop::util::is_dns1123_label(parsed.spec.name) && !parsed.spec.git.empty());
    check(parsed.ssh_private_key.empty() || parsed.ssh_private_key.back() == '\n');
    // The server persists the spec; reading it back must give the same spec.
    cmop::sync::RepoState state;
    state.spec = parsed.spec;
    try {
      auto again = cmop::sync::from_state_file(cmop::sync::to_state_file(state), "fuzz/roundtrip");
      check(again.spec == state.spec);
    } catch (const cmop::Error&) {
      check(false);  // the server could not load its own state file
    }
  } else if (route.endpoint == Endpoint::repo || route.endpoint == Endpoint::update) {
    cmop::util::require_dns1123_label("repo name", route.subject);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view method = next_field(rest);
  std::string_view target = next_field(rest);
  std::string_view content_type = next_field(rest);
  std::string_view authorization = next_field(rest);
  std::string_view body = rest;

  check(cmop::serve::bearer_authorized(authorization, ""));
  bool authorized = cmop::serve::bearer_authorized(authorization, "s3cret-token");
  if (authorized) check(authorization.size() >= 7 + 12);
  for (bool serve_local_repo : {false, true}) {
    try {
      auto route = cmop::serve::route_request(method, target, serve_local_repo);
      check(!route.path.empty() && route.path.front() == '/');
      for (auto& segment : route.segments) check(segment != "." && segment != "..");
      if (route.endpoint == cmop::serve::Endpoint::none) {
        check(route.allow.empty() && !route.method_allowed);
        continue;
      }
      check(!route.allow.empty());
      if (!route.method_allowed) continue;
      if (serve_local_repo) continue;  // the body parsers do not depend on it: once is enough
      parse_body(route, method, content_type, body);
    } catch (const cmop::Error& e) {
      check(e.code() == cmop::Errc::invalid_argument);
    }
  }
  return 0;
}
