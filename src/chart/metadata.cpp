// Chart.yaml with Helm 3's rules: decoding as sigs.k8s.io/yaml + encoding/json do
// (case-insensitive field names, later keys win, scalars accepted for strings),
// validation as chart.Metadata.Validate does, and serialization as chartutil.Save.
//
// Deliberate differences from Helm, all documented in metadata.hpp:
//  * numeric scalars given for string fields keep their text as written
//    (`appVersion: 1.10` stays "1.10"; Helm's float round trip would make it "1.1");
//  * validate() also enforces rules Helm applies only in `helm lint` or at
//    dependency-resolution time (apiVersion v1|v2, dependency names).
#include "cmop/chart/metadata.hpp"
#include "cmop/chart/yaml_aliases.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "cmop/chart/semver.hpp"
#include "cmop/error.hpp"
#include "go_yaml.hpp"

namespace cmop::chart {
namespace {

// Chart.yaml files are a few KiB; anything near this is hostile or broken.
constexpr std::size_t kMaxChartYamlBytes = 4 * 1024 * 1024;

[[noreturn]] void fail(std::string_view origin, std::string reason) {
  throw Error(Errc::invalid_chart, std::string(origin), std::move(reason));
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "\"" + n.Scalar().substr(0, 64) + "\"";
    case YAML::NodeType::Null: return "null";
    default: return "nothing";
  }
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// encoding/json matches object keys to fields exactly or, failing that, case-insensitively.
const char* match_field(std::string_view key, std::initializer_list<const char*> fields) {
  for (const char* f : fields)
    if (key == f) return f;
  for (const char* f : fields)
    if (ascii_iequals(key, f)) return f;
  return nullptr;
}

bool is_null(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// Any scalar is accepted for a string field, kept exactly as written.
std::string get_string(const YAML::Node& n, std::string_view origin, const std::string& field) {
  if (is_null(n)) return "";
  if (!n.IsScalar()) fail(origin, "field " + field + ": expected a string, got " + describe(n));
  return n.Scalar();
}

// YAML 1.1 booleans as go-yaml v2 resolves them; quoted text is a string, not a bool.
bool get_bool(const YAML::Node& n, std::string_view origin, const std::string& field) {
  if (is_null(n)) return false;
  if (n.IsScalar() && n.Tag() != "!") {
    static const std::set<std::string> kTrue = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static const std::set<std::string> kFalse = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    if (kTrue.count(n.Scalar())) return true;
    if (kFalse.count(n.Scalar())) return false;
  }
  fail(origin, "field " + field + ": expected a boolean, got " + describe(n));
}

std::vector<std::string> get_string_list(const YAML::Node& n, std::string_view origin, const std::string& field) {
  std::vector<std::string> out;
  if (is_null(n)) return out;
  if (!n.IsSequence()) fail(origin, "field " + field + ": expected a list of strings, got " + describe(n));
  std::size_t i = 0;
  for (const auto& item : n) {
    out.push_back(get_string(item, origin, field + "[" + std::to_string(i) + "]"));
    ++i;
  }
  return out;
}

void require_mapping(const YAML::Node& n, std::string_view origin, const std::string& field) {
  if (!n.IsMap()) fail(origin, "field " + field + ": expected a mapping, got " + describe(n));
}

Maintainer parse_maintainer(const YAML::Node& n, std::string_view origin, const std::string& field) {
  if (is_null(n)) fail(origin, "field " + field + ": maintainers must not contain empty or null nodes");
  require_mapping(n, origin, field);
  Maintainer m;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) continue;
    const char* f = match_field(kv.first.Scalar(), {"name", "email", "url"});
    if (!f) continue;
    std::string value = get_string(kv.second, origin, field + "." + f);
    if (f == std::string_view("name")) m.name = std::move(value);
    else if (f == std::string_view("email")) m.email = std::move(value);
    else m.url = std::move(value);
  }
  return m;
}

// An import-values entry is whatever YAML value was written (Helm's field is an
// interface{}: a string and a {child, parent} mapping are what it uses, anything else
// is carried along); kept as the JSON text Helm holds, so each keeps its YAML types.
std::string parse_import_value(const YAML::Node& n, std::string_view origin, const std::string& field) {
  try {
    return goyaml::json_from_yaml(n);
  } catch (const std::invalid_argument& e) {
    fail(origin, "field " + field + ": " + e.what());
  }
}

// go-yaml refuses some input before parsing it (control characters, malformed
// UTF-8); so does Helm, for the whole file, comments included.
void refuse_what_go_yaml_refuses(std::string_view yaml, std::string_view origin, const std::string& what) {
  auto refusal = goyaml::reader_refusal(yaml);
  if (!refusal) return;
  const auto [offset, reason] = *refusal;
  const std::string_view before = yaml.substr(0, offset);
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t line_start = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
  fail(origin, what + "invalid YAML at line " + std::to_string(line) + ", column " +
                   std::to_string(offset - line_start + 1) + ": " + reason);
}

Dependency parse_dependency(const YAML::Node& n, std::string_view origin, const std::string& field) {
  if (is_null(n)) fail(origin, "field " + field + ": dependencies must not contain empty or null nodes");
  require_mapping(n, origin, field);
  Dependency d;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) continue;
    const char* f = match_field(kv.first.Scalar(), {"name", "version", "repository", "condition", "tags", "enabled",
                                                    "import-values", "alias"});
    if (!f) continue;
    std::string_view key = f;
    std::string sub = field + "." + f;
    if (key == "name") d.name = get_string(kv.second, origin, sub);
    else if (key == "version") d.version = get_string(kv.second, origin, sub);
    else if (key == "repository") d.repository = get_string(kv.second, origin, sub);
    else if (key == "condition") d.condition = get_string(kv.second, origin, sub);
    else if (key == "tags") d.tags = get_string_list(kv.second, origin, sub);
    else if (key == "alias") d.alias = get_string(kv.second, origin, sub);
    else if (key == "enabled") {
      d.enabled = get_bool(kv.second, origin, sub);
      d.enabled_set = !is_null(kv.second);
      if (!d.enabled_set) d.enabled = true;
    } else if (key == "import-values") {
      d.import_values.clear();
      if (is_null(kv.second)) continue;
      if (!kv.second.IsSequence()) fail(origin, "field " + sub + ": expected a list, got " + describe(kv.second));
      std::size_t i = 0;
      for (const auto& item : kv.second) {
        d.import_values.push_back(parse_import_value(item, origin, sub + "[" + std::to_string(i) + "]"));
        ++i;
      }
    }
  }
  return d;
}

