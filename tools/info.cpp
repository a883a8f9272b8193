// `deepseek info`: what this build has — version, CPU capability, threads, and with --ops the
// op registry (kind, kernels per device, backward rule), as text or one JSON object.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "deepseek/backend/cpu/capability.h"
#include "deepseek/core/parallel.h"
#include "deepseek/ops/registry.h"
#include "tools/command.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Show what this build of deepseek has", "deepseek info"};
  bool list_ops = false, json = false;
  app.add_flag("--ops", list_ops, "list every registered op with its kind, kernels and backward");
  app.add_flag("--json", json, "print one JSON object on the last line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  using namespace deepseek;
  nlohmann::json out;
  out["version"] = "0.1.0";
  out["cpu_capability"] = cpu::cpu_capability();
  out["threads"] = num_threads();
  out["cuda"] = ops::Registry::get().def("to_device").has_kernel(DeviceType::cuda);
  if (list_ops) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& def : ops::Registry::get().all()) {
      if (!def.infer) continue;  // referenced by name but defined by no module in this build
      list.push_back({{"name", def.name},
                      {"kind", ops::op_kind_name(def.kind)},
                      {"cpu", def.has_kernel(DeviceType::cpu) || def.kind == ops::OpKind::view},
                      {"cuda", def.has_kernel(DeviceType::cuda) || def.kind == ops::OpKind::view},
                      {"backward", static_cast<bool>(def.backward)},
                      {"deterministic", def.deterministic},
                      {"random", def.random}});
    }
    out["ops"] = list;
  }
  if (json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("deepseek %s  cpu=%s  threads=%d\n", out["version"].get<std::string>().c_str(),
              cpu::cpu_capability(), num_threads());
  if (list_ops) {
    std::printf("%-28s %-12s %-4s %-5s %s\n", "op", "kind", "cpu", "cuda", "backward");
    for (auto& o : out["ops"])
      std::printf("%-28s %-12s %-4s %-5s %s\n", o["name"].get<std::string>().c_str(),
                  o["kind"].get<std::string>().c_str(), o["cpu"].get<bool>() ? "yes" : "-",
                  o["cuda"].get<bool>() ? "yes" : "-", o["backward"].get<bool>() ? "yes" : "-");
    std::printf("%zu ops\n", out["ops"].size());
  }
  return 0;
}

DEEPSEEK_COMMAND("info", "show build information; --ops lists the op registry", run);

}  // namespace
