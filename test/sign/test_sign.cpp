// Signed provenance (issue 24): keys made by Debian's gpg, checked by real Helm
// 3 and Helm 4 (`helm verify`, `helm pull --verify`) from the embedded repo,
// ChartMuseum (fake) and a real docker-registry, and byte for byte against what
// `helm package --sign` writes.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/publish/publisher.hpp"
#include "cmop/sign/provenance.hpp"
#include "cmop/sign/signing_publisher.hpp"
#include "cmop/sign/verify.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"
#include "serve/serve_fixtures.hpp"
#include "support/gpg_key.hpp"
#include "support/process.hpp"
#include "support/registry_fixture.hpp"

using namespace cmop;
using test::call;
namespace fs = std::filesystem;

namespace {

using test::GpgKey;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

void write_chart_dir(const fs::path& dir, const std::string& name, const std::string& version) {
  // Lists start lines with '-' (dash-escaped in the signed text); a long
  // description is folded; a value with trailing blanks loses them.
  spit(dir / "Chart.yaml", "apiVersion: v2\nname: " + name + "\nversion: " + version +
                               "\ndescription: A chart whose description is long enough that "
                               "go-yaml folds it "
                               "over more than one line of the signed text, as Helm writes it\n"
                               "keywords:\n- signing\n- provenance\nsources:\n- "
                               "https://example.com/src\n"
                               "maintainers:\n- name: Ops Team\n  email: "
                               "ops@example.com\nappVersion: \"1.0\"\n");
  spit(dir / "values.yaml", "replicaCount: 1\n");
  spit(dir / "templates" / "cm.yaml",
       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name "
       "}}\n");
}

// The creation time inside an armored signature (x/crypto's: the first hashed subpacket).
std::int64_t signature_time(const std::string& prov) {
  auto begin = prov.find("-----BEGIN PGP SIGNATURE-----\n\n");
  REQUIRE(begin != std::string::npos);
  begin += 31;
  auto end = prov.find("\n=", begin);
  std::string b64;
  for (char c : prov.substr(begin, end - begin))
    if (c != '\n') b64 += c;
  auto bytes = util::base64_decode(b64);
  REQUIRE(bytes);
  const auto* b = reinterpret_cast<const unsigned char*>(bytes->data());
  std::size_t header = (b[1] < 192) ? 2 : (b[1] < 224 ? 3 : 6);
  const unsigned char* body = b + header;
  REQUIRE(body[0] == 4);
  REQUIRE(body[6] == 5);  // subpacket length 5...
  REQUIRE(body[7] == 2);  // ...creation time
  return (std::int64_t(body[8]) << 24) | (body[9] << 16) | (body[10] << 8) | body[11];
}

std::map<std::string, std::string> helm_env(const fs::path& home) {
  return {{"HELM_CONFIG_HOME", (home / "config").string()},
          {"HELM_CACHE_HOME", (home / "cache").string()},
          {"HELM_DATA_HOME", (home / "data").string()}};
}

package::Package package_of(const fs::path& chart_dir, const std::string& created = "2026-03-04T05:06:07Z") {
  package::PackageInput in;
  in.clone_root = chart_dir.parent_path();
  in.chart_dir = chart_dir.filename().string();
  auto pkg = package::package_chart(in);
  pkg.created = created;
  return pkg;
}

}  // namespace

