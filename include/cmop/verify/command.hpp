#pragma once
// `cmop verify CHART --git URL --commit SHA [--path DIR]`: rebuilds a published
// chart from its commit and says whether the bytes are the same (docs/verifying.md).
namespace CLI {
class App;
}

namespace cmop::verify {

// Exit codes.
enum ExitCode : int {
  match = 0,       // the chart is byte-identical to the rebuild
  differs = 1,     // it is not: the first difference is printed
  no_rebuild = 2,  // the chart or its source could not be read or rebuilt
};

void add_command(CLI::App& app);

}  // namespace cmop::verify
