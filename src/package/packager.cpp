#include "cmop/package/packager.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <tuple>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "cmop/chart/helmignore.hpp"
#include "cmop/chart/semver.hpp"
#include "cmop/chart/yaml_aliases.hpp"
#include "cmop/error.hpp"
#include "cmop/package/archive.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/hash.hpp"

// Loading mirrors Helm's pkg/chart/v2/loader (directory.go, archive.go, load.go)
// and writing mirrors chartutil.Save/writeTarContents. Deliberate differences:
//  * every read stays inside the source tree (symlinks are resolved and checked);
//  * subcharts are written sorted by name and version (Helm iterates a Go map,
//    so its order is random);
//  * a `.git` entry directly in the source root is never read (it is the clone's
//    metadata, not chart content, and would make packages unreproducible);
//  * a downloaded or file:// dependency replaces a vendored charts/*.tgz of the
//    same chart name, as `helm dependency update` deletes outdated archives.

namespace cmop::package {
namespace {
namespace fs = std::filesystem;

struct File {
  std::string name;  // relative to the chart root, '/'-separated
  std::string data;
};

// One size budget across the chart and all of its subcharts.
class Budget {
 public:
  explicit Budget(const Limits& limits) : limits_(limits) {}
  std::uint64_t max_file() const { return limits_.max_file_bytes; }
  std::uint64_t remaining() const { return limits_.max_total_bytes - used_; }
  void charge(const std::string& subject, std::uint64_t size) {
    if (size > limits_.max_file_bytes)
      throw Error(Errc::too_large, subject,
                  "file is " + std::to_string(size) + " bytes; the limit for a chart file is " +
                      std::to_string(limits_.max_file_bytes));
    if (size > remaining())
      throw Error(Errc::too_large, subject,
                  "the chart's files exceed the limit of " + std::to_string(limits_.max_total_bytes) +
                      " bytes in total");
    used_ += size;
  }

