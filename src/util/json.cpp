#include "cmop/util/json.hpp"

#include <string>

#include "cmop/error.hpp"

namespace cmop::util {

rapidjson::Document parse_json_answer(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError())
    throw Error(Errc::upstream, std::string(what),
                "answer is not JSON (offset " + std::to_string(doc.GetErrorOffset()) + ")");
  return doc;
}

std::optional<rapidjson::Document> try_parse_json_object(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  return doc;
}

}  // namespace cmop::util
