#include "tests/security/scratch_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>

namespace deepseek::security::testing {
namespace {

std::unique_ptr<hsm::ScratchToken>& token() {
  static std::unique_ptr<hsm::ScratchToken> t;
  return t;
}

std::string& temp_dir() {
  static std::string d;
  return d;
}

class ScratchEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    token().reset();
    if (!temp_dir().empty()) std::filesystem::remove_all(temp_dir());
  }
};

[[maybe_unused]] auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ScratchEnvironment);

}  // namespace

const hsm::ScratchToken& scratch() {
  if (!token()) token() = std::make_unique<hsm::ScratchToken>("deepseek-test");
  return *token();
}

std::string temp_path(const std::string& name) {
  static std::atomic<int> counter{0};
  if (temp_dir().empty()) {
    std::string templ =
        (std::filesystem::temp_directory_path() / "deepseek-sec-test-XXXXXX").string();
    if (::mkdtemp(templ.data())) temp_dir() = templ;
  }
  return temp_dir() + "/" + std::to_string(counter++) + "-" + name;
}

}  // namespace deepseek::security::testing
