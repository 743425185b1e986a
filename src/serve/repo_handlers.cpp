// The git repos of charts (GET /repos, POST /repo/new, GET|DELETE /repo/{name},
// POST /repo/{name}/update) and the dependency chart repositories (GET|PUT
// /repo/dependency): what the sidecar is told to serve.
#include <algorithm>
#include <set>

#include "answers.hpp"
#include "cmop/error.hpp"
#include "cmop/sync/serialize.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/json.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/redact.hpp"
#include "server_impl.hpp"

namespace cmop::serve {
namespace log = util::log;
using Clock = std::chrono::steady_clock;

void Server::Impl::refresh_hook_secret(const std::string& repo) {
  auto state = workspace->get(repo);
  std::lock_guard lk(secrets_mu);
  if (state && !state->spec.webhook_secret.empty())
    hook_secrets[repo] = state->spec.webhook_secret;
  else
    hook_secrets.erase(repo);
}

bool Server::Impl::syncing(const std::string& repo) const {
  auto a = lanes->activity(repo);
  if (a.running && is_sync_job(a.running_key)) return true;
  return std::any_of(a.queued_keys.begin(), a.queued_keys.end(), is_sync_job);
}

std::string Server::Impl::state_json(const sync::RepoState& state) const {
  std::string body = sync::state_to_json(state);
  body.pop_back();  // reopen the object to add what only the server knows
  body += syncing(state.spec.name) ? ",\"syncing\":true}" : ",\"syncing\":false}";
  return body;
}

HttpResponse Server::Impl::list_repos() const {
  std::string body = "{\"repos\":[";
  bool first = true;
  std::set<std::string> listed;
  for (auto& s : workspace->list()) {
    if (!first) body += ',';
    first = false;
    body += state_json(s);
    listed.insert(s.spec.name);
  }
  std::lock_guard lk(pending_mu);
  for (auto& [name, p] : pending) {
    if (listed.count(name)) continue;
    if (!first) body += ',';
    first = false;
    body += state_json(p.state);
  }
  body += "]}";
  return json_ok(std::move(body));
}

HttpResponse Server::Impl::get_repo(const std::string& name) const {
  auto state = workspace->get(name);
  if (!state) {
    std::lock_guard lk(pending_mu);
    if (auto it = pending.find(name); it != pending.end()) state = it->second.state;
  }
  if (!state) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
  return json_ok(state_json(*state));
}

HttpResponse Server::Impl::list_dependencies() const {
  return json_ok(json_object([&](JsonWriter& w) {
    w.Key("dependencies");
    w.StartArray();
    for (auto& d : workspace->dependency_repos()) {
      w.StartObject();
      put(w, "name", d.name);
      put(w, "url", util::redact_url(d.url));
      w.EndObject();
    }
    w.EndArray();
  }));
}

HttpResponse Server::Impl::put_dependency(const HttpRequest& req) {
  deps::NamedRepository repo = parse_dependency_request(req.content_type, req.body);
  workspace->put_dependency_repo(repo);
  log::info("dependency repository registered", {{"name", repo.name}, {"url", util::redact_url(repo.url)}});
  return json_ok(json_object([&](JsonWriter& w) {
    put(w, "name", repo.name);
    put(w, "url", util::redact_url(repo.url));
  }));
}

void Server::Impl::new_repo(const HttpRequest& req, const Responder& respond) {
  NewRepoRequest parsed = parse_new_repo_request(req.body);
  sync::RepoSpec& spec = parsed.spec;
  const std::string& ssh_key = parsed.ssh_private_key;
  // libgit2 reads SSH keys from files: the workspace keeps the key in its state dir
  // under a name derived from its content (so the spec, and with it the dedup key
  // below, changes with the key).
  if (!ssh_key.empty()) spec.credentials.ssh_private_key_file = workspace->ssh_key_file(spec.name, ssh_key);
  // Identical specs (credentials included) may share one sync.
  sync::RepoState as_state;
  as_state.spec = spec;
  std::string key = std::string(spec.suspend ? "record:" : "apply:") + util::sha256_hex(sync::to_state_file(as_state));
  // ?async=true: refuse at once what apply() would refuse before syncing, then
  // answer 202 and let the sync's outcome reach the client through the repo's
  // state and GET /syncs, so no client holds a connection (or a worker) for it.
  const bool async = async_requested(req.target);
  if (async) {
    workspace->check(spec);
    std::lock_guard lk(pending_mu);
    if (!workspace->get(spec.name)) {
      auto it = pending.find(spec.name);
      if (it != pending.end() && !it->second.state.spec.owner.empty() && it->second.state.spec.owner != spec.owner)
        throw Error(Errc::conflict, "repo \"" + spec.name + "\"",
                    "is managed by " + it->second.state.spec.owner + ", not by " +
                        (spec.owner.empty() ? std::string("this request (it names no owner)") : spec.owner));
      sync::RepoState shown;
      shown.spec = spec;
      shown.spec.credentials = {};  // never needed for showing; kept out of memory we do not need it in
      pending[spec.name] = Pending{key, std::move(shown)};
    }
  }
  auto work = [this, spec, ssh_key, key]() -> HttpResponse {
    HttpResponse answer;
    // Written when this request's turn in the repo's lane comes, not before: the
    // apply of a request ahead of it deletes the keys its own spec does not name.
    if (!ssh_key.empty()) workspace->store_ssh_key(spec.name, ssh_key);
    if (spec.suspend) {
      // Suspended: the spec is recorded and nothing syncs (no sync to count either).
      try {
        answer = json_ok(sync::report_to_json(workspace->apply(spec)));
      } catch (const Error& e) {
        answer = error_response(e);
      }
    } else {
      answer = run_sync(spec.name, spec.owner, [&] { return workspace->apply(spec); });
    }
    refresh_hook_secret(spec.name);
    std::lock_guard lk(pending_mu);
    if (auto it = pending.find(spec.name); it != pending.end() && it->second.key == key) {
      if (workspace->get(spec.name)) {
        pending.erase(it);
      } else {  // refused before it was recorded: the state shows why
        std::string error = answer.body;
        auto doc = util::try_parse_json_object(answer.body);
        if (doc && doc->HasMember("error") && (*doc)["error"].IsString()) error = (*doc)["error"].GetString();
        it->second.state.last_error = error;
      }
    }
    return answer;
  };
  if (!async) return (void)lanes->submit(spec.name, key, work, counted(respond));
  bool joined = lanes->submit(spec.name, key, work, [](const HttpResponse&) {});
  respond(json_ok(json_object([&](JsonWriter& w) {
                    put(w, "repo", spec.name);
                    put(w, "status", "queued");
                    w.Key("joined");
                    w.Bool(joined);
                  }),
                  202));
}

void Server::Impl::update_repo(const std::string& name, bool async, const Responder& respond) {
  note_update_asked(name);
  if (!async) return (void)lanes->submit(name, "update", [this, name] { return update_job(name); }, counted(respond));
  auto state = workspace->get(name);
  if (!state) throw Error(Errc::not_found, "repo \"" + name + "\"", "not registered");
  if (state->spec.suspend)
    throw Error(Errc::conflict, "repo \"" + name + "\"", "is suspended: no syncs until it is resumed");
  // Joins an update queued and not started; a running one may have fetched too early.
  bool joined = lanes->submit(name, "update", [this, name] { return update_job(name); }, [](const HttpResponse&) {});
  respond(json_ok(json_object([&](JsonWriter& w) {
                    put(w, "repo", name);
                    put(w, "status", "queued");
                    w.Key("joined");
                    w.Bool(joined);
                  }),
                  202));
}

void Server::Impl::note_update_asked(const std::string& name) {
  std::lock_guard lk(update_asked_mu);
  update_asked[name] = Clock::now();
}

HttpResponse Server::Impl::update_job(const std::string& name) {
  auto asked = Clock::now();
  {
    std::lock_guard lk(update_asked_mu);
    if (auto it = update_asked.find(name); it != update_asked.end()) {
      asked = it->second;
      update_asked.erase(it);
    }
  }
  auto state = workspace->get(name);
  if (!state) return error_response(Error(Errc::not_found, "repo \"" + name + "\"", "not registered"));
  return run_sync(name, state->spec.owner, [&] { return workspace->update(name, asked); });
}

void Server::Impl::delete_repo(const std::string& name, const std::string& owner, const Responder& respond) {
  lanes->submit(
      name, "remove",
      [this, name, owner]() -> HttpResponse {
        auto state = workspace->get(name);
        if (!state) {
          std::lock_guard lk(pending_mu);
          pending.erase(name);  // an accepted spec whose apply was refused: nothing else to remove
          return error_response(Error(Errc::not_found, "repo \"" + name + "\"", "not registered"));
        }
        try {
          workspace->remove(name, owner);
        } catch (const Error& e) {
          log::warn("repo removal failed", {{"repo", name}, {"error", e.what()}});
          return error_response(e);
        }
        hook_limiter.forget(name);
        feed.forget(name);
        metrics.forget(name);
        refresh_hook_secret(name);
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
      counted(respond));
}

}  // namespace cmop::serve
