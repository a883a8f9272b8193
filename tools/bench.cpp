// `deepseek bench security`: runs the security benchmarks (CKKS primitives against Microsoft
// SEAL measured in the same run, encrypted linear algebra, audit-log and ABAC rates against
// the goals), prints one table with the reference next to each figure, writes
// bench/results/security.json and bench/results/security-audit-abac.json, and with --json
// ends with one JSON object holding every result.
//
// The measurements themselves live in the bench_security and bench_security_audit_abac
// programs (bench/security), built next to this binary; keeping them out of the CLI keeps the
// command small and lets `make bench` run them directly. They are looked up in this
// executable's folder, then on $PATH.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/command.h"

namespace {

namespace fs = std::filesystem;

fs::path self_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// The benchmark program `name`, next to this executable or on $PATH; empty if neither.
std::string find_program(const std::string& name) {
  fs::path here = self_dir() / name;
  if (!here.empty() && ::access(here.c_str(), X_OK) == 0) return here.string();
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    for (std::size_t b = 0; b <= p.size();) {
      std::size_t e = p.find(':', b);
      if (e == std::string::npos) e = p.size();
      fs::path cand = fs::path(p.substr(b, e - b)) / name;
      if (e > b && ::access(cand.c_str(), X_OK) == 0) return cand.string();
      b = e + 1;
    }
  }
  return {};
}

// The benchmarks read bench/security/seal_reference.py and write bench/results/ relative to
// the repository root: the current folder if it is one, else the first folder above this
// executable that is.
fs::path repo_root() {
  auto is_root = [](const fs::path& p) {
    return fs::exists(p / "bench/security/seal_reference.py");
  };
  if (is_root(fs::current_path())) return fs::current_path();
  for (fs::path p = self_dir(); !p.empty() && p != p.parent_path(); p = p.parent_path())
    if (is_root(p)) return p;
  return {};
}

// Runs args (args[0] a path) with its stdout sent to stderr when `stdout_to_stderr` (so --json
// keeps stdout for the final object); returns the exit status.
int run_program(const std::vector<std::string>& args, bool stdout_to_stderr) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    if (stdout_to_stderr) ::dup2(2, 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::perror(args[0].c_str());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

int bench_security(int argc, char** argv) {
  CLI::App app{"CKKS vs SEAL (same run), encrypted linear algebra, audit and ABAC vs the goals",
               "deepseek bench security"};
  bool json = false, no_seal = false, skip_ckks = false, skip_audit = false;
  std::string only;
  app.add_flag("--json", json, "print one JSON object with every result on the last line");
  app.add_flag("--no-seal", no_seal, "do not run SEAL (TenSEAL); print the issue's SEAL table");
  app.add_option("--only", only, "primitives or linalg (CKKS part only)")
      ->check(CLI::IsMember({"primitives", "linalg"}));
  app.add_flag("--skip-ckks", skip_ckks, "audit and ABAC only");
  app.add_flag("--skip-audit-abac", skip_audit, "CKKS and linear algebra only");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const fs::path root = repo_root();
  if (root.empty()) {
    std::fprintf(
        stderr,
        "deepseek bench security: run it from the repository root (bench/security/ not found "
        "here or above the deepseek binary)\n");
    return 2;
  }
  std::error_code ec;
  fs::current_path(root, ec);

  struct Part {
    const char* program;
    const char* result;
    std::vector<std::string> extra;
    bool wanted;
  };
  std::vector<std::string> ckks_args;
  if (no_seal) ckks_args.push_back("--no-seal");
  if (!only.empty()) ckks_args.insert(ckks_args.end(), {"--only", only});
  std::vector<Part> parts = {
      {"bench_security", "bench/results/security.json", ckks_args, !skip_ckks},
      {"bench_security_audit_abac", "bench/results/security-audit-abac.json", {}, !skip_audit},
  };
  nlohmann::json all = {{"suite", "security"}, {"results", nlohmann::json::array()}};
  int failures = 0;
  for (const auto& part : parts) {
    if (!part.wanted) continue;
    const std::string prog = find_program(part.program);
    if (prog.empty()) {
      std::fprintf(
          stderr,
          "deepseek bench security: %s not found next to deepseek or on PATH; build it with "
          "`cmake --build <build> --target %s`\n",
          part.program, part.program);
      return 2;
    }
    std::vector<std::string> args = {prog, "--out", part.result};
    args.insert(args.end(), part.extra.begin(), part.extra.end());
    std::fprintf(stderr, "== %s\n", part.program);
    const int rc = run_program(args, json);
    if (rc != 0) {
      std::fprintf(stderr, "deepseek bench security: %s exited with %d\n", part.program, rc);
      ++failures;
      continue;
    }
    nlohmann::json r = read_json(part.result);
    if (!r.is_object() || !r.contains("results")) {
      std::fprintf(stderr, "deepseek bench security: %s wrote no readable %s\n", part.program,
                   part.result);
      ++failures;
      continue;
    }
    for (const char* key : {"machine", "commit", "load_average"})
      if (r.contains(key) && !all.contains(key)) all[key] = r[key];
    all["references"][part.program] = r.value("reference", std::string("the issue's goals"));
    for (auto res : r["results"]) {
      res["suite"] = part.program;
      all["results"].push_back(res);
    }
  }
  // One table over both parts, reference next to ours (ratio > 1: we are better).
  FILE* out = json ? stderr : stdout;
  int w = 9;
  for (const auto& r : all["results"]) w = std::max(w, int(r.value("name", "").size()));
  std::fprintf(out, "\n%-*s %12s %12s %-9s %8s\n", w, "benchmark", "ours", "reference", "unit",
               "ratio");
  for (const auto& r : all["results"]) {
    auto num = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
    std::fprintf(out, "%-*s %12.4g %12.4g %-9s %8.2f\n", w, r.value("name", "").c_str(),
                 num(r["ours"]), num(r["reference"]), r.value("unit", "").c_str(), num(r["ratio"]));
  }
  for (auto& [prog, ref] : all["references"].items())
    std::fprintf(out, "reference (%s): %s\n", prog.c_str(), ref.dump().c_str());
  if (json) std::printf("%s\n", all.dump().c_str());
  return failures ? 1 : 0;
}

int run(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "security") return bench_security(argc - 1, argv + 1);
  FILE* out = argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")
                  ? stdout
                  : stderr;
  std::fprintf(
      out,
      "usage: deepseek bench <suite> [options]\n\nsuites:\n"
      "  security   CKKS vs SEAL (same run), encrypted linear algebra, audit log and ABAC\n\n"
      "Other suites run through `python3 bench/run.py --build <build>`.\n");
  return out == stdout ? 0 : 2;
}

DEEPSEEK_COMMAND("bench", "run a benchmark suite (security) and print ours vs the reference", run);

}  // namespace
