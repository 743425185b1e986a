// The operator's TLS path: the fake API server served over TLS with a CA made here with
// openssl, reached through every kubeconfig form users have (CA file or data, client
// certificate and key as files or data, a bearer token file as in a pod,
// insecure-skip-tls-verify), and the real `cmop operate` over it.
#include <cstdlib>
#include <fstream>

#include "cmop/operate/kube_client.hpp"
#include "cmop/util/base64.hpp"
#include "operate_fixtures.hpp"

using namespace cmop;
using namespace cmop::operate;
using namespace cmop::test;

namespace {

// A throw-away PKI: a CA, the server's certificate for 127.0.0.1, a client certificate
// for "admin", and a client certificate from another CA the server does not trust.
struct TestPki {
  util::TempDir dir{"cmop-pki-"};
  explicit TestPki() {
    auto ec = [](const std::string& key) {
      return std::vector<std::string>{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
                                      "-keyout", key};
    };
    auto openssl = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "openssl");
      run_ok(args, dir.path());
    };
    auto self_signed = [&](const std::string& name) {
      auto args = std::vector<std::string>{"req", "-x509"};
      for (auto& a : ec(name + ".key")) args.push_back(a);
      args.insert(args.end(), {"-out", name + ".crt", "-days", "2", "-subj", "/CN=" + name});
      openssl(args);
    };
    auto issue = [&](const std::string& name, const std::string& cn, const std::string& ca, const std::string& ext) {
      std::ofstream(dir.path() / (name + ".ext")) << ext << "\n";
      auto args = std::vector<std::string>{"req"};
      for (auto& a : ec(name + ".key")) args.push_back(a);
      args.insert(args.end(), {"-out", name + ".csr", "-subj", "/CN=" + cn});
      openssl(args);
      openssl({"x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial",
               "-days", "2", "-out", name + ".crt", "-extfile", name + ".ext"});
    };
    self_signed("ca");
    self_signed("other-ca");
    issue("server", "kube-apiserver", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    issue("admin", "admin", "ca", "extendedKeyUsage=clientAuth");
    issue("stranger", "stranger", "other-ca", "extendedKeyUsage=clientAuth");
  }
  std::string path(const std::string& file) const { return (dir.path() / file).string(); }
  std::string pem(const std::string& file) const { return util::read_file(dir.path() / file); }
  std::string data(const std::string& file) const { return util::base64_encode(pem(file)); }
};

struct TlsApiServer {
  FakeApiServer api;
  explicit TlsApiServer(const TestPki& pki)
      : api({"--token", "sekret", "--namespaces", FakeApiServer::kNamespaces, "--tls-cert", pki.path("server.crt"),
             "--tls-key", pki.path("server.key"), "--client-ca", pki.path("ca.crt")}) {}
  std::string url() const { return "https://127.0.0.1:" + std::to_string(api.peer.port); }
};

// A kubeconfig of one cluster and one user with the given fields (YAML flow style).
std::string kubeconfig(const std::string& server, const std::string& cluster, const std::string& user) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
         "contexts: [{name: t, context: {cluster: c, user: u, namespace: ops}}]\n"
         "clusters: [{name: c, cluster: {server: \"" + server + "\", " + cluster + "}}]\n"
         "users: [{name: u, user: {" + user + "}}]\n";
}

KubeConfig load(const util::TempDir& dir, const std::string& text) {
  std::ofstream(dir.path() / "kubeconfig") << text;
  return kubeconfig_from_file(dir.path() / "kubeconfig");
}

std::size_t count_chartmuseums(const KubeConfig& cfg) {
  return KubeClient(cfg).list(resources::chartmuseums, "")["items"].Size();
}

}  // namespace

