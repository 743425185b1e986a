#pragma once
// The `cmop serve` subcommand (flags and environment of docs/configuration.md).
namespace CLI {
class App;
}

namespace cmop::serve {

// Registers `serve` on the app. Its callback runs the server until SIGTERM/SIGINT,
// then shuts down gracefully.
void add_command(CLI::App& app);

}  // namespace cmop::serve
