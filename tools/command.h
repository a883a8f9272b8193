// The `deepseek` command line: each subcommand lives in its own file and registers itself
// here with DEEPSEEK_COMMAND, so adding one touches no other file.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace deepseek::tools {

// A subcommand gets argv starting at its own name ("train", "info", ...) and returns the
// process exit code: 0 success, 1 failure at run time, 2 bad usage or bad config.
struct Command {
  std::string help;
  std::function<int(int argc, char** argv)> run;
};

std::map<std::string, Command>& commands();

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, const std::string& help,
                   std::function<int(int, char**)> run) {
    commands()[name] = Command{help, std::move(run)};
  }
};

}  // namespace deepseek::tools

#define DEEPSEEK_CONCAT_(a, b) a##b
#define DEEPSEEK_CONCAT(a, b) DEEPSEEK_CONCAT_(a, b)
#define DEEPSEEK_COMMAND(name, help, fn) \
  static ::deepseek::tools::CommandRegistrar DEEPSEEK_CONCAT(ds_command_, __LINE__)(name, help, fn)