TEST_CASE("kube client over TLS: every kubeconfig form reaches the API server, an untrusted one does not") {
  TestPki pki;
  TlsApiServer server(pki);
  util::TempDir dir;
  const std::string url = server.url();

  SECTION("CA file and a bearer token") {
    CHECK(count_chartmuseums(load(dir, kubeconfig(url, "certificate-authority: " + pki.path("ca.crt"),
                                                  "token: sekret"))) == 0);
  }
  SECTION("CA data and client certificate and key files") {
    CHECK(count_chartmuseums(load(dir, kubeconfig(url, "certificate-authority-data: " + pki.data("ca.crt"),
                                                  "client-certificate: " + pki.path("admin.crt") +
                                                      ", client-key: " + pki.path("admin.key")))) == 0);
  }
  SECTION("CA file and client certificate and key data") {
    CHECK(count_chartmuseums(load(dir, kubeconfig(url, "certificate-authority: " + pki.path("ca.crt"),
                                                  "client-certificate-data: " + pki.data("admin.crt") +
                                                      ", client-key-data: " + pki.data("admin.key")))) == 0);
  }
  SECTION("a bearer token file and the CA of a pod's service account (in-cluster)") {
    std::filesystem::create_directories(dir.path() / "sa");
    std::ofstream(dir.path() / "sa" / "token") << "sekret\n";
    std::ofstream(dir.path() / "sa" / "ca.crt") << pki.pem("ca.crt");
    std::ofstream(dir.path() / "sa" / "namespace") << "ops";
    ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(server.api.peer.port).c_str(), 1);
    auto cfg = in_cluster_config(dir.path() / "sa");
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
    CHECK(cfg.default_namespace == "ops");
    CHECK(count_chartmuseums(cfg) == 0);
  }
  SECTION("insecure-skip-tls-verify and a token") {
    CHECK(count_chartmuseums(load(dir, kubeconfig(url, "insecure-skip-tls-verify: true", "token: sekret"))) == 0);
  }
  SECTION("without the CA the server's certificate is refused") {
    CHECK_THROWS_WITH(count_chartmuseums(load(dir, kubeconfig(url, "insecure-skip-tls-verify: false",
                                                              "token: sekret"))),
                      Catch::Contains("certificate"));
  }
  SECTION("a client certificate of another CA fails the handshake; no credentials at all is a 401") {
    // With TLS 1.3 the server refuses the certificate after the client's side of the
    // handshake: the connection fails (no HTTP answer at all), whatever its wording.
    try {
      count_chartmuseums(load(dir, kubeconfig(url, "certificate-authority: " + pki.path("ca.crt"),
                                              "client-certificate: " + pki.path("stranger.crt") +
                                                  ", client-key: " + pki.path("stranger.key"))));
      FAIL("an untrusted client certificate was accepted");
    } catch (const KubeApiError& e) {
      FAIL("expected no HTTP answer, got " << e.what());
    } catch (const Error& e) {
      CHECK(e.code() == Errc::network);
    }
    try {
      count_chartmuseums(load(dir, kubeconfig(url, "certificate-authority: " + pki.path("ca.crt"), "")));
      FAIL("expected 401");
    } catch (const KubeApiError& e) {
      CHECK(e.http_status() == 401);
    }
  }
}

TEST_CASE("operator over TLS with a client certificate: create -> Ready, delete -> cleaned up") {
  TestPki pki;
  TlsApiServer server(pki);
  Peer sidecar = start_python_peer("fake_sidecar.py", {"--token", "side-token"});
  util::TempDir dir;
  auto config = kubeconfig(server.url(), "certificate-authority-data: " + pki.data("ca.crt"),
                           "client-certificate: " + pki.path("admin.crt") + ", client-key: " + pki.path("admin.key"));
  Operator op(server.api, sidecar.url(), {}, config);
  KubeClient kube(load(dir, config));
  kube.create(resources::chartmuseums, "team", chartmuseum("web", "https://git.example/web"));
  eventually("web Ready over TLS", [&] { return ready(kube, "team", "web", 1); });
  CHECK_FALSE(gone(kube, resources::cronjobs, "team", "web"));
  kube.remove(resources::chartmuseums, "team", "web");
  eventually("web deleted over TLS", [&] { return gone(kube, resources::chartmuseums, "team", "web"); });
}
