// Entry point of bench_security: runs the SEAL reference script, our benchmarks, prints the
// comparison table and writes bench/results/security.json.
//   bench_security [--json] [--no-seal] [--only primitives|linalg] [--out PATH]
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/security/bench_common.h"

namespace deepseek::bench {
void bench_primitives(std::vector<BenchResult>& out, const std::map<std::string, double>& seal);
void bench_linalg(std::vector<BenchResult>& out);
}  // namespace deepseek::bench

using namespace deepseek::bench;

namespace {

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, k);
  pclose(p);
  return out;
}

// Minimal parse of {"version": "...", "results": {"op@N": ms, ...}} (our own script's output).
std::map<std::string, double> parse_seal(const std::string& js, std::string& version) {
  std::map<std::string, double> r;
  auto v = js.find("\"version\": \"");
  if (v != std::string::npos) {
    auto e = js.find('"', v + 12);
    version = js.substr(v + 12, e - v - 12);
  }
  auto pos = js.find("\"results\"");
  if (pos == std::string::npos) return r;
  pos = js.find('{', pos);
  while (true) {
    auto k0 = js.find('"', pos + 1);
    if (k0 == std::string::npos) break;
    auto k1 = js.find('"', k0 + 1);
    auto colon = js.find(':', k1);
    std::string key = js.substr(k0 + 1, k1 - k0 - 1);
    r[key] = std::strtod(js.c_str() + colon + 1, nullptr);
    pos = js.find_first_of(",}", colon);
    if (pos == std::string::npos || js[pos] == '}') break;
  }
  return r;
}

// The SEAL 4.4.3 figures (Release build, this machine kind), used when SEAL cannot be
// run here; reported as such.
std::map<std::string, double> seal_table() {
  return {{"encode@8192", 0.73},       {"encrypt@8192", 3.64},      {"add@8192", 0.096},
          {"multiply@8192", 0.41},     {"relinearize@8192", 3.11},  {"rescale@8192", 0.78},
          {"rotate@8192", 3.49},       {"encode@16384", 2.50},      {"encrypt@16384", 15.7},
          {"add@16384", 0.53},         {"multiply@16384", 1.81},    {"relinearize@16384", 19.0},
          {"rescale@16384", 3.12},     {"rotate@16384", 22.7},      {"encode@32768", 10.6},
          {"encrypt@32768", 53.6},     {"add@32768", 2.24},         {"multiply@32768", 6.86},
          {"relinearize@32768", 125},  {"rescale@32768", 13.1},     {"rotate@32768", 134}};
}

std::string json_num(double v) {
  if (std::isnan(v)) return "null";
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

}  // namespace

int main(int argc, char** argv) {
  bool use_seal = true, json = false;
  std::string only, out_path = "bench/results/security.json";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-seal") use_seal = false;
    else if (a == "--json") json = true;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--out" && i + 1 < argc) out_path = argv[++i];
  }
  auto loadavg = [] {
    std::string l = run_capture("cut -d' ' -f1-3 /proc/loadavg");
    while (!l.empty() && l.back() == '\n') l.pop_back();
    return l;
  };
  const std::string load_start = loadavg();
  std::map<std::string, double> seal;
  std::string seal_version = "SEAL 4.4.3 (issue 5 table, not measured in this run)";
  if (use_seal && only != "linalg") {
    std::string py = std::getenv("DEEPSEEK_BENCH_PYTHON") ? std::getenv("DEEPSEEK_BENCH_PYTHON")
                     : std::filesystem::exists(".venv/bin/python") ? ".venv/bin/python" : "python3";
    std::cerr << "running the SEAL reference (" << py << " bench/security/seal_reference.py)...\n";
    std::string js = run_capture("OMP_NUM_THREADS=1 " + py + " bench/security/seal_reference.py 2>/dev/null");
    seal = parse_seal(js, seal_version);
    if (seal.empty()) std::cerr << "SEAL reference unavailable (pip install tenseal); using the issue's table\n";
  }
  const bool measured = !seal.empty();
  if (!measured) seal = seal_table();
  std::vector<BenchResult> results;
  if (only.empty() || only == "primitives") bench_primitives(results, seal);
  if (only.empty() || only == "linalg") bench_linalg(results);

  auto table = seal_table();
  std::printf("%-34s %12s %12s %8s  %s\n", "op", "ours", "reference", "ratio", "note");
  for (const auto& r : results) {
    double ratio = r.reference / r.ours;
    std::printf("%-34s %12.3f %12.3f %8.2f  %s\n", r.name.c_str(), r.ours, r.reference, ratio, r.note.c_str());
  }
  std::printf("reference: %s; ratio = reference / ours\n", seal_version.c_str());

  std::string commit = run_capture("git rev-parse --short HEAD 2>/dev/null");
  while (!commit.empty() && (commit.back() == '\n')) commit.pop_back();
  std::string cpu = run_capture("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
  while (!cpu.empty() && (cpu.back() == '\n' || cpu.back() == ' ')) cpu.pop_back();
  while (!cpu.empty() && cpu.front() == ' ') cpu.erase(cpu.begin());
  std::ostringstream os;
  os << "{\n  \"machine\": \"" << cpu << ", " << omp_get_num_procs() << " cores\",\n  \"commit\": \"" << commit
     << "\",\n  \"load_average\": \"start " << load_start << ", end " << loadavg()
     << " (1/5/15 min; shared machine, wall times inflated when above the core count)"
     << "\",\n  \"reference\": \"" << seal_version << "\",\n  \"results\": [\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    os << "    {\"name\": \"" << r.name << "\", \"ours\": " << json_num(r.ours)
       << ", \"reference\": " << json_num(r.reference) << ", \"unit\": \"" << r.unit
       << "\", \"ratio\": " << json_num(r.reference / r.ours) << ", \"note\": \"" << r.note << "\"}"
       << (i + 1 < results.size() ? "," : "") << "\n";
  }
  os << "  ]\n}\n";
  std::filesystem::create_directories(std::filesystem::path(out_path).parent_path());
  std::ofstream(out_path) << os.str();
  if (json) std::cout << os.str();
  std::cerr << "wrote " << out_path << "\n";
  return 0;
}
