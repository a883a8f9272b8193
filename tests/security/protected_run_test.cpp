// ProtectedRun + the io/ checkpoint hook, end to end against a SoftHSM2 token: checkpoints
// saved through io::save_checkpoint are envelope-encrypted under the token's KEK (no
// plaintext tensor bytes on disk), load back bit for bit, tampering is refused, plain files
// are refused under a KEK, a denied subject writes nothing, and every decision, save, load
// and key use is in the signed audit log, which verifies.
#include "deepseek/security/protected_run.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "deepseek/core/error.h"
#include "deepseek/io/checkpoint.h"
#include "deepseek/io/checkpoint_hook.h"
#include "deepseek/security/audit/verify.h"
#include "deepseek/security/hsm/envelope.h"
#include "tests/security/scratch_env.h"

namespace ds = deepseek;
namespace sec = deepseek::security;
using sec::testing::scratch;
using sec::testing::temp_path;

namespace {

constexpr const char* kPolicy = R"(
policies:
  - id: researchers-checkpoints
    effect: permit
    actions: [model.save, model.load, data.decrypt, train.start]
    when: {attr: subject.role, eq: researcher}
  - id: interns-no-save
    effect: forbid
    actions: [model.save]
    when: {attr: subject.role, eq: intern}
  - id: interns-load
    effect: permit
    actions: [model.load]
    when: {attr: subject.role, eq: intern}
)";

std::string write_file(const std::string& name, const std::string& text) {
  std::string p = temp_path(name);
  std::ofstream(p) << text;
  return p;
}

// A tensor whose bytes are a recognisable 32-byte pattern, so the test can tell whether the
// plaintext reached the disk.
ds::Tensor marker_tensor() {
  ds::Tensor t = ds::Tensor::empty({64}, ds::DType::f32);
  float* p = t.data<float>();
  for (int i = 0; i < 64; ++i) p[i] = 1000.0f + 0.25f * float(i);
  return t;
}

ds::io::Checkpoint make_checkpoint() {
  ds::io::Checkpoint c;
  c.model["fc.weight"] = marker_tensor();
  c.step = 42;
  c.epoch = 3;
  c.meta = {{"note", "secret model"}};
  return c;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

sec::SecurityConfig config(const std::string& log, const std::string& role, bool with_kek) {
  nlohmann::json j = {{"policy", write_file("policy-" + role + ".yaml", kPolicy)},
                      {"audit_log", log},
                      {"audit_key", scratch().uri("audit")},
                      {"subject", {{"id", role == "intern" ? "ian" : "alice"}, {"role", role}}}};
  if (with_kek) j["kek"] = scratch().uri("kek");
  return sec::SecurityConfig::from_json(j);
}

// Installs a run's hook for the scope of a test block.
struct Installed {
  explicit Installed(const sec::ProtectedRun& r) {
    ds::io::set_checkpoint_file_hook(r.checkpoint_hook());
  }
  ~Installed() { ds::io::set_checkpoint_file_hook(nullptr); }
};

std::vector<std::string> actions_in(const std::string& log) {
  std::vector<std::string> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "record")
      out.push_back(
          j["entry"]["action"].get<std::string>() +
          (j["entry"].contains("decision") ? ":" + j["entry"]["decision"].get<std::string>() : ""));
  }
  return out;
}

sec::audit::VerifyReport verify(const std::string& log) {
  auto notary = std::make_shared<sec::audit::Pkcs11Notary>(scratch().uri("audit"));
  return sec::audit::verify_log(log, {notary->public_key(), notary.get()});
}

}  // namespace

TEST(ProtectedRun, EncryptedCheckpointRoundTripAudited) {
  const std::string log = temp_path("run-encrypted.log"), ckpt = temp_path("enc.ckpt");
  {
    sec::ProtectedRun run(config(log, "researcher", true));
    Installed hook(run);
    ds::io::save_checkpoint(ckpt, make_checkpoint());

    // On disk: an envelope, and none of the tensor's bytes or the metadata in the clear.
    ASSERT_TRUE(sec::hsm::is_envelope_file(ckpt));
    const std::string disk = read_bytes(ckpt);
    ds::Tensor m = marker_tensor();
    const std::string plain(static_cast<const char*>(m.raw_data()), 32);
    EXPECT_EQ(disk.find(plain), std::string::npos);
    EXPECT_EQ(disk.find("secret model"), std::string::npos);
    EXPECT_EQ(disk.find("fc.weight"), std::string::npos);

    ds::io::Checkpoint back = ds::io::load_checkpoint(ckpt);
    EXPECT_EQ(back.step, 42);
    EXPECT_EQ(back.epoch, 3);
    EXPECT_EQ(back.meta["note"], "secret model");
    ASSERT_EQ(back.model.count("fc.weight"), 1u);
    EXPECT_EQ(std::memcmp(back.model["fc.weight"].raw_data(), m.raw_data(), 64 * sizeof(float)), 0);

    // One flipped byte in the body: authentication fails, nothing is loaded.
    std::string bad = disk;
    bad[bad.size() / 2] ^= 0x01;
    const std::string tampered = temp_path("tampered.ckpt");
    std::ofstream(tampered, std::ios::binary) << bad;
    try {
      ds::io::load_checkpoint(tampered);
      FAIL() << "a tampered checkpoint loaded";
    } catch (const ds::Error& e) {
      EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
    }
  }
  // The run closed its log: intact, signed, and it tells the whole story in order.
  auto rep = verify(log);
  EXPECT_EQ(rep.problem, sec::audit::Problem::none) << rep.message;
  const auto acts = actions_in(log);
  auto pos = [&](const std::string& a, std::size_t from = 0) {
    for (std::size_t i = from; i < acts.size(); ++i)
      if (acts[i] == a) return i;
    return acts.size();
  };
  const std::size_t save = pos("model.save:permit"), wrap = pos("key.use", save),
                    saved = pos("model.saved", save), load = pos("model.load:permit", saved),
                    decrypt = pos("data.decrypt:permit", load), unwrap = pos("key.use", decrypt),
                    loaded = pos("model.loaded", unwrap);
  EXPECT_LT(save, wrap);
  EXPECT_LT(wrap, saved);
  EXPECT_LT(saved, load);
  EXPECT_LT(load, decrypt);
  EXPECT_LT(decrypt, unwrap);
  EXPECT_LT(unwrap, loaded);
  EXPECT_LT(loaded, acts.size());
}

