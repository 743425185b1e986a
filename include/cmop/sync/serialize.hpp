#pragma once
// JSON forms of the workspace's records: the persisted state files and the
// shapes documented in docs/sidecar-api.md.
#include <string>

#include "cmop/sync/workspace.hpp"

namespace cmop::sync {

// The sync report as the API returns it.
std::string report_to_json(const SyncReport& report);
// The repo state as the API returns it to anyone (never with credentials, and
// failure reasons without what a remote answered: see without_remote_content).
std::string state_to_json(const RepoState& state);

// Persisted form (with credentials). from_state_file throws Error(invalid_argument)
// naming `origin` when the JSON is corrupt.
std::string to_state_file(const RepoState& state);
RepoState from_state_file(const std::string& json, const std::string& origin);

std::string dependencies_to_json(const std::vector<deps::NamedRepository>& repos, bool include_secrets);
std::vector<deps::NamedRepository> dependencies_from_json(const std::string& json, const std::string& origin);

}  // namespace cmop::sync