TEST_CASE(
    "a provenance file is byte for byte what `helm package --sign` "
    "writes, and Helm 3 and 4 verify it",
    "[sign][helm]") {
  GpgKey key("cmop signer");
  auto signer = sign::SigningKey::load(key.armored);
  CHECK(signer->fingerprint() == key.fingerprint);  // the primary key signs (its subkey only encrypts)
  CHECK(signer->user_id() == "cmop signer <cmop signer@example.com>");

  util::TempDir tmp;
  write_chart_dir(tmp.path() / "src" / "signed", "signed", "1.2.3");

  // Helm 3 signs with x/crypto/openpgp: the same text and the same signature
  // time give the same RSA signature, so the whole file must match.
  const auto helm3 = test::helm_clients().front();
  REQUIRE(helm3.name == "helm3");
  test::run_ok({helm3.path, "package", "--sign", "--key", "cmop signer", "--keyring", key.secring.string(),
                (tmp.path() / "src" / "signed").string(), "-d", (tmp.path() / "helm").string()});
  const std::string helm_prov = slurp(tmp.path() / "helm" / "signed-1.2.3.tgz.prov");
  const std::string helm_tgz = slurp(tmp.path() / "helm" / "signed-1.2.3.tgz");
  package::Package helm_pkg = package_of(tmp.path() / "src" / "signed");
  helm_pkg.bytes = helm_tgz;  // Helm's own archive (its sha256 is what is signed)
  helm_pkg.digest = util::sha256_hex(helm_tgz);
  INFO(helm_prov);
  CHECK(signer->clearsign(sign::provenance_message(helm_pkg), signature_time(helm_prov)) == helm_prov);
  // cmop's own check (`cmop verify --keyring`) accepts Helm's file and refuses what Helm refuses.
  auto checked = sign::verify_provenance(helm_prov, slurp(key.pubring), "signed-1.2.3.tgz", helm_tgz);
  CHECK(checked.fingerprint == key.fingerprint);
  CHECK(checked.user_id == "cmop signer <cmop signer@example.com>");
  CHECK(checked.file_hash == "sha256:" + helm_pkg.digest);
  CHECK_THROWS_WITH(sign::verify_provenance(helm_prov, slurp(GpgKey("nobody").pubring), "signed-1.2.3.tgz", helm_tgz),
                    Catch::Contains("not in the keyring"));
  CHECK_THROWS_WITH(sign::verify_provenance(helm_prov, slurp(key.pubring), "signed-1.2.3.tgz", helm_tgz + "x"),
                    Catch::Contains("is not the signed"));
  std::string forged = helm_prov;
  forged.replace(forged.find("name: signed"), 12, "name: signeD");
  CHECK_THROWS_WITH(sign::verify_provenance(forged, slurp(key.pubring), "signed-1.2.3.tgz", helm_tgz),
                    Catch::Contains("signature does not match"));
  // The text has a dash-escaped list line, as clearsign requires.
  CHECK(helm_prov.find("\n- - signing\n") != std::string::npos);

  // cmop's own package and .prov: deterministic, and real Helm 3 and 4 accept it.
  package::Package pkg = package_of(tmp.path() / "src" / "signed");
  const std::string prov = sign::provenance(*signer, pkg);
  CHECK(prov == sign::provenance(*signer, pkg));
  CHECK(signature_time(prov) == 1772600767);  // 2026-03-04T05:06:07Z, the package's `created`
  spit(tmp.path() / "cmop" / pkg.filename, pkg.bytes);
  spit(tmp.path() / "cmop" / (pkg.filename + ".prov"), prov);
  GpgKey other("someone else");
  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    std::string out = test::run_ok(
        {helm.path, "verify", "--keyring", key.pubring.string(), (tmp.path() / "cmop" / pkg.filename).string()});
    CHECK_THAT(out, Catch::Contains("Signed by: cmop signer"));
    CHECK_THAT(out, Catch::Contains(key.fingerprint));
    CHECK_THAT(out, Catch::Contains("sha256:" + pkg.digest));
    // A keyring without the signer's key is refused.
    CHECK(test::run(
              {helm.path, "verify", "--keyring", other.pubring.string(), (tmp.path() / "cmop" / pkg.filename).string()},
              &out) != 0);
    // So is a package that is not the one signed.
    spit(tmp.path() / "tampered" / pkg.filename, pkg.bytes + std::string(8, '\0'));
    spit(tmp.path() / "tampered" / (pkg.filename + ".prov"), prov);
    CHECK(test::run({helm.path, "verify", "--keyring", key.pubring.string(),
                     (tmp.path() / "tampered" / pkg.filename).string()},
                    &out) != 0);
  }
}

