// Hostile repositories, end to end: each test commits something nasty to a real git
// repo served by `git daemon` and syncs it through the core Workspace (or a `cmop
// serve` child when the process's memory is what is measured). What must be refused
// is refused with a reason naming the culprit, and the well-behaved chart next to it
// is published all the same.
//
// Covered elsewhere, at unit level, and not repeated here: alias bombs, deep nesting
// and huge documents in the YAML parser (test/chart/test_metadata.cpp), gzip bombs
// in archives (test/package/test_archive.cpp), symlink escapes, loops, fifos and size
// limits in the packager (test/package/test_packager.cpp).
#include <openssl/evp.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <cstring>

#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "hostile/hostile_fixtures.hpp"

using namespace cmop;
using Status = sync::ChartOutcome::Status;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every byte published to the output folder, concatenated (for "nothing leaked" checks).
std::string published_bytes(const fs::path& out) {
  std::string all;
  for (auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file()) all += test::slurp(e.path());
  return all;
}

std::vector<std::string> members_of(const fs::path& tgz) {
  std::vector<std::string> names;
  for (auto& e : package::read_tgz(test::slurp(tgz), 5u << 20, 100u << 20)) names.push_back(e.name);
  return names;
}

std::string sha1_raw(const std::string& data) {
  unsigned char md[20];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<char*>(md), 20);
}

std::string hex(const std::string& raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

void put_be32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}

// Adds a blob of `size` zero bytes at `path` to the work repo's index without ever
// holding or hashing the content: a pack with that one object is assembled from a
// deflate block repeated (a full flush makes every 1 MiB block of zeros compress to
// the same bytes), its Adler-32 computed arithmetically, and the blob id is the
// known SHA-1 of "blob 1073741824\0" + 1 GiB of zeros. `git add` of such a file
// takes half a minute; this takes milliseconds.
void add_gigabyte_of_zeros(test::GitWorkRepo& work, const std::string& path) {
  constexpr std::uint64_t kSize = 1ull << 30;
  constexpr std::size_t kChunk = 1u << 20;
  const std::string blob_id = "4fce05a4e4ed8cefef2d99f32c519b2fd7841b74";

  z_stream z{};
  REQUIRE(deflateInit(&z, 1) == Z_OK);
  std::string zeros(kChunk, '\0');
  auto deflate_chunk = [&](int flush, std::size_t in_size) {
    std::string out(kChunk, '\0');
    z.next_in = reinterpret_cast<Bytef*>(zeros.data());
    z.avail_in = static_cast<uInt>(in_size);
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, flush) != Z_STREAM_ERROR);
    REQUIRE(z.avail_in == 0);
    out.resize(out.size() - z.avail_out);
    return out;
  };
  std::string first = deflate_chunk(Z_FULL_FLUSH, kChunk);   // zlib header + block
  std::string repeat = deflate_chunk(Z_FULL_FLUSH, kChunk);  // the block every later chunk gives
  REQUIRE(deflate_chunk(Z_FULL_FLUSH, kChunk) == repeat);
  std::string finish = deflate_chunk(Z_FINISH, 0);  // final empty block + Adler-32 of 3 MiB
  deflateEnd(&z);
  REQUIRE(finish.size() > 4);
  finish.resize(finish.size() - 4);
  // Adler-32 of n zero bytes: A stays 1, B grows by 1 per byte.
  const std::uint32_t adler = static_cast<std::uint32_t>(((kSize % 65521) << 16) | 1);
  std::string stream = first;
  for (std::uint64_t i = 1; i < kSize / kChunk; ++i) stream += repeat;
  stream += finish;
  put_be32(stream, adler);

  // The packed object: type 3 (blob) and the size as Git's little-endian varint.
  std::string object;
  std::uint64_t size = kSize;
  unsigned char byte = static_cast<unsigned char>((3 << 4) | (size & 0x0f));
  size >>= 4;
  while (size) {
    object += static_cast<char>(byte | 0x80);
    byte = static_cast<unsigned char>(size & 0x7f);
    size >>= 7;
  }
  object += static_cast<char>(byte);
  object += stream;

  std::string pack = "PACK";
  put_be32(pack, 2);
  put_be32(pack, 1);
  pack += object;
  std::string pack_sum = sha1_raw(pack);
  pack += pack_sum;

  std::string raw_id;
  for (std::size_t i = 0; i < blob_id.size(); i += 2)
    raw_id += static_cast<char>(std::stoi(blob_id.substr(i, 2), nullptr, 16));
  std::string idx = "\377tOc";
  put_be32(idx, 2);
  for (int i = 0; i < 256; ++i) put_be32(idx, i >= static_cast<unsigned char>(raw_id[0]) ? 1 : 0);
  idx += raw_id;
  put_be32(idx, static_cast<std::uint32_t>(
                    crc32(0, reinterpret_cast<const Bytef*>(object.data()), static_cast<uInt>(object.size()))));
  put_be32(idx, 12);  // offset of the object, right after the pack header
  idx += pack_sum;
  idx += sha1_raw(idx);

  fs::path pack_dir = work.dir() / ".git/objects/pack";
  fs::create_directories(pack_dir);
  std::string base = "pack-" + hex(pack_sum);
  std::ofstream(pack_dir / (base + ".pack"), std::ios::binary) << pack;
  std::ofstream(pack_dir / (base + ".idx"), std::ios::binary) << idx;
  work.git({"update-index", "--add", "--cacheinfo", "100644," + blob_id + "," + path});
}