 private:
  Limits limits_;
  std::uint64_t used_ = 0;
};

struct LoadedChart {
  chart::Metadata md;
  std::string origin;                // subject prefix for errors: where this chart came from
  bool from_vendored_archive = false;  // a charts/*.tgz of its parent
  std::optional<std::string> lock;   // Chart.lock bytes to write (v2 only)
  std::optional<std::string> values;
  std::optional<std::string> schema;
  std::vector<File> templates;
  std::vector<File> files;
  std::vector<LoadedChart> subcharts;
};

std::string join_subject(const std::string& origin, std::string_view rel) {
  if (rel.empty()) return origin;
  return origin + "/" + std::string(rel);
}

void strip_bom(std::string& data) {
  if (data.size() >= 3 && data.compare(0, 3, "\xEF\xBB\xBF") == 0) data.erase(0, 3);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string extension(std::string_view name) {
  auto slash = name.rfind('/');
  auto base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  auto dot = base.rfind('.');
  return dot == std::string_view::npos ? "" : std::string(base.substr(dot));
}

// ---------------------------------------------------------------------------
// Content checks Helm applies while loading or saving.

void check_values_yaml(const std::string& data, const std::string& subject) {
  // Checked first, by counting: Helm's decoder expands aliases and refuses a bomb.
  if (auto refusal = chart::helm_alias_refusal(data))
    throw Error(Errc::invalid_chart, subject, "cannot load values.yaml: " + *refusal);
  YAML::Node node;
  try {
    node = YAML::Load(data);
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, subject, std::string("cannot load values.yaml: ") + e.what());
  }
  if (!node.IsNull() && !node.IsMap())
    throw Error(Errc::invalid_chart, subject, "cannot load values.yaml: the document must be a YAML mapping");
}

void check_schema_json(const std::string& data, const std::string& subject) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(data.data(), data.size());
  if (doc.HasParseError())
    throw Error(Errc::invalid_chart, subject,
                std::string("invalid JSON in values.schema.json: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                    " at offset " + std::to_string(doc.GetErrorOffset()));
}

// Go's time.Time round trip through RFC 3339 (what Helm does to `generated`):
// trailing fractional zeros dropped, a zero offset printed as "Z".
std::string normalize_rfc3339(const std::string& text, const std::string& subject) {
  static const std::regex re(R"(^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw Error(Errc::invalid_chart, subject, "cannot load Chart.lock: `generated` is not an RFC 3339 time: " + text);
  std::string fraction = m[3].str();
  if (fraction.size() > 10) fraction.resize(10);  // Go keeps nanoseconds
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (fraction == ".") fraction.clear();
  std::string zone = m[4].str();
  if (zone == "z" || zone == "Z" || zone == "+00:00" || zone == "-00:00") zone = "Z";
  return m[1].str() + "T" + m[2].str() + fraction + zone;
}

std::string yaml_string(const std::string& s) {
  static const std::regex plain(R"(^[A-Za-z][A-Za-z0-9._:/+-]*$)");
  static const std::set<std::string> reserved = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                                  "true", "True", "TRUE", "false", "False", "FALSE",
                                                  "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"};
  if (std::regex_match(s, plain) && !reserved.count(s) && s.find(": ") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Re-serializes a Chart.lock as Helm does after loading it: the Lock struct
// marshalled through JSON, i.e. keys `dependencies`, `digest`, `generated`.
// Returns nullopt for an empty (null) lock, which Helm drops.
std::optional<std::string> remarshal_lock(const std::string& data, const std::string& subject) {
  YAML::Node node;
  try {
    node = YAML::Load(data);
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, subject, std::string("cannot load Chart.lock: ") + e.what());
  }
  if (node.IsNull()) return std::nullopt;
  if (!node.IsMap()) throw Error(Errc::invalid_chart, subject, "cannot load Chart.lock: not a YAML mapping");

  std::string out;
  YAML::Node deps = node["dependencies"];
  if (!deps || deps.IsNull()) {
    out += "dependencies: null\n";
  } else if (!deps.IsSequence()) {
    throw Error(Errc::invalid_chart, subject, "cannot load Chart.lock: `dependencies` is not a list");
  } else if (deps.size() == 0) {
    out += "dependencies: []\n";
  } else {
    // The dependency entries share chart::Dependency with Chart.yaml: parse and
    // render them through the Chart.yaml code so both agree on Helm's format.
    YAML::Emitter em;
    em << YAML::BeginMap << YAML::Key << "dependencies" << YAML::Value << deps << YAML::EndMap;
    chart::Metadata only_deps;
    only_deps.dependencies = chart::parse_chart_yaml(em.c_str(), subject).dependencies;
    std::string rendered = chart::to_helm_yaml(only_deps);
    auto start = rendered.find("dependencies:");
    if (start == std::string::npos || (start != 0 && rendered[start - 1] != '\n'))
      throw Error(Errc::internal, subject, "Chart.yaml serializer did not emit dependencies");
    auto end = start;
    while (true) {
      end = rendered.find('\n', end);
      if (end == std::string::npos) {
        end = rendered.size();
        break;
      }
      ++end;
      if (end >= rendered.size() || (rendered[end] != ' ' && rendered[end] != '-')) break;
    }
    out += rendered.substr(start, end - start);
    if (out.back() != '\n') out += '\n';
  }

  YAML::Node digest = node["digest"];
  std::string digest_text = digest && digest.IsScalar() ? digest.Scalar() : "";
  out += "digest: " + (digest_text.empty() ? std::string("\"\"") : yaml_string(digest_text)) + "\n";

  YAML::Node generated = node["generated"];
  std::string when = "0001-01-01T00:00:00Z";
  if (generated && !generated.IsNull()) {
    if (!generated.IsScalar())
      throw Error(Errc::invalid_chart, subject, "cannot load Chart.lock: `generated` is not a time");
    when = normalize_rfc3339(generated.Scalar(), subject);
  }
  out += "generated: \"" + when + "\"\n";
  return out;
}

// ---------------------------------------------------------------------------
// Loading from in-memory files (Helm's LoadFiles).

LoadedChart load_archive(const std::string& tgz, const std::string& origin, Budget& budget);

LoadedChart load_files(std::vector<File> files, const std::string& origin, Budget& budget) {
  LoadedChart c;
  c.origin = origin;

  auto chart_yaml = std::find_if(files.begin(), files.end(), [](const File& f) { return f.name == "Chart.yaml"; });
  if (chart_yaml == files.end()) throw Error(Errc::invalid_chart, origin, "Chart.yaml file is missing");
  c.md = chart::parse_chart_yaml(chart_yaml->data, join_subject(origin, "Chart.yaml"));
  // Helm 2 accepted charts without apiVersion; Helm's loader treats them as v1.
  if (c.md.api_version.empty()) c.md.api_version = "v1";
  const bool v1 = c.md.api_version == "v1";

  std::optional<std::pair<std::string, std::string>> lock_source;  // (file name, data)
  std::map<std::string, std::vector<File>> subchart_files;
  for (auto& f : files) {
    const std::string subject = join_subject(origin, f.name);
    if (f.name == "Chart.yaml") continue;
    if (f.name == "Chart.lock") {
      lock_source.emplace(f.name, f.data);
    } else if (f.name == "values.yaml") {
      check_values_yaml(f.data, subject);
      c.values = f.data;
    } else if (f.name == "values.schema.json") {
      c.schema = f.data;
    } else if (f.name == "requirements.yaml") {
      // Deprecated v1 dependency list: Helm overlays it onto the metadata and
      // keeps the file only for v1 charts.
      chart::apply_requirements_yaml(c.md, f.data, subject);
      if (v1) c.files.push_back(std::move(f));
    } else if (f.name == "requirements.lock") {
      lock_source.emplace(f.name, f.data);
      if (v1) c.files.push_back(std::move(f));
    } else if (starts_with(f.name, "templates/")) {
      c.templates.push_back(std::move(f));
    } else if (starts_with(f.name, "charts/")) {
      if (extension(f.name) == ".prov") {
        c.files.push_back(std::move(f));
        continue;
      }
      std::string rest = f.name.substr(7);
      std::string cname = rest.substr(0, rest.find('/'));
      subchart_files[cname].push_back(File{rest, std::move(f.data)});
    } else {
      c.files.push_back(std::move(f));
    }
  }

  if (lock_source) {
    auto lock = remarshal_lock(lock_source->second, join_subject(origin, lock_source->first));
    if (!v1) c.lock = std::move(lock);
  }

  chart::validate(c.md, join_subject(origin, "Chart.yaml"));

  for (auto& [cname, sub] : subchart_files) {
    // Helm skips charts/_* and charts/.* entirely.
    if (cname.empty() || cname[0] == '_' || cname[0] == '.') continue;
    const std::string sub_origin = join_subject(origin, "charts/" + cname);
    if (extension(cname) == ".tgz") {
      if (sub.front().name != cname)
        throw Error(Errc::invalid_chart, sub_origin, "expected a chart archive file, found a directory");
      auto loaded = load_archive(sub.front().data, sub_origin, budget);
      loaded.from_vendored_archive = true;
      c.subcharts.push_back(std::move(loaded));
      continue;
    }
    std::vector<File> inner;
    for (auto& f : sub) {
      auto slash = f.name.find('/');
      if (slash == std::string::npos) continue;  // a plain file charts/<x>: no chart inside
      inner.push_back(File{f.name.substr(slash + 1), std::move(f.data)});
    }
    try {
      c.subcharts.push_back(load_files(std::move(inner), sub_origin, budget));
    } catch (const Error& e) {
      if (e.subject() == sub_origin && e.code() == Errc::invalid_chart)
        throw Error(e.code(), e.subject(), "error unpacking subchart " + cname + ": " + e.reason());
      throw;
    }
  }
  return c;
}

// Helm's LoadArchiveFiles: the first path component is the chart's directory
// and is dropped; a Chart.yaml outside it is refused.
LoadedChart load_archive(const std::string& tgz, const std::string& origin, Budget& budget) {
  std::vector<TarEntry> entries;
  try {
    entries = read_tgz(tgz, budget.max_file(), budget.remaining());
  } catch (const Error& e) {
    throw Error(e.code(), origin, e.subject() == "archive" ? e.reason() : e.subject() + ": " + e.reason());
  }
  std::vector<File> files;
  for (auto& entry : entries) {
    if (entry.type == '5') continue;
    if (entry.type != '0')
      throw Error(Errc::invalid_chart, join_subject(origin, entry.name),
                  std::string("unsupported tar entry type '") + entry.type + "' (links and devices are not allowed)");
    // Helm drops the first component of the name as written, then cleans the rest:
    // "./c/Chart.yaml" is "c/Chart.yaml" in the chart, "./Chart.yaml" is "Chart.yaml".
    const std::string& raw = entry.raw_name.empty() ? entry.name : entry.raw_name;
    const char delimiter = raw.find('\\') != std::string::npos ? '\\' : '/';
    const auto first = raw.find(delimiter);
    std::string name;
    for (std::size_t start = first == std::string::npos ? raw.size() : first + 1; start < raw.size();) {
      auto end = raw.find(delimiter, start);
      if (end == std::string::npos) end = raw.size();
      const std::string_view part(raw.data() + start, end - start);
      if (!part.empty() && part != ".") name += (name.empty() ? "" : "/") + std::string(part);
      start = end + 1;
    }
    if (name.empty()) {
      if (entry.name == "Chart.yaml") throw Error(Errc::invalid_chart, origin, "chart yaml not in base directory");
      throw Error(Errc::invalid_chart, origin,
                  "chart illegally contains content outside the base directory: " + entry.name);
    }
    budget.charge(join_subject(origin, entry.name), entry.content.size());
    File f{std::move(name), std::move(entry.content)};
    strip_bom(f.data);
    files.push_back(std::move(f));
  }
  if (files.empty()) throw Error(Errc::invalid_chart, origin, "no files in chart archive");
  return load_files(std::move(files), origin, budget);
}

// ---------------------------------------------------------------------------
// Loading from a source tree (Helm's LoadDir over sympath.Walk), confined to it.

using Kind = util::FileTree::Kind;
using Status = util::FileTree::Resolved::Status;

class TreeLoader {
 public:
  TreeLoader(const util::FileTree& tree, std::string origin, Budget& budget)
      : tree_(tree), origin_(std::move(origin)), budget_(budget) {}

  // chart_dir is a real (resolved) directory of the tree.
  std::vector<File> load(const std::string& chart_dir) {
    auto rules = chart::IgnoreRules::defaults();
    const std::string ignore_file = util::tree_join(chart_dir, ".helmignore");
    // Read when it resolves (a broken link fails the walk below, as Helm's does).
    if (tree_.kind(ignore_file) != Kind::missing &&
        tree_.resolve(ignore_file).status != util::FileTree::Resolved::Status::broken) {
      std::string real = resolve_inside(ignore_file, ".helmignore");
      std::string text = read_regular(real, ".helmignore", /*charge=*/false);
      strip_bom(text);  // Helm's ignore.Parse drops it; kept, it would spoil the first rule
      try {
        rules = chart::IgnoreRules::parse(text);
      } catch (const Error& e) {
        throw Error(e.code(), subject(".helmignore"), e.reason());
      }
    }
    rules_ = &rules;
    active_dirs_.insert(chart_dir);
    walk(chart_dir, "");
    rules_ = nullptr;
    return std::move(files_);
  }

 private:
  std::string subject(std::string_view rel) const { return join_subject(origin_, rel); }

  // Real path of a path, which must exist and stay inside the tree.
  std::string resolve_inside(const std::string& path, const std::string& rel) {
    auto r = tree_.resolve(path);
    if (r.status == Status::broken) throw Error(Errc::invalid_chart, subject(rel), "cannot resolve: " + r.why);
    if (r.status == Status::escapes) throw Error(Errc::forbidden, subject(rel), "symlink escapes the repository");
    return r.path;
  }

  void walk(const std::string& real_dir, const std::string& rel_dir) {
    for (const auto& name : tree_.list(real_dir)) {
      if (real_dir.empty() && name == ".git") continue;
      const std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      std::string real = util::tree_join(real_dir, name);
      Kind kind = tree_.kind(real);
      if (kind == Kind::missing) throw Error(Errc::io, subject(rel), "vanished while the chart was read");

      if (kind == Kind::symlink) {
        auto target = tree_.resolve(real);
        // Helm's sympath.Walk resolves a link before the walk function (and with it
        // .helmignore) sees the entry, so a broken link fails the chart even when
        // an ignore rule matches it.
        if (target.status == Status::broken) throw Error(Errc::invalid_chart, subject(rel), "broken symlink: " + target.why);
        if (rules_->ignored(rel, target.kind == Kind::directory)) continue;
        if (target.status == Status::escapes)
          throw Error(Errc::forbidden, subject(rel), "symlink escapes the repository");
        real = std::move(target.path);
        kind = target.kind;
      } else if (rules_->ignored(rel, kind == Kind::directory)) {
        continue;  // an ignored directory is skipped with everything below it
      }

      if (kind == Kind::directory) {
        if (!active_dirs_.insert(real).second)
          throw Error(Errc::invalid_chart, subject(rel), "symlink loop: directory already being walked");
        walk(real, rel);
        active_dirs_.erase(real);
        continue;
      }
      if (kind != Kind::file)
        throw Error(Errc::invalid_chart, subject(rel),
                    "cannot load irregular file (fifo, socket or device) as part of a chart");
      std::string data = read_regular(real, rel, /*charge=*/true);
      strip_bom(data);
      files_.push_back(File{rel, std::move(data)});
    }
  }

  // The size is charged (or checked) before any of the file is read.
  std::string read_regular(const std::string& real, const std::string& rel, bool charge) {
    return tree_.read(real, subject(rel), [&](std::uint64_t size) {
      if (charge) {
        budget_.charge(subject(rel), size);
      } else if (size > budget_.max_file()) {
        throw Error(Errc::too_large, subject(rel), "file is " + std::to_string(size) + " bytes");
      }
    });
  }

  const util::FileTree& tree_;
  std::string origin_;
  Budget& budget_;
  const chart::IgnoreRules* rules_ = nullptr;
  std::set<std::string> active_dirs_;
  std::vector<File> files_;
};

bool has_dotdot(std::string_view rel) {
  std::size_t start = 0;
  while (start <= rel.size()) {
    auto end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    if (rel.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

LoadedChart load_dir(const util::FileTree& tree, const std::string& real_dir, Budget& budget) {
  std::string origin = real_dir.empty() ? "." : real_dir;
  TreeLoader loader(tree, origin, budget);
  return load_files(loader.load(real_dir), origin, budget);
}

// ---------------------------------------------------------------------------
// Writing (chartutil.Save's writeTarContents).

void write_chart(TarGzWriter& out, std::vector<std::string>& names, LoadedChart& c, const std::string& prefix) {
  const std::string base = prefix.empty() ? c.md.name : prefix + "/" + c.md.name;
  auto add = [&](const std::string& rel, const std::string& data) {
    std::string name = base + "/" + rel;
    out.add_file(name, data);
    names.push_back(std::move(name));
  };

  chart::Metadata md = c.md;
  if (md.api_version == "v1") md.dependencies.clear();  // v1 keeps them in requirements.yaml
  add("Chart.yaml", chart::to_helm_yaml(md));
  if (md.api_version == "v2" && c.lock) add("Chart.lock", *c.lock);
  if (c.values) add("values.yaml", *c.values);
  if (c.schema) {
    check_schema_json(*c.schema, join_subject(c.origin, "values.schema.json"));
    add("values.schema.json", *c.schema);
  }
  for (auto& f : c.templates) add(f.name, f.data);
  for (auto& f : c.files) add(f.name, f.data);

  std::sort(c.subcharts.begin(), c.subcharts.end(), [](const LoadedChart& a, const LoadedChart& b) {
    return std::tie(a.md.name, a.md.version) < std::tie(b.md.name, b.md.version);
  });
  for (std::size_t i = 0; i + 1 < c.subcharts.size(); ++i)
    if (c.subcharts[i].md.name == c.subcharts[i + 1].md.name)
      throw Error(Errc::invalid_chart, c.origin,
                  "two subcharts are named '" + c.subcharts[i].md.name + "' (" + c.subcharts[i].origin + " and " +
                      c.subcharts[i + 1].origin + ")");
  for (auto& sub : c.subcharts) write_chart(out, names, sub, base + "/charts");
}

// Places the resolved lock into the chart: Chart.lock for v2, requirements.lock
// (at its directory-walk position among the files) for v1.
void apply_lock(LoadedChart& c, const std::string& lock_yaml) {
  if (c.md.api_version != "v1") {
    // Helm saves a v2 chart's Chart.lock by marshalling its Lock struct, so a
    // hand-formatted in-sync lock is packaged in Helm's canonical form.
    c.lock = remarshal_lock(lock_yaml, c.origin + "/Chart.lock");
    return;
  }
  auto existing = std::find_if(c.files.begin(), c.files.end(),
                               [](const File& f) { return f.name == "requirements.lock"; });
  if (existing != c.files.end()) {
    existing->data = lock_yaml;
    return;
  }
  auto pos = std::find_if(c.files.begin(), c.files.end(), [](const File& f) {
    return f.name.substr(0, f.name.find('/')) > "requirements.lock";
  });
  c.files.insert(pos, File{"requirements.lock", lock_yaml});
}

bool is_vendored_dir(const LoadedChart& c, const std::string& origin, const std::string& dir_name) {
  const std::string vendored_origin = join_subject(origin, "charts/" + dir_name);
  return std::any_of(c.subcharts.begin(), c.subcharts.end(), [&](const LoadedChart& sub) {
    return !sub.from_vendored_archive && sub.origin == vendored_origin;
  });
}

// Helm's CheckDependencies, which `helm package` and `helm install` run: every
// declared dependency must be in charts/. Stricter than Helm, the version found
// must also satisfy the declared constraint (what `helm dependency list` flags as
// "wrong version"), so a stale vendored copy is never published.
void check_dependencies(const LoadedChart& c) {
  const std::string declared_in = c.md.api_version == "v1" ? "requirements.yaml" : "Chart.yaml";
  std::vector<std::string> missing;
  for (const auto& d : c.md.dependencies) {
    std::vector<const LoadedChart*> found;
    for (const auto& sub : c.subcharts)
      if (sub.md.name == d.name) found.push_back(&sub);
    if (found.empty()) {
      missing.push_back(d.name);
      continue;
    }
    if (d.version.empty()) continue;
    std::optional<chart::Constraint> constraint;
    try {
      constraint = chart::Constraint::parse(d.version);
    } catch (const Error& e) {
      throw Error(Errc::invalid_chart, join_subject(c.origin, declared_in),
                  "dependency " + d.name + ": invalid version constraint: " + e.reason());
    }
    bool satisfied = std::any_of(found.begin(), found.end(), [&](const LoadedChart* sub) {
      auto v = chart::Version::parse(sub->md.version);
      return v && constraint->matches(*v);
    });
    if (!satisfied)
      throw Error(Errc::invalid_chart, join_subject(c.origin, declared_in),
                  "dependency " + d.name + " " + d.version + ": charts/ holds version " + found.front()->md.version +
                      ", which does not satisfy the constraint");
  }
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    throw Error(Errc::invalid_chart, join_subject(c.origin, declared_in),
                "found in " + declared_in + ", but missing in charts/ directory: " + names);
  }
}

}  // namespace

Package package_chart(const PackageInput& input, const Limits& limits) {
  std::optional<util::DirectoryTree> folder;
  if (!input.tree) {
    std::error_code ec;
    fs::path clone_root = fs::canonical(input.clone_root, ec);
    if (ec) throw Error(Errc::not_found, input.clone_root.string(), "clone root: " + ec.message());
    folder.emplace(clone_root);
  }
  const util::FileTree& tree = input.tree ? *input.tree : *folder;

  const std::string chart_subject = input.chart_dir.empty() ? "." : input.chart_dir;
  if (!input.chart_dir.empty() && (input.chart_dir.front() == '/' || has_dotdot(input.chart_dir)))
    throw Error(Errc::forbidden, chart_subject, "chart path must be relative and stay inside the repository");
  auto resolved = tree.resolve(input.chart_dir);
  if (resolved.status == util::FileTree::Resolved::Status::broken)
    throw Error(Errc::not_found, chart_subject, "chart directory: " + resolved.why);
  if (resolved.status == util::FileTree::Resolved::Status::escapes)
    throw Error(Errc::forbidden, chart_subject, "symlink escapes the repository");
  const std::string chart_dir = resolved.path;
  if (resolved.kind != Kind::directory) throw Error(Errc::invalid_chart, chart_subject, "not a directory");

  Budget budget(limits);
  std::string origin = input.chart_dir.empty() ? "." : input.chart_dir;
  while (origin.size() > 1 && origin.back() == '/') origin.pop_back();
  TreeLoader loader(tree, origin, budget);
  LoadedChart top = load_files(loader.load(chart_dir), origin, budget);

  // Dependencies fetched or packaged for this sync.
  std::vector<LoadedChart> extra;
  for (const auto& archive : input.archives) {
    std::string sub_origin = origin + "/charts/" + archive.name + "-" + archive.version + ".tgz";
    extra.push_back(load_archive(archive.tgz, sub_origin, budget));
  }
  for (const auto& local : input.local_subcharts) {
    const std::string shown = local.path.empty() ? "." : local.path;
    auto real = tree.resolve(local.path);
    if (real.status == util::FileTree::Resolved::Status::escapes)
      throw Error(Errc::forbidden, shown, "file:// dependency is outside the repository");
    if (real.status == util::FileTree::Resolved::Status::broken)
      throw Error(Errc::dependency, shown, "file:// dependency: " + real.why);
    // `file://./charts/X` naming the folder already vendored as charts/X: it is
    // that subchart, already loaded (Helm would pack it a second time, see
    // docs/helm-differences.md).
    const auto slash = real.path.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : real.path.substr(0, slash);
    const std::string base = slash == std::string::npos ? real.path : real.path.substr(slash + 1);
    if (parent == util::tree_join(chart_dir, "charts") && is_vendored_dir(top, origin, base)) continue;
    extra.push_back(load_dir(tree, real.path, budget));
  }
  for (auto& sub : extra) {
    auto& subs = top.subcharts;
    for (auto it = subs.begin(); it != subs.end();) {
      if (it->md.name != sub.md.name) {
        ++it;
      } else if (it->from_vendored_archive) {
        it = subs.erase(it);  // superseded, as `helm dependency update` deletes outdated archives
      } else {
        throw Error(Errc::invalid_chart, it->origin,
                    "subchart '" + sub.md.name + "' is vendored as a directory and also declared as a dependency");
      }
    }
    subs.push_back(std::move(sub));
  }
  if (!input.lock_yaml.empty()) apply_lock(top, input.lock_yaml);
  check_dependencies(top);
  if (!input.version_override.empty()) {
    // `helm package --version`: the new version must itself be valid.
    if (!chart::Version::parse(input.version_override))
      throw Error(Errc::invalid_chart, join_subject(origin, "Chart.yaml"),
                  "version " + input.version_override + " is not a semantic version");
    top.md.version = input.version_override;
  }

  Package pkg;
  // What every index and registry says of the package is what Helm's loader reads
  // back from it: the sanitized metadata the archive's Chart.yaml holds.
  pkg.metadata = top.md;
  chart::sanitize(pkg.metadata);
  TarGzWriter writer;
  write_chart(writer, pkg.files, top, "");
  pkg.bytes = writer.finish();
  pkg.filename = top.md.name + "-" + top.md.version + ".tgz";
  pkg.digest = util::sha256_hex(pkg.bytes);
  return pkg;
}

}  // namespace cmop::package
