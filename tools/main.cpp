// Entry point of `deepseek <subcommand> ...`: looks the subcommand up and turns every escaped
// exception into a message and a non-zero exit, never a crash.
#include <cstdio>
#include <exception>
#include <string>

#include "deepseek/core/error.h"
#include "tools/command.h"

namespace deepseek::tools {
std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> table;
  return table;
}
}  // namespace deepseek::tools

static void usage(FILE* out) {
  std::fprintf(out, "usage: deepseek <command> [options]\n\ncommands:\n");
  for (auto& [name, cmd] : deepseek::tools::commands())
    std::fprintf(out, "  %-10s %s\n", name.c_str(), cmd.help.c_str());
  std::fprintf(out, "\nRun `deepseek <command> --help` for a command's options.\n");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return 0;
  }
  auto& table = deepseek::tools::commands();
  auto it = table.find(name);
  if (it == table.end()) {
    std::fprintf(stderr, "deepseek: unknown command '%s'\n\n", name.c_str());
    usage(stderr);
    return 2;
  }
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const deepseek::Error& e) {
    std::fprintf(stderr, "deepseek %s: error: %s\n", name.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepseek %s: unexpected error: %s\n", name.c_str(), e.what());
    return 1;
  }
}
