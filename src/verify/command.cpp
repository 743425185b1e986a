#include "cmop/verify/command.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/oci/registry.hpp"
#include "cmop/sign/provenance.hpp"
#include "cmop/sign/verify.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/redact.hpp"

namespace cmop::verify {
namespace {

struct Options {
  std::string chart;
  std::string git, commit, path;
  std::vector<std::string> dependencies;  // name=url
  std::vector<std::string> plain_http;
  std::string keyring;  // set: the .prov is checked too
};

// The chart's bytes, and for OCI the source its manifest names.
struct Fetched {
  std::string bytes;
  std::string revision, source;     // org.opencontainers.image.revision/source
  std::optional<std::string> prov;  // the provenance beside it, when asked for and found
};

Fetched fetch(const Options& o) {
  Fetched f;
  if (o.chart.rfind("oci://", 0) == 0) {
    // oci://host/path/name:version
    auto colon = o.chart.rfind(':');
    auto slash = o.chart.rfind('/');
    if (colon == std::string::npos || slash == std::string::npos || colon < slash || slash < 6)
      throw Error(Errc::invalid_argument, o.chart, "an OCI chart is oci://host[:port]/path/name:version");
    const std::string tag = o.chart.substr(colon + 1);
    const std::string name = o.chart.substr(slash + 1, colon - slash - 1);
    auto ref = oci::Reference::parse(o.chart.substr(0, slash));
    oci::ClientOptions co;
    co.plain_http_hosts = o.plain_http;
    oci::RegistryClient client(co);
    oci::Endpoint ep{ref.host, {}};
    const std::string repository = ref.repository(name);
    auto m = client.manifest(ep, repository, oci::tag_for_version(tag));
    if (!m) throw Error(Errc::not_found, o.chart, "no such tag");
    const oci::Descriptor* layer = nullptr;
    for (const auto& l : m->layers)
      if (l.media_type == oci::kHelmChartLayerMediaType) layer = &l;
    if (!layer) throw Error(Errc::upstream, o.chart, "not a Helm chart (no chart layer)");
    f.bytes = client.blob(ep, repository, layer->digest, 100u << 20);
    if (!o.keyring.empty())
      for (const auto& l : m->layers)
        if (l.media_type == "application/vnd.cncf.helm.chart.provenance.v1.prov")
          f.prov = client.blob(ep, repository, l.digest, 1u << 20);
    if (auto it = m->annotations.find("org.opencontainers.image.revision"); it != m->annotations.end())
      f.revision = it->second;
    if (auto it = m->annotations.find("org.opencontainers.image.source"); it != m->annotations.end())
      f.source = it->second;
    return f;
  }
  if (o.chart.rfind("http://", 0) == 0 || o.chart.rfind("https://", 0) == 0) {
    net::HttpClient client;
    net::Request req;
    req.url = o.chart;
    req.max_response_body = 100u << 20;
    req.timeout = std::chrono::minutes(2);
    auto res = client.send(req);
    if (res.status != 200) throw Error(Errc::upstream, util::redact_url(o.chart), "HTTP " + std::to_string(res.status));
    f.bytes = std::move(res.body);
    if (!o.keyring.empty()) {
      req.url = o.chart + ".prov";
      req.max_response_body = 1u << 20;
      auto p = client.send(req);
      if (p.status == 200) f.prov = std::move(p.body);
    }
    return f;
  }
  f.bytes = util::read_file(o.chart);
  if (!o.keyring.empty() && std::filesystem::is_regular_file(o.chart + ".prov"))
    f.prov = util::read_file(o.chart + ".prov");
  return f;
}

int run(const Options& o) {
  Fetched chart;
  sign::RebuildInput in;
  try {
    chart = fetch(o);
    auto [name, version] = sign::archive_chart(chart.bytes);
    in.name = name;
    in.version = version;
  } catch (const Error& e) {
    std::cerr << "cmop verify: cannot read the chart: " << e.what() << "\n";
    return no_rebuild;
  }
  // The signature first: it needs no rebuild.
  bool prov_ok = true;
  if (!o.keyring.empty()) {
    const std::string filename = in.name + "-" + in.version + ".tgz";
    try {
      if (!chart.prov) throw Error(Errc::not_found, filename + ".prov", "no provenance file beside the chart");
      auto check = sign::verify_provenance(*chart.prov, util::read_file(o.keyring), filename, chart.bytes);
      std::cout << "signed by " << check.user_id << " (" << check.fingerprint << "), " << check.file_hash << "\n";
    } catch (const Error& e) {
      std::cout << "provenance refused: " << e.what() << "\n";
      prov_ok = false;
    }
  }
  in.git = o.git.empty() ? chart.source : o.git;
  in.commit = o.commit.empty() ? chart.revision : o.commit;
  in.path = o.path;
  if (in.git.empty() || in.commit.empty()) {
    std::cerr << "cmop verify: no source to rebuild from: give --git and --commit (an OCI chart cmop pushed names "
                 "them in its annotations org.opencontainers.image.source and .revision)\n";
    return no_rebuild;
  }
  for (const auto& d : o.dependencies) {
    auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == d.size()) {
      std::cerr << "cmop verify: --dependency wants name=url, got \"" << util::redact_url(d) << "\"\n";
      return no_rebuild;
    }
    deps::NamedRepository r;
    r.name = d.substr(0, eq);
    r.url = d.substr(eq + 1);
    in.dependencies.push_back(r);
  }
  package::Package rebuilt;
  try {
    rebuilt = sign::rebuild(in);
  } catch (const Error& e) {
    std::cerr << "cmop verify: cannot rebuild " << in.name << " " << in.version << " from " << util::redact_url(in.git)
              << " at " << in.commit << ": " << e.what() << "\n";
    return no_rebuild;
  }
  std::optional<sign::Difference> diff;
  try {
    diff = sign::compare_archives(chart.bytes, rebuilt.bytes);
  } catch (const Error& e) {
    std::cerr << "cmop verify: " << e.what() << "\n";
    return no_rebuild;
  }
  const std::string digest = util::sha256_hex(chart.bytes);
  if (!diff) {
    std::cout << "match sha256:" << digest << " " << in.name << " " << in.version << " from "
              << util::redact_url(in.git) << " at " << in.commit << "\n";
    return prov_ok ? match : differs;
  }
  std::cout << "differs: " << (diff->member.empty() ? "(the archive)" : diff->member) << ": " << diff->what
            << "\n  chart   sha256:" << digest << "\n  rebuilt sha256:" << rebuilt.digest << " (" << in.name << " "
            << in.version << " from " << util::redact_url(in.git) << " at " << in.commit << ")\n";
  return differs;
}

}  // namespace

void add_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("verify", "Rebuild a chart from its git commit and compare the bytes");
  cmd->add_option("chart", o->chart, "a .tgz file, an http(s):// URL of one, or oci://host/path/name:version")
      ->required();
  cmd->add_option("--git", o->git, "git URL of the chart's source (default: an OCI chart's annotation)");
  cmd->add_option("--commit", o->commit, "commit to rebuild from (default: an OCI chart's annotation)");
  cmd->add_option("--path", o->path, "folder of the repository to look for the chart in");
  cmd->add_option("--dependency", o->dependencies, "name=url of a dependency chart repository (repeatable)");
  cmd->add_option("--keyring", o->keyring, "public keyring (gpg --export): also check the chart's .prov");
  cmd->add_option("--plain-http-registries", o->plain_http, "registries (host:port) reached over plain http://")
      ->delimiter(',');
  cmd->callback([o]() {
    int code = run(*o);
    std::cout.flush();
    std::exit(code);
  });
}

}  // namespace cmop::verify
