// A PKCS#11 module (the vendor's .so, SoftHSM2 in tests) loaded with dlopen and initialized
// once per process. PKCS#11 allows one C_Initialize per process and module, so modules are
// shared: every Session on the same module path holds the same Module, and C_Finalize runs
// when the last one goes away. Also turns CK_RV codes into deepseek::Error with their names.
#pragma once

#include <p11-kit-1/p11-kit/pkcs11.h>

#include <memory>
#include <string>

namespace deepseek::security::hsm {

class Module {
 public:
  // Loads (or returns the already loaded) module at `path`; throws if it cannot be opened or
  // does not export C_GetFunctionList.
  static std::shared_ptr<Module> load(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }

 private:
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn, bool finalize);
  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
  bool finalize_;  // false when someone else in the process had already initialized it
};

// The symbolic name of a return value ("CKR_PIN_INCORRECT"), or its hex value.
std::string rv_name(CK_RV rv);

// Throws deepseek::Error "[hsm] <what> failed: CKR_..." unless rv == CKR_OK.
void check_rv(CK_RV rv, const char* what);

}  // namespace deepseek::security::hsm
