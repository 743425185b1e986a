#pragma once
// The real CNCF Distribution registry (Debian's docker-registry) on 127.0.0.1,
// with deletes enabled, in the three set-ups registries are met in: plain HTTP
// and anonymous; TLS with a CA made for the test and htpasswd basic auth; and
// bearer tokens from test/support/registry_token_server.py.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace cmop::test {

struct RegistryOptions {
  bool tls = false;
  std::string htpasswd_user, htpasswd_password;  // basic auth when set
  bool token_auth = false;                       // Bearer challenges from a token server
  std::string token_user, token_password;        // the token server wants these (else anonymous tokens)
  bool allow_delete = true;                      // storage.delete.enabled
  // Blob GETs and HEADs answered with a 307 to another server, as registries on S3
  // or behind a CDN do (the `redirect` storage middleware): to redirect_baseurl, or
  // when that is empty to a test/support/blob_storage_server.py serving the
  // registry's storage on its own port.
  bool redirect_blobs = false;
  std::string redirect_baseurl = {};
  // The registry's own access log kept (Apache combined format), so a test counts
  // what reached the registry itself: requests().
  bool access_log = false;
};

class Registry {
 public:
  explicit Registry(RegistryOptions options = {});
  ~Registry();
  // host:port, as oci:// URLs and --plain-http-registries name it.
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string oci(const std::string& path = "charts") const { return "oci://" + host() + "/" + path; }
  const std::filesystem::path& ca_file() const { return ca_file_; }  // TLS only
  // Where the registry keeps blobs: <storage>/docker/registry/v2/blobs/sha256/<2>/<hex>/data.
  std::filesystem::path blob_file(const std::string& sha256_hex) const {
    return dir_ / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256" / sha256_hex.substr(0, 2) /
           sha256_hex / "data";
  }
  // "METHOD /path" of every request the registry logged so far (access_log only).
  std::vector<std::string> requests() const;
  // Stops and starts the registry on the same port and storage (an outage).
  void stop();
  void start();
  // Token requests the token server answered (token auth only).
  int token_requests() const;
  // host:port of the token server (token auth only).
  std::string token_host() const;
  // http://127.0.0.1:<port> of the blob storage server (redirect_blobs only); its
  // /__requests lists what reached it, headers included.
  std::string storage_url() const;

 private:
  RegistryOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path ca_file_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
  std::unique_ptr<Peer> token_server_;
  std::unique_ptr<Peer> storage_server_;
};

}  // namespace cmop::test
