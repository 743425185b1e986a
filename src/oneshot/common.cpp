#include "common.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cmop/error.hpp"
#include "cmop/util/redact.hpp"

namespace cmop::oneshot {

void complete_command(CLI::App& cmd, NetworkFlags& f, const char* footer, std::function<int()> run) {
  cmd.add_option("--dependency", f.dependencies,
                 "name=url of a chart repository (http(s):// or oci://) that dependencies may name by @name or "
                 "url (repeatable)");
  cmd.add_option("--dependency-hosts", f.dependency_hosts,
                 "hosts dependency chart repos may be fetched from (comma-separated, *.domain allowed); default any "
                 "host except loopback and link-local addresses, which must be listed to be reached")
      ->envname("CMOP_DEPENDENCY_HOSTS")
      ->delimiter(',');
  cmd.add_option("--plain-http-registries", f.plain_http_registries,
                 "registries (host:port, comma-separated) reached over plain http:// (Helm's --plain-http)")
      ->envname("CMOP_PLAIN_HTTP_REGISTRIES")
      ->delimiter(',');
  cmd.add_option("--ca-file", f.ca_file, "extra CA bundle (PEM) trusted for every TLS peer")->envname("CMOP_CA_FILE");
  cmd.add_option("--network-timeout", f.network_timeout_seconds,
                 "seconds a git transfer or a chart-repo request may wait for an answer, 0 = no limit")
      ->envname("CMOP_NETWORK_TIMEOUT")
      ->check(CLI::Range(0L, 86400L))
      ->capture_default_str();
  cmd.add_option("-o,--output", f.output, "text (a line per chart) or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd.footer(footer);
  cmd.callback([run = std::move(run)] {
    const int code = run();
    std::cout.flush();
    std::exit(code);
  });
}

Network make_network(const NetworkFlags& f) {
  Network n;
  for (const auto& d : f.dependencies) {
    auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == d.size())
      throw Error(Errc::invalid_argument, "--dependency \"" + util::redact_url(d) + "\"", "wants name=url");
    deps::NamedRepository r;
    r.name = d.substr(0, eq);
    r.url = d.substr(eq + 1);
    for (const auto& known : n.dependencies)
      if (known.name == r.name)
        throw Error(Errc::invalid_argument, "--dependency " + r.name, "is given twice");
    n.dependencies.push_back(std::move(r));
  }
  if (!f.ca_file.empty()) {
    if (!std::filesystem::is_regular_file(f.ca_file))
      throw Error(Errc::invalid_argument, "--ca-file", f.ca_file + " is not a readable file");
    n.tls.ca_file = std::filesystem::absolute(f.ca_file).string();
  }
  const std::chrono::seconds stall(f.network_timeout_seconds);
  n.dependency_peers.allowed_hosts = f.dependency_hosts;
  n.dependency_peers.allow_local_addresses = false;
  n.dependency_peers.stall_timeout = stall;
  n.registry_options.tls = n.tls;
  n.registry_options.plain_http_hosts = f.plain_http_registries;
  if (stall.count() > 0) n.registry_options.peers.stall_timeout = stall;
  // oci:// dependencies come from chart authors: held to the dependency policy.
  oci::ClientOptions dependency_registry = n.registry_options;
  dependency_registry.peers = n.dependency_peers;
  n.dependency_registry = std::make_shared<oci::RegistryClient>(dependency_registry);
  return n;
}

Progress::Progress() : enabled_(::isatty(STDERR_FILENO) == 1) {}

void Progress::line(const std::string& text) const {
  if (enabled_) std::cerr << text << std::endl;
}

void report_error(const std::string& command, const std::string& text) {
  std::cerr << "cmop " << command << ": " << util::redact_text(text) << "\n";
}

std::string json_string(const std::string& given) {
  const std::string text = util::redact_text(given);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cmop::oneshot
