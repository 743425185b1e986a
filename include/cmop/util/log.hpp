#pragma once
// Structured logging to stderr: one line per event, as human-readable text
// (`2026-11-24T10:00:00.123Z INFO sync finished repo=web seconds=0.84`) or as JSON
// lines (`{"time":"…","level":"info","msg":"sync finished","repo":"web","seconds":0.84}`).
// Thread-safe: every line is written whole with a single write(2), so lines from
// concurrent threads never interleave.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace cmop::util::log {

enum class Level { debug, info, warn, error };
enum class Format { text, json };

// One key/value pair. Numbers and booleans stay unquoted in JSON.
struct Field {
  std::string key;
  std::string value;
  bool raw = false;  // value is a JSON number/boolean literal

  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, std::string_view v) : key(std::move(k)), value(v) {}
  Field(std::string k, const char* v) : key(std::move(k)), value(v ? v : "") {}
  Field(std::string k, bool v) : key(std::move(k)), value(v ? "true" : "false"), raw(true) {}
  template <typename N, std::enable_if_t<std::is_arithmetic_v<N> && !std::is_same_v<N, bool>, int> = 0>
  Field(std::string k, N v) : key(std::move(k)), value(number(v)), raw(true) {}

 private:
  template <typename N>
  static std::string number(N v) {
    if constexpr (std::is_floating_point_v<N>) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(v));
      return buf;
    } else {
      return std::to_string(v);
    }
  }
};

using Fields = std::initializer_list<Field>;

// Process-wide settings; safe to change at any time.
void set_format(Format format);
void set_level(Level minimum);  // events below it are dropped (default info)
// "text" or "json"; Error(invalid_argument) naming `what` otherwise.
Format parse_format(std::string_view value, std::string_view what = "--log-format");
// "debug", "info", "warn" or "error"; Error(invalid_argument) otherwise.
Level parse_level(std::string_view value, std::string_view what = "--log-level");

// Replaces stderr as the destination (tests capture lines); nullptr restores stderr.
// The sink is called with one complete line, newline included, under the log lock.
void set_sink(std::function<void(std::string_view line)> sink);

void write(Level level, std::string_view message, Fields fields = {});
inline void debug(std::string_view message, Fields fields = {}) { write(Level::debug, message, fields); }
inline void info(std::string_view message, Fields fields = {}) { write(Level::info, message, fields); }
inline void warn(std::string_view message, Fields fields = {}) { write(Level::warn, message, fields); }
inline void error(std::string_view message, Fields fields = {}) { write(Level::error, message, fields); }

// The line write() would emit (without the trailing newline), for tests and for
// callers that need the formatted text.
std::string format_line(Format format, Level level, std::string_view message, Fields fields);

}  // namespace cmop::util::log