TEST_CASE(
    "the signing subkey is the one gpg would sign with, keys that cannot "
    "sign are refused clearly",
    "[sign][helm]") {
  SECTION("a certify-only primary key with an RSA signing subkey") {
    GpgKey key("subkey signer",
               "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: cert\nSubkey-Type: RSA\n"
               "Subkey-Length: 2048\nSubkey-Usage: sign\n");
    auto signer = sign::SigningKey::load(key.armored);
    auto fprs = GpgKey::fingerprints(test::run_ok(
        key.gpg({"--with-colons", "--with-subkey-fingerprints", "--fingerprint", "--list-keys"}), {}, key.env()));
    REQUIRE(fprs.size() == 2);
    CHECK(signer->fingerprint() == fprs[1]);
    util::TempDir tmp;
    write_chart_dir(tmp.path() / "src" / "sub", "sub", "0.1.0");
    auto pkg = package_of(tmp.path() / "src" / "sub");
    spit(tmp.path() / "out" / pkg.filename, pkg.bytes);
    spit(tmp.path() / "out" / (pkg.filename + ".prov"), sign::provenance(*signer, pkg));
    for (const auto& helm : test::helm_clients()) {
      INFO(helm.name);
      CHECK_THAT(test::run_ok({helm.path, "verify", "--keyring", key.pubring.string(),
                               (tmp.path() / "out" / pkg.filename).string()}),
                 Catch::Contains("Signed by: subkey signer"));
    }
  }
  SECTION(
      "a passphrase-protected key is refused, naming the file and not the "
      "key") {
    GpgKey key("locked", "", "s3cret-passphrase");
    const std::string armored = slurp(key.armored);
    REQUIRE(armored.find("BEGIN PGP PRIVATE KEY BLOCK") != std::string::npos);
    try {
      sign::SigningKey::load(key.armored);
      FAIL("an encrypted key was accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains("protected by a passphrase"));
      CHECK_THAT(e.what(), Catch::Contains(key.armored.string()));
    }
    // The binary says so and stops, without a word of the key.
    util::TempDir state;
    std::string out;
    CHECK(test::run({test::cmop_binary(), "serve", "--listen", "127.0.0.1:0", "--state-dir", state.path().string(),
                     "--signing-key", key.armored.string()},
                    &out) != 0);
    CHECK_THAT(out, Catch::Contains("protected by a passphrase"));
    auto body_line = armored.substr(armored.find("\n\n") + 2, 40);
    CHECK(out.find(body_line) == std::string::npos);
  }
  SECTION("a public key, an Ed25519 key and garbage are refused") {
    GpgKey key("pub");
    const std::string pub = test::run_ok(key.gpg({"--armor", "--export"}), {}, key.env());
    CHECK_THROWS_WITH(sign::SigningKey::parse(pub, "pub.asc"), Catch::Contains("public key"));
    CHECK_THROWS_WITH(sign::SigningKey::parse("hello", "x.asc"), Catch::Contains("not an OpenPGP key"));
    GpgKey ed("edwards", "Key-Type: EDDSA\nKey-Curve: ed25519\nKey-Usage: sign\n");
    CHECK_THROWS_WITH(sign::SigningKey::load(ed.armored), Catch::Contains("RSA only"));
  }
}

TEST_CASE(
    "cmop serve --signing-key: Helm 3 and 4 pull --verify from the "
    "embedded repo, re-publishing keeps the "
    ".prov bytes",
    "[sign][helm][serve][binary]") {
  GpgKey key("cmop serve");
  GpgKey other("stranger");
  test::ChartsRepo git;
  const int port = test::free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const fs::path log = git.tmp.path() / "serve.log";
  test::Process serve({test::cmop_binary(), "serve", "--state-dir", git.state.string(), "--listen",
                       "127.0.0.1:" + std::to_string(port)},
                      {{"CMOP_SIGNING_KEY", key.armored.string()}}, fs::path{}, log);
  if (!test::wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << slurp(log));
  auto res = call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url()));
  INFO(res.body);
  REQUIRE(res.status == 200);
  auto prov = call(base, "GET", "/charts/alpha-1.0.0.tgz.prov");
  REQUIRE(prov.status == 200);
  CHECK_THAT(prov.body, Catch::StartsWith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"));
  CHECK(call(base, "GET", "/charts/beta-0.2.0.tgz.prov").status == 200);
  CHECK(call(base, "GET", "/charts/../x.prov").status >= 400);

  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    util::TempDir home;
    auto env = helm_env(home.path());
    fs::create_directories(home.path() / "ok");
    fs::create_directories(home.path() / "refused");
    test::run_ok({helm.path, "repo", "add", "cmop", base + "/charts"}, {}, env);
    std::string out = test::run_ok({helm.path, "pull", "cmop/alpha", "--verify", "--keyring", key.pubring.string(),
                                    "-d", (home.path() / "ok").string()},
                                   {}, env);
    CHECK(fs::exists(home.path() / "ok" / "alpha-1.0.0.tgz"));
    CHECK(test::run({helm.path, "pull", "cmop/beta", "--verify", "--keyring", other.pubring.string(), "-d",
                     (home.path() / "refused").string()},
                    &out, {}, env) != 0);
    CHECK_THAT(out, Catch::Contains("signature made by unknown entity"));
  }

  // `cmop verify` over HTTP: the package rebuilds from its commit, and its .prov checks out.
  std::string verified;
  CHECK(test::run({test::cmop_binary(), "verify", base + "/charts/alpha-1.0.0.tgz", "--git", git.git_url(), "--commit",
                   git.work.head(), "--keyring", key.pubring.string()},
                  &verified) == 0);
  CHECK_THAT(verified, Catch::StartsWith("signed by cmop serve"));
  CHECK_THAT(verified, Catch::Contains("\nmatch sha256:"));

  // The same commit published again (the repo removed and added back): same bytes.
  REQUIRE(call(base, "DELETE", "/repo/mycharts").status == 200);
  test::eventually([&] { return call(base, "GET", "/charts/alpha-1.0.0.tgz.prov").status == 404; }, "prov removed");
  REQUIRE(call(base, "POST", "/repo/new", test::new_repo_body("mycharts", git.git_url())).status == 200);
  CHECK(call(base, "GET", "/charts/alpha-1.0.0.tgz.prov").body == prov.body);
  const std::string logged = slurp(log);
  CHECK_THAT(logged, Catch::Contains(key.fingerprint));
  const std::string armored = slurp(key.armored);
  CHECK(logged.find(armored.substr(armored.find("\n\n") + 2, 40)) == std::string::npos);
  // Nothing of the key in the state dir: neither its text nor its path.
  for (const auto& f : fs::recursive_directory_iterator(git.state)) {
    if (!f.is_regular_file() || f.path().extension() == ".tgz") continue;
    const std::string content = slurp(f.path());
    INFO(f.path());
    CHECK(content.find(armored.substr(armored.find("\n\n") + 2, 40)) == std::string::npos);
    CHECK(content.find(key.armored.string()) == std::string::npos);
  }
}

