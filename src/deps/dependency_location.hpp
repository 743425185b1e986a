#pragma once
// Where a dependency's charts come from: the repository forms Chart.yaml allows
// (URL, @name, alias:name, file://, oci://, none) read against the registered
// repositories and their mirrors, and the URL rules Helm compares them by.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cmop/chart/metadata.hpp"
#include "cmop/deps/resolver.hpp"
#include "cmop/net/http_client.hpp"

namespace cmop::deps::detail {

// A chart repository or registry namespace a dependency is fetched from.
struct Remote {
  std::string url;  // repository URL (what index.yaml is relative to)
  std::string username, password;
  bool self = false;  // cmop's own publish target, read through a ChartSource
  bool oci = false;   // an oci://host/path registry namespace
};

// nullopt for vendored and file:// dependencies. `recorded` receives the
// repository URL as Chart.lock records it (an @name or alias: replaced by the
// registered URL, as Helm does). Throws Error(dependency) naming `subject`.
std::optional<Remote> locate(const chart::Dependency& d, const std::vector<NamedRepository>& repositories,
                             const std::string& subject, std::string& recorded);

bool is_oci(const std::string& url);
bool starts_with(std::string_view s, std::string_view prefix);
std::string lower(std::string s);
std::string trim_trailing_slash(std::string s);
// The hex of an index entry's digest ("sha256:" optional), lower-cased.
std::string sha256_hex_of(const std::string& digest);
// Basic auth for the remote's credentials; none when it has none.
net::Headers auth_headers(const Remote& remote);

}  // namespace cmop::deps::detail