TEST(ProtectedRun, PlainCheckpointRefusedUnderKekUnlessAllowed) {
  const std::string ckpt = temp_path("plain.ckpt");
  ds::io::save_checkpoint(ckpt, make_checkpoint());  // no hook: plain safetensors
  ASSERT_FALSE(sec::hsm::is_envelope_file(ckpt));
  {
    sec::ProtectedRun run(config(temp_path("run-plain.log"), "researcher", true));
    Installed hook(run);
    try {
      ds::io::load_checkpoint(ckpt);
      FAIL() << "a plain checkpoint loaded under a KEK";
    } catch (const ds::Error& e) {
      EXPECT_NE(std::string(e.what()).find("is not encrypted"), std::string::npos) << e.what();
    }
  }
  auto cfg = config(temp_path("run-plain2.log"), "researcher", true);
  cfg.allow_plaintext = true;
  sec::ProtectedRun run(cfg);
  Installed hook(run);
  EXPECT_EQ(ds::io::load_checkpoint(ckpt).step, 42);
}

TEST(ProtectedRun, EncryptedCheckpointNeedsTheKek) {
  const std::string ckpt = temp_path("needs-kek.ckpt");
  {
    sec::ProtectedRun run(config(temp_path("run-kek1.log"), "researcher", true));
    Installed hook(run);
    ds::io::save_checkpoint(ckpt, make_checkpoint());
  }
  sec::ProtectedRun run(config(temp_path("run-kek2.log"), "researcher", false));
  Installed hook(run);
  try {
    ds::io::load_checkpoint(ckpt);
    FAIL() << "an encrypted checkpoint loaded without a KEK";
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("envelope-encrypted"), std::string::npos) << e.what();
  }
}

TEST(ProtectedRun, DeniedSaveWritesNothingAndIsAudited) {
  const std::string log = temp_path("run-denied.log"), ckpt = temp_path("denied.ckpt"),
                    theirs = temp_path("researchers.ckpt");
  {
    sec::ProtectedRun writer(config(temp_path("run-writer.log"), "researcher", true));
    Installed w(writer);
    ds::io::save_checkpoint(theirs, make_checkpoint());
  }
  {
    sec::ProtectedRun run(config(log, "intern", true));
    Installed hook(run);
    try {
      ds::io::save_checkpoint(ckpt, make_checkpoint());
      FAIL() << "a forbidden save went through";
    } catch (const ds::Error& e) {
      EXPECT_NE(std::string(e.what()).find("access denied"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("interns-no-save"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(ckpt));
    // Interns may load, but not decrypt: the encrypted file stays closed to them.
    try {
      ds::io::load_checkpoint(theirs);
      FAIL() << "an intern decrypted a checkpoint";
    } catch (const ds::Error& e) {
      EXPECT_NE(std::string(e.what()).find("may not data.decrypt"), std::string::npos) << e.what();
    }
  }
  auto rep = verify(log);
  EXPECT_EQ(rep.problem, sec::audit::Problem::none) << rep.message;
  const auto acts = actions_in(log);
  EXPECT_NE(std::find(acts.begin(), acts.end(), "model.save:deny"), acts.end());
  EXPECT_NE(std::find(acts.begin(), acts.end(), "model.load:permit"), acts.end());
  EXPECT_NE(std::find(acts.begin(), acts.end(), "data.decrypt:deny"), acts.end());
  EXPECT_EQ(std::find(acts.begin(), acts.end(), "model.saved"), acts.end());
}

TEST(ProtectedRun, ConfigErrorsNameTheKey) {
  auto msg = [](const nlohmann::json& j) {
    try {
      sec::SecurityConfig::from_json(j);
    } catch (const ds::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg({{"audit_log", "a"}, {"audit_key", "k"}}).find("'policy'"), std::string::npos);
  EXPECT_NE(msg({{"policy", "p"}, {"audit_key", "k"}}).find("'audit_log'"), std::string::npos);
  EXPECT_NE(msg({{"policy", "p"}, {"audit_log", "a"}, {"audit_key", "k"}, {"kek_uri", "x"}})
                .find("unknown key 'kek_uri'"),
            std::string::npos);
  auto c = sec::SecurityConfig::from_json(
      {{"policy", "p.yaml"}, {"audit_log", "a.log"}, {"audit_key", "k"}}, "/etc/ds");
  EXPECT_EQ(c.policy, "/etc/ds/p.yaml");
  EXPECT_EQ(c.audit_log, "/etc/ds/a.log");
}