// --- Go's unicode.IsSpace / unicode.IsPrint, for sanitizeString ------------------------

bool go_is_space(char32_t r) {
  switch (r) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

// Non-printable: controls, format characters, private use and noncharacters.
// (Unassigned code points, which Go also treats as non-printable, are kept.)
bool go_is_print(char32_t r) {
  if (r < 0x20 || (r >= 0x7F && r < 0xA0)) return false;
  static constexpr std::pair<char32_t, char32_t> kFormat[] = {
      {0xAD, 0xAD},       {0x600, 0x605},     {0x61C, 0x61C},     {0x6DD, 0x6DD},     {0x70F, 0x70F},
      {0x890, 0x891},     {0x8E2, 0x8E2},     {0x180E, 0x180E},   {0x200B, 0x200F},   {0x202A, 0x202E},
      {0x2060, 0x2064},   {0x2066, 0x206F},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD},
      {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
      {0xE0020, 0xE007F}, {0xE000, 0xF8FF},   {0xF0000, 0x10FFFF}, {0xFDD0, 0xFDEF}};
  for (auto [lo, hi] : kFormat)
    if (r >= lo && r <= hi) return false;
  if ((r & 0xFFFE) == 0xFFFE) return false;  // U+xxFFFE / U+xxFFFF noncharacters
  // Space separators other than ' ' are not printable in Go; IsSpace maps them first.
  if (r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F ||
      r == 0x3000 || r == 0xA0)
    return false;
  return true;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[(c >> 4) & 0xF];
      out += hex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Helm's aliasNameFormat: ^[a-zA-Z0-9_-]+$
bool valid_alias(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

// A name that becomes a path component and a URL segment: Helm's own rules (not
// empty, not "." or "..", no path separator) plus nothing sanitizeString would alter.
void validate_name_component(std::string_view name, std::string_view origin, const std::string& what) {
  if (name.empty()) fail(origin, what + " is required");
  if (name == "." || name == "..") fail(origin, what + " " + quoted(name) + " is not allowed");
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    fail(origin, what + " " + quoted(name) + " is invalid: it must not contain path separators");
  if (sanitize_string(name) != name)
    fail(origin, what + " " + quoted(name) + " is invalid: it contains control, non-printable or non-ASCII space characters");
}

goyaml::Node str_list(const std::vector<std::string>& v) {
  auto seq = goyaml::Node::sequence();
  for (auto& s : v) seq.seq.push_back(goyaml::Node::str(s));
  return seq;
}

}  // namespace

std::string sanitize_string(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto [r, w] = goyaml::decode_rune(s, i);
    i += w ? w : 1;
    if (go_is_space(r)) out += ' ';
    else if (go_is_print(r)) goyaml::append_utf8(out, r);
  }
  return out;
}

void sanitize(Metadata& md) {
  for (std::string* s : {&md.name, &md.description, &md.home, &md.icon, &md.condition, &md.tags, &md.app_version,
                         &md.kube_version})
    *s = sanitize_string(*s);
  for (auto& s : md.sources) s = sanitize_string(s);
  for (auto& s : md.keywords) s = sanitize_string(s);
  for (auto& m : md.maintainers) {
    m.name = sanitize_string(m.name);
    m.email = sanitize_string(m.email);
    m.url = sanitize_string(m.url);
  }
  for (auto& d : md.dependencies) {
    d.name = sanitize_string(d.name);
    d.version = sanitize_string(d.version);
    d.repository = sanitize_string(d.repository);
    d.condition = sanitize_string(d.condition);
    for (auto& t : d.tags) t = sanitize_string(t);
  }
}

Metadata parse_chart_yaml(std::string_view yaml, std::string_view origin) {
  if (yaml.size() > kMaxChartYamlBytes)
    throw Error(Errc::too_large, std::string(origin),
                "Chart.yaml is " + std::to_string(yaml.size()) + " bytes, more than the " +
                    std::to_string(kMaxChartYamlBytes) + " allowed");
  // Helm's loader drops a UTF-8 byte order mark before parsing.
  refuse_what_go_yaml_refuses(yaml, origin, "");
  if (yaml.substr(0, 3) == "\xEF\xBB\xBF") yaml.remove_prefix(3);
  // Helm decodes the whole document, unknown keys included, so an alias bomb
  // anywhere in it makes Helm refuse the chart: refuse it too, by counting.
  if (auto refusal = helm_alias_refusal(yaml)) fail(origin, *refusal);

  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    fail(origin, "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    fail(origin, std::string("invalid YAML: ") + e.what());
  }

  Metadata md;
  if (is_null(root)) return md;
  if (!root.IsMap()) fail(origin, "expected a YAML mapping at the top level, got " + describe(root));

  // Only the known fields are visited, each with its expected shape, so aliases
  // (which yaml-cpp shares rather than copies) are never expanded.
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) continue;
    const char* f = match_field(kv.first.Scalar(),
                                {"name", "home", "sources", "version", "description", "keywords", "maintainers", "icon",
                                 "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations",
                                 "kubeVersion", "dependencies", "type"});
    if (!f) continue;
    std::string_view key = f;
    std::string field(key);
    const YAML::Node& v = kv.second;
    if (key == "name") md.name = get_string(v, origin, field);
    else if (key == "home") md.home = get_string(v, origin, field);
    else if (key == "sources") md.sources = get_string_list(v, origin, field);
    else if (key == "version") md.version = get_string(v, origin, field);
    else if (key == "description") md.description = get_string(v, origin, field);
    else if (key == "keywords") md.keywords = get_string_list(v, origin, field);
    else if (key == "icon") md.icon = get_string(v, origin, field);
    else if (key == "apiVersion") md.api_version = get_string(v, origin, field);
    else if (key == "condition") md.condition = get_string(v, origin, field);
    else if (key == "tags") md.tags = get_string(v, origin, field);
    else if (key == "appVersion") md.app_version = get_string(v, origin, field);
    else if (key == "deprecated") md.deprecated = get_bool(v, origin, field);
    else if (key == "kubeVersion") md.kube_version = get_string(v, origin, field);
    else if (key == "type") md.type = get_string(v, origin, field);
    else if (key == "maintainers") {
      md.maintainers.clear();
      if (is_null(v)) continue;
      if (!v.IsSequence()) fail(origin, "field maintainers: expected a list, got " + describe(v));
      std::size_t i = 0;
      for (const auto& item : v) {
        md.maintainers.push_back(parse_maintainer(item, origin, "maintainers[" + std::to_string(i) + "]"));
        ++i;
      }
    } else if (key == "dependencies") {
      md.dependencies.clear();
      if (is_null(v)) continue;
      if (!v.IsSequence()) fail(origin, "field dependencies: expected a list, got " + describe(v));
      std::size_t i = 0;
      for (const auto& item : v) {
        md.dependencies.push_back(parse_dependency(item, origin, "dependencies[" + std::to_string(i) + "]"));
        ++i;
      }
    } else if (key == "annotations") {
      md.annotations.clear();
      if (is_null(v)) continue;
      require_mapping(v, origin, field);
      for (const auto& a : v) {
        if (!a.first.IsScalar()) fail(origin, "field annotations: keys must be strings, got " + describe(a.first));
        md.annotations[a.first.Scalar()] = get_string(a.second, origin, "annotations." + a.first.Scalar());
      }
    }
  }
  return md;
}

