// Running the built `deepseek` command from tests: its exit code and combined output, and the
// last line (where --json puts its one object). DEEPSEEK_BIN is set by tests/CMakeLists.txt.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#ifndef DEEPSEEK_BIN
#define DEEPSEEK_BIN "build/bin/deepseek"
#endif

namespace deepseek::testing {

struct CliResult {
  int code;
  std::string out;  // stdout + stderr
};

// Runs `env DEEPSEEK_BIN args` through the shell (env: "VAR=value ..." assignments or empty).
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  std::string cmd =
      env + (env.empty() ? "" : " ") + std::string(DEEPSEEK_BIN) + " " + args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline std::string last_line(const std::string& s) {
  auto end = s.find_last_not_of('\n');
  auto start = s.rfind('\n', end);
  const size_t b = start == std::string::npos ? 0 : start + 1;
  return s.substr(b, end - b + 1);
}

}  // namespace deepseek::testing
