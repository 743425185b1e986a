#pragma once
// Choosing a publish target from what a user configured: a ChartMuseum, an OCI
// registry or a local chart-repository folder, exactly one of them.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "cmop/publish/publisher.hpp"

namespace cmop::publish {

struct TargetOptions {
  std::string chartmuseum_url;
  std::string chartmuseum_username, chartmuseum_password, chartmuseum_token, chartmuseum_tenant;
  std::size_t chartmuseum_max_upload_bytes = 0;
  std::string oci_registry;  // oci://host[:port]/path
  oci::Credentials oci_credentials;
  std::filesystem::path local_repo_dir;  // a folder holding <chart>.tgz files and index.yaml
  std::string local_base_url;            // urls in its index.yaml are relative to this ("" = file names)
  std::chrono::milliseconds local_index_delay{0};
  net::TlsOptions tls;                            // for ChartMuseum
  std::shared_ptr<oci::RegistryClient> registry;  // for the OCI registry (its plain-http hosts, CA)
};

// The publisher for the one target set. Throws Error(invalid_argument) naming the
// flag (--chartmuseum-url, --oci-registry, --local-repo-dir) when none or more than
// one is set, when its URL is malformed or a base URL is given for no folder; Error(io) when the folder cannot be made.
std::unique_ptr<Publisher> make_target_publisher(const TargetOptions& options);

}  // namespace cmop::publish
