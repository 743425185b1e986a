// The body of a Kubernetes watch (JSON lines of {type, object}) from an API server
// or whatever sits in between, delivered in chunks that split lines anywhere, and
// the informer's reading of each event (ERROR -> relist, BOOKMARK, key, resourceVersion).
// Input layout: the first byte picks the chunk size (1..256), the second the longest
// line allowed (2^8 .. 2^23 bytes), the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cmop/error.hpp"
#include "cmop/operate/watch_stream.hpp"

namespace {
void check(bool condition) {
  if (!condition) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk_size = std::size_t{data[0]} + 1;
  // Small limits make the too-long-line path reachable with small inputs.
  const std::size_t max_line_bytes = std::size_t{1} << (8 + data[1] % 16);
  std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  cmop::operate::WatchStreamDecoder decoder(max_line_bytes);
  bool relisting = false;
  auto on_event = [&](cmop::operate::WatchEvent& event) {
    check(!relisting);  // nothing may be delivered after the consumer said stop
    auto action = cmop::operate::interpret_watch_event(event);
    using Kind = cmop::operate::WatchAction::Kind;
    switch (action.kind) {
      case Kind::relist:
        check(event.type == "ERROR" && action.key.empty());
        relisting = true;
        return false;
      case Kind::bookmark: check(action.key.empty()); return true;
      case Kind::upsert:
      case Kind::remove: check(action.key.find('/') != std::string::npos); return true;
    }
    return true;
  };
  try {
    for (std::size_t at = 0; at < stream.size(); at += chunk_size)
      if (!decoder.feed(stream.substr(at, chunk_size), on_event)) break;
    (void)decoder.unparsed_text();
  } catch (const cmop::Error& e) {
    check(e.code() == cmop::Errc::too_large);
  }
  return 0;
}
