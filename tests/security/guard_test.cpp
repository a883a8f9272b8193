// Guard: decisions enforced at entry points, every decision audited, audit failure denies.
#include "deepseek/security/guard.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "deepseek/core/error.h"
#include "deepseek/security/audit/verify.h"
#include "deepseek/security/hsm/kek.h"
#include "tests/security/scratch_env.h"

namespace ds = deepseek;
namespace sec = deepseek::security;
using sec::abac::Attributes;
using sec::abac::Value;
using sec::testing::scratch;
using sec::testing::temp_path;

namespace {

std::shared_ptr<const sec::abac::PolicySet> policies() {
  return std::make_shared<sec::abac::PolicySet>(sec::abac::PolicySet::parse_yaml(R"(
policies:
  - id: researchers-save
    effect: permit
    actions: [model.save, model.load]
    when: {attr: subject.role, eq: researcher}
  - id: no-export-secret
    effect: forbid
    actions: model.export
    when: {attr: resource.classification, eq: secret, if_missing: false}
  - id: admins
    effect: permit
    when: {attr: subject.role, eq: admin}
  - id: night-freeze
    effect: forbid
    actions: train.start
    when: {attr: environment.hour, lt: 0}
)"));
}

std::vector<nlohmann::json> records(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "record") out.push_back(j["entry"]);
  }
  return out;
}

}  // namespace

TEST(Guard, EnforcesAndAuditsEveryDecision) {
  auto path = temp_path("guard.log");
  auto notary = std::make_shared<sec::audit::Pkcs11Notary>(scratch().uri("audit"));
  {
    auto log = std::make_shared<sec::audit::AuditLog>(path, notary, notary);
    sec::Guard guard(policies(), log);
    Attributes alice{{"id", "alice"}, {"role", "researcher"}};
    Attributes root{{"id", "root"}, {"role", "admin"}};
    EXPECT_NO_THROW(guard.require(sec::action::save, "runs/a.ckpt", alice));
    try {
      guard.require(sec::action::export_model,
                    Attributes{{"id", "m.onnx"}, {"classification", "secret"}}, root);
      FAIL() << "secret export was allowed";
    } catch (const ds::Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("access denied"), std::string::npos) << m;
      EXPECT_NE(m.find("no-export-secret"), std::string::npos) << m;
      EXPECT_NE(m.find("'root'"), std::string::npos) << m;
    }
    EXPECT_THROW(guard.require(sec::action::export_model, "m.onnx", alice),
                 ds::Error);  // default deny
    // environment.hour is filled in by the guard: the (never true) freeze still evaluates cleanly.
    auto d = guard.check(sec::action::train_start, {{"id", "job"}}, root);
    EXPECT_TRUE(d.permit);
    EXPECT_TRUE(d.errors.empty());
  }
  auto recs = records(path);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0]["decision"], "permit");
  EXPECT_EQ(recs[0]["attrs"]["policies"], "researchers-save");
  EXPECT_EQ(recs[1]["decision"], "deny");
  EXPECT_EQ(recs[1]["attrs"]["policies"], "no-export-secret");
  EXPECT_EQ(recs[2]["attrs"]["policies"], "<default deny>");
  EXPECT_EQ(recs[2]["subject"], "alice");
  auto rep = sec::audit::verify_log(path, {notary->public_key(), notary.get()});
  EXPECT_TRUE(rep.ok()) << rep.message;
}

TEST(Guard, AuditFailureDenies) {
  auto path = temp_path("guard-closed.log");
  auto notary = std::make_shared<sec::audit::Pkcs11Notary>(scratch().uri("audit"));
  auto log = std::make_shared<sec::audit::AuditLog>(path, notary, notary);
  sec::Guard guard(policies(), log);
  log->close();  // the trail is gone: nothing may proceed
  try {
    guard.require(sec::action::save, "a.ckpt", {{"id", "alice"}, {"role", "researcher"}});
    FAIL();
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("<audit failure>"), std::string::npos) << e.what();
  }
}

TEST(Guard, InstalledGuardProtectsEntryPoints) {
  sec::guard_entry(sec::action::load, "x.ckpt");  // nothing installed: no-op
  sec::Guard::install(std::make_shared<sec::Guard>(policies(), nullptr));
  ::setenv("DEEPSEEK_SUBJECT", "carol", 1);
  ::setenv("DEEPSEEK_SUBJECT_ATTRS", "role=researcher", 1);
  EXPECT_NO_THROW(sec::guard_entry(sec::action::load, "x.ckpt"));
  ::setenv("DEEPSEEK_SUBJECT_ATTRS", "role=guest", 1);
  EXPECT_THROW(sec::guard_entry(sec::action::load, "x.ckpt"), ds::Error);
  ::unsetenv("DEEPSEEK_SUBJECT");
  ::unsetenv("DEEPSEEK_SUBJECT_ATTRS");
  sec::Guard::install(nullptr);
}

TEST(Guard, KeyUseIsAudited) {
  auto path = temp_path("keyuse.log");
  auto notary = std::make_shared<sec::audit::Pkcs11Notary>(scratch().uri("audit"));
  {
    auto log = std::make_shared<sec::audit::AuditLog>(path, notary, notary);
    sec::audit_key_use(log, "trainer");
    auto kek = sec::hsm::KeyEncryptionKey::open(scratch().uri("kek"));
    std::vector<std::uint8_t> seed(32, 7);
    auto wrapped = kek.wrap(seed);
    EXPECT_EQ(kek.unwrap(wrapped).size(), 32u);
    log->close();
    // The trail is closed: key use can no longer be recorded, so it fails.
    EXPECT_THROW(kek.unwrap(wrapped), ds::Error);
    sec::audit_key_use(nullptr, "");
    EXPECT_EQ(kek.unwrap(wrapped).size(), 32u);
  }
  auto recs = records(path);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["action"], "key.use");
  EXPECT_EQ(recs[0]["attrs"]["operation"], "wrap");
  EXPECT_EQ(recs[1]["attrs"]["operation"], "unwrap");
  EXPECT_EQ(recs[1]["subject"], "trainer");
}
