#pragma once
// JSON as the operator handles it: RapidJSON documents, read by dotted paths.
#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "cmop/util/json.hpp"

namespace cmop::operate {

std::string to_json(const rapidjson::Value& v);
// Throws Error(upstream) when the API server's answer is not JSON.
constexpr auto parse_json = util::parse_json_answer;
// Member string or "" (also for a missing parent or non-string value). path is dot-separated.
std::string str_at(const rapidjson::Value& v, std::string_view dotted_path);
const rapidjson::Value* value_at(const rapidjson::Value& v, std::string_view dotted_path);
// util::base64_decode (lenient, as kubeconfig *-data fields and Secret data are
// found) that names `what` in its Error(invalid_argument) instead of returning nullopt.
std::string base64_decode(std::string_view encoded, std::string_view what);

}  // namespace cmop::operate
