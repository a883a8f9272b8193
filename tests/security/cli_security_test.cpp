// `deepseek train / eval / predict --security FILE` end to end on a SoftHSM2 scratch token:
// training is allowed or refused by the ABAC policy before it starts, its checkpoints are
// envelope-encrypted under the token's KEK, eval and predict decrypt them only with the
// security config, a subject the policy forbids gets "access denied" (exit 1), and the
// audit log the commands wrote verifies with `deepseek audit verify`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/security/hsm/envelope.h"
#include "tests/common/cli_run.h"
#include "tests/security/scratch_env.h"

namespace fs = std::filesystem;
using deepseek::security::testing::scratch;
using deepseek::security::testing::temp_path;
using deepseek::testing::CliResult;
using deepseek::testing::last_line;
using deepseek::testing::run_cli;

namespace {

CliResult sh(const std::string& args, const std::string& env = "") { return run_cli(args, env); }

std::string write_file(const std::string& name, const std::string& text) {
  std::string p = temp_path(name);
  std::ofstream(p) << text;
  return p;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// Security config for a subject with `role`, checkpoints encrypted under the scratch KEK.
std::string security_file(const std::string& name, const std::string& role,
                          const std::string& policy, const std::string& log) {
  return write_file(name, "policy: " + policy + "\naudit_log: " + log + "\naudit_key: \"" +
                              scratch().uri("audit") + "\"\nkek: \"" + scratch().uri("kek") +
                              "\"\nsubject: {id: " + role + "-user, role: " + role + "}\n");
}

}  // namespace

TEST(SecurityCli, TrainEvalPredictEncryptedAndAudited) {
  if (!fs::exists(DEEPSEEK_BIN)) GTEST_SKIP() << DEEPSEEK_BIN << " not built";
  const std::string policy = write_file("cli-policy.yaml", R"(
policies:
  - id: researchers
    effect: permit
    actions: [train.start, model.save, model.load, data.decrypt, model.export]
    when: {attr: subject.role, eq: researcher}
  - id: guests-no-training
    effect: forbid
    actions: [train.start, data.decrypt]
    when: {attr: subject.role, eq: guest}
  - id: guests-read
    effect: permit
    actions: [model.load]
    when: {attr: subject.role, eq: guest}
)");
  const std::string log = temp_path("cli-audit.log"), guest_log = temp_path("cli-guest.log");
  const std::string sec = security_file("cli-security.yaml", "researcher", policy, log);
  const std::string guest = security_file("cli-guest.yaml", "guest", policy, guest_log);
  const std::string out = temp_path("cli-run");

  auto t =
      sh("train --model mlp model.hidden=[16] --dataset synthetic --train-subset 256 --test-subset "
         "128 "
         "--epochs 1 --batch-size 64 --progress none --output " +
         out + " --security " + sec + " --json");
  ASSERT_EQ(t.code, 0) << t.out;
  auto j = nlohmann::json::parse(last_line(t.out));
  const std::string ck = j["checkpoint"];
  EXPECT_TRUE(j["checkpoint_encrypted"].get<bool>());
  ASSERT_TRUE(fs::exists(ck));
  EXPECT_TRUE(deepseek::security::hsm::is_envelope_file(ck)) << ck << " is not envelope-encrypted";

  // Without the security config the file is not a checkpoint at all (no plaintext on disk).
  auto plain = sh("eval --checkpoint " + ck + " --json");
  EXPECT_NE(plain.code, 0) << plain.out;

  auto e = sh("eval --checkpoint " + ck + " --security " + sec + " --json");
  ASSERT_EQ(e.code, 0) << e.out;
  auto ej = nlohmann::json::parse(last_line(e.out));
  EXPECT_DOUBLE_EQ(ej["test_accuracy"].get<double>(), j["test_accuracy"].get<double>());

  // The same through the run config's `security:` key instead of the flag.
  const std::string run_cfg = write_file("cli-run.yaml", "security: " + sec + "\n");
  auto ec = sh("eval --checkpoint " + ck + " --config " + run_cfg + " --json");
  ASSERT_EQ(ec.code, 0) << ec.out;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(last_line(ec.out))["test_accuracy"].get<double>(),
                   j["test_accuracy"].get<double>());

  auto p = sh("predict --checkpoint " + ck + " --count 3 --security " + sec + " --json");
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_EQ(nlohmann::json::parse(last_line(p.out))["predictions"].size(), 3u);

  // export is a guarded entry point: the researcher may, the guest may not (no file written).
  const std::string exported = out + "/model.safetensors";
  auto x = sh("export --checkpoint " + ck + " --out " + exported + " --security " + sec + " --json");
  ASSERT_EQ(x.code, 0) << x.out;
  EXPECT_TRUE(fs::exists(exported));
  auto gx = sh("export --checkpoint " + ck + " --out " + out + "/guest.safetensors --security " + guest);
  EXPECT_EQ(gx.code, 1) << gx.out;
  EXPECT_NE(gx.out.find("access denied"), std::string::npos) << gx.out;
  EXPECT_FALSE(fs::exists(out + "/guest.safetensors"));

  // A guest may not train (refused before any data is read) nor decrypt the checkpoint.
  auto gt = sh("train --model mlp --dataset synthetic --max-steps 1 --progress none --output " +
               out + "-guest --security " + guest);
  EXPECT_EQ(gt.code, 1) << gt.out;
  EXPECT_NE(gt.out.find("access denied"), std::string::npos) << gt.out;
  EXPECT_NE(gt.out.find("guests-no-training"), std::string::npos) << gt.out;
  EXPECT_FALSE(fs::exists(out + "-guest/last.ckpt"));
  auto ge = sh("eval --checkpoint " + ck + " --security " + guest);
  EXPECT_EQ(ge.code, 1) << ge.out;
  EXPECT_NE(ge.out.find("may not data.decrypt"), std::string::npos) << ge.out;

  // The researcher's log: closed, signed, verifiable, and it holds the run's story.
  const std::string key_env = "DEEPSEEK_AUDIT_KEY=" + quote(scratch().uri("audit"));
  auto v = sh("audit verify " + log, key_env);
  EXPECT_EQ(v.code, 0) << v.out;
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  for (const char* a : {"\"train.start\"", "\"model.save\"", "\"model.saved\"", "\"key.use\"",
                        "\"train.stop\"", "\"model.load\"", "\"data.decrypt\"", "\"model.loaded\"",
                        "\"model.export\""})
    EXPECT_NE(text.find(a), std::string::npos) << a << " missing from the audit log";
  auto vg = sh("audit verify " + guest_log, key_env);
  EXPECT_EQ(vg.code, 0) << vg.out;
}
