// The `deepseek` command's training subcommands: bad flags and bad configs exit with code 2
// and a message; a small run on synthetic data ends with one JSON object holding
// test_accuracy; eval and predict read its checkpoint.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/io/safetensors.h"
#include "deepseek/ops/ops.h"
#include "deepseek/train/run.h"
#include "tests/common/cli_run.h"

namespace fs = std::filesystem;

namespace {

using deepseek::testing::last_line;
using Result = deepseek::testing::CliResult;

Result sh(const std::string& args) { return deepseek::testing::run_cli(args); }

std::string write_file(const std::string& name, const std::string& text) {
  auto p = fs::temp_directory_path() / ("deepseek_cli_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(DEEPSEEK_BIN)) GTEST_SKIP() << DEEPSEEK_BIN << " not built";
  }
};

}  // namespace

TEST_F(Cli, BadFlagsExit2) {
  for (const char* args : {"train --epochs two", "train --no-such-flag", "train --lr",
                           "eval", "predict --checkpoint x --count 0", "demo --bogus"}) {
    auto r = sh(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_FALSE(r.out.empty()) << args;
  }
}

TEST_F(Cli, BadConfigsExit2) {
  const std::string unknown = write_file("unknown.yaml", "model: smallcnn\nepochz: 2\n");
  const std::string badtype = write_file("badtype.yaml", "epochs: [1, 2]\n");
  const std::string badyaml = write_file("bad.yaml", "model: [smallcnn\n");
  const std::string badmodel = write_file("badmodel.yaml", "model:\n  name: mlp\n  hiden: [3]\n");
  struct Case {
    std::string args, needle;
  };
  for (const Case& c : std::vector<Case>{
           {"train --config " + unknown, "epochz"},
           {"train --config " + badtype, "epochs"},
           {"train --config " + badyaml, "bad.yaml"},
           {"train --config " + badmodel, "hiden"},
           {"train --config /nonexistent/x.yaml", "cannot open"},
           {"train --model resnet9", "resnet9"},
           {"train --dataset cifar-1000", "cifar-1000"},
           {"train epochs", "key=value"},
           {"train batch_size=-4", "batch_size"},
           {"train model.depth=20 --model resnet", "depth"},
           {"eval --checkpoint /nonexistent.ckpt", ""}}) {
    auto r = sh(c.args);
    if (c.args.rfind("eval", 0) == 0) {
      EXPECT_NE(r.code, 0) << c.args;  // a missing file is a run-time error, not a crash
      continue;
    }
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
  }
}

TEST_F(Cli, TrainEvalPredictJson) {
  const auto dir = fs::temp_directory_path() / ("deepseek_cli_run_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string cfg = write_file("ok.yaml",
                                     "model:\n  name: mlp\n  hidden: [32]\ndataset: synthetic\n"
                                     "train_subset: 512\ntest_subset: 256\nepochs: 1\n");
  auto r = sh("train --config " + cfg + " batch_size=64 --seed 3 --progress lines --output " +
              dir.string() + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(last_line(r.out));
  EXPECT_GT(j["test_accuracy"].get<double>(), 0.5) << j.dump();
  EXPECT_EQ(j["steps"], 8);
  EXPECT_EQ(j["seed"], 3);
  ASSERT_TRUE(fs::exists(j["checkpoint"].get<std::string>()));
  EXPECT_TRUE(fs::exists(j["metrics_csv"].get<std::string>()));
  const std::string ck = j["checkpoint"];

  auto e = sh("eval --checkpoint " + ck + " --json");
  ASSERT_EQ(e.code, 0) << e.out;
  auto ej = nlohmann::json::parse(last_line(e.out));
  EXPECT_DOUBLE_EQ(ej["test_accuracy"].get<double>(), j["test_accuracy"].get<double>());

  auto p = sh("predict --checkpoint " + ck + " --count 5 --json");
  ASSERT_EQ(p.code, 0) << p.out;
  auto pj = nlohmann::json::parse(last_line(p.out));
  EXPECT_EQ(pj["predictions"].size(), 5u);

  // export: the model's state dict as weights-only safetensors, the recipe in its metadata;
  // an existing file is never replaced without --force; a missing checkpoint fails cleanly.
  const std::string exported = (dir / "model.safetensors").string();
  auto x = sh("export --checkpoint " + ck + " --out " + exported + " --json");
  ASSERT_EQ(x.code, 0) << x.out;
  auto file = deepseek::io::load_safetensors(exported);
  EXPECT_EQ(file.metadata.at("format"), "deepseek.export");
  EXPECT_NE(file.metadata.at("recipe").find("mlp"), std::string::npos);
  auto model = deepseek::train::load_trained_model(ck).first;
  auto state = model->state_dict();
  EXPECT_EQ(file.tensors.size(), state.size());
  EXPECT_EQ(nlohmann::json::parse(last_line(x.out))["tensors"].get<size_t>(), state.size());
  for (auto& [name, t] : state) {
    ASSERT_TRUE(file.tensors.count(name)) << name;
    EXPECT_TRUE(deepseek::equal(file.tensors.at(name), t)) << name;
  }
  auto again = sh("export --checkpoint " + ck + " --out " + exported);
  EXPECT_EQ(again.code, 2) << again.out;
  EXPECT_NE(again.out.find("--force"), std::string::npos) << again.out;
  EXPECT_EQ(sh("export --checkpoint " + ck + " --out " + exported + " --force").code, 0);
  auto missing = sh("export --checkpoint /nonexistent.ckpt --out " + (dir / "x.safetensors").string());
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_FALSE(fs::exists(dir / "x.safetensors"));
  fs::remove_all(dir);
}
