#pragma once
// Push webhooks from git hosts (POST /hooks/{name}), apart from the transport:
// which provider signed a request, whether the signature holds under the repo's
// secret, and what the event asks for. Pure functions of their arguments (no I/O,
// no server state), so the server and the fuzzer (fuzz/fuzz_serve_webhook.cpp)
// run the same code on the same bytes.
//
// Providers and their authentication:
//   GitHub          X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//   GitLab          X-Gitlab-Token: <the secret itself>
//   Gitea, Forgejo  X-Gitea-Signature / X-Forgejo-Signature: <hex HMAC-SHA256 of the body>
//   generic         X-Signature: sha256=<hex HMAC-SHA256 of the body>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmop::serve {

// Request headers as received: (name, value); names compare case-insensitively.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (any case); "" when absent.
std::string header_value(const HeaderList& headers, std::string_view name);

enum class HookProvider { none, github, gitlab, gitea, generic };
const char* to_string(HookProvider p);

struct HookSignature {
  HookProvider provider = HookProvider::none;  // none: the request carries no signature header
  std::string value;                           // the header's value as sent
};

// The signature the request carries. When several are present (Gitea also sends
// GitHub's header), the first of GitLab's token, Gitea/Forgejo's, GitHub's and the
// generic one is taken.
HookSignature find_hook_signature(const HeaderList& headers);

// True when `signature` authenticates `body` under `secret`. An empty secret never
// verifies. Runs in time independent of where the presented and expected values
// differ (digests are compared, so not even their lengths leak).
bool hook_signature_valid(const HookSignature& signature, std::string_view secret, std::string_view body);

// The provider's id of this delivery, "" when it sent none: GitHub's (and Gitea's)
// X-GitHub-Delivery, X-Gitea-Delivery, X-Forgejo-Delivery, GitLab's Idempotency-Key
// (the same on its retries) or else X-Gitlab-Event-UUID. Prefixed with the header's
// name, so ids of different providers never collide. Not covered by the signature:
// it stops a delivery sent again as it was, not one whose headers were rewritten.
std::string hook_delivery_id(const HeaderList& headers);

struct HookEvent {
  enum class Kind {
    ping,   // a provider checking the hook is reachable (GitHub's "ping")
    push,   // commits or tags pushed
    other,  // any other event (issues, pull requests, ...): nothing to do
  };
  Kind kind = Kind::push;
  std::string name;            // the event header's value ("" when none was sent)
  std::string ref;             // "refs/heads/main", "refs/tags/v1"; "" when the payload names none
  std::string default_branch;  // the repository's default branch when the payload says
};

// Classifies the (already authenticated) request. The payload is JSON, or GitHub's
// form encoding (payload=<JSON>). Throws Error(invalid_argument) for a push whose
// payload is not a JSON object. A request without an event header is a push.
HookEvent parse_hook_event(const HeaderList& headers, std::string_view content_type, std::string_view body);

// Whether a push to `pushed_ref` can change what a repo tracking `tracked_ref`
// syncs. `tracked_ref` as in the repo spec: "" (the default branch), a branch or tag
// name, or a full ref. An unknown pushed ref (payload without "ref") or, for the
// default branch, an unknown default branch counts as tracked: a needless sync is
// cheap, a missed one is not.
bool hook_ref_tracked(std::string_view tracked_ref, std::string_view pushed_ref, std::string_view default_branch);

}  // namespace cmop::serve