std::string chart_yaml(const std::string& name, const std::string& extra = "") {
  return "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n" + extra;
}

}  // namespace

TEST_CASE("symlinks to /etc/passwd and to '..' refuse their chart, naming the link", "[hostile]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/passwd", "passwd", "1.0.0");
  r.work.symlink("charts/passwd/templates/passwd.yaml", "/etc/passwd");
  // '..' from files/ is the chart itself: following it would loop.
  test::write_chart(r.work, "charts/loop", "loop", "1.0.0");
  r.work.symlink("charts/loop/files/up", "..");
  // A chart at the top of the clone whose '..' would leave it.
  test::write_chart(r.work, "charts/climb", "climb", "1.0.0");
  r.work.symlink("charts/climb/files/outside", "../../../..");
  r.publish_commit("hostile symlinks");

  auto ws = r.workspace();
  auto report = ws->apply(r.spec());
  INFO(report.error);
  CHECK(report.error.empty());
  CHECK(test::outcome(report, "charts/good").status == Status::published);

  auto& passwd = test::outcome(report, "charts/passwd");
  CHECK(passwd.status == Status::failed);
  CHECK_THAT(passwd.reason, Catch::Contains("charts/passwd/templates/passwd.yaml") &&
                                Catch::Contains("symlink escapes the repository"));
  auto& loop = test::outcome(report, "charts/loop");
  CHECK(loop.status == Status::failed);
  CHECK_THAT(loop.reason, Catch::Contains("charts/loop/files/up") && Catch::Contains("symlink loop"));
  auto& climb = test::outcome(report, "charts/climb");
  CHECK(climb.status == Status::failed);
  CHECK_THAT(climb.reason, Catch::Contains("charts/climb/files/outside") && Catch::Contains("escapes"));

  CHECK(fs::exists(r.out / "good-1.0.0.tgz"));
  for (auto name : {"passwd-1.0.0.tgz", "loop-1.0.0.tgz", "climb-1.0.0.tgz"}) CHECK_FALSE(fs::exists(r.out / name));
  CHECK_FALSE(contains(published_bytes(r.out), "root:x:0:0"));
  CHECK(r.index().entries.size() == 1);
}

