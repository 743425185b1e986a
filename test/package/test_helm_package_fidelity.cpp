// cmop's package_chart against real `helm package` (Helm 3 and Helm 4) over synthetic
// edge-case charts: the gzip header, the tar member list and order, every tar header
// field but the mtime (Helm stamps time.Now(); cmop a fixed epoch) and checksum (which
// covers the mtime), and every member's bytes.
//
// The one order Helm does not fix: subcharts. Helm's loader groups charts/ by name in
// a Go map and saves them in its iteration order, which differs run to run; cmop
// writes them sorted by name (docs/charts.md). The comparison therefore puts each
// chart's subcharts in name order on both sides and keeps every other order as is.
#include <zlib.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cmop/deps/repo_index.hpp"
#include "cmop/error.hpp"
#include "cmop/package/packager.hpp"
#include "cmop/util/fs.hpp"
#include "support/error_of.hpp"
#include "support/process.hpp"
#include "package_fixtures.hpp"

namespace fs = std::filesystem;
using namespace cmop;
using cmop::test::put;

namespace {

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc != Z_STREAM_END);
  CHECK(zs.avail_in == 0);  // one gzip member, nothing after it
  inflateEnd(&zs);
  return out;
}

// The gzip member header: fixed fields, then FEXTRA, FNAME, FCOMMENT, FHCRC as flagged.
std::string gzip_header(const std::string& gz) {
  REQUIRE(gz.size() >= 10);
  unsigned char flags = static_cast<unsigned char>(gz[3]);
  std::size_t i = 10;
  if (flags & 0x04) i += 2 + (static_cast<unsigned char>(gz[10]) | (static_cast<unsigned char>(gz[11]) << 8));
  if (flags & 0x08) i = gz.find('\0', i) + 1;
  if (flags & 0x10) i = gz.find('\0', i) + 1;
  if (flags & 0x02) i += 2;
  return gz.substr(0, i);
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

struct Member {
  std::string name;    // the path, from a PAX record when there is one
  std::string header;  // the 512-byte header (PAX headers included), mtime and checksum blanked
  std::string data;
  std::vector<std::string> chain;  // the subcharts the member is inside, outermost first
};

std::uint64_t octal(const std::string& block, std::size_t off, std::size_t len) {
  std::uint64_t v = 0;
  for (std::size_t i = off; i < off + len && block[i] >= '0' && block[i] <= '7'; ++i) v = v * 8 + (block[i] - '0');
  return v;
}

std::string describe_header(const std::string& h) {
  auto field = [&](std::size_t off, std::size_t len) { return printable(h.substr(off, len)); };
  return "name=" + field(0, 100) + " mode=" + field(100, 8) + " uid=" + field(108, 8) + " gid=" + field(116, 8) +
         " size=" + field(124, 12) + " type=" + field(156, 1) + " link=" + field(157, 100) +
         " magic=" + field(257, 8) + " uname=" + field(265, 32) + " gname=" + field(297, 32) +
         " dev=" + field(329, 16) + " prefix=" + field(345, 155) + " pad=" + field(500, 12);
}

std::vector<Member> members(const std::string& tar) {
  std::vector<Member> out;
  std::size_t pos = 0;
  std::string pax_prefix;  // a PAX header's own block and records, kept with its file
  std::string pax_path;
  while (true) {
    REQUIRE(pos + 512 <= tar.size());
    std::string h = tar.substr(pos, 512);
    pos += 512;
    if (h == std::string(512, '\0')) {
      // The end: a second zero block, and nothing after it (Go pads to no record size).
      CHECK(tar.substr(pos) == std::string(512, '\0'));
      break;
    }
    std::uint64_t size = octal(h, 124, 12);
    std::string data = tar.substr(pos, size);
    pos += (size + 511) / 512 * 512;
    std::fill(h.begin() + 136, h.begin() + 156, ' ');  // mtime and checksum
    if (h[156] == 'x') {
      pax_prefix += "[pax " + describe_header(h) + " records=" + printable(data) + "]";
      auto at = data.find(" path=");
      if (at != std::string::npos) pax_path = data.substr(at + 6, data.find('\n', at) - at - 6);
      continue;
    }
    Member m;
    std::string prefix = h.substr(345, 155).c_str();
    std::string name = h.substr(0, 100).c_str();
    m.name = !pax_path.empty() ? pax_path : prefix.empty() ? name : prefix + "/" + name;
    m.header = pax_prefix + describe_header(h);
    m.data = std::move(data);
    pax_prefix.clear();
    pax_path.clear();
    // "<chart>/charts/<sub>/charts/<subsub>/..." -> {sub, subsub}
    std::vector<std::string> parts;
    std::stringstream ss(m.name);
    for (std::string part; std::getline(ss, part, '/');) parts.push_back(part);
    for (std::size_t i = 1; i + 2 < parts.size() && parts[i] == "charts"; i += 2) m.chain.push_back(parts[i + 1]);
    out.push_back(std::move(m));
  }
  // Subcharts in name order (Helm's order is a Go map's); each chart's own order kept.
  std::stable_sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.chain < b.chain; });
  return out;
}

