#include "deepseek/security/protected_run.h"

#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "deepseek/core/error.h"
#include "deepseek/security/abac/policy.h"
#include "deepseek/security/hsm/envelope.h"

namespace deepseek::security {
namespace {

namespace fs = std::filesystem;

abac::Value to_value(const nlohmann::json& v, const std::string& key) {
  if (v.is_boolean()) return abac::Value(v.get<bool>());
  if (v.is_number_integer()) return abac::Value(v.get<std::int64_t>());
  if (v.is_number()) return abac::Value(v.get<double>());
  if (v.is_string()) return abac::Value(v.get<std::string>());
  if (v.is_array()) {
    abac::Value::List l;
    for (const auto& e : v) l.push_back(to_value(e, key));
    return abac::Value(std::move(l));
  }
  DS_THROW("[security config] subject.", key, " must be a boolean, number, string or list");
}

// YAML scalars are typed as the policy files type them (true/false, integers, floats, text).
nlohmann::json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& e : n) a.push_back(yaml_to_json(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      abac::Value v = abac::Value::parse_scalar(s);
      switch (v.kind()) {
        case abac::Value::Kind::boolean:
          return v.as_bool();
        case abac::Value::Kind::integer:
          return v.as_int();
        case abac::Value::Kind::real:
          return v.as_number();
        default:
          return s;
      }
    }
    default:
      return nullptr;
  }
}

std::string resolve(const std::string& path, const std::string& base) {
  if (path.empty() || base.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base) / path).string();
}

std::string id_of(const abac::Attributes& a) {
  auto it = a.find("id");
  if (it == a.end()) return "<anonymous>";
  return it->second.kind() == abac::Value::Kind::string ? it->second.as_string()
                                                        : it->second.to_string();
}

std::vector<std::uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DS_CHECK(in, "[checkpoint] cannot open '", path, "'");
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// What io/ calls on every checkpoint save and load.
class CheckpointProtection : public io::CheckpointFileHook {
 public:
  CheckpointProtection(ProtectedRun* run, std::shared_ptr<const hsm::KeyEncryptionKey> kek,
                       bool allow_plaintext)
      : run_(run), kek_(std::move(kek)), allow_plaintext_(allow_plaintext) {}

  void before_save(const std::string& path) override { run_->require(action::save, path); }
  void before_load(const std::string& path) override { run_->require(action::load, path); }

  bool encodes() const override { return kek_ != nullptr; }
  std::vector<std::uint8_t> encode(const std::string& path, const std::string& image) override {
    (void)path;
    return hsm::envelope_encrypt(
        *kek_, std::span(reinterpret_cast<const std::uint8_t*>(image.data()), image.size()));
  }

  std::optional<std::vector<std::uint8_t>> decode(const std::string& path) override {
    if (!hsm::is_envelope_file(path)) {
      DS_CHECK(!kek_ || allow_plaintext_, "[checkpoint] '", path,
               "' is not encrypted, and this run only loads checkpoints envelope-encrypted under ",
               kek_ ? kek_->name() : "", " (set allow_plaintext: true to load plain ones)");
      return std::nullopt;
    }
    DS_CHECK(kek_, "[checkpoint] '", path,
             "' is envelope-encrypted; give the KEK that encrypted it (security config key 'kek')");
    run_->require(action::decrypt, path);
    auto image = hsm::envelope_decrypt(*kek_, read_all(path));
    return image;
  }

  void after_save(const std::string& path) override {
    run_->record("model.saved", path, {{"encrypted", kek_ ? "true" : "false"}});
  }
  void after_load(const std::string& path) override { run_->record("model.loaded", path); }

 private:
  ProtectedRun* run_;
  std::shared_ptr<const hsm::KeyEncryptionKey> kek_;
  bool allow_plaintext_;
};

}  // namespace

