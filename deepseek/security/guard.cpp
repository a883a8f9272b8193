#include "deepseek/security/guard.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/kek.h"

namespace deepseek::security {
namespace {

std::mutex& installed_mutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<Guard>& installed_guard() {
  static std::shared_ptr<Guard> g;
  return g;
}

std::string id_of(const abac::Attributes& a, const char* fallback) {
  auto it = a.find("id");
  if (it == a.end()) return fallback;
  return it->second.kind() == abac::Value::Kind::string ? it->second.as_string()
                                                        : it->second.to_string();
}

}  // namespace

Guard::Guard(std::shared_ptr<const abac::PolicySet> policies, std::shared_ptr<audit::AuditLog> log)
    : policies_(std::move(policies)), log_(std::move(log)) {
  DS_CHECK(policies_, "[guard] a policy set is required");
}

std::shared_ptr<const abac::PolicySet> Guard::policies() const {
  std::lock_guard lock(mutex_);
  return policies_;
}

void Guard::set_policies(std::shared_ptr<const abac::PolicySet> p) {
  DS_CHECK(p, "[guard] a policy set is required");
  std::lock_guard lock(mutex_);
  policies_ = std::move(p);
}

abac::Decision Guard::check(std::string_view action, const abac::Attributes& resource,
                            const abac::Attributes& subject, const abac::Attributes& environment) {
  abac::Request req{subject, resource, environment, std::string(action)};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm;
  gmtime_r(&t, &tm);
  req.environment.try_emplace("time", static_cast<std::int64_t>(t));
  req.environment.try_emplace("hour", static_cast<std::int64_t>(tm.tm_hour));
  req.environment.try_emplace("weekday", static_cast<std::int64_t>(tm.tm_wday));
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0)
    req.environment.try_emplace("host", std::string(host));

  abac::Decision d = abac::evaluate(*policies(), req);
  if (log_) {
    audit::Entry e{id_of(subject, "<anonymous>"),
                   std::string(action),
                   id_of(resource, "<unnamed>"),
                   {},
                   d.permit ? "permit" : "deny"};
    std::string by, errors;
    for (auto& p : d.determining) by += (by.empty() ? "" : ",") + p;
    for (auto& er : d.errors)
      errors += (errors.empty() ? "" : "; ") + er.policy + ": " + er.message;
    e.attrs["policies"] = d.by_default ? "<default deny>" : by;
    if (!errors.empty()) e.attrs["policy_errors"] = errors;
    try {
      log_->append(std::move(e));
    } catch (const Error& ex) {
      // No record, no access: a failing audit trail must not be a way around it.
      d.permit = false;
      d.determining = {"<audit failure>"};
      d.errors.push_back({"<audit>", abac::Effect::forbid, ex.what()});
    }
  }
  return d;
}

void Guard::require(std::string_view action, const abac::Attributes& resource,
                    const abac::Attributes& subject) {
  abac::Decision d = check(action, resource, subject);
  if (d.permit) return;
  DS_THROW("[guard] access denied: '", id_of(subject, "<anonymous>"), "' may not ", action, " '",
           id_of(resource, "<unnamed>"), "': ", d.summary());
}

void Guard::install(std::shared_ptr<Guard> guard) {
  std::lock_guard lock(installed_mutex());
  installed_guard() = std::move(guard);
}

std::shared_ptr<Guard> Guard::installed() {
  std::lock_guard lock(installed_mutex());
  return installed_guard();
}

void audit_key_use(std::shared_ptr<audit::AuditLog> log, std::string subject) {
  if (!log) {
    hsm::set_key_use_observer(nullptr);
    return;
  }
  hsm::set_key_use_observer([log, subject](std::string_view op, const std::string& key) {
    log->append({subject, action::key_use, key, {{"operation", std::string(op)}}, std::nullopt});
  });
}

void guard_entry(std::string_view action, const std::string& resource) {
  auto g = Guard::installed();
  if (!g) return;
  abac::Attributes subject;
  if (const char* attrs = std::getenv("DEEPSEEK_SUBJECT_ATTRS"))
    abac::parse_attribute_args(attrs, subject);
  if (const char* s = std::getenv("DEEPSEEK_SUBJECT")) {
    subject["id"] = abac::Value(std::string(s));
  } else if (!subject.count("id")) {
    if (passwd* pw = ::getpwuid(::getuid())) subject["id"] = abac::Value(std::string(pw->pw_name));
  }
  g->require(action, resource, subject);
}

}  // namespace deepseek::security