TEST_CASE("a 6 MiB file refuses its chart with Helm's 5 MiB per-file limit", "[hostile]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/fat", "fat", "1.0.0");
  r.work.write("charts/fat/files/blob.bin", std::string(6u << 20, 'x'));
  r.publish_commit("a fat file");
  auto report = r.workspace()->apply(r.spec());
  CHECK(report.error.empty());
  CHECK(test::outcome(report, "charts/good").status == Status::published);
  auto& fat = test::outcome(report, "charts/fat");
  CHECK(fat.status == Status::failed);
  CHECK_THAT(fat.reason, Catch::Contains("charts/fat/files/blob.bin") && Catch::Contains("6291456 bytes") &&
                             Catch::Contains("5242880"));
  CHECK_FALSE(fs::exists(r.out / "fat-1.0.0.tgz"));
}

TEST_CASE("a 1 GiB file is refused by its size while cmop serve's memory stays bounded", "[hostile][memory]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/huge", "huge", "1.0.0");
  r.work.commit("charts");
  add_gigabyte_of_zeros(r.work, "charts/huge/files/zeros.bin");
  r.work.git({"commit", "-q", "-m", "one gigabyte"});
  r.serve_head();

  test::ServeChild serve;
  serve.start(r.state, {"--allow-local-git"});
  auto started = std::chrono::steady_clock::now();
  auto res = serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  long peak_kib = test::peak_rss_kib(serve.process->pid());
  INFO("sync took " << seconds << " s, peak RSS " << peak_kib / 1024 << " MiB; body " << res.body);
  REQUIRE(res.status == 200);
  auto report = test::parse_json(res.body);
  bool good = false, huge = false;
  for (auto& c : report["charts"].GetArray()) {
    if (test::json_str(c, "path") == "charts/good") good = test::json_str(c, "status") == "published";
    if (test::json_str(c, "path") == "charts/huge") {
      huge = test::json_str(c, "status") == "failed";
      CHECK_THAT(test::json_str(c, "reason"),
                 Catch::Contains("charts/huge/files/zeros.bin") && Catch::Contains("1073741824 bytes"));
    }
  }
  CHECK(good);
  CHECK(huge);
  // The content was never materialised: neither in memory nor on disk.
  REQUIRE(peak_kib > 0);
  CHECK(peak_kib < 200 * 1024);
  std::uint64_t allocated = 0;
  for (auto& e : fs::recursive_directory_iterator(r.state / "mirrors"))
    if (e.is_regular_file() && !e.is_symlink()) {
      struct stat st{};
      if (::stat(e.path().c_str(), &st) == 0) allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  CHECK(allocated < (64u << 20));
  WARN("1 GiB file: sync " << seconds << " s, cmop serve peak RSS " << peak_kib / 1024 << " MiB");
}