SecurityConfig SecurityConfig::from_json(const nlohmann::json& j, const std::string& base_dir) {
  DS_CHECK(j.is_object(), "[security config] must be a mapping of keys");
  SecurityConfig c;
  auto str = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    DS_CHECK(j[key].is_string(), "[security config] '", key, "' must be a string");
    out = j[key].get<std::string>();
  };
  for (auto& [k, v] : j.items()) {
    static const char* known[] = {"policy",  "audit_log",       "audit_key",       "kek",
                                  "subject", "allow_plaintext", "checkpoint_every"};
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    DS_CHECK(
        ok, "[security config] unknown key '", k,
        "' (known: policy, audit_log, audit_key, kek, subject, allow_plaintext, checkpoint_every)");
  }
  str("policy", c.policy);
  str("audit_log", c.audit_log);
  str("audit_key", c.audit_key);
  str("kek", c.kek);
  DS_CHECK(!c.policy.empty(), "[security config] 'policy' (the ABAC policy file) is required");
  DS_CHECK(!c.audit_log.empty(),
           "[security config] 'audit_log' is required: decisions are always audited");
  c.policy = resolve(c.policy, base_dir);
  c.audit_log = resolve(c.audit_log, base_dir);
  if (c.audit_key.empty())
    if (const char* k = std::getenv("DEEPSEEK_AUDIT_KEY")) c.audit_key = k;
  DS_CHECK(
      !c.audit_key.empty(),
      "[security config] 'audit_key' (pkcs11: URI of the audit signing key) is required, or set "
      "$DEEPSEEK_AUDIT_KEY");
  if (j.contains("allow_plaintext")) {
    DS_CHECK(j["allow_plaintext"].is_boolean(),
             "[security config] 'allow_plaintext' must be true or false");
    c.allow_plaintext = j["allow_plaintext"].get<bool>();
  }
  if (j.contains("checkpoint_every")) {
    DS_CHECK(j["checkpoint_every"].is_number_unsigned() &&
                 j["checkpoint_every"].get<std::uint64_t>() > 0,
             "[security config] 'checkpoint_every' must be a positive integer");
    c.checkpoint_every = j["checkpoint_every"].get<std::uint64_t>();
  }
  if (j.contains("subject")) {
    const auto& s = j["subject"];
    if (s.is_string()) {
      c.subject["id"] = abac::Value(s.get<std::string>());
    } else {
      DS_CHECK(s.is_object(),
               "[security config] 'subject' must be a name or a mapping of attributes");
      for (auto& [k, v] : s.items()) c.subject[k] = to_value(v, k);
    }
  } else {
    if (const char* attrs = std::getenv("DEEPSEEK_SUBJECT_ATTRS"))
      abac::parse_attribute_args(attrs, c.subject);
    if (const char* s = std::getenv("DEEPSEEK_SUBJECT"))
      c.subject["id"] = abac::Value(std::string(s));
  }
  if (!c.subject.count("id"))
    if (passwd* pw = ::getpwuid(::getuid()))
      c.subject["id"] = abac::Value(std::string(pw->pw_name));
  return c;
}

SecurityConfig SecurityConfig::load_file(const std::string& path) {
  std::ifstream in(path);
  DS_CHECK(in, "[security config] cannot open '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    if (path.size() >= 5 && path.substr(path.size() - 5) == ".json")
      j = nlohmann::json::parse(ss.str());
    else
      j = yaml_to_json(YAML::Load(ss.str()));
  } catch (const std::exception& e) {
    DS_THROW("[security config] '", path, "' is not valid YAML/JSON: ", e.what());
  }
  if (j.is_object() && j.contains("security")) j = j["security"];
  return from_json(j, fs::path(path).parent_path().string());
}

ProtectedRun::ProtectedRun(const SecurityConfig& c) : subject_(c.subject) {
  auto policies = std::make_shared<const abac::PolicySet>(abac::PolicySet::load_file(c.policy));
  audit::AuditOptions ao;
  ao.checkpoint_every = c.checkpoint_every;
  log_ = std::make_shared<audit::AuditLog>(c.audit_log, c.audit_key, ao);
  guard_ = std::make_shared<Guard>(policies, log_);
  // From here on every KEK wrap/unwrap leaves a key.use record (and fails without one).
  audit_key_use(log_, subject_id());
  if (!c.kek.empty())
    kek_ = std::make_shared<const hsm::KeyEncryptionKey>(hsm::KeyEncryptionKey::open(c.kek));
  hook_ = std::make_shared<CheckpointProtection>(this, kek_, c.allow_plaintext);
  Guard::install(guard_);
}

ProtectedRun::~ProtectedRun() {
  if (Guard::installed() == guard_) Guard::install(nullptr);
  audit_key_use(nullptr, "");
  try {
    log_->close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[security] closing the audit log failed: %s\n", e.what());
  }
}

std::string ProtectedRun::subject_id() const { return id_of(subject_); }

void ProtectedRun::require(std::string_view action, const std::string& resource) {
  guard_->require(action, resource, subject_);
}

void ProtectedRun::record(std::string_view action, const std::string& resource,
                          std::map<std::string, std::string> attrs) {
  log_->append({subject_id(), std::string(action), resource, std::move(attrs), std::nullopt});
}

}  // namespace deepseek::security
