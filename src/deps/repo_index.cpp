// index.yaml as Helm's pkg/repo reads and writes it.
#include "cmop/deps/repo_index.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

#include "cmop/chart/semver.hpp"
#include "cmop/chart/yaml_aliases.hpp"
#include "cmop/error.hpp"
#include "cmop/util/time.hpp"
#include "cmop/util/view_stream.hpp"
#include "chart/go_yaml.hpp"
#include "deps/yaml_emit.hpp"

namespace cmop::deps {

namespace {

using detail::Value;

// Reads typed fields out of YAML, naming the field path and the document in errors.
class Reader {
 public:
  explicit Reader(std::string_view origin) : origin_(origin) {}

  [[noreturn]] void fail(const std::string& path, const std::string& why) const {
    throw Error(Errc::invalid_argument, origin_, path + ": " + why);
  }

  std::string scalar(const YAML::Node& n, const std::string& path) const {
    if (!n || n.IsNull()) return {};
    if (!n.IsScalar()) fail(path, "expected a string");
    return n.Scalar();
  }

  bool boolean(const YAML::Node& n, const std::string& path) const {
    if (!n || n.IsNull()) return false;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail(path, "expected true or false");
  }

  std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const {
    std::vector<std::string> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsSequence()) fail(path, "expected a list of strings");
    for (std::size_t i = 0; i < n.size(); ++i) out.push_back(scalar(n[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }

  std::map<std::string, std::string> string_map(const YAML::Node& n, const std::string& path) const {
    std::map<std::string, std::string> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsMap()) fail(path, "expected a mapping of strings");
    for (const auto& kv : n) {
      std::string key = scalar(kv.first, path);
      out[key] = scalar(kv.second, path + "." + key);
    }
    return out;
  }

  chart::Dependency dependency(const YAML::Node& n, const std::string& path) const {
    if (!n.IsMap()) fail(path, "expected a mapping");
    chart::Dependency d;
    d.name = scalar(n["name"], path + ".name");
    d.version = scalar(n["version"], path + ".version");
    d.repository = scalar(n["repository"], path + ".repository");
    d.condition = scalar(n["condition"], path + ".condition");
    d.tags = strings(n["tags"], path + ".tags");
    if (n["enabled"] && !n["enabled"].IsNull()) {
      d.enabled_set = true;
      d.enabled = boolean(n["enabled"], path + ".enabled");
    }
    if (const auto iv = n["import-values"]; iv && !iv.IsNull()) {
      if (!iv.IsSequence()) fail(path + ".import-values", "expected a list");
      // As chart::parse_chart_yaml keeps them: Go's JSON text of each entry.
      for (std::size_t i = 0; i < iv.size(); ++i) {
        try {
          d.import_values.push_back(chart::goyaml::json_from_yaml(iv[i]));
        } catch (const std::invalid_argument& e) {
          fail(path + ".import-values[" + std::to_string(i) + "]", e.what());
        }
      }
    }
    d.alias = scalar(n["alias"], path + ".alias");
    return d;
  }

  IndexEntry entry(const YAML::Node& n, const std::string& path) const {
    if (!n.IsMap()) fail(path, "expected a mapping");
    IndexEntry e;
    chart::Metadata& md = e.metadata;
    md.api_version = scalar(n["apiVersion"], path + ".apiVersion");
    if (md.api_version.empty()) md.api_version = "v1";  // as Helm defaults it when loading an index
    md.name = scalar(n["name"], path + ".name");
    md.home = scalar(n["home"], path + ".home");
    md.sources = strings(n["sources"], path + ".sources");
    md.version = scalar(n["version"], path + ".version");
    md.description = scalar(n["description"], path + ".description");
    md.keywords = strings(n["keywords"], path + ".keywords");
    if (const auto ms = n["maintainers"]; ms && !ms.IsNull()) {
      if (!ms.IsSequence()) fail(path + ".maintainers", "expected a list");
      for (std::size_t i = 0; i < ms.size(); ++i) {
        std::string p = path + ".maintainers[" + std::to_string(i) + "]";
        if (!ms[i].IsMap()) fail(p, "expected a mapping");
        md.maintainers.push_back({scalar(ms[i]["name"], p + ".name"), scalar(ms[i]["email"], p + ".email"),
                                  scalar(ms[i]["url"], p + ".url")});
      }
    }
    md.icon = scalar(n["icon"], path + ".icon");
    md.condition = scalar(n["condition"], path + ".condition");
    md.tags = scalar(n["tags"], path + ".tags");
    md.app_version = scalar(n["appVersion"], path + ".appVersion");
    md.deprecated = boolean(n["deprecated"], path + ".deprecated");
    md.annotations = string_map(n["annotations"], path + ".annotations");
    md.kube_version = scalar(n["kubeVersion"], path + ".kubeVersion");
    if (const auto ds = n["dependencies"]; ds && !ds.IsNull()) {
      if (!ds.IsSequence()) fail(path + ".dependencies", "expected a list");
      for (std::size_t i = 0; i < ds.size(); ++i)
        md.dependencies.push_back(dependency(ds[i], path + ".dependencies[" + std::to_string(i) + "]"));
    }
    md.type = scalar(n["type"], path + ".type");
    e.urls = strings(n["urls"], path + ".urls");
    e.digest = scalar(n["digest"], path + ".digest");
    e.created = scalar(n["created"], path + ".created");
    e.removed = boolean(n["removed"], path + ".removed");
    return e;
  }

 private:
  std::string origin_;
};

// Newest first by SemVer precedence, as Helm's SortEntries; unparsable versions last.
// Versions of equal precedence (revisions "1.0.0+<a>", "1.0.0+<b>": build metadata
// does not count) come newest `created` first. Helm re-sorts every index it loads
// with Go's sort.Sort, which is not stable; but a list that is already in order is
// left exactly as it is (pdqsort checks for that first, insertion sort is stable),
// so writing the newest revision first is what makes Helm pick it without --version.
bool newer(const IndexEntry& a, const IndexEntry& b) {
  auto va = chart::Version::parse(a.metadata.version);
  auto vb = chart::Version::parse(b.metadata.version);
  if (!va || !vb) return va.has_value() && !vb.has_value();
  if (int c = chart::compare(*va, *vb); c != 0) return c > 0;
  auto ca = util::parse_rfc3339_seconds(a.created);
  auto cb = util::parse_rfc3339_seconds(b.created);
  if (ca && cb && *ca != *cb) return *ca > *cb;
  return ca.has_value() && !cb.has_value();
}

void sort_versions(std::vector<IndexEntry>& versions) { std::stable_sort(versions.begin(), versions.end(), newer); }

void put(Value& map, const char* key, const std::string& s) {
  if (!s.empty()) map.add(key, Value::str(s));
}

void put_list(Value& map, const char* key, const std::vector<std::string>& items) {
  if (items.empty()) return;
  Value& seq = map.add(key, Value::seq());
  for (const auto& i : items) seq.push(Value::str(i));
}

}  // namespace

Value detail::dependency_value(const chart::Dependency& d) {
  Value v = Value::map();
  v.add("name", Value::str(d.name));
  put(v, "version", d.version);
  v.add("repository", Value::str(d.repository));
  put(v, "condition", d.condition);
  put_list(v, "tags", d.tags);
  if (d.enabled_set && d.enabled) v.add("enabled", Value::raw("true"));
  if (!d.import_values.empty()) {
    Value& iv = v.add("import-values", Value::seq());
    for (const auto& json : d.import_values) iv.push(Value::raw(json));  // Go's JSON text of each entry
  }
  put(v, "alias", d.alias);
  return v;
}

chart::Dependency detail::read_dependency(const YAML::Node& node, std::string_view origin, const std::string& path) {
  return Reader(origin).dependency(node, path);
}

namespace {

// Helm's chart.Metadata as Go marshals it: struct field order, empty fields omitted.
Value metadata_value(const chart::Metadata& md) {
  Value v = Value::map();
  put(v, "name", md.name);
  put(v, "home", md.home);
  put_list(v, "sources", md.sources);
  put(v, "version", md.version);
  put(v, "description", md.description);
  put_list(v, "keywords", md.keywords);
  if (!md.maintainers.empty()) {
    Value& ms = v.add("maintainers", Value::seq());
    for (const auto& m : md.maintainers) {
      Value mv = Value::map();
      put(mv, "name", m.name);
      put(mv, "email", m.email);
      put(mv, "url", m.url);
      ms.push(std::move(mv));
    }
  }
  put(v, "icon", md.icon);
  put(v, "apiVersion", md.api_version);
  put(v, "condition", md.condition);
  put(v, "tags", md.tags);
  put(v, "appVersion", md.app_version);
  if (md.deprecated) v.add("deprecated", Value::raw("true"));
  if (!md.annotations.empty()) {
    Value& an = v.add("annotations", Value::map());
    for (const auto& [k, val] : md.annotations) an.add(k, Value::str(val));
  }
  put(v, "kubeVersion", md.kube_version);
  if (!md.dependencies.empty()) {
    Value& ds = v.add("dependencies", Value::seq());
    for (const auto& d : md.dependencies) ds.push(detail::dependency_value(d));
  }
  put(v, "type", md.type);
  return v;
}

Value entry_value(const IndexEntry& e) {
  Value v = metadata_value(e.metadata);
  Value& urls = v.add("urls", Value::seq());
  for (const auto& u : e.urls) urls.push(Value::str(u));
  // Go's time.Time has no empty value: Helm writes the zero time when unset.
  v.add("created", Value::str(e.created.empty() ? "0001-01-01T00:00:00Z" : e.created));
  if (e.removed) v.add("removed", Value::raw("true"));
  put(v, "digest", e.digest);
  return v;
}

}  // namespace

namespace {

// Builds the index from yaml-cpp's parse events instead of loading the whole
// document as a node tree first: a tree of a 100 MiB index costs gigabytes, and
// only the IndexEntry records are kept. Each chart version is built as a small
// node tree, converted by Reader::entry and dropped; nodes outside `entries` are
// built only to be dropped (anchored ones are kept for their aliases, which the
// alias check before this pass has bounded).
class IndexBuilder final : public YAML::EventHandler {
 public:
  IndexBuilder(RepoIndex& index, const Reader& reader, std::size_t max_entries)
      : index_(index), r_(reader), max_entries_(max_entries) {}

