// `cmop verify`'s core: rebuild a chart from git as a sync would, and say where a
// chart archive first differs from the rebuilt one.
#include "cmop/sign/verify.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "cmop/chart/metadata.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"

namespace cmop::sign {
namespace {

constexpr std::size_t kMaxTarBytes = 200u << 20;  // twice Helm's decompressed-chart limit

std::string gunzip(std::string_view gz, const char* which) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw Error(Errc::internal, which, "zlib init failed");
  std::string out;
  char buf[1 << 16];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > kMaxTarBytes) break;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // a further gzip member, read as one stream (as Go does)
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error(Errc::invalid_chart, which, "not a complete gzip stream");
  return out;
}

struct Entry {
  std::string name;
  char type = '0';
  std::string_view header;  // the 512-byte ustar header
  std::string extended;     // pax/GNU long-name records before it, raw
  std::string_view content;
};

std::uint64_t octal(std::string_view field) {
  std::uint64_t v = 0;
  for (char c : field) {
    if (c == ' ' || c == '\0') {
      if (v) break;
      continue;
    }
    if (c < '0' || c > '7') break;
    v = v * 8 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string cstr(std::string_view field) { return std::string(field.substr(0, field.find('\0'))); }

std::vector<Entry> tar_entries(std::string_view tar, const char* which) {
  std::vector<Entry> out;
  std::size_t pos = 0;
  std::string pending_name, extended;
  while (pos + 512 <= tar.size()) {
    std::string_view h = tar.substr(pos, 512);
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; })) break;
    std::uint64_t size = octal(h.substr(124, 12));
    if (size > tar.size() - pos - 512) throw Error(Errc::invalid_chart, which, "truncated tar entry");
    std::string_view content = tar.substr(pos + 512, size);
    pos += 512 + (size + 511) / 512 * 512;
    char type = h[156] == '\0' ? '0' : h[156];
    if (type == 'x' || type == 'L' || type == 'g') {
      extended += std::string(h) + std::string(content);
      if (type == 'L') pending_name = cstr(content);
      if (type == 'x') {
        // "LEN path=VALUE\n" records.
        std::size_t p = 0;
        while (p < content.size()) {
          auto sp = content.find(' ', p);
          if (sp == std::string_view::npos) break;
          std::size_t len =
              static_cast<std::size_t>(std::strtoul(std::string(content.substr(p, sp - p)).c_str(), nullptr, 10));
          if (len == 0 || p + len > content.size()) break;
          std::string_view rec = content.substr(sp + 1, p + len - sp - 2);
          if (rec.rfind("path=", 0) == 0) pending_name = std::string(rec.substr(5));
          p += len;
        }
      }
      continue;
    }
    Entry e;
    std::string prefix = cstr(h.substr(345, 155));
    e.name = pending_name.empty() ? (prefix.empty() ? "" : prefix + "/") + cstr(h.substr(0, 100)) : pending_name;
    e.type = type;
    e.header = h;
    e.extended = std::move(extended);
    e.content = content;
    pending_name.clear();
    extended.clear();
    out.push_back(std::move(e));
  }
  return out;
}

std::string mode_text(std::uint64_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04llo", static_cast<unsigned long long>(m & 07777));
  return buf;
}

// The first ustar header field, other than name, type, mode and size, that differs.
std::string header_field(std::string_view a, std::string_view b) {
  struct Field {
    const char* name;
    std::size_t off, len;
  };
  static const Field fields[] = {{"uid", 108, 8},           {"gid", 116, 8},           {"mtime", 136, 12},
                                 {"checksum", 148, 8},      {"link target", 157, 100}, {"magic/version", 257, 8},
                                 {"user name", 265, 32},    {"group name", 297, 32},   {"device numbers", 329, 16},
                                 {"name prefix", 345, 155}, {"padding", 500, 12}};
  for (const auto& f : fields)
    if (a.substr(f.off, f.len) != b.substr(f.off, f.len)) return f.name;
  return "";
}

class CapturingPublisher final : public publish::Publisher {
 public:
  void publish(const package::Package& pkg, bool) override {
    std::lock_guard lk(mu_);
    packages_.push_back(pkg);
  }
  void remove(const std::string&, const std::string&) override {}
  std::string describe() const override { return "cmop verify (nothing is published)"; }
  std::vector<package::Package> packages() const {
    std::lock_guard lk(mu_);
    return packages_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<package::Package> packages_;
};

}  // namespace

