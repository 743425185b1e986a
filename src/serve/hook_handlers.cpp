// Push webhooks (POST /hooks/{name}): a signed delivery of a tracked ref queues an
// update of the repo (docs/webhooks.md).
#include "answers.hpp"
#include "cmop/serve/webhooks.hpp"
#include "cmop/util/log.hpp"
#include "server_impl.hpp"

namespace cmop::serve {
namespace log = util::log;
using Clock = std::chrono::steady_clock;

// The hook's answers before the signature held say nothing about the repo: an
// unknown name, a repo without a webhook secret and a wrong signature all get the
// same 403, after the same work (one lookup of the secret, one HMAC of the body);
// the repo's state is read only once the signature held.
HttpResponse Server::Impl::receive_hook(const HttpRequest& req, const std::string& name) {
  const HookSignature signature = find_hook_signature(req.extension_headers);
  if (signature.provider == HookProvider::none) {
    metrics.record_hook("unsigned");
    auto r = json_error(401, "webhook: a signature is required (X-Hub-Signature-256, X-Gitlab-Token, "
                             "X-Gitea-Signature, X-Forgejo-Signature or X-Signature)");
    r.headers.push_back({"WWW-Authenticate", "HMAC-SHA256 realm=\"cmop\""});
    return r;
  }
  std::string secret;
  {
    std::lock_guard lk(secrets_mu);
    if (auto it = hook_secrets.find(name); it != hook_secrets.end()) secret = it->second;
  }
  // Without a secret the HMAC still runs (under a key that is never accepted).
  const bool valid =
      hook_signature_valid(signature, secret.empty() ? std::string_view("cmop: no webhook secret") : secret, req.body) &&
      !secret.empty();
  auto refused = [&] {
    metrics.record_hook("refused");
    log::info("webhook refused", {{"provider", to_string(signature.provider)}, {"remote", req.remote}});
    return json_error(403, "webhook: the signature was refused");
  };
  if (!valid) return refused();

  // The same signed delivery again (a replay, or a provider's retry of one already
  // taken): acknowledged, not acted on, and it takes nothing from the rate budget.
  const std::string delivery = hook_delivery_id(req.extension_headers);
  if (!delivery.empty() && !deliveries.first(name, delivery)) {
    metrics.record_hook("replayed");
    log::info("webhook replayed", {{"repo", name}, {"delivery", echoed_input(delivery)}, {"remote", req.remote}});
    return json_ok(json_object([&](JsonWriter& w) {
      put(w, "status", "duplicate");
      put(w, "repo", name);
      put(w, "reason", "delivery \"" + echoed_input(delivery) + "\" was already received");
    }));
  }
  std::optional<sync::RepoState> state = workspace->get(name);  // only now: the signature held
  if (!state) return refused();  // removed meanwhile

  auto answer = [&](int status, const std::string& outcome, const std::string& reason) {
    metrics.record_hook(outcome);
    log::info("webhook received", {{"repo", name},
                                   {"provider", to_string(signature.provider)},
                                   {"outcome", outcome},
                                   {"reason", reason}});
    return json_ok(json_object([&](JsonWriter& w) {
                     put(w, "status", outcome);
                     put(w, "repo", name);
                     if (!reason.empty()) put(w, "reason", reason);
                   }),
                   status);
  };
  HookEvent event = parse_hook_event(req.extension_headers, req.content_type, req.body);
  if (event.kind == HookEvent::Kind::ping) return answer(200, "pong", "");
  if (event.kind == HookEvent::Kind::other)
    return answer(200, "ignored", "event \"" + echoed_input(event.name) + "\" is not a push");
  if (state->spec.suspend) return answer(200, "ignored", "the repo is suspended");
  if (!hook_ref_tracked(state->spec.ref, event.ref, event.default_branch))
    return answer(200, "ignored",
                  "ref \"" + echoed_input(event.ref, 256) + "\" is not tracked (the repo follows " +
                      (state->spec.ref.empty() ? std::string("the default branch") : "\"" + state->spec.ref + "\"") +
                      ")");
  int retry_after = 0;
  if (!hook_limiter.take(name, retry_after)) {
    metrics.record_hook("rate_limited");
    auto r = json_error(429, "webhook: repo \"" + name + "\" received more pushes than " +
                                 std::to_string(options.hook_rate_per_minute) + " a minute");
    r.headers.push_back({"Retry-After", std::to_string(retry_after)});
    return r;
  }
  // Joins a queued update of the repo when there is one (coalesced); a running
  // sync may have fetched before this push, so a new one is queued behind it.
  note_update_asked(name);
  bool joined = lanes->submit(
      name, "update", [this, name] { return update_job(name); }, [](const HttpResponse&) {});
  return answer(202, "queued", joined ? "joined a sync already queued" : "");
}

}  // namespace cmop::serve