// Packages `chart` (a folder in `root`) with cmop and with each real Helm and compares.
void compare_with_helm(const fs::path& root, const std::string& chart) {
  package::PackageInput in;
  in.clone_root = root;
  in.chart_dir = chart;
  package::Package ours = package::package_chart(in);
  const std::string our_tar = gunzip(ours.bytes);
  const std::vector<Member> our_members = members(our_tar);

  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name << " package " << chart);
    util::TempDir home, out;
    std::map<std::string, std::string> env = {{"HOME", home.path().string()},
                                              {"HELM_CACHE_HOME", (home.path() / "cache").string()},
                                              {"HELM_CONFIG_HOME", (home.path() / "config").string()},
                                              {"HELM_DATA_HOME", (home.path() / "data").string()}};
    test::run_ok({helm.path, "package", (root / chart).string(), "-d", out.path().string()}, {}, env);
    const fs::path theirs_path = out.path() / ours.filename;
    REQUIRE(fs::exists(theirs_path));
    const std::string theirs = util::read_file(theirs_path);

    CHECK(printable(gzip_header(ours.bytes)) == printable(gzip_header(theirs)));
    const std::string their_tar = gunzip(theirs);
    const std::vector<Member> their_members = members(their_tar);

    std::vector<std::string> our_names, their_names;
    for (auto& m : our_members) our_names.push_back(m.name);
    for (auto& m : their_members) their_names.push_back(m.name);
    REQUIRE(our_names == their_names);
    for (std::size_t i = 0; i < our_members.size(); ++i) {
      INFO("member " << our_members[i].name);
      CHECK(our_members[i].header == their_members[i].header);
      CHECK(printable(our_members[i].data) == printable(their_members[i].data));
    }
    CHECK(our_tar.size() == their_tar.size());
  }
}

std::string tgz_of(const fs::path& dir, const std::vector<std::string>& members_in_order) {
  util::TempDir out;
  std::vector<std::string> argv = {"tar", "-czf", (out.path() / "x.tgz").string(), "-C", dir.string()};
  argv.insert(argv.end(), members_in_order.begin(), members_in_order.end());
  test::run_ok(argv);
  return util::read_file(out.path() / "x.tgz");
}

}  // namespace

