#pragma once
// What a repo spec and a dependency repository must be before anything is recorded.
#include "cmop/deps/resolver.hpp"
#include "cmop/sync/repo_spec.hpp"

namespace cmop::sync {

// Error(invalid_argument) naming the repo: its name is not a DNS-1123 label, its
// git URL is missing or not allowed (local ones only with `allow_local`), its path
// leaves the repository, or a dependency lacks a name or url or is listed twice.
void validate_spec(const RepoSpec& spec, bool allow_local);
// Error(invalid_argument) naming the repository: a bad name, url or mirrorOf.
void validate_dependency_repo(const deps::NamedRepository& r);

}  // namespace cmop::sync
