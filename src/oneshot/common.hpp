#pragma once
// What `cmop package` and `cmop publish --once` share: the dependency flags (as
// `cmop serve` names them), progress lines for a terminal, and output helpers.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cmop/deps/resolver.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"

namespace CLI {
class App;
}

namespace cmop::oneshot {

struct NetworkFlags {
  std::vector<std::string> dependencies;  // name=url
  std::vector<std::string> dependency_hosts;
  std::vector<std::string> plain_http_registries;
  std::string ca_file;
  long network_timeout_seconds = 60;
  std::string output = "text";
};

// Adds --dependency, --dependency-hosts, --plain-http-registries, --ca-file,
// --network-timeout and --output to `cmd` (filling `flags`), the help's `footer`,
// and the callback: `run`, then exit with its code.
void complete_command(CLI::App& cmd, NetworkFlags& flags, const char* footer, std::function<int()> run);

// The flags turned into what the core takes. Throws Error(invalid_argument) naming
// the flag that is wrong.
struct Network {
  std::vector<deps::NamedRepository> dependencies;
  net::TlsOptions tls;
  net::ConnectionPolicy dependency_peers;  // as `cmop serve`: loopback only when listed
  oci::ClientOptions registry_options;     // for the publish target
  std::shared_ptr<oci::RegistryClient> dependency_registry;
};
Network make_network(const NetworkFlags& flags);

// Progress for long work: a line on stderr, only when stderr is a terminal.
class Progress {
 public:
  Progress();
  bool enabled() const { return enabled_; }
  void line(const std::string& text) const;

 private:
  bool enabled_;
};

// "<what>: <reason>" on stderr, prefixed with the command; URLs in it redacted
// (a libgit2 or resolver message may quote one with its credentials).
void report_error(const std::string& command, const std::string& text);

// A JSON string literal of `text` (quotes included), URLs in it redacted as in
// report_error: what the commands print is shown, often in a shared CI log.
std::string json_string(const std::string& text);

}  // namespace cmop::oneshot
