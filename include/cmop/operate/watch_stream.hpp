#pragma once
// Reading a Kubernetes watch stream, apart from the connection: the body is JSON
// lines {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": {...}}, arriving
// in chunks that split lines anywhere. Pure code (no I/O), so KubeClient::watch,
// the controller and the fuzzer (fuzz/fuzz_watch_stream.cpp) share it.
#include <rapidjson/document.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cmop/operate/kube_client.hpp"

namespace cmop::operate {

// One line, without its '\n' (a trailing '\r' is tolerated). The document when the
// line is a JSON object with "type" and "object" members; nullopt otherwise (blank
// lines, an error Status body, garbage). Never throws for bad input.
std::optional<rapidjson::Document> parse_watch_line(std::string_view line);

// Feeds chunks, hands each complete event line to a callback, keeps the rest.
class WatchStreamDecoder {
 public:
  // A line longer than this (default 16 MiB) makes feed() throw Error(too_large).
  explicit WatchStreamDecoder(std::size_t max_line_bytes = std::size_t{16} << 20);

  // Calls on_event for each complete event line in order. Returns false as soon as
  // on_event does (the remaining lines are not looked at, now or later).
  bool feed(std::string_view chunk, const std::function<bool(WatchEvent&)>& on_event);

  // What was not an event: the non-event lines so far and the unterminated tail.
  // When the server refused the watch, this is its Status body.
  std::string unparsed_text() const { return not_events_ + pending_; }

 private:
  std::size_t max_line_bytes_;
  std::string pending_;     // bytes after the last '\n'
  std::string not_events_;  // non-empty lines that were not events
  bool stopped_ = false;
};

// What the informer does with one event.
struct WatchAction {
  enum class Kind {
    relist,    // ERROR: the watch is over (410 Gone when the resourceVersion expired)
    bookmark,  // BOOKMARK: only the resourceVersion moves on
    upsert,    // ADDED / MODIFIED (and any unknown type): reconcile the key
    remove,    // DELETED: forget the key, reconcile it once more
  };
  Kind kind = Kind::upsert;
  std::string key;               // "namespace/name" for upsert and remove
  std::string resource_version;  // object.metadata.resourceVersion, "" when absent
  // For relist: the Status object's fields (code 0 when absent or not an integer).
  long error_code = 0;
  std::string error_reason, error_message;
};
WatchAction interpret_watch_event(const WatchEvent& event);

}  // namespace cmop::operate
