// The throwaway SoftHSM2 token every test_security test shares: created on first use, removed
// by a GoogleTest environment's TearDown (before exit, while SoftHSM2 is still alive).
#pragma once

#include "deepseek/security/hsm/scratch_token.h"

namespace deepseek::security::testing {

const hsm::ScratchToken& scratch();
std::string temp_path(const std::string& name);  // a fresh path in a per-process temp folder

}  // namespace deepseek::security::testing
