#pragma once
// The sync's order step: in which order the chart folders are published.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "sync/discover.hpp"

namespace cmop::sync {

// Per chart path, the chart names its dependencies read from "self" (cmop's own
// chart repository, through a mirror among `repositories`).
using SelfServed = std::map<std::string, std::vector<std::string>>;
SelfServed self_served(const ChartLayout& layout, const std::vector<deps::NamedRepository>& repositories);
// Every name some chart reads from "self".
std::set<std::string> read_from_self(const SelfServed& self_served);

// Chart paths in publishing order: a chart whose dependencies are read from
// cmop's own chart repository comes after the charts of this repo it names, so
// one sync publishes an umbrella chart together with its siblings. Otherwise the
// discovery order is kept; a cycle leaves its charts in that order (and they
// fail to resolve, naming the dependency).
std::vector<std::string> publishing_order(const ChartLayout& layout, const SelfServed& self_served);

}  // namespace cmop::sync