TEST_CASE(
    "signed charts in ChartMuseum (fake) and a real docker-registry "
    "verify with Helm 3 and 4",
    "[sign][helm][oci][chartmuseum]") {
  GpgKey key("cmop push");
  GpgKey other("stranger");
  auto signer = sign::SigningKey::load(key.armored);
  util::TempDir tmp;
  write_chart_dir(tmp.path() / "src" / "pushed", "pushed", "2.0.0");
  const package::Package pkg = package_of(tmp.path() / "src" / "pushed");

  SECTION(
      "ChartMuseum: the .prov goes up with the chart, and again when the "
      "chart was there unsigned") {
    auto museum = test::start_python_peer("fake_chartmuseum.py");
    publish::ChartMuseumOptions cm;
    cm.url = museum.url();
    auto signing = sign::make_signing_publisher(signer, publish::make_chartmuseum_publisher(cm));
    signing->publish(pkg, false);
    auto prov = call(museum.url(), "GET", "/charts/pushed-2.0.0.tgz.prov");
    REQUIRE(prov.status == 200);
    CHECK(prov.body == sign::provenance(*signer, pkg));
    // An unsigned chart already there gets its .prov through POST /api/prov.
    write_chart_dir(tmp.path() / "src" / "later", "later", "1.0.0");
    auto later = package_of(tmp.path() / "src" / "later");
    publish::make_chartmuseum_publisher(cm)->publish(later, false);
    CHECK(call(museum.url(), "GET", "/charts/later-1.0.0.tgz.prov").status == 404);
    signing->publish(later, false);
    CHECK(call(museum.url(), "GET", "/charts/later-1.0.0.tgz.prov").status == 200);
    for (const auto& helm : test::helm_clients()) {
      INFO(helm.name);
      util::TempDir home;
      auto env = helm_env(home.path());
      fs::create_directories(home.path() / "refused");
      test::run_ok({helm.path, "repo", "add", "museum", museum.url()}, {}, env);
      test::run_ok({helm.path, "pull", "museum/pushed", "--verify", "--keyring", key.pubring.string(), "-d",
                    home.path().string()},
                   {}, env);
      test::run_ok({helm.path, "pull", "museum/later", "--verify", "--keyring", key.pubring.string(), "-d",
                    home.path().string()},
                   {}, env);
      std::string out;
      CHECK(test::run({helm.path, "pull", "museum/pushed", "--verify", "--keyring", other.pubring.string(), "-d",
                       (home.path() / "refused").string()},
                      &out, {}, env) != 0);
      CHECK_THAT(out, Catch::Contains("signature made by unknown entity"));
    }
  }

  SECTION("OCI: the provenance layer is pushed as `helm push` does") {
    test::Registry registry;
    publish::OciPublisherOptions oo;
    oo.url = registry.oci("team");
    oci::ClientOptions co;
    co.plain_http_hosts = {registry.host()};
    oo.client = std::make_shared<oci::RegistryClient>(co);
    // First unsigned, then signed: the same chart gets the provenance layer added.
    publish::make_oci_publisher(oo)->publish(pkg, false);
    auto signing = sign::make_signing_publisher(signer, publish::make_oci_publisher(oo));
    signing->publish(pkg, false);
    auto manifest = oo.client->manifest({registry.host(), {}}, "team/pushed", "2.0.0");
    REQUIRE(manifest);
    REQUIRE(manifest->layers.size() == 2);
    CHECK(manifest->layers[0].media_type == oci::kHelmChartLayerMediaType);
    CHECK(manifest->layers[1].media_type == "application/vnd.cncf.helm.chart.provenance.v1.prov");
    const std::string digest_before = *oo.client->resolve({registry.host(), {}}, "team/pushed", "2.0.0");
    signing->publish(pkg, false);  // unchanged: nothing pushed, same manifest
    CHECK(*oo.client->resolve({registry.host(), {}}, "team/pushed", "2.0.0") == digest_before);
    for (const auto& helm : test::helm_clients()) {
      INFO(helm.name);
      util::TempDir home;
      auto env = helm_env(home.path());
      fs::create_directories(home.path() / "refused");
      std::string out =
          test::run_ok({helm.path, "pull", registry.oci("team") + "/pushed", "--version", "2.0.0", "--plain-http",
                        "--verify", "--keyring", key.pubring.string(), "-d", home.path().string()},
                       {}, env);
      CHECK(fs::exists(home.path() / "pushed-2.0.0.tgz"));
      CHECK(test::run({helm.path, "pull", registry.oci("team") + "/pushed", "--version", "2.0.0", "--plain-http",
                       "--verify", "--keyring", other.pubring.string(), "-d", (home.path() / "refused").string()},
                      &out, {}, env) != 0);
      CHECK_THAT(out, Catch::Contains("signature made by unknown entity"));
    }
  }
}