TEST_CASE("a chart full of odd files packages as helm package does", "[fidelity][helm]") {
  util::TempDir repo;
  fs::path c = repo.path() / "odd";
  put(c, "Chart.yaml",
      "apiVersion: v2\n"
      "name: odd\n"
      "version: 1.2.3-rc.1+build.7\n"
      "appVersion: \"2024.01\"\n"
      "kubeVersion: '>=1.25.0-0'\n"
      "description: A chart whose description is long enough that go-yaml folds it at eighty columns, "
      "with ünïcödé, “quotes”, a colon:here, a # hash and trailing words to wrap once more at the end\n"
      "home: https://example.com/odd?a=1&b=<2>\n"
      "icon: <<\n"
      "sources: [https://example.com/a, '<<', \"yes\", '123', '1e3', '~', '- dash', ': colon']\n"
      "keywords: [zeta, Alpha, \"\", 'null', 2001-01-01]\n"
      "maintainers:\n"
      "  - email: nobody@example.com\n"
      "  - name: Ünï Cödé\n"
      "    url: https://example.com/~u\n"
      "  - url: https://example.com/only-url\n"
      "annotations:\n"
      "  kept: |+\n"
      "    line one\n"
      "    line two\n"
      "\n"
      "  clip: |\n"
      "    one line\n"
      "  strip: |-\n"
      "    stripped\n"
      "  merge: <<\n"
      "  \"10\": ten\n"
      "  \"9\": nine\n"
      "  b: 'true'\n"
      "  a.b/c: \"x: y\"\n"
      "  ünï: cödé\n"
      "  long: a long annotation value that goes past the eighty column limit so that it folds over two lines\n"
      "type: application\n"
      "deprecated: false\n");
  put(c, "values.yaml", "# odd values\nreplicas: 1\nbase: &base {a: 1}\nderived:\n  <<: *base\n  b: 2\n");
  put(c, "values.schema.json", "{\n  \"$schema\": \"https://json-schema.org/draft-07/schema#\",\n  \"type\": \"object\"\n}\n");
  put(c, "templates/Z.yaml", "kind: Z\n");
  put(c, "templates/_helpers.tpl", "{{/* helpers */}}\n");
  put(c, "templates/a.yaml", "kind: A\n");
  put(c, "templates/NOTES.txt", "notes\n");
  put(c, "templates/10.yaml", "kind: Ten\n");
  put(c, "templates/9.yaml", "kind: Nine\n");
  put(c, "templates/b-c.yaml", "kind: BC\n");
  put(c, "templates/b.c.yaml", "kind: BC\n");
  put(c, "templates/b_c.yaml", "kind: BC\n");
  put(c, "templates/B.yaml", "kind: B\n");
  put(c, "templates/sub/dir/x.yaml", "kind: X\n");
  put(c, "templates/sub.yaml", "kind: Sub\n");
  put(c, "templates/empty.yaml", "");
  put(c, "templates/tests/test-connection.yaml", "kind: Pod\n");
  put(c, "crds/crd.yaml", "kind: CustomResourceDefinition\n");
  put(c, "README.md", "# odd\n");
  put(c, "LICENSE", "MIT\n");
  put(c, "A", "upper\n");
  put(c, "a", "lower\n");
  put(c, "_under", "under\n");
  put(c, "-dash", "dash\n");
  put(c, ".dotfile", "dot\n");
  put(c, "empty", "");
  put(c, "files/ünïcödé.txt", "unicode name\n");
  put(c, "files/ü/ñ/é.txt", "unicode dirs\n");
  put(c, "files/config.txt", "before or after the config dir\n");
  put(c, "files/config/app.conf", "k=v\n");
  put(c, "files/binary.bin", std::string("\0\x01\x02\xff\xfe", 5));
  put(c, "files/crlf.txt", "a\r\nb\r\n");
  const std::string deep = "deep/" + std::string(60, 'd') + "/" + std::string(60, 'e') + "/";
  put(c, deep + "file.txt", "past 100 bytes: prefix + name\n");
  put(c, deep + std::string(120, 'f') + ".txt", "a base name past 100 bytes: PAX\n");
  const std::string deeper = deep + std::string(90, 'g') + "/" + std::string(90, 'h') + "/";
  put(c, deeper + "file.txt", "past 255 bytes: PAX\n");
  put(c, "files/" + std::string(40, 'u') + "/ünï-" + std::string(80, 'v') + ".txt", "long non-ASCII: PAX\n");
  put(c, ".helmignore", "# ignore\n*.bak\nignored/\nfiles/secret-*\n");
  put(c, "x.bak", "ignored\n");
  put(c, "ignored/file", "ignored\n");
  put(c, "files/secret-1", "ignored\n");
  compare_with_helm(repo.path(), "odd");
}

