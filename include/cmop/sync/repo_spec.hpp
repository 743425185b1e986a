#pragma once
// A git repo (or an upstream chart repository to mirror) as a Workspace is asked to keep it synced: where it is, what of it
// holds charts, with which credentials, and who manages it.
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/git/repository.hpp"
#include "cmop/upstream/upstream_spec.hpp"
#include "cmop/sync/versioning.hpp"

namespace cmop::sync {

struct RepoSpec {
  std::string name;  // DNS-1123 label
  std::string git;   // URL
  std::string ref;   // branch/tag/commit, "" = default branch
  std::string path;  // sub-path to search for charts, "" = whole repo
  std::vector<deps::NamedRepository> dependencies;  // registered along with the repo
  git::Credentials credentials;
  // Who manages the repo ("<namespace>/<name>" of the operator's resource; "" =
  // nobody in particular). A repo with an owner refuses specs and removals from
  // anyone else, so two resources of the same name cannot take over each other's
  // repo and charts.
  std::string owner;
  Versioning versioning = Versioning::immutable;
  // Authenticates push webhooks for this repo (HMAC key, or GitLab's token); "" =
  // webhooks refused. A secret: persisted with the credentials, never answered.
  std::string webhook_secret;
  // Suspended: apply() only records the spec and update() refuses (Error conflict):
  // no sync of any kind until a spec without it is applied.
  bool suspend = false;
  // Set (url non-empty): the repo mirrors this upstream chart repository instead
  // of packaging a git repo; git, ref, path and dependencies stay empty.
  upstream::UpstreamSpec upstream{};

  bool operator==(const RepoSpec&) const = default;
};

}  // namespace cmop::sync