TEST_CASE("cmop serve into a real docker-registry: signed charts verify with Helm 3 and 4, and record their source",
          "[sign][helm][oci][serve][binary]") {
  GpgKey key("cmop oci");
  test::Registry registry;
  test::ServedRepo git("sourced", "cmop-sign-");
  test::write_chart(git.work, "charts/plain", "plain", "1.0.0");
  test::write_chart(git.work, "charts/named", "named", "2.0.0", "sources:\n- https://example.com/named\n");
  git.commit_and_serve("initial");
  const std::string commit = git.work.head();
  const std::string git_url = git.url();

  const int port = test::free_port();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const fs::path log = git.tmp.path() / "serve.log";
  test::Process serve(
      {test::cmop_binary(), "serve", "--state-dir", git.state.string(), "--signing-key", key.armored.string()},
      {{"CMOP_LISTEN", "127.0.0.1:" + std::to_string(port)},
       {"CMOP_OCI_REGISTRY", registry.oci("team")},
       {"CMOP_PLAIN_HTTP_REGISTRIES", registry.host()}},
      fs::path{}, log);
  if (!test::wait_for_port(port, 30000)) FAIL("cmop serve did not listen; log:\n" << slurp(log));
  auto res = call(base, "POST", "/repo/new", test::new_repo_body("sourced", git_url));
  INFO(res.body);
  REQUIRE(res.status == 200);

  // The state names each chart's source.
  auto state = test::json_of(call(base, "GET", "/repo/sourced"));
  REQUIRE(state["charts"].Size() == 2);
  for (auto& c : state["charts"].GetArray()) {
    REQUIRE(c.HasMember("source"));
    CHECK(test::str(c["source"], "git") == git_url);
    CHECK(test::str(c["source"], "commit") == commit);
    CHECK(test::str(c["source"], "path") == test::str(c, "path"));
    CHECK(test::str(c["source"], "cmopVersion") == CMOP_VERSION);
  }

  // The manifests: the provenance layer, the commit, the git URL where Chart.yaml has no source.
  oci::ClientOptions co;
  co.plain_http_hosts = {registry.host()};
  oci::RegistryClient client(co);
  auto plain = client.manifest({registry.host(), {}}, "team/plain", "1.0.0");
  auto named = client.manifest({registry.host(), {}}, "team/named", "2.0.0");
  REQUIRE(plain);
  REQUIRE(named);
  CHECK(plain->layers.size() == 2);
  CHECK(plain->annotations["org.opencontainers.image.revision"] == commit);
  CHECK(plain->annotations["org.opencontainers.image.source"] == git_url);
  CHECK(named->annotations["org.opencontainers.image.revision"] == commit);
  CHECK(named->annotations["org.opencontainers.image.source"] == "https://example.com/named");

  // `cmop verify` takes the source from the annotations.
  std::string out;
  CHECK(test::run({test::cmop_binary(), "verify", registry.oci("team") + "/plain:1.0.0", "--plain-http-registries",
                   registry.host()},
                  &out) == 0);
  CHECK_THAT(out, Catch::StartsWith("match sha256:"));
  CHECK_THAT(out, Catch::Contains(commit));
  // ...and with --keyring checks the provenance layer too.
  CHECK(test::run({test::cmop_binary(), "verify", registry.oci("team") + "/plain:1.0.0", "--plain-http-registries",
                   registry.host(), "--keyring", key.pubring.string()},
                  &out) == 0);
  CHECK_THAT(out, Catch::StartsWith("signed by cmop oci <cmop oci@example.com> (" + key.fingerprint));
  CHECK_THAT(out, Catch::Contains("match sha256:"));

  GpgKey other("stranger");
  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    util::TempDir home;
    auto env = helm_env(home.path());
    fs::create_directories(home.path() / "refused");
    test::run_ok({helm.path, "pull", registry.oci("team") + "/plain", "--version", "1.0.0", "--plain-http", "--verify",
                  "--keyring", key.pubring.string(), "-d", home.path().string()},
                 {}, env);
    CHECK(fs::exists(home.path() / "plain-1.0.0.tgz"));
    // (Its Chart.yaml names a source of its own, so the git URL is given; the commit is the annotation's.)
    CHECK(test::run({test::cmop_binary(), "verify", registry.oci("team") + "/named:2.0.0", "--plain-http-registries",
                     registry.host(), "--keyring", other.pubring.string(), "--git", git_url},
                    &out) == 1);
    CHECK_THAT(out, Catch::Contains("provenance refused"));
    CHECK(test::run({helm.path, "pull", registry.oci("team") + "/named", "--version", "2.0.0", "--plain-http",
                     "--verify", "--keyring", other.pubring.string(), "-d", (home.path() / "refused").string()},
                    &out, {}, env) != 0);
    CHECK_THAT(out, Catch::Contains("signature made by unknown entity"));
  }
}

