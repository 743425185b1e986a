#pragma once
// Private to src/git: how a Repository hands out a commit's Tree.
#include <git2.h>

#include <string>

#include "cmop/git/tree.hpp"

namespace cmop::git {

// The tree of `commit` in `repo`, which the Tree then owns (and frees, also when
// this throws). Throws Error(git) naming `subject`.
Tree make_tree(git_repository* repo, const git_oid& commit, const std::string& subject);

}  // namespace cmop::git
