#include "cmop/util/prometheus.hpp"

#include <cstdio>

namespace cmop::util::prometheus {

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
  out.append(type).append("\n");
}

void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::string_view value) {
  family(out, name, type, help);
  out.append(name).append(" ").append(value).append("\n");
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace cmop::util::prometheus
