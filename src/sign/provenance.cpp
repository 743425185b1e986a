// The provenance file Helm writes beside a signed package (pkg/provenance/sign.go).
#include <cmath>

#include "chart/go_yaml.hpp"
#include "cmop/chart/metadata.hpp"
#include "cmop/sign/provenance.hpp"
#include "cmop/util/hash.hpp"
#include "cmop/util/time.hpp"

namespace cmop::sign {

std::string provenance_message(const package::Package& pkg) {
  // messageBlock: yaml.Marshal(chart.Metadata) of the chart as loaded from the
  // archive, then YAML's document-end marker ("---" cannot start a clear-signed
  // line), then yaml.Marshal(SumCollection{Files: {base: "sha256:" + hex}}).
  std::string text = chart::to_helm_yaml(pkg.metadata);
  text += "\n...\n";
  const std::string digest = pkg.digest.empty() ? util::sha256_hex(pkg.bytes) : pkg.digest;
  chart::goyaml::Node files = chart::goyaml::Node::mapping();
  files.map.emplace_back(pkg.filename, chart::goyaml::Node::str("sha256:" + digest));
  chart::goyaml::Node root = chart::goyaml::Node::mapping();
  root.map.emplace_back("files", std::move(files));
  text += chart::goyaml::marshal(root);
  return text;
}

std::string provenance(const SigningKey& key, const package::Package& pkg) {
  std::int64_t created = 315532800;  // 1980-01-01T00:00:00Z, the archive's own epoch
  if (auto t = util::parse_rfc3339_seconds(pkg.created)) created = static_cast<std::int64_t>(std::floor(*t));
  return key.clearsign(provenance_message(pkg), created);
}

}  // namespace cmop::sign
