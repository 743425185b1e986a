// cmop: one binary, its roles (serve, operate, trigger, verify, and the one-shot package and publish)
// over one core library.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cmop/error.hpp"
#include "cmop/oneshot/commands.hpp"
#include "cmop/operate/command.hpp"
#include "cmop/serve/command.hpp"
#include "cmop/trigger/trigger.hpp"
#include "cmop/verify/command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cmop - turns git repositories of Helm charts into a served chart repository"};
  app.set_version_flag("--version", std::string("cmop ") + CMOP_VERSION);
  app.require_subcommand(1);
  // Each role registers its subcommand here.
  cmop::operate::add_command(app);
  cmop::oneshot::add_package_command(app);
  cmop::oneshot::add_publish_command(app);
  cmop::serve::add_command(app);
  cmop::trigger::add_command(app);
  cmop::verify::add_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // The one-shot commands and verify promise CI scripts exit 2 for a run that
    // could not start; a flag CLI11 refused is one (its own codes are 100+).
    if (code != 0)
      for (const auto* ran : app.get_subcommands())
        if (ran->get_name() == "package" || ran->get_name() == "publish" || ran->get_name() == "verify") return 2;
    return code;
  } catch (const cmop::Error& e) {
    std::cerr << "cmop: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