TEST_CASE("subcharts, vendored archives and import-values package as helm package does", "[fidelity][helm]") {
  util::TempDir repo, scratch;
  fs::path c = repo.path() / "parent";
  put(c, "Chart.yaml",
      "apiVersion: v2\n"
      "name: parent\n"
      "version: 0.1.0\n"
      "dependencies:\n"
      "  - name: alpha\n"
      "    version: \"~1.0\"\n"
      "    repository: \"\"\n"
      "    condition: alpha.enabled,global.alpha\n"
      "    tags: [front, \"yes\"]\n"
      "    enabled: true\n"
      "    import-values:\n"
      "      - data\n"
      "      - \"{a: b}\"\n"
      "      - child: 1\n"
      "        parent: ~\n"
      "      - child: exports.x\n"
      "        parent: y\n"
      "      - {child: a, parent: b, extra: [1, 2.5, true, null, '3']}\n"
      "      - 7\n"
      "      - 1.5\n"
      "      - 1234567.5\n"
      "      - 0x1F\n"
      "      - 1_000\n"
      "      - -0.0\n"
      "      - 2001-01-01\n"
      "      - true\n"
      "      - ~\n"
      "      - [nested, [list]]\n"
      "      - '<<'\n"
      "      - |+\n"
      "        kept\n"
      "\n"
      "  - name: zulu\n"
      "    version: 2.0.0\n"
      "    repository: file://../zulu\n"
      "    alias: zz\n"
      "    enabled: false\n"
      "  - name: vendored\n"
      "    version: \">=0.1.0\"\n"
      "    repository: https://charts.example.com/<stable>&more\n");
  put(c, "values.yaml", "alpha: {enabled: true}\n");
  // A dir subchart with its own subcharts (a dir and an archive) and a Chart.lock.
  put(c, "charts/alpha/Chart.yaml", "apiVersion: v2\nname: alpha\nversion: 1.0.4\ndependencies:\n"
                                    "  - name: beta\n    version: 1.0.0\n    repository: https://example.com/beta\n"
                                    "  - name: gamma\n    version: 3.0.0\n    repository: \"\"\n");
  put(c, "charts/alpha/Chart.lock",
      "dependencies:\n- name: beta\n  repository: https://example.com/beta\n  version: 1.0.0\n"
      "digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
      "generated: \"2021-02-03T04:05:06.789Z\"\n");
  put(c, "charts/alpha/values.yaml", "exports: {x: {a: 1}}\n");
  put(c, "charts/alpha/templates/cm.yaml", "kind: ConfigMap\n");
  put(c, "charts/alpha/charts/beta/Chart.yaml", "apiVersion: v2\nname: beta\nversion: 1.0.0\n");
  put(c, "charts/alpha/charts/beta/templates/b.yaml", "kind: B\n");
  put(scratch.path(), "gamma/Chart.yaml", "apiVersion: v2\nname: gamma\nversion: 3.0.0\ndescription: from an archive\n");
  put(scratch.path(), "gamma/values.yaml", "g: 1\n");
  put(scratch.path(), "gamma/templates/z.yaml", "kind: Z\n");
  put(scratch.path(), "gamma/templates/a.yaml", "kind: A\n");
  put(scratch.path(), "gamma/files/f.txt", "f\n");
  // Archive order, not name order: Helm keeps an archive's order.
  put(c, "charts/alpha/charts/gamma-3.0.0.tgz",
      tgz_of(scratch.path(), {"gamma/templates/z.yaml", "gamma/files/f.txt", "gamma/Chart.yaml",
                              "gamma/templates/a.yaml", "gamma/values.yaml"}));
  // A dir whose name is not the chart's name.
  put(c, "charts/zulu-dir/Chart.yaml", "apiVersion: v2\nname: zulu\nversion: 2.0.0\n");
  put(c, "charts/zulu-dir/templates/t.yaml", "kind: T\n");
  // A vendored archive made with `tar -C dir .`: directory entries, "./" the first
  // component of every name (Helm drops it as it drops a chart's folder name).
  put(scratch.path(), "v/Chart.yaml", "apiVersion: v1\nname: vendored\nversion: 0.3.0\n");
  put(scratch.path(), "v/requirements.yaml", "dependencies: []\n");
  put(scratch.path(), "v/templates/v.yaml", "kind: V\n");
  put(c, "charts/vendored-0.3.0.tgz", tgz_of(scratch.path() / "v", {"."}));
  compare_with_helm(repo.path(), "parent");
}

TEST_CASE("an apiVersion v1 chart with requirements.yaml packages as helm package does", "[fidelity][helm]") {
  util::TempDir repo;
  fs::path c = repo.path() / "legacy";
  put(c, "Chart.yaml",
      "apiVersion: v1\nname: legacy\nversion: 0.9.0\nappVersion: \"1.0\"\ndescription: |\n  multi\n  line\n"
      "engine: gotpl\ntillerVersion: '>=2.0'\n");
  put(c, "requirements.yaml",
      "dependencies:\n- name: redis\n  version: 1.x.x\n  repository: https://example.com/charts\n"
      "  import-values: [{child: a, parent: b}]\n");
  put(c, "requirements.lock",
      "dependencies:\n- name: redis\n  repository: https://example.com/charts\n  version: 1.2.3\n"
      "digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
      "generated: 2020-01-01T00:00:00Z\n");
  put(c, "values.yaml", "redis: {}\n");
  put(c, "templates/svc.yaml", "kind: Service\n");
  put(c, "charts/redis/Chart.yaml", "apiVersion: v1\nname: redis\nversion: 1.2.3\n");
  put(c, "charts/redis/values.yaml", "a: {x: 1}\n");
  compare_with_helm(repo.path(), "legacy");
}

