#pragma once
// Who published what: the index that makes cross-repo collisions visible. Not
// persisted on its own: the Workspace derives it from its repos' states (each
// repo's list of publications) and changes it only in step with them.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cmop::publish {

struct Publication {
  std::string repo;     // the git repo (CR) name that owns it
  std::string name;
  std::string version;
  std::string digest;
  std::string chart_path;  // folder in the clone
};

class Ledger {
 public:
  // Owner of name+version, if any.
  std::optional<Publication> find(const std::string& name, const std::string& version) const;
  std::vector<Publication> all() const;  // sorted by name, then version
  // Throws Error(conflict) if another repo owns name+version.
  void record(const Publication& p);
  void erase(const std::string& name, const std::string& version);

 private:
  std::map<std::pair<std::string, std::string>, Publication> entries_;
};

}  // namespace cmop::publish
