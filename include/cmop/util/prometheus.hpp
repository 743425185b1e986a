#pragma once
// Pieces of the Prometheus text exposition format (0.0.4) that every /metrics
// answer of cmop is written with, so the roles' metrics read alike.
#include <string>
#include <string_view>

namespace cmop::util::prometheus {

// A label value with backslash, double quote and newline escaped.
std::string label_value(std::string_view v);

// The "# HELP" and "# TYPE" lines that introduce a metric family.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help);

// A family with one unlabelled sample.
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::string_view value);

// A sample value: shortest text that reads back as the same double.
std::string number(double v);

}  // namespace cmop::util::prometheus
