// `deepseek export`: writes a trained checkpoint's model as a weights-only safetensors file for
// deployment — the model's state dict, with the training recipe in the file's metadata so the
// model can be rebuilt — atomically, never over an existing file unless --force. With
// --security it is a guarded entry point: reading the checkpoint asks model.load (and
// data.decrypt when encrypted), writing the export asks model.export on the output path, and
// every decision goes to the audit log.
#include <cstdio>
#include <filesystem>

#include "deepseek/io/safetensors.h"
#include "deepseek/security/guard.h"
#include "deepseek/train/run.h"
#include "tools/command.h"
#include "tools/run_config.h"
#include "tools/security_scope.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Export a checkpoint's model as a weights-only safetensors file", "deepseek export"};
  std::string checkpoint, out;
  bool json = false, force = false;
  app.add_option("--checkpoint,-c", checkpoint, "checkpoint written by deepseek train")->required();
  app.add_option("--out,-o", out, "safetensors file to write")->required();
  app.add_flag("--force", force, "replace an existing output file");
  app.add_flag("--json", json, "print one JSON object on the last line");
  deepseek::tools::SecurityScope security;
  security.add_to(app);
  if (auto rc = deepseek::tools::parse_args(app, argc, argv)) return *rc;
  using namespace deepseek;
  if (std::filesystem::exists(out) && !force) {
    std::fprintf(stderr, "deepseek export: %s exists (pass --force to replace it)\n", out.c_str());
    return 2;
  }
  nn::ModulePtr model;
  train::Recipe recipe;
  try {
    nlohmann::json none;
    security.open(none, "");  // before the checkpoint is read (model.load, decrypt)
    auto [m, r] = train::load_trained_model(checkpoint);
    model = m;
    recipe = r;
  } catch (const models::ConfigError& e) {
    return tools::config_error("export", e);
  }
  if (security) security->require(security::action::export_model, out);
  io::TensorMap tensors = model->state_dict();
  int64_t bytes = 0;
  for (auto& [name, t] : tensors) bytes += t.nbytes();
  io::save_safetensors(out, tensors,
                       {{"format", "deepseek.export"}, {"model", recipe.model_name()},
                        {"recipe", recipe.to_json().dump()}});
  nlohmann::json summary{{"checkpoint", checkpoint}, {"out", out}, {"model", recipe.model_name()},
                         {"tensors", tensors.size()}, {"bytes", bytes}};
  if (json)
    std::printf("%s\n", summary.dump().c_str());
  else
    std::printf("exported %s: %zu tensors, %.1f MB -> %s\n", recipe.model_name().c_str(), tensors.size(),
                static_cast<double>(bytes) / 1e6, out.c_str());
  return 0;
}

DEEPSEEK_COMMAND("export", "write a checkpoint's model as weights-only safetensors", run);

}  // namespace