void validate(const Metadata& md, std::string_view origin) {
  if (md.api_version.empty()) fail(origin, "chart.metadata.apiVersion is required");
  if (md.api_version != "v1" && md.api_version != "v2")
    fail(origin, "chart.metadata.apiVersion " + quoted(md.api_version) + " is not valid: it must be \"v1\" or \"v2\"");
  validate_name_component(md.name, origin, "chart.metadata.name");
  if (md.version.empty()) fail(origin, "chart.metadata.version is required");
  // Helm checks the version with Masterminds' NewVersion, which accepts "1.0" and
  // "v1.2.3"; so does this (the packaged file is then name-1.0.tgz, as with Helm).
  if (!Version::parse(md.version))
    fail(origin, "chart.metadata.version " + quoted(md.version) + " is invalid: not a semantic version");
  if (!md.type.empty() && md.type != "application" && md.type != "library")
    fail(origin, "chart.metadata.type must be application or library, not " + quoted(md.type));

  // A maintainer without a name is only a `helm lint` error: `helm package` (3 and 4)
  // packages it, and so does cmop.

  std::set<std::string> seen;
  for (std::size_t i = 0; i < md.dependencies.size(); ++i) {
    const Dependency& d = md.dependencies[i];
    const std::string what = "dependencies[" + std::to_string(i) + "].name";
    validate_name_component(d.name, origin, what);
    if (!d.alias.empty() && !valid_alias(d.alias))
      fail(origin, "dependency " + quoted(d.name) + " has disallowed characters in the alias " + quoted(d.alias) +
                       " (allowed: letters, digits, '_' and '-')");
    const std::string& key = d.alias.empty() ? d.name : d.alias;
    if (!seen.insert(key).second) fail(origin, "more than one dependency with name or alias " + quoted(key));
  }
}