namespace {

// The archive rewritten entry by entry, `change` applied to each (and `extra` appended).
std::string rewrite(const std::string& tgz, const std::function<void(package::TarEntry&)>& change,
                    const std::string& extra_name = "", const std::string& extra = "") {
  package::TarGzWriter w;
  for (auto e : package::read_tgz(tgz, 5u << 20, 100u << 20)) {
    change(e);
    w.add_file(e.name, e.content, e.mode);
  }
  if (!extra_name.empty()) w.add_file(extra_name, extra);
  return w.finish();
}

}  // namespace

TEST_CASE("cmop verify: a chart rebuilt from its commit matches, a tampered one names its first difference",
          "[sign][verify][binary]") {
  test::ServedRepo git("verified", "cmop-verify-");
  test::write_chart(git.work, "charts/app", "app", "1.0.0", "sources:\n- https://example.com/app\n");
  git.work.write("charts/app/files/" + std::string(120, 'x') + ".txt", "a name only PAX can carry\n");
  git.work.write("charts/app/bin/run.sh", "#!/bin/sh\necho run\n");
  test::write_chart(git.work, "charts/lib", "lib", "0.1.0");
  git.commit_and_serve("initial");
  const std::string commit = git.work.head();

  const package::Package pkg = sign::rebuild({git.url(), commit, "", {}, "app", "1.0.0"});
  CHECK(pkg.filename == "app-1.0.0.tgz");
  // Rewriting every entry unchanged gives the same bytes: the tampering below is all that differs.
  REQUIRE(rewrite(pkg.bytes, [](package::TarEntry&) {}) == pkg.bytes);

  util::TempDir tmp;
  auto verify = [&](const std::string& bytes, std::string* out, std::vector<std::string> extra = {},
                    const std::string& at = "") {
    const fs::path file = tmp.path() / "app-1.0.0.tgz";
    spit(file, bytes);
    std::vector<std::string> argv{test::cmop_binary(), "verify",   file.string(),           "--git",
                                  git.url(),           "--commit", at.empty() ? commit : at};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::run(argv, out);
  };
  std::string out;
  CHECK(verify(pkg.bytes, &out) == 0);
  CHECK_THAT(out, Catch::StartsWith("match sha256:" + pkg.digest));
  CHECK(verify(pkg.bytes, &out, {"--path", "charts"}) == 0);

  CHECK(verify(rewrite(pkg.bytes,
                       [](package::TarEntry& e) {
                         if (e.name == "app/values.yaml") e.content += "extra: true\n";
                       }),
               &out) == 1);
  CHECK_THAT(out, Catch::Contains("differs: app/values.yaml: bytes"));

  CHECK(verify(rewrite(pkg.bytes,
                       [](package::TarEntry& e) {
                         if (e.name == "app/bin/run.sh") e.mode = 0755;
                       }),
               &out) == 1);
  CHECK_THAT(out, Catch::Contains("differs: app/bin/run.sh: mode 0755, rebuilt 0644"));

  CHECK(verify(rewrite(
                   pkg.bytes, [](package::TarEntry&) {}, "app/templates/backdoor.yaml", "kind: Pod\n"),
               &out) == 1);
  CHECK_THAT(out, Catch::Contains("differs: app/templates/backdoor.yaml: only in the chart"));

  // Could not rebuild: exit 2, saying why.
  CHECK(verify(pkg.bytes, &out, {}, std::string(40, 'f')) == 2);
  CHECK_THAT(out, Catch::Contains("cannot rebuild app 1.0.0"));
  CHECK(verify("not a chart", &out) == 2);
  CHECK_THAT(out, Catch::Contains("cannot read the chart"));
}

