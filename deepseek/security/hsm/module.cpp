#include "deepseek/security/hsm/module.h"

#include <dlfcn.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "deepseek/core/error.h"

namespace deepseek::security::hsm {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::weak_ptr<Module>>& registry() {
  static std::map<std::string, std::weak_ptr<Module>> r;
  return r;
}

}  // namespace

std::shared_ptr<Module> Module::load(const std::string& path) {
  std::lock_guard lock(registry_mutex());
  if (auto existing = registry()[path].lock()) return existing;

  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  DS_CHECK(handle, "[hsm] cannot load PKCS#11 module '", path, "': ", ::dlerror());
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (!get_list) {
    ::dlclose(handle);
    DS_THROW("[hsm] '", path, "' is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || !fn) {
    ::dlclose(handle);
    DS_THROW("[hsm] C_GetFunctionList of '", path, "' failed: ", rv_name(rv));
  }
  // The module may be called from several threads (data loader, trainer); let it use OS locks.
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  bool finalize = true;
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    finalize = false;
  } else if (rv != CKR_OK) {
    ::dlclose(handle);
    DS_THROW(
        "[hsm] C_Initialize of '", path, "' failed: ", rv_name(rv),
        rv == CKR_GENERAL_ERROR ? " (for SoftHSM2, check SOFTHSM2_CONF and its tokendir)" : "");
  }
  std::shared_ptr<Module> m(new Module(path, handle, fn, finalize));
  registry()[path] = m;
  return m;
}

Module::Module(std::string path, void* handle, CK_FUNCTION_LIST* fn, bool finalize)
    : path_(std::move(path)), handle_(handle), fn_(fn), finalize_(finalize) {}

Module::~Module() {
  if (finalize_) fn_->C_Finalize(nullptr);
  // SoftHSM2 registers atexit handlers of its own, so unloading it would leave dangling
  // pointers; the mapping is kept for the life of the process (as p11-kit does).
  (void)handle_;
}

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define DS_RV(x) \
  case x:        \
    return #x;
    DS_RV(CKR_OK)
    DS_RV(CKR_CANCEL)
    DS_RV(CKR_HOST_MEMORY)
    DS_RV(CKR_SLOT_ID_INVALID)
    DS_RV(CKR_GENERAL_ERROR)
    DS_RV(CKR_FUNCTION_FAILED)
    DS_RV(CKR_ARGUMENTS_BAD)
    DS_RV(CKR_ATTRIBUTE_READ_ONLY)
    DS_RV(CKR_ATTRIBUTE_SENSITIVE)
    DS_RV(CKR_ATTRIBUTE_TYPE_INVALID)
    DS_RV(CKR_ATTRIBUTE_VALUE_INVALID)
    DS_RV(CKR_DATA_INVALID)
    DS_RV(CKR_DATA_LEN_RANGE)
    DS_RV(CKR_DEVICE_ERROR)
    DS_RV(CKR_DEVICE_MEMORY)
    DS_RV(CKR_ENCRYPTED_DATA_INVALID)
    DS_RV(CKR_ENCRYPTED_DATA_LEN_RANGE)
    DS_RV(CKR_FUNCTION_NOT_SUPPORTED)
    DS_RV(CKR_KEY_HANDLE_INVALID)
    DS_RV(CKR_KEY_SIZE_RANGE)
    DS_RV(CKR_KEY_TYPE_INCONSISTENT)
    DS_RV(CKR_KEY_FUNCTION_NOT_PERMITTED)
    DS_RV(CKR_KEY_NOT_WRAPPABLE)
    DS_RV(CKR_KEY_UNEXTRACTABLE)
    DS_RV(CKR_MECHANISM_INVALID)
    DS_RV(CKR_MECHANISM_PARAM_INVALID)
    DS_RV(CKR_OBJECT_HANDLE_INVALID)
    DS_RV(CKR_OPERATION_ACTIVE)
    DS_RV(CKR_OPERATION_NOT_INITIALIZED)
    DS_RV(CKR_PIN_INCORRECT)
    DS_RV(CKR_PIN_INVALID)
    DS_RV(CKR_PIN_LEN_RANGE)
    DS_RV(CKR_PIN_LOCKED)
    DS_RV(CKR_SESSION_CLOSED)
    DS_RV(CKR_SESSION_HANDLE_INVALID)
    DS_RV(CKR_SESSION_READ_ONLY)
    DS_RV(CKR_SIGNATURE_INVALID)
    DS_RV(CKR_SIGNATURE_LEN_RANGE)
    DS_RV(CKR_TEMPLATE_INCOMPLETE)
    DS_RV(CKR_TEMPLATE_INCONSISTENT)
    DS_RV(CKR_TOKEN_NOT_PRESENT)
    DS_RV(CKR_TOKEN_NOT_RECOGNIZED)
    DS_RV(CKR_TOKEN_WRITE_PROTECTED)
    DS_RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID)
    DS_RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
    DS_RV(CKR_USER_ALREADY_LOGGED_IN)
    DS_RV(CKR_USER_NOT_LOGGED_IN)
    DS_RV(CKR_USER_PIN_NOT_INITIALIZED)
    DS_RV(CKR_USER_TYPE_INVALID)
    DS_RV(CKR_WRAPPED_KEY_INVALID)
    DS_RV(CKR_WRAPPED_KEY_LEN_RANGE)
    DS_RV(CKR_WRAPPING_KEY_HANDLE_INVALID)
    DS_RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
    DS_RV(CKR_BUFFER_TOO_SMALL)
    DS_RV(CKR_CRYPTOKI_NOT_INITIALIZED)
    DS_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED)
#undef DS_RV
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

void check_rv(CK_RV rv, const char* what) {
  if (rv == CKR_OK) [[likely]]
    return;
  DS_THROW("[hsm] ", what, " failed: ", rv_name(rv));
}

}  // namespace deepseek::security::hsm