TEST_CASE("a vendored archive whose names start with ./<chart>/ is refused, as helm package refuses it",
          "[fidelity][helm]") {
  // Helm drops the first component of each name ("."), so the chart's files sit in a
  // folder "inner/" and its Chart.yaml is missing.
  util::TempDir repo, scratch;
  fs::path c = repo.path() / "outer";
  put(c, "Chart.yaml", "apiVersion: v2\nname: outer\nversion: 0.1.0\n");
  put(scratch.path(), "inner/Chart.yaml", "apiVersion: v2\nname: inner\nversion: 0.3.0\n");
  put(c, "charts/inner-0.3.0.tgz", tgz_of(scratch.path(), {"./inner"}));
  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    util::TempDir out;
    std::string output;
    CHECK(test::run({helm.path, "package", c.string(), "-d", out.path().string()}, &output) != 0);
    CHECK(output.find("Chart.yaml file is missing") != std::string::npos);
  }
  package::PackageInput in;
  in.clone_root = repo.path();
  in.chart_dir = "outer";
  auto err = test::error_of([&] { package::package_chart(in); });
  CHECK(err.code() == Errc::invalid_chart);
  CHECK(std::string(err.reason()).find("Chart.yaml") != std::string::npos);
}

TEST_CASE("an index entry for the package is written as helm repo index writes it", "[fidelity][helm]") {
  // The emitter behind index.yaml is the one behind Chart.yaml: |+ blocks without a
  // "...", "<<" plain, import-values with their YAML types, nameless maintainers.
  util::TempDir repo;
  fs::path c = repo.path() / "idx";
  put(c, "Chart.yaml",
      "apiVersion: v2\nname: idx\nversion: 0.2.0\ndescription: the <idx> & chart\nicon: <<\n"
      "maintainers: [{email: a@example.com}, {name: B}]\n"
      "annotations:\n  kept: |+\n    x\n\n  merge: <<\n"
      "dependencies:\n"
      "  - name: sub\n    version: 1.0.0\n    repository: \"\"\n"
      "    import-values:\n      - data\n      - {child: 1, parent: ~}\n      - 1234567.5\n      - [a]\n"
      "      - \"{a: b}\"\n      - |+\n        kept\n\n");
  put(c, "charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 1.0.0\n");
  package::PackageInput in;
  in.clone_root = repo.path();
  in.chart_dir = "idx";
  const package::Package pkg = package::package_chart(in);

  // Helm stamps `created` and `generated` with its clock: compared as placeholders.
  auto unstamped = [](const std::string& yaml) {
    std::string out;
    std::stringstream ss(yaml);
    for (std::string line; std::getline(ss, line);) {
      const auto key = std::min(line.find_first_not_of(' '), line.size());
      if (line.compare(key, 9, "created: ") == 0 || line.compare(key, 11, "generated: ") == 0)
        line = line.substr(0, line.find(':')) + ": <time>";
      out += line + "\n";
    }
    return out;
  };
  deps::RepoIndex ours;
  ours.generated = "2024-01-01T00:00:00Z";
  ours.add(deps::IndexEntry{pkg.metadata, {pkg.filename}, pkg.digest, "2024-01-01T00:00:00Z", false});
  const std::string our_yaml = ours.to_yaml();
  CHECK(our_yaml.find("...") == std::string::npos);
  for (const auto& helm : test::helm_clients()) {
    INFO(helm.name);
    util::TempDir home, served;
    std::ofstream(served.path() / pkg.filename, std::ios::binary) << pkg.bytes;
    test::run_ok({helm.path, "repo", "index", served.path().string()}, {},
                 {{"HOME", home.path().string()}, {"HELM_CACHE_HOME", (home.path() / "cache").string()},
                  {"HELM_CONFIG_HOME", (home.path() / "config").string()},
                  {"HELM_DATA_HOME", (home.path() / "data").string()}});
    CHECK(unstamped(our_yaml) == unstamped(util::read_file(served.path() / "index.yaml")));
  }
}