std::optional<Difference> compare_archives(std::string_view chart, std::string_view rebuilt) {
  if (chart == rebuilt) return std::nullopt;
  const std::string a_tar = gunzip(chart, "the chart"), b_tar = gunzip(rebuilt, "the rebuilt chart");
  const auto a = tar_entries(a_tar, "the chart"), b = tar_entries(b_tar, "the rebuilt chart");
  auto has = [](const std::vector<Entry>& v, const std::string& name) {
    return std::any_of(v.begin(), v.end(), [&](const Entry& e) { return e.name == name; });
  };
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Entry &x = a[i], &y = b[i];
    if (x.name != y.name) {
      if (!has(b, x.name)) return Difference{x.name, "only in the chart (not in the rebuilt archive)"};
      if (!has(a, y.name)) return Difference{y.name, "missing from the chart (the rebuilt archive has it)"};
      return Difference{x.name, "at another position in the archive (rebuilt: " + y.name + " here)"};
    }
    if (x.type != y.type)
      return Difference{x.name, std::string("entry type '") + x.type + "', rebuilt '" + y.type + "'"};
    const std::uint64_t xm = octal(x.header.substr(100, 8)), ym = octal(y.header.substr(100, 8));
    if (xm != ym) return Difference{x.name, "mode " + mode_text(xm) + ", rebuilt " + mode_text(ym)};
    if (x.content != y.content)
      return Difference{x.name, "bytes (" + std::to_string(x.content.size()) + " bytes, rebuilt " +
                                    std::to_string(y.content.size()) + ")"};
    if (x.extended != y.extended) return Difference{x.name, "header (pax/long-name records)"};
    if (x.header != y.header) {
      std::string field = header_field(x.header, y.header);
      return Difference{x.name, "header (" + (field.empty() ? std::string("size") : field) + ")"};
    }
  }
  if (a.size() > n) return Difference{a[n].name, "only in the chart (not in the rebuilt archive)"};
  if (b.size() > n) return Difference{b[n].name, "missing from the chart (the rebuilt archive has it)"};
  if (a_tar != b_tar) return Difference{"", "tar padding or end-of-archive blocks"};
  return Difference{"", "gzip framing (the tar streams are identical)"};
}

std::pair<std::string, std::string> archive_chart(std::string_view tgz) {
  auto entries = package::read_tgz(tgz, 5ull << 20, 100ull << 20);
  for (const auto& e : entries) {
    auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash + 1) == "Chart.yaml" && e.type == '0') {
      auto md = chart::parse_chart_yaml(e.content, e.name);
      return {md.name, md.version};
    }
  }
  throw Error(Errc::invalid_chart, "the chart", "no <chart>/Chart.yaml in the archive");
}

package::Package rebuild(const RebuildInput& input) {
  util::TempDir state("cmop-verify-");
  auto capture = std::make_shared<CapturingPublisher>();
  sync::WorkspaceOptions wo;
  wo.allow_local_git = true;  // the user's own machine: any path they name
  sync::Workspace workspace(state.path(), capture, wo);
  sync::RepoSpec spec;
  spec.name = "verify";
  spec.git = input.git;
  spec.ref = input.commit;
  spec.path = input.path;
  spec.dependencies = input.dependencies;
  sync::SyncReport report = workspace.apply(spec);
  if (!report.error.empty()) throw Error(Errc::git, input.git, report.error);
  for (const auto& c : report.charts)
    if (c.name == input.name && c.status == sync::ChartOutcome::Status::failed)
      throw Error(Errc::invalid_chart, c.path, "cannot rebuild " + input.name + ": " + c.reason);
  auto packages = capture->packages();
  const package::Package* found = nullptr;
  for (const auto& p : packages)
    if (p.metadata.name == input.name && (input.version.empty() || p.metadata.version == input.version)) found = &p;
  if (!found) {
    std::string seen;
    for (const auto& p : packages) seen += (seen.empty() ? "" : ", ") + p.metadata.name + " " + p.metadata.version;
    for (const auto& c : report.charts)
      if (c.status == sync::ChartOutcome::Status::failed)
        seen += (seen.empty() ? "" : ", ") + c.path + " failed: " + c.reason;
    throw Error(Errc::not_found, input.git + "@" + input.commit,
                "no chart " + input.name + (input.version.empty() ? "" : " " + input.version) + " at this commit" +
                    (input.path.empty() ? "" : " under " + input.path) +
                    (seen.empty() ? "" : " (found: " + seen + ")"));
  }
  return *found;
}

}  // namespace cmop::sign