TEST_CASE("cmop verify matches its own packages of edge-case charts", "[sign][verify][binary]") {
  test::ServedRepo git("edges", "cmop-verify-");
  // A file:// subchart, .helmignore, a v1 chart with requirements.yaml, a library
  // chart, a long (PAX) name, an empty file and a file named like a directory.
  test::write_chart(git.work, "charts/umbrella", "umbrella", "1.0.0",
                    "dependencies:\n- name: sub\n  version: 0.1.0\n  repository: file://../sub\n");
  git.work.write("charts/umbrella/.helmignore", "*.bak\nsecret/\n");
  git.work.write("charts/umbrella/notes.bak", "ignored\n");
  git.work.write("charts/umbrella/secret/key", "ignored\n");
  git.work.write("charts/umbrella/files/empty", "");
  git.work.write("charts/umbrella/files/" + std::string(90, 'd') + "/" + std::string(90, 'f') + ".yaml", "x: 1\n");
  test::write_chart(git.work, "charts/sub", "sub", "0.1.0");
  git.work.write("charts/old/Chart.yaml", "apiVersion: v1\nname: old\nversion: 2.0.0\ndescription: v1 chart\n");
  git.work.write("charts/old/requirements.yaml",
                 "dependencies:\n- name: sub\n  version: 0.1.0\n  repository: file://../sub\n");
  git.work.write("charts/old/values.yaml", "a: 1\n");
  test::write_chart(git.work, "charts/lib", "lib", "0.0.1", "type: library\n");
  git.commit_and_serve("edge cases");
  const std::string commit = git.work.head();

  util::TempDir tmp;
  for (const auto& [name, version] : std::vector<std::pair<std::string, std::string>>{
           {"umbrella", "1.0.0"}, {"sub", "0.1.0"}, {"old", "2.0.0"}, {"lib", "0.0.1"}}) {
    INFO(name);
    const package::Package first = sign::rebuild({git.url(), commit, "", {}, name, version});
    const package::Package again = sign::rebuild({git.url(), commit, "charts", {}, name, version});
    CHECK_FALSE(sign::compare_archives(first.bytes, again.bytes));
    const fs::path file = tmp.path() / first.filename;
    spit(file, first.bytes);
    std::string out;
    CHECK(test::run({test::cmop_binary(), "verify", file.string(), "--git", git.url(), "--commit", commit}, &out) == 0);
    CHECK_THAT(out, Catch::StartsWith("match sha256:" + first.digest));
  }
}
