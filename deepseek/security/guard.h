// security::Guard: the one place the framework's sensitive entry points — model load, save,
// export, training start/stop, decryption, key use — ask whether the caller may proceed. It
// evaluates the ABAC policies, appends every decision (permit and deny) to the audit log,
// and throws deepseek::Error on deny, so an entry point is guarded by a single line:
//
//   guard.require(security::action::save, "runs/resnet.ckpt", {{"id", "alice"}, {"role",
//   "researcher"}});
//
// Environment attributes are filled in here (environment.time as Unix seconds,
// environment.hour / environment.weekday in UTC, environment.host), so policies can restrict
// by time and machine. If the audit append fails the operation is denied: nothing sensitive
// happens without a record. A process-wide guard can be installed for layers that cannot
// take one as an argument; with none installed, guard_entry() does nothing.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "deepseek/security/abac/engine.h"
#include "deepseek/security/audit/log.h"

namespace deepseek::security {

namespace action {
inline constexpr const char* load = "model.load";
inline constexpr const char* save = "model.save";
inline constexpr const char* export_model = "model.export";
inline constexpr const char* train_start = "train.start";
inline constexpr const char* train_stop = "train.stop";
inline constexpr const char* decrypt = "data.decrypt";
inline constexpr const char* key_use = "key.use";
}  // namespace action

class Guard {
 public:
  // log may be null only in tests of the policy path; production guards always audit.
  Guard(std::shared_ptr<const abac::PolicySet> policies, std::shared_ptr<audit::AuditLog> log);

  // Decides, audits, returns the decision (no throw on deny).
  abac::Decision check(std::string_view action, const abac::Attributes& resource,
                       const abac::Attributes& subject, const abac::Attributes& environment = {});
  // Decides, audits, throws deepseek::Error "[guard] access denied: ..." on deny.
  void require(std::string_view action, const abac::Attributes& resource,
               const abac::Attributes& subject);
  void require(std::string_view action, const std::string& resource,
               const abac::Attributes& subject) {
    require(action, abac::Attributes{{"id", abac::Value(resource)}}, subject);
  }

  // Swaps the policy set atomically (e.g. after the policy file changed).
  void set_policies(std::shared_ptr<const abac::PolicySet> policies);

  // Process-wide guard used by guard_entry(); nullptr uninstalls.
  static void install(std::shared_ptr<Guard> guard);
  static std::shared_ptr<Guard> installed();

 private:
  std::shared_ptr<const abac::PolicySet> policies() const;
  mutable std::mutex mutex_;
  std::shared_ptr<const abac::PolicySet> policies_;
  std::shared_ptr<audit::AuditLog> log_;
};

// Records every KEK wrap/unwrap (seed unsealing, envelope decryption) in `log` as a
// key.use record by `subject`; nullptr stops. A failed append makes the key use fail.
void audit_key_use(std::shared_ptr<audit::AuditLog> log, std::string subject);

// For entry points below the pillars: if a guard is installed, require(action, resource)
// for the subject named by $DEEPSEEK_SUBJECT (attributes from $DEEPSEEK_SUBJECT_ATTRS,
// "k=v,k=v"), else the OS user name.
void guard_entry(std::string_view action, const std::string& resource);

}  // namespace deepseek::security
