#include "cmop/publish/ledger.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cmop/error.hpp"

namespace cmop::publish {

namespace {

// The JSON form: {"version": 1, "publications": [{"repo","name","version","digest","chartPath"}]},
// publications sorted by name then version so the file is stable across rewrites.
constexpr int kLedgerFormatVersion = 1;
constexpr const char* kSubject = "publication ledger";

std::string string_member(const rapidjson::Value& obj, const char* key, std::size_t index, bool required) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) {
    if (!required) return {};
    throw Error(Errc::invalid_argument, kSubject,
                "publication #" + std::to_string(index) + " lacks \"" + key + "\"");
  }
  if (!it->value.IsString())
    throw Error(Errc::invalid_argument, kSubject,
                "publication #" + std::to_string(index) + ": \"" + key + "\" is not a string");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace

std::optional<Publication> Ledger::find(const std::string& name, const std::string& version) const {
  auto it = entries_.find({name, version});
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<Publication> Ledger::owned_by(const std::string& repo) const {
  std::vector<Publication> out;
  for (const auto& [key, pub] : entries_)
    if (pub.repo == repo) out.push_back(pub);
  return out;
}

std::vector<Publication> Ledger::all() const {
  std::vector<Publication> out;
  out.reserve(entries_.size());
  for (const auto& [key, p] : entries_) out.push_back(p);
  return out;
}

void Ledger::record(const Publication& p) {
  if (p.repo.empty() || p.name.empty() || p.version.empty())
    throw Error(Errc::invalid_argument, p.name + "-" + p.version,
                "a publication needs a repo, a chart name and a version");
  auto it = entries_.find({p.name, p.version});
  if (it != entries_.end() && it->second.repo != p.repo)
    throw Error(Errc::conflict, p.name + "-" + p.version,
                "already published by repo \"" + it->second.repo + "\" from " + it->second.chart_path);
  entries_[{p.name, p.version}] = p;
}

void Ledger::erase(const std::string& name, const std::string& version) { entries_.erase({name, version}); }

std::string Ledger::to_json() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto field = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("version");
  w.Int(kLedgerFormatVersion);
  w.Key("publications");
  w.StartArray();
  for (const auto& [key, p] : entries_) {
    w.StartObject();
    field("repo", p.repo);
    field("name", p.name);
    field("version", p.version);
    field("digest", p.digest);
    field("chartPath", p.chart_path);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Ledger Ledger::from_json(const std::string& json) {
  rapidjson::Document doc;
  // The default flags reject anything after the root value, so a torn or
  // concatenated write is refused rather than half-read.
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError())
    throw Error(Errc::invalid_argument, kSubject,
                std::string("malformed JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
  if (!doc.IsObject()) throw Error(Errc::invalid_argument, kSubject, "top level is not a JSON object");
  auto version = doc.FindMember("version");
  if (version == doc.MemberEnd() || !version->value.IsInt())
    throw Error(Errc::invalid_argument, kSubject, "missing or non-integer \"version\"");
  if (version->value.GetInt() != kLedgerFormatVersion)
    throw Error(Errc::invalid_argument, kSubject,
                "unsupported format version " + std::to_string(version->value.GetInt()));
  auto pubs = doc.FindMember("publications");
  if (pubs == doc.MemberEnd() || !pubs->value.IsArray())
    throw Error(Errc::invalid_argument, kSubject, "missing or non-array \"publications\"");

  Ledger ledger;
  std::size_t index = 0;
  for (const auto& item : pubs->value.GetArray()) {
    if (!item.IsObject())
      throw Error(Errc::invalid_argument, kSubject, "publication #" + std::to_string(index) + " is not an object");
    Publication p;
    p.repo = string_member(item, "repo", index, true);
    p.name = string_member(item, "name", index, true);
    p.version = string_member(item, "version", index, true);
    p.digest = string_member(item, "digest", index, false);
    p.chart_path = string_member(item, "chartPath", index, false);
    if (p.repo.empty() || p.name.empty() || p.version.empty())
      throw Error(Errc::invalid_argument, kSubject,
                  "publication #" + std::to_string(index) + " has an empty repo, name or version");
    if (ledger.entries_.count({p.name, p.version}))
      throw Error(Errc::invalid_argument, kSubject,
                  "publication #" + std::to_string(index) + " duplicates " + p.name + "-" + p.version);
    ledger.entries_[{p.name, p.version}] = std::move(p);
    ++index;
  }
  return ledger;
}

}  // namespace cmop::publish
