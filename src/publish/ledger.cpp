#include "cmop/publish/ledger.hpp"

#include "cmop/error.hpp"

namespace cmop::publish {

std::optional<Publication> Ledger::find(const std::string& name, const std::string& version) const {
  auto it = entries_.find({name, version});
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<Publication> Ledger::all() const {
  std::vector<Publication> out;
  out.reserve(entries_.size());
  for (const auto& [key, p] : entries_) out.push_back(p);
  return out;
}

void Ledger::record(const Publication& p) {
  if (p.repo.empty() || p.name.empty() || p.version.empty())
    throw Error(Errc::invalid_argument, p.name + "-" + p.version,
                "a publication needs a repo, a chart name and a version");
  auto it = entries_.find({p.name, p.version});
  if (it != entries_.end() && it->second.repo != p.repo)
    throw Error(Errc::conflict, p.name + "-" + p.version,
                "already published by repo \"" + it->second.repo + "\" from " + it->second.chart_path);
  entries_[{p.name, p.version}] = p;
}

void Ledger::erase(const std::string& name, const std::string& version) { entries_.erase({name, version}); }

}  // namespace cmop::publish
