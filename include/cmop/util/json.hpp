#pragma once
// Reading JSON that a peer sent (the Kubernetes API, the sidecar, a registry): one
// way to parse it, iteratively (a body of nothing but '[' must not overflow the
// stack), with one error for an answer that is not JSON at all.
#include <rapidjson/document.h>

#include <optional>
#include <string_view>

namespace cmop::util {

// The peer's answer as a document. Throws Error(upstream) naming `what` (the peer
// and request) and the offset where the text stopped being JSON.
rapidjson::Document parse_json_answer(std::string_view text, std::string_view what);

// The answer as a JSON object, or nullopt when it is not one: for error answers,
// which may as well be HTML or plain text from a proxy in between.
std::optional<rapidjson::Document> try_parse_json_object(std::string_view text);

}  // namespace cmop::util
