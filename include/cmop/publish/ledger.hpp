#pragma once
// Who published what: the record that makes removal exact and cross-repo
// collisions visible. Persisted as JSON by its owner.
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
  std::vector<Publication> owned_by(const std::string& repo) const;
  std::vector<Publication> all() const;  // sorted by name, then version
  // Throws Error(conflict) if another repo owns name+version.
  void record(const Publication& p);
  void erase(const std::string& name, const std::string& version);

  std::string to_json() const;
  static Ledger from_json(const std::string& json);  // Error(invalid_argument) when corrupt

 private:
  std::map<std::pair<std::string, std::string>, Publication> entries_;
};

}  // namespace cmop::publish