TEST_CASE("billion-laughs YAML in Chart.yaml, under an unknown key or in values.yaml is refused as Helm does",
          "[hostile]") {
  std::string bomb = "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    bomb += "lol" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    bomb += "]\n";
  }
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/bomb", "bomb", "1.0.0");
  r.work.write("charts/bomb/Chart.yaml", chart_yaml("bomb", bomb + "keywords: *a9\n"));
  // Helm decodes the whole Chart.yaml (sigs.k8s.io/yaml), unknown keys included,
  // and its decoder gives up on the aliases: so must cmop, though it never uses the key.
  test::write_chart(r.work, "charts/hidden", "hidden", "1.0.0");
  r.work.write("charts/hidden/Chart.yaml", chart_yaml("hidden", bomb));
  // values.yaml is decoded by Helm's loader when packaging, so a bomb there too.
  test::write_chart(r.work, "charts/values", "values", "1.0.0");
  r.work.write("charts/values/values.yaml", bomb);
  // A few honest aliases (shared defaults) are fine for Helm and for cmop.
  test::write_chart(r.work, "charts/shared", "shared", "1.0.0");
  r.work.write("charts/shared/values.yaml",
               "defaults: &defaults {cpu: 100m, memory: 128Mi}\nweb: {resources: *defaults}\n"
               "worker: {resources: *defaults}\n");
  r.publish_commit("alias bombs");

  auto started = std::chrono::steady_clock::now();
  auto report = r.workspace()->apply(r.spec());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(seconds < 20);  // a guard against expansion (10^9 nodes), not a benchmark
  CHECK(test::outcome(report, "charts/good").status == Status::published);
  CHECK(test::outcome(report, "charts/shared").status == Status::published);
  for (auto path : {"charts/bomb", "charts/hidden"}) {
    auto& refused = test::outcome(report, path);
    CHECK(refused.status == Status::failed);
    CHECK_THAT(refused.reason, Catch::Contains(std::string(path) + "/Chart.yaml") &&
                                   Catch::Contains("excessive aliasing"));
  }
  auto& values = test::outcome(report, "charts/values");
  CHECK(values.status == Status::failed);
  CHECK_THAT(values.reason, Catch::Contains("values.yaml") && Catch::Contains("excessive aliasing"));
  for (auto name : {"bomb-1.0.0.tgz", "hidden-1.0.0.tgz", "values-1.0.0.tgz"}) CHECK_FALSE(fs::exists(r.out / name));
}