  bool saw_root() const { return saw_root_; }
  bool api_version_seen() const { return api_version_seen_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { value(YAML::Node(YAML::NodeType::Null), anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, const std::string& text) override {
    value(YAML::Node(text), anchor);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) r_.fail(where(), "an alias to a node cmop does not keep (the index's own structure)");
    value(it->second, YAML::NullAnchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Kind::generic_seq, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(Kind::generic_map, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  enum class Kind { root, entries, versions, generic_map, generic_seq };
  struct Frame {
    Kind kind = Kind::generic_map;
    YAML::Node node;           // generic frames only
    YAML::anchor_t anchor = YAML::NullAnchor;
    bool has_key = false;      // maps: a key was read, its value comes next
    std::string key;           // that key (root, entries)
    YAML::Node key_node;       // that key (generic maps)
    std::size_t items = 0;     // versions: index of the next item
  };

  std::string where() const {
    for (auto it = stack_.rbegin(); it != stack_.rend(); ++it)
      if (it->kind == Kind::versions) return "entries." + it->key + "[" + std::to_string(it->items) + "]";
    return stack_.size() >= 2 && stack_[1].kind == Kind::entries ? "entries" : "index";
  }

  void open(Kind generic, YAML::anchor_t anchor) {
    if (stack_.empty()) {
      if (generic != Kind::generic_map) not_a_mapping();
      saw_root_ = true;
      Frame root;
      root.kind = Kind::root;
      root.anchor = anchor;
      stack_.push_back(std::move(root));
      return;
    }
    Frame& top = stack_.back();
    Kind kind = generic;
    if (top.kind == Kind::root && top.has_key && top.key == "entries" && generic == Kind::generic_map)
      kind = Kind::entries;
    else if (top.kind == Kind::entries && top.has_key && generic == Kind::generic_seq)
      kind = Kind::versions;
    Frame f;
    f.kind = kind;
    f.anchor = anchor;
    if (kind == Kind::generic_map) f.node = YAML::Node(YAML::NodeType::Map);
    if (kind == Kind::generic_seq) f.node = YAML::Node(YAML::NodeType::Sequence);
    if (kind == Kind::versions) {
      f.key = top.key;
      index_.entries[f.key];  // listed even when every version is skipped
    }
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.kind == Kind::generic_map || f.kind == Kind::generic_seq) return value(f.node, f.anchor);
    if (f.kind == Kind::versions) sort_versions(index_.entries[f.key]);
    if (stack_.empty()) return;
    // entries / versions frames were the value of their parent's key.
    stack_.back().has_key = false;
  }

  void value(const YAML::Node& v, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) anchors_[anchor].reset(v);
    if (stack_.empty()) not_a_mapping();  // a scalar document
    Frame& top = stack_.back();
    switch (top.kind) {
      case Kind::generic_seq: top.node.push_back(v); return;
      case Kind::generic_map:
        if (!top.has_key) {
          top.key_node.reset(v);  // rebinds; `=` would overwrite the previous key's node
          top.has_key = true;
        } else {
          top.node[top.key_node] = v;
          top.has_key = false;
        }
        return;
      case Kind::root:
        if (!top.has_key) {
          top.key = v.IsScalar() ? v.Scalar() : std::string();
          top.has_key = true;
          return;
        }
        if (top.key == "apiVersion") {
          index_.api_version = r_.scalar(v, "apiVersion");
          api_version_seen_ = true;
        } else if (top.key == "generated") {
          index_.generated = r_.scalar(v, "generated");
        } else if (top.key == "entries") {
          entries_from_node(v);
        }
        top.has_key = false;
        return;
      case Kind::entries:
        if (!top.has_key) {
          top.key = r_.scalar(v, "entries");
          top.has_key = true;
          return;
        }
        versions_from_node(top.key, v);
        top.has_key = false;
        return;
      case Kind::versions: add_version(top.key, v, top.items++); return;
    }
  }

  // `entries` or one chart's versions given as a whole node (an alias, a null).
  void entries_from_node(const YAML::Node& entries) {
    if (!entries || entries.IsNull()) return;
    if (!entries.IsMap()) r_.fail("entries", "expected a mapping of chart names");
    for (const auto& kv : entries) versions_from_node(r_.scalar(kv.first, "entries"), kv.second);
  }
  void versions_from_node(const std::string& name, const YAML::Node& versions) {
    auto& list = index_.entries[name];
    if (!versions || versions.IsNull()) return;
    if (!versions.IsSequence()) r_.fail("entries." + name, "expected a list of chart versions");
    std::size_t i = 0;
    for (const auto& item : versions) add_version(name, item, i++);
    sort_versions(list);
  }
  void add_version(const std::string& name, const YAML::Node& item, std::size_t i) {
    if (max_entries_ && ++entry_count_ > max_entries_)
      r_.fail("entries", "more than " + std::to_string(max_entries_) + " chart versions");
    if (!item || item.IsNull()) return;  // Helm skips empty entries
    IndexEntry e = r_.entry(item, "entries." + name + "[" + std::to_string(i) + "]");
    // Like Helm, an entry that could never be installed is skipped, not fatal:
    // indexes from other tools carry such records.
    if (e.metadata.name.empty() || !chart::Version::parse(e.metadata.version)) return;
    index_.entries[name].push_back(std::move(e));
  }

  [[noreturn]] void not_a_mapping() const { r_.fail("index", "not a chart repository index: expected a mapping"); }

  RepoIndex& index_;
  const Reader& r_;
  const std::size_t max_entries_;
  std::size_t entry_count_ = 0;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, YAML::Node> anchors_;
  bool saw_root_ = false;
  bool api_version_seen_ = false;
};

}  // namespace

RepoIndex RepoIndex::parse(std::string_view yaml, std::string_view origin, const Limits& limits) {
  Reader r(origin);
  if (yaml.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw Error(Errc::invalid_argument, std::string(origin), "empty index.yaml file");
  if (limits.max_bytes && yaml.size() > limits.max_bytes)
    throw Error(Errc::too_large, std::string(origin),
                "index.yaml is " + std::to_string(yaml.size()) + " bytes; the limit is " +
                    std::to_string(limits.max_bytes));
  // Before anything is built: entries read from aliased nodes are copies, so an
  // alias bomb would expand below (Helm refuses such a document with the same reason).
  if (auto refusal = chart::helm_alias_refusal(yaml, {limits.max_depth, limits.max_nodes}))
    throw Error(Errc::invalid_argument, std::string(origin), *refusal);

  RepoIndex index;
  index.api_version.clear();
  IndexBuilder builder(index, r, limits.max_entries);
  try {
    util::ViewStream in(yaml);
    YAML::Parser parser(in);
    parser.HandleNextDocument(builder);  // the first document, as YAML::Load reads it
  } catch (const YAML::ParserException& e) {
    throw Error(Errc::invalid_argument, std::string(origin), std::string("invalid YAML: ") + e.what());
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_argument, std::string(origin), std::string("invalid index: ") + e.what());
  }
  if (!builder.saw_root())
    throw Error(Errc::invalid_argument, std::string(origin), "not a chart repository index: expected a mapping");
  if (index.api_version.empty()) throw Error(Errc::invalid_argument, std::string(origin), "no API version specified");
  return index;
}

std::string RepoIndex::to_yaml() const {
  Value root = Value::map();
  root.add("apiVersion", Value::str(api_version.empty() ? "v1" : api_version));
  Value& es = root.add("entries", Value::map());
  for (const auto& [name, versions] : entries) {
    if (versions.empty()) continue;
    std::vector<IndexEntry> sorted = versions;
    sort_versions(sorted);
    Value& seq = es.add(name, Value::seq());
    for (const auto& e : sorted) seq.push(entry_value(e));
  }
  root.add("generated", Value::str(generated.empty() ? util::rfc3339_nano(std::chrono::system_clock::now()) : generated));
  return detail::to_yaml(std::move(root));
}

std::optional<IndexEntry> RepoIndex::best_match(const std::string& name, const std::string& constraint) const {
  auto it = entries.find(name);
  if (it == entries.end()) return std::nullopt;
  const chart::Constraint c = chart::Constraint::parse(constraint.empty() ? "*" : constraint);
  const IndexEntry* best = nullptr;
  std::optional<chart::Version> best_version;
  for (const auto& e : it->second) {
    // Helm's resolver skips records without a download URL: they are not installable.
    if (e.removed || e.urls.empty()) continue;
    auto v = chart::Version::parse(e.metadata.version);
    if (!v || !c.matches(*v)) continue;
    if (!best || chart::compare(*v, *best_version) > 0) {
      best = &e;
      best_version = std::move(v);
    }
  }
  if (!best) return std::nullopt;
  return *best;
}

void RepoIndex::add(IndexEntry entry) {
  auto& versions = entries[entry.metadata.name];
  auto same = std::find_if(versions.begin(), versions.end(),
                           [&](const IndexEntry& e) { return e.metadata.version == entry.metadata.version; });
  if (same != versions.end()) *same = std::move(entry);
  else versions.push_back(std::move(entry));
  sort_versions(versions);
}

bool RepoIndex::remove(const std::string& name, const std::string& version) {
  auto it = entries.find(name);
  if (it == entries.end()) return false;
  auto& versions = it->second;
  auto same = std::find_if(versions.begin(), versions.end(),
                           [&](const IndexEntry& e) { return e.metadata.version == version; });
  if (same == versions.end()) return false;
  versions.erase(same);
  if (versions.empty()) entries.erase(it);
  return true;
}

std::string chart_metadata_json(const chart::Metadata& md) { return detail::to_go_json(metadata_value(md)); }

}  // namespace cmop::deps
