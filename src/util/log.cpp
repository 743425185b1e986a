#include "cmop/util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>

#include "cmop/error.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/time.hpp"
#include "cmop/util/utf8.hpp"

namespace cmop::util::log {
namespace {

std::atomic<Format> g_format{Format::text};
std::atomic<Level> g_level{Level::info};
std::mutex g_mutex;  // guards g_sink and serializes output
std::function<void(std::string_view)> g_sink;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

std::string_view level_tag(Level level) {
  switch (level) {
    case Level::debug: return "DEBUG";
    case Level::info: return "INFO";
    case Level::warn: return "WARN";
    case Level::error: return "ERROR";
  }
  return "INFO";
}

std::string timestamp() { return now_rfc3339(3); }

void append_json_string(std::string& out, std::string_view raw) {
  // Log fields carry names from git repositories, which may not be UTF-8.
  const std::string s = to_valid_utf8(raw);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Text values are quoted only when they would be ambiguous (spaces, quotes, '='),
// and control characters are escaped so one event stays one line.
void append_text_value(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t\n\r\\") != std::string_view::npos;
  if (!quote) {
    for (unsigned char c : v)
      if (c < 0x20) quote = true;
  }
  if (quote)
    append_json_string(out, v);
  else
    out += v;
}

void append_text_message(std::string& out, std::string_view m) {
  for (unsigned char c : m) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 && c != '\t') out += '?';
    else out += static_cast<char>(c);
  }
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone; nothing sensible left to report to
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void set_format(Format format) { g_format.store(format); }
void set_level(Level minimum) { g_level.store(minimum); }

Format parse_format(std::string_view value, std::string_view what) {
  if (value == "text") return Format::text;
  if (value == "json") return Format::json;
  throw Error(Errc::invalid_argument, std::string(what), "must be \"text\" or \"json\", got \"" + std::string(value) + "\"");
}

Level parse_level(std::string_view value, std::string_view what) {
  if (value == "debug") return Level::debug;
  if (value == "info") return Level::info;
  if (value == "warn" || value == "warning") return Level::warn;
  if (value == "error") return Level::error;
  throw Error(Errc::invalid_argument, std::string(what),
              "must be one of debug, info, warn, error; got \"" + std::string(value) + "\"");
}

void set_sink(std::function<void(std::string_view line)> sink) {
  std::lock_guard lk(g_mutex);
  g_sink = std::move(sink);
}

std::string format_line(Format format, Level level, std::string_view raw_message, Fields fields) {
  // Every line leaves the process here: URLs in the message or any field (a git
  // remote, a libgit2 reason quoting one) are shown redacted.
  const std::string message = redact_text(raw_message);
  std::string line;
  line.reserve(128);
  if (format == Format::json) {
    line += "{\"time\":";
    append_json_string(line, timestamp());
    line += ",\"level\":";
    append_json_string(line, level_name(level));
    line += ",\"msg\":";
    append_json_string(line, message);
    for (auto& f : fields) {
      // time/level/msg belong to the envelope; a field may not shadow them.
      if (f.key == "time" || f.key == "level" || f.key == "msg") continue;
      line += ',';
      append_json_string(line, f.key);
      line += ':';
      if (f.raw)
        line += f.value;
      else
        append_json_string(line, redact_text(f.value));
    }
    line += '}';
  } else {
    line += timestamp();
    line += ' ';
    line += level_tag(level);
    line += ' ';
    append_text_message(line, message);
    for (auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      if (f.raw)
        line += f.value;
      else
        append_text_value(line, redact_text(f.value));
    }
  }
  return line;
}

void write(Level level, std::string_view message, Fields fields) {
  if (static_cast<int>(level) < static_cast<int>(g_level.load())) return;
  std::string line = format_line(g_format.load(), level, message, fields);
  line += '\n';
  std::lock_guard lk(g_mutex);
  if (g_sink)
    g_sink(line);
  else
    write_all(STDERR_FILENO, line);
}

}  // namespace cmop::util::log