TEST_CASE("10000 charts in one repo are all published with bounded memory", "[hostile][memory][slow]") {
  // On tmpfs when there is one: this measures cmop's work, not the disk's fsyncs.
  fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string tmpl = (base / "cmop-many-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmpl};
  fs::path root = tmpl;
  constexpr int kCharts = 10000;

  // One commit, written by fast-import straight into the served bare repo.
  fs::path served = root / "served";
  fs::path bare = served / "many.git";
  fs::create_directories(bare);
  test::run_ok({test::git(), "init", "-q", "--bare", "-b", "main", bare.string()});
  std::string stream;
  auto blob = [&](int mark, const std::string& data) {
    stream += "blob\nmark :" + std::to_string(mark) + "\ndata " + std::to_string(data.size()) + "\n" + data + "\n";
  };
  blob(1, "replicaCount: 1\n");
  blob(2, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n");
  char name[16];
  for (int i = 0; i < kCharts; ++i) {
    std::snprintf(name, sizeof name, "c%05d", i);
    blob(10 + i, chart_yaml(name));
  }
  stream += "commit refs/heads/main\ncommitter t <t@example.invalid> 0 +0000\ndata 4\nmany\n";
  for (int i = 0; i < kCharts; ++i) {
    std::snprintf(name, sizeof name, "c%05d", i);
    std::string dir = std::string("charts/") + name;
    stream += "M 100644 :" + std::to_string(10 + i) + " " + dir + "/Chart.yaml\n";
    stream += "M 100644 :1 " + dir + "/values.yaml\n";
    stream += "M 100644 :2 " + dir + "/templates/cm.yaml\n";
  }
  stream += "\n";
  std::ofstream(root / "stream", std::ios::binary) << stream;
  test::run_ok({"sh", "-c", "'" + test::git() + "' --git-dir='" + bare.string() + "' fast-import --quiet < '" +
                                (root / "stream").string() + "'"});
  test::GitDaemon daemon(served);

  test::ServeChild serve;
  serve.start(root / "state");
  auto started = std::chrono::steady_clock::now();
  auto res = serve.call("POST", "/repo/new", "{\"name\":\"many\",\"git\":\"" + daemon.url("many.git") + "\"}");
  double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(res.status == 200);
  auto report = test::parse_json(res.body);
  CHECK(report["ok"].IsTrue());
  int published = 0;
  for (auto& c : report["charts"].GetArray()) published += test::json_str(c, "status") == "published";
  CHECK(published == kCharts);
  int packages = 0;
  for (auto& e : fs::directory_iterator(root / "state" / "charts")) packages += e.path().extension() == ".tgz";
  CHECK(packages == kCharts);
  // The served index writes what the coalescing index writer still holds (<= 200 ms).
  REQUIRE(serve.call("GET", "/charts/index.yaml").status == 200);
  auto index = deps::RepoIndex::parse(util::read_file(root / "state" / "charts" / "index.yaml"), "index.yaml");
  CHECK(index.entries.size() == static_cast<std::size_t>(kCharts));

  started = std::chrono::steady_clock::now();
  auto again = serve.call("POST", "/repo/many/update");
  double unchanged = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(again.status == 200);
  int same = 0;
  auto again_report = test::parse_json(again.body);
  for (auto& c : again_report["charts"].GetArray()) {
    if (test::json_str(c, "status") == "unchanged")
      ++same;
    else
      UNSCOPED_INFO(test::json_str(c, "path") << ": " << test::json_str(c, "status") << " " << test::json_str(c, "reason"));
  }
  CHECK(same == kCharts);

  long peak_kib = test::peak_rss_kib(serve.process->pid());
  REQUIRE(peak_kib > 0);
  CHECK(peak_kib < 300 * 1024);  // generous: about 60-80 MiB measured
  WARN(kCharts << " charts: cold sync " << cold << " s, no-change update " << unchanged
               << " s, cmop serve peak RSS " << peak_kib / 1024 << " MiB");
}

TEST_CASE("200 levels of nested folders: packaged inside a chart and a chart down there is found",
          "[hostile]") {
  test::SyncedRepo r;
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "d/";
  test::write_chart(r.work, "charts/nested", "nested", "1.0.0");
  r.work.write("charts/nested/files/" + deep + "leaf.txt", "bottom\n");
  test::write_chart(r.work, "charts/" + deep + "sunken", "sunken", "1.0.0");
  r.publish_commit("deep folders");

  auto report = r.workspace()->apply(r.spec());
  INFO(report.error);
  CHECK(report.ok());
  CHECK(test::outcome(report, "charts/good").status == Status::published);
  CHECK(test::outcome(report, "charts/nested").status == Status::published);
  CHECK(test::outcome(report, "charts/" + deep + "sunken").status == Status::published);
  auto members = members_of(r.out / "nested-1.0.0.tgz");
  CHECK(std::find(members.begin(), members.end(), "nested/files/" + deep + "leaf.txt") != members.end());
}

TEST_CASE("a chart named with '../' is refused by validation and writes nothing outside", "[hostile]") {
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/escape", "escape", "1.0.0");
  r.work.write("charts/escape/Chart.yaml", chart_yaml("../escape"));
  test::write_chart(r.work, "charts/deeper", "deeper", "1.0.0");
  r.work.write("charts/deeper/Chart.yaml", chart_yaml("../../tmp/deeper"));
  r.publish_commit("names with ../");

  auto report = r.workspace()->apply(r.spec());
  CHECK(test::outcome(report, "charts/good").status == Status::published);
  for (auto path : {"charts/escape", "charts/deeper"}) {
    auto& o = test::outcome(report, path);
    CHECK(o.status == Status::failed);
    CHECK_THAT(o.reason, Catch::Contains(std::string(path) + "/Chart.yaml") && Catch::Contains("name"));
  }
  CHECK_FALSE(fs::exists(r.tmp.path() / "escape-1.0.0.tgz"));
  CHECK_FALSE(fs::exists(r.out.parent_path() / "escape-1.0.0.tgz"));
  std::size_t files = 0;
  for (auto& e : fs::directory_iterator(r.tmp.path())) files += e.is_regular_file();
  CHECK(files == 0);  // nothing landed next to the output folder
  CHECK(r.index().entries.size() == 1);
}

TEST_CASE("non-UTF-8 file and folder names are packaged byte for byte, as Helm does", "[hostile]") {
  // Go strings are bytes: Helm's loader and tar writer keep such names as they are
  // (in a PAX record), so refusing them would make cmop stricter than Helm.
  const std::string latin1 = "caf\xe9.txt";
  const std::string invalid_dir = "charts/bad\xff\xfe";
  test::SyncedRepo r;
  test::write_chart(r.work, "charts/bytes", "bytes", "1.0.0");
  r.work.write("charts/bytes/files/" + latin1, "latin-1 name\n");
  test::write_chart(r.work, invalid_dir, "oddfolder", "1.0.0");
  r.publish_commit("non-UTF-8 names");

  auto report = r.workspace()->apply(r.spec());
  INFO(report.error);
  CHECK(report.ok());
  CHECK(test::outcome(report, "charts/good").status == Status::published);
  CHECK(test::outcome(report, "charts/bytes").status == Status::published);
  CHECK(test::outcome(report, invalid_dir).status == Status::published);
  auto members = members_of(r.out / "bytes-1.0.0.tgz");
  CHECK(std::find(members.begin(), members.end(), "bytes/files/" + latin1) != members.end());
  auto archive = package::read_tgz(test::slurp(r.out / "bytes-1.0.0.tgz"), 5u << 20, 100u << 20);
  for (auto& e : archive)
    if (e.name == "bytes/files/" + latin1) CHECK(e.content == "latin-1 name\n");
  CHECK(fs::exists(r.out / "oddfolder-1.0.0.tgz"));

  // Incremental: the next sync sees the same trees and publishes nothing.
  auto again = r.workspace()->update("hostile");
  CHECK(again.count(Status::unchanged) == 3);
}

TEST_CASE("cmop serve answers valid UTF-8 JSON when chart folders have non-UTF-8 names", "[hostile]") {
  test::SyncedRepo r;
  const std::string latin1_dir = "charts/caf\xe9";      // Latin-1: a lone 0xE9 is ill-formed UTF-8
  const std::string garbage_dir = "charts/bad\xff\xfe";  // never valid in UTF-8
  test::write_chart(r.work, latin1_dir, "cafe", "1.0.0");
  test::write_chart(r.work, garbage_dir, "broken", "1.0.0");
  r.work.write(garbage_dir + "/Chart.yaml", chart_yaml("broken", "type: nonsense\n"));  // a reason quoting the path
  r.publish_commit("non-UTF-8 folder names");

  test::ServeChild serve;
  serve.start(r.state);
  auto strict = [](const std::string& body) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(body.c_str());
    INFO("body: " << body);
    CHECK_FALSE(doc.HasParseError());
    return doc;
  };
  auto created = serve.call("POST", "/repo/new", "{\"name\":\"hostile\",\"git\":\"" + r.url() + "\"}");
  REQUIRE(created.status == 200);
  auto report = strict(created.body);
  bool cafe = false, broken = false;
  for (auto& c : report["charts"].GetArray()) {
    const std::string path = test::json_str(c, "path");
    if (path == "charts/caf\xEF\xBF\xBD") cafe = test::json_str(c, "status") == "published";
    if (path == "charts/bad\xEF\xBF\xBD\xEF\xBF\xBD") {
      broken = test::json_str(c, "status") == "failed";
      CHECK_THAT(test::json_str(c, "reason"), Catch::Contains("charts/bad\xEF\xBF\xBD\xEF\xBF\xBD/Chart.yaml"));
    }
  }
  CHECK(cafe);
  CHECK(broken);
  strict(serve.call("GET", "/repo/hostile").body);
  strict(serve.call("GET", "/repo").body);

  // The state files keep the exact bytes: after a restart the same folders are
  // recognised and nothing is packaged again.
  serve.process.reset();
  serve.start(r.state);
  auto again = strict(serve.call("GET", "/repo/hostile/update").body);
  for (auto& c : again["charts"].GetArray())
    if (test::json_str(c, "name") != "broken") CHECK(test::json_str(c, "status") == "unchanged");
}
