#include "support/registry_fixture.hpp"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "cmop/net/http_client.hpp"
#include "cmop/util/fs.hpp"

namespace cmop::test {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void must(const std::vector<std::string>& argv) {
  std::string out;
  if (run(argv, &out) != 0) throw std::runtime_error(argv.front() + " failed: " + out);
}

}  // namespace

Registry::Registry(RegistryOptions options) : options_(std::move(options)) {
  dir_ = fs::temp_directory_path() / ("cmop-registry-" + std::to_string(::getpid()) + "-" + std::to_string(free_port()));
  fs::create_directories(dir_ / "storage");
  port_ = free_port();
  const std::string d = dir_.string();

  std::string config = std::string("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: ") +
                       (options_.access_log ? "false" : "true") + "\n"
                       "storage:\n  filesystem:\n    rootdirectory: " + d + "/storage\n  delete:\n    enabled: " + (options_.allow_delete ? "true" : "false") + "\n"
                       "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n  secret: cmop-test\n";
  if (options_.tls) {
    ca_file_ = dir_ / "ca.pem";
    must({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cmop test CA",
          "-keyout", d + "/ca.key", "-out", ca_file_.string()});
    must({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", d + "/server.key",
          "-out", d + "/server.csr"});
    std::ofstream(dir_ / "ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    must({"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca_file_.string(), "-CAkey", d + "/ca.key",
          "-CAcreateserial", "-days", "2", "-extfile", d + "/ext.cnf", "-out", d + "/server.pem"});
    config += "  tls:\n    certificate: " + d + "/server.pem\n    key: " + d + "/server.key\n";
  }
  if (!options_.htpasswd_user.empty()) {
    std::string out;
    if (run({"htpasswd", "-Bbn", options_.htpasswd_user, options_.htpasswd_password}, &out) != 0)
      throw std::runtime_error("htpasswd failed: " + out);
    std::ofstream(dir_ / "htpasswd") << out;
    config += "auth:\n  htpasswd:\n    realm: cmop-test\n    path: " + d + "/htpasswd\n";
  } else if (options_.token_auth) {
    must({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days",
          "2", "-subj", "/CN=cmop test token issuer", "-keyout", d + "/token.key", "-out", d + "/token.pem"});
    std::vector<std::string> args{"--key", d + "/token.key", "--cert", d + "/token.pem"};
    if (!options_.token_user.empty()) {
      args.push_back("--basic-auth");
      args.push_back(options_.token_user + ":" + options_.token_password);
    }
    token_server_ = std::make_unique<Peer>(start_python_peer("registry_token_server.py", args));
    config += "auth:\n  token:\n    realm: " + token_server_->url() + "/token\n    service: cmop-test-registry\n"
              "    issuer: cmop-test-issuer\n    rootcertbundle: " + d + "/token.pem\n";
  }
  if (options_.redirect_blobs) {
    std::string baseurl = options_.redirect_baseurl;
    if (baseurl.empty()) {
      storage_server_ = std::make_unique<Peer>(start_python_peer("blob_storage_server.py", {"--root", d + "/storage"}));
      baseurl = storage_server_->url() + "/";
    }
    config += "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: " + baseurl + "\n";
  }
  std::ofstream(dir_ / "config.yml") << config;
  start();
}

Registry::~Registry() {
  process_.reset();
  token_server_.reset();
  storage_server_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void Registry::start() {
  process_ = std::make_unique<Process>(std::vector<std::string>{"docker-registry", "serve", (dir_ / "config.yml").string()},
                                       std::map<std::string, std::string>{}, fs::path{}, dir_ / "registry.log");
  if (!wait_for_port(port_, 20000))
    throw std::runtime_error("docker-registry did not listen; log:\n" + slurp(dir_ / "registry.log"));
}

void Registry::stop() {
  if (!process_) return;
  process_->kill(15);
  process_->wait();
  process_.reset();
}

std::string Registry::token_host() const {
  return token_server_ ? "127.0.0.1:" + std::to_string(token_server_->port) : "";
}

std::vector<std::string> Registry::requests() const {
  // Lines like: 127.0.0.1 - - [date] "PUT /v2/charts/web/manifests/1.0.0 HTTP/1.1" 201 0 "" "agent"
  std::vector<std::string> out;
  std::ifstream in(dir_ / "registry.log");
  for (std::string line; std::getline(in, line);) {
    auto open = line.find("] \"");
    if (open == std::string::npos) continue;
    auto start = open + 3;
    auto end = line.find(" HTTP/", start);
    if (end != std::string::npos) out.push_back(line.substr(start, end - start));
  }
  return out;
}

std::string Registry::storage_url() const { return storage_server_ ? storage_server_->url() : ""; }

int Registry::token_requests() const {
  if (!token_server_) return 0;
  net::Request req;
  req.url = token_server_->url() + "/__requests";
  auto body = net::HttpClient().send(req).body;
  auto at = body.find("\"token\": ");
  return at == std::string::npos ? 0 : std::stoi(body.substr(at + 9));
}

}  // namespace cmop::test
