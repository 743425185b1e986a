#include "cmop/chart/yaml_aliases.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

#include "cmop/util/view_stream.hpp"

namespace cmop::chart {
namespace {

// go-yaml v2 decode.go: allowedAliasRatio(decodeCount).
double allowed_alias_ratio(std::uint64_t decodes) {
  constexpr std::uint64_t kLow = 400000, kHigh = 4000000;
  if (decodes <= kLow) return 0.99;
  if (decodes >= kHigh) return 0.10;
  return 0.99 - 0.89 * (static_cast<double>(decodes - kLow) / static_cast<double>(kHigh - kLow));
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

struct Refused {
  std::string reason;
};

// Counts what go-yaml's decoder would count: one decode per node (the document
// node, every key, value, item and alias node), and every decode made while
// expanding an alias as an aliased one. An alias costs 1 + the expanded size of its
// anchor, known once the anchored node is closed. go-yaml checks the ratio at every
// decode; within one alias expansion both counts only grow together, so the ratio
// only rises and the allowed ratio only falls: checking once after each expansion
// (and at every plain node) fails exactly the documents go-yaml fails.
// Not modelled: go-yaml does not decode the "<<" key of a merge (one node each).
class AliasAccounting final : public YAML::EventHandler {
 public:
  explicit AliasAccounting(YamlBounds bounds = {}) : bounds_(bounds) {}
  void OnDocumentStart(const YAML::Mark&) override { plain_node(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    leaf(anchor);
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    auto it = expanded_size_.find(anchor);
    if (it == expanded_size_.end())  // go-yaml: "anchor 'x' value contains itself"
      throw Refused{"yaml: an alias refers to the node that contains it"};
    decodes_ = saturating_add(decodes_, saturating_add(1, it->second));
    aliased_ = saturating_add(aliased_, it->second);
    check();
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  void plain_node() {
    decodes_ = saturating_add(decodes_, 1);
    check();
  }
  void leaf(YAML::anchor_t anchor) {
    plain_node();
    if (anchor != YAML::NullAnchor) expanded_size_[anchor] = 1;
  }
  void open(YAML::anchor_t anchor) {
    open_.push_back({anchor, decodes_});
    if (bounds_.max_depth && open_.size() > bounds_.max_depth)
      throw Refused{"yaml: nested deeper than " + std::to_string(bounds_.max_depth) + " levels"};
    plain_node();
  }
  void close() {
    if (open_.empty()) return;
    auto collection = open_.back();
    open_.pop_back();
    if (collection.anchor != YAML::NullAnchor) expanded_size_[collection.anchor] = decodes_ - collection.decodes_before;
  }
  void check() const {
    if (bounds_.max_nodes && decodes_ > bounds_.max_nodes)
      throw Refused{"yaml: more than " + std::to_string(bounds_.max_nodes) + " nodes (aliases counted expanded)"};
    if (aliased_ > 100 && decodes_ > 1000 &&
        static_cast<double>(aliased_) / static_cast<double>(decodes_) > allowed_alias_ratio(decodes_))
      throw Refused{"yaml: document contains excessive aliasing"};
  }

  struct OpenCollection {
    YAML::anchor_t anchor;
    std::uint64_t decodes_before;
  };
  YamlBounds bounds_;
  std::vector<OpenCollection> open_;
  std::map<YAML::anchor_t, std::uint64_t> expanded_size_;
  std::uint64_t decodes_ = 0;
  std::uint64_t aliased_ = 0;
};

}  // namespace

std::optional<std::string> helm_alias_refusal(std::string_view yaml) { return helm_alias_refusal(yaml, YamlBounds{}); }

std::optional<std::string> helm_alias_refusal(std::string_view yaml, const YamlBounds& bounds) {
  util::ViewStream in(yaml);
  AliasAccounting accounting(bounds);
  try {
    YAML::Parser parser(in);
    parser.HandleNextDocument(accounting);  // go-yaml's Unmarshal reads the first document only
  } catch (const Refused& refused) {
    return refused.reason;
  } catch (const YAML::Exception&) {
    return std::nullopt;  // a syntax error: the caller's parse reports it with its position
  }
  return std::nullopt;
}

}  // namespace cmop::chart
