// steen: detects ransomware damage on Linux file servers. Builds the command line and dispatches
// to a subcommand; exit status 2 on usage errors.
#include <cstdio>
#include <exception>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

namespace steen::cli {
namespace {
int exit_code = 0;
}  // namespace

void SetExitCode(int code) { exit_code = code; }

}  // namespace steen::cli

int main(int argc, char** argv) {
  CLI::App app{"steen: detects ransomware damage to files", "steen"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "steen 0.1.0");
  steen::cli::RegisterScanCommand(app);
  steen::cli::RegisterDrillCommand(app);
  steen::cli::RegisterWatchCommand(app);
  steen::cli::RegisterIncidentCommands(app);
  steen::cli::RegisterVaultCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "steen: fatal: %s\n", e.what());
    return 2;
  }
  return steen::cli::exit_code;
}
