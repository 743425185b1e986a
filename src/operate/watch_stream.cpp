#include "cmop/operate/watch_stream.hpp"

#include <algorithm>

#include "cmop/error.hpp"

namespace cmop::operate {

std::optional<rapidjson::Document> parse_watch_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  rapidjson::Document doc;
  // Iterative: the default parser recurses once per nesting level; a line may be
  // 16 MiB of '[' and would overflow the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("type") || !doc.HasMember("object"))
    return std::nullopt;
  return doc;
}

WatchStreamDecoder::WatchStreamDecoder(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

bool WatchStreamDecoder::feed(std::string_view chunk, const std::function<bool(WatchEvent&)>& on_event) {
  if (stopped_) return false;
  // What was pending holds no '\n' (every complete line was taken out), so only the
  // new chunk is searched: rescanning a long line on every chunk was quadratic.
  std::size_t search_from = pending_.size();
  pending_.append(chunk);
  std::size_t start = 0;
  for (std::size_t nl; !stopped_ && (nl = pending_.find('\n', std::max(start, search_from))) != std::string::npos;
       start = nl + 1) {
    std::string_view line(pending_.data() + start, nl - start);
    auto doc = parse_watch_line(line);
    if (!doc) {
      // Not a watch event: keep it for the error report (an error Status body).
      if (!line.empty() && line != "\r") not_events_.append(line);
      continue;
    }
    WatchEvent event{str_at(*doc, "type"), (*doc)["object"]};
    stopped_ = !on_event(event);
  }
  pending_.erase(0, start);
  if (pending_.size() > max_line_bytes_)
    throw Error(Errc::too_large, "watch stream",
                "event line longer than " + std::to_string(max_line_bytes_) + " bytes");
  return !stopped_;
}

WatchAction interpret_watch_event(const WatchEvent& event) {
  WatchAction action;
  const rapidjson::Value& object = event.object;
  if (event.type == "ERROR") {
    action.kind = WatchAction::Kind::relist;
    if (auto* code = value_at(object, "code"); code && code->IsInt64())
      action.error_code = static_cast<long>(code->GetInt64());
    action.error_reason = str_at(object, "reason");
    action.error_message = str_at(object, "message");
    return action;
  }
  action.resource_version = str_at(object, "metadata.resourceVersion");
  if (event.type == "BOOKMARK") {
    action.kind = WatchAction::Kind::bookmark;
    return action;
  }
  action.kind = event.type == "DELETED" ? WatchAction::Kind::remove : WatchAction::Kind::upsert;
  action.key = str_at(object, "metadata.namespace") + "/" + str_at(object, "metadata.name");
  return action;
}

}  // namespace cmop::operate