std::string to_helm_yaml(const Metadata& original) {
  Metadata md = original;
  sanitize(md);
  using goyaml::Node;
  Node root = Node::mapping();
  auto add_str = [](Node& m, const char* key, const std::string& v) {
    if (!v.empty()) m.map.emplace_back(key, Node::str(v));
  };
  add_str(root, "name", md.name);
  add_str(root, "home", md.home);
  if (!md.sources.empty()) root.map.emplace_back("sources", str_list(md.sources));
  add_str(root, "version", md.version);
  add_str(root, "description", md.description);
  if (!md.keywords.empty()) root.map.emplace_back("keywords", str_list(md.keywords));
  if (!md.maintainers.empty()) {
    Node seq = Node::sequence();
    for (auto& m : md.maintainers) {
      Node item = Node::mapping();
      add_str(item, "name", m.name);
      add_str(item, "email", m.email);
      add_str(item, "url", m.url);
      seq.seq.push_back(std::move(item));
    }
    root.map.emplace_back("maintainers", std::move(seq));
  }
  add_str(root, "icon", md.icon);
  add_str(root, "apiVersion", md.api_version);
  add_str(root, "condition", md.condition);
  add_str(root, "tags", md.tags);
  add_str(root, "appVersion", md.app_version);
  if (md.deprecated) root.map.emplace_back("deprecated", Node::lit("true"));
  if (!md.annotations.empty()) {
    Node ann = Node::mapping();
    for (auto& [k, v] : md.annotations) ann.map.emplace_back(k, Node::str(v));
    root.map.emplace_back("annotations", std::move(ann));
  }
  add_str(root, "kubeVersion", md.kube_version);
  if (!md.dependencies.empty()) {
    Node seq = Node::sequence();
    for (auto& d : md.dependencies) {
      Node item = Node::mapping();
      item.map.emplace_back("name", Node::str(d.name));  // no omitempty in Helm's struct
      add_str(item, "version", d.version);
      item.map.emplace_back("repository", Node::str(d.repository));  // no omitempty either
      add_str(item, "condition", d.condition);
      if (!d.tags.empty()) item.map.emplace_back("tags", str_list(d.tags));
      if (d.enabled_set && d.enabled) item.map.emplace_back("enabled", Node::lit("true"));
      if (!d.import_values.empty()) {
        Node iv = Node::sequence();
        for (auto& e : d.import_values) iv.seq.push_back(goyaml::node_from_json(e));
        item.map.emplace_back("import-values", std::move(iv));
      }
      add_str(item, "alias", d.alias);
      seq.seq.push_back(std::move(item));
    }
    root.map.emplace_back("dependencies", std::move(seq));
  }
  add_str(root, "type", md.type);
  return goyaml::marshal(root);
}

void apply_requirements_yaml(Metadata& md, std::string_view yaml, std::string_view origin) {
  refuse_what_go_yaml_refuses(yaml, origin, "cannot load requirements.yaml: ");
  if (yaml.substr(0, 3) == "\xEF\xBB\xBF") yaml.remove_prefix(3);
  const std::string subject(origin);
  if (auto refusal = helm_alias_refusal(yaml))
    throw Error(Errc::invalid_chart, subject, "cannot load requirements.yaml: " + *refusal);
  YAML::Node req;
  try {
    req = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_chart, subject, std::string("cannot load requirements.yaml: ") + e.what());
  }
  if (req.IsNull()) return;
  if (!req.IsMap()) throw Error(Errc::invalid_chart, subject, "cannot load requirements.yaml: not a YAML mapping");
  if (!req["dependencies"]) return;
  // Re-emitted as a Chart.yaml holding only the list, so both files share one
  // reading of a dependency entry.
  YAML::Emitter em;
  em << YAML::BeginMap << YAML::Key << "dependencies" << YAML::Value << req["dependencies"] << YAML::EndMap;
  md.dependencies = parse_chart_yaml(em.c_str(), subject).dependencies;
}

}  // namespace cmop::chart
