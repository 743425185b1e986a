#pragma once
// How `cmop serve` reads a request, apart from the transport: which endpoint a
// method + target names, whether an Authorization header carries the token, and
// the JSON / form-encoded bodies of the mutating endpoints.
// Pure functions of their arguments (no I/O, no server state): the server and the
// fuzzer (fuzz/fuzz_serve_request.cpp) run the same code on the same bytes.
#include <string>
#include <string_view>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/sync/workspace.hpp"

namespace cmop::serve {

enum class Endpoint {
  none,          // no such path: 404
  healthz,       // GET /healthz
  readyz,        // GET /readyz
  metrics,       // GET /metrics
  repos,         // GET /repo
  dependency,    // GET|POST /repo/dependency
  new_repo,      // POST /repo/new
  repo,          // GET|DELETE /repo/{name}
  update,        // GET|POST /repo/{name}/update
  syncs,         // GET /syncs?after=&epoch=&waitSeconds=: finished syncs, as a long poll
  hook,          // POST /hooks/{name}: a git host's push webhook (its signature authenticates it)
  charts_index,  // GET /charts/index.yaml (only when the embedded repo is served)
  chart_file,    // GET /charts/{file}     (idem)
};

struct Route {
  Endpoint endpoint = Endpoint::none;
  std::string path;                   // as sent, without the query
  std::vector<std::string> segments;  // percent-decoded; a trailing '/' adds none
  // The methods the endpoint takes, as an Allow header lists them ("" for none).
  std::string allow;
  bool method_allowed = false;
  // Changes state, so it needs the bearer token when one is configured.
  bool mutation = false;
  // The {name} or {file} segment of repo, update and chart_file; not validated here
  // (the server checks it only after the method and the token were accepted).
  std::string subject;
};

// Throws Error(invalid_argument) when the target is not an absolute path, has a bad
// percent-escape, or has a "." or ".." segment. An unknown path is not an error:
// it gives Endpoint::none.
Route route_request(std::string_view method, std::string_view target, bool serve_local_repo);

// True when `expected_token` is empty (no auth configured) or the header is
// "Bearer <expected_token>" (scheme case-insensitive, blanks around the token
// ignored). Compares digests, so timing reveals neither the token nor its length.
bool bearer_authorized(std::string_view authorization_header, std::string_view expected_token);

// Request input quoted in an answer or a log line: at most `max` bytes of it (cut
// at a UTF-8 boundary), then "…" when there was more. An answer never echoes a
// megabyte someone sent.
std::string echoed_input(std::string_view input, std::size_t max = 64);

// Throws Error(invalid_argument) naming `what` and the (truncated) name unless
// `name` is a DNS-1123 label.
void require_name(std::string_view what, std::string_view name);

// The percent-decoded value of `key` in the target's query string ("" when absent).
// Throws Error(invalid_argument) on a bad percent-escape.
std::string query_parameter(std::string_view target, std::string_view key);

// POST /repo/dependency. Form-encoded (application/x-www-form-urlencoded) fields
// name, addr (or url), username, password, as the original sidecar took, plus
// mirrorOf; otherwise a JSON object {"name", "url", optional "username",
// "password", "mirrorOf"}.
// Throws Error(invalid_argument) naming the field; the name is a DNS-1123 label.
deps::NamedRepository parse_dependency_request(std::string_view content_type, std::string_view body);

// POST /repo/new: {"name", "git" (or "mirror": an upstream chart repository's http(s):// or
// oci:// URL, with optional "charts": [{name, versions}] and "prune"; auth username/password are then the
// upstream's), optional "ref", "path", "owner", "webhookSecret", "suspend",
// "versioning" (immutable|revision|overwrite), "dependencies": [{name, url, username, password,
// mirrorOf}], "auth": {username, password, sshPrivateKey, sshPassphrase}}.
// Throws Error(invalid_argument) naming the field.
struct NewRepoRequest {
  // credentials.ssh_private_key_file stays empty: the server decides where the key lives.
  sync::RepoSpec spec;
  std::string ssh_private_key;  // "" when none; otherwise ends with '\n' (OpenSSH needs it)
};
NewRepoRequest parse_new_repo_request(std::string_view body);

}  // namespace cmop::serve
