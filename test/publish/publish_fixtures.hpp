#pragma once
// Shared helpers of the publish tests: real chart packages and a look into the
// fake ChartMuseum's /__state over a real socket.
#include <rapidjson/document.h>

#include <map>
#include <string>

#include "cmop/error.hpp"
#include "cmop/net/http_client.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/util/hash.hpp"
#include "support/process.hpp"
#include "support/error_of.hpp"

namespace cmop::test {

// A minimal valid v2 chart package named <name>-<version>.tgz; `salt` changes the
// bytes (and so the digest) without changing name or version.
inline package::Package make_package(const std::string& name, const std::string& version,
                                     const std::string& salt = "") {
  std::string chart_yaml = "apiVersion: v2\nname: " + name + "\nversion: " + version +
                           "\ndescription: test chart " + name + "\nappVersion: \"1.0\"\n";
  package::TarGzWriter writer;
  writer.add_file(name + "/Chart.yaml", chart_yaml);
  writer.add_file(name + "/values.yaml", "salt: \"" + salt + "\"\n");
  writer.add_file(name + "/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
  package::Package pkg;
  pkg.metadata.api_version = "v2";
  pkg.metadata.name = name;
  pkg.metadata.version = version;
  pkg.metadata.description = "test chart " + name;
  pkg.metadata.app_version = "1.0";
  pkg.filename = name + "-" + version + ".tgz";
  pkg.bytes = writer.finish();
  pkg.digest = util::sha256_hex(pkg.bytes);
  pkg.files = {name + "/Chart.yaml", name + "/values.yaml", name + "/templates/cm.yaml"};
  return pkg;
}

// A publisher's options for the fake ChartMuseum `peer`; a 409 is re-checked
// after 200 ms rather than a second.
inline publish::ChartMuseumOptions chartmuseum_options(const Peer& peer) {
  publish::ChartMuseumOptions o;
  o.url = peer.url();
  o.conflict_recheck_delay = std::chrono::milliseconds(200);
  return o;
}

inline net::Response http_get(const std::string& url, net::Headers headers = {}) {
  net::Request req;
  req.url = url;
  req.headers = std::move(headers);
  req.timeout = std::chrono::milliseconds(10000);
  return net::HttpClient().send(req);
}

inline net::Response http_post(const std::string& url, const std::string& body) {
  net::Request req;
  req.method = "POST";
  req.url = url;
  req.body = body;
  req.headers = {{"Content-Type", "application/json"}};
  req.timeout = std::chrono::milliseconds(10000);
  return net::HttpClient().send(req);
}

// The charts the fake holds for one tenant: {name: {version: sha256}}.
using StoredCharts = std::map<std::string, std::map<std::string, std::string>>;

inline rapidjson::Document fake_state(const std::string& base_url) {
  auto res = http_get(base_url + "/__state");
  if (res.status != 200) throw Error(Errc::upstream, base_url + "/__state", "HTTP " + std::to_string(res.status));
  rapidjson::Document doc;
  doc.Parse(res.body.data(), res.body.size());
  if (doc.HasParseError() || !doc.IsObject())
    throw Error(Errc::upstream, base_url + "/__state", "not a JSON object");
  return doc;
}

inline StoredCharts stored_charts(const std::string& base_url, const std::string& tenant = "") {
  auto doc = fake_state(base_url);
  StoredCharts out;
  auto tenants = doc.FindMember("tenants");
  if (tenants == doc.MemberEnd()) return out;
  auto t = tenants->value.FindMember(tenant.c_str());
  if (t == tenants->value.MemberEnd()) return out;
  for (const auto& chart : t->value.GetObject())
    for (const auto& v : chart.value.GetObject())
      out[chart.name.GetString()][v.name.GetString()] = v.value.GetString();
  return out;
}

inline int request_count(const std::string& base_url, const std::string& method_and_path) {
  auto doc = fake_state(base_url);
  auto it = doc["requests"].FindMember(method_and_path.c_str());
  return it == doc["requests"].MemberEnd() ? 0 : it->value.GetInt();
}

}  // namespace cmop::test
