#pragma once
// The operator's log lines: structured as serve's (util/log.hpp), each with
// component=operate and, when it is about one, resource=<namespace>/<name>.
#include <string>

namespace cmop::operate {

// One line on stderr ("text" or JSON lines per set_log_format).
void log_line(const std::string& level, const std::string& message, const std::string& resource = {});
void set_log_format(const std::string& format);

}  // namespace cmop::operate
