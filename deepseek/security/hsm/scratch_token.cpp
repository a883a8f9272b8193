#include "deepseek/security/hsm/scratch_token.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "deepseek/core/error.h"

namespace deepseek::security::hsm {

ScratchToken::ScratchToken(std::string label, bool provision_keys)
    : label_(std::move(label)),
      module_("/usr/lib/softhsm/libsofthsm2.so"),
      pin_("1234"),
      so_pin_("5678") {
  DS_CHECK(std::filesystem::exists(module_), "[hsm] SoftHSM2 is not installed (", module_,
           " missing; apt-get install softhsm2)");
  std::string templ = (std::filesystem::temp_directory_path() / "deepseek-softhsm-XXXXXX").string();
  DS_CHECK(::mkdtemp(templ.data()), "[hsm] cannot create a temporary token folder");
  dir_ = templ;
  std::filesystem::create_directories(dir_ + "/tokens");
  {
    std::ofstream conf(dir_ + "/softhsm2.conf");
    conf << "directories.tokendir = " << dir_ << "/tokens\n"
         << "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n";
  }
  if (const char* old = std::getenv("SOFTHSM2_CONF")) {
    had_old_conf_ = true;
    old_conf_ = old;
  }
  ::setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
  Session::init_token(module_, label_, so_pin_, pin_);
  session_ = Session::open(Pkcs11Uri::parse(uri("kek")));
  if (provision_keys) {
    session_->generate_aes_kek("kek", {0x01});
    session_->generate_ec_p256_keypair("audit", {0x02});
  }
}

ScratchToken::~ScratchToken() {
  session_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (had_old_conf_)
    ::setenv("SOFTHSM2_CONF", old_conf_.c_str(), 1);
  else
    ::unsetenv("SOFTHSM2_CONF");
}

std::string ScratchToken::uri(const std::string& object) const {
  return "pkcs11:token=" + label_ + ";object=" + object + "?pin-value=" + pin_ +
         "&module-path=" + module_;
}

std::string ScratchToken::uri_without_pin(const std::string& object) const {
  return "pkcs11:token=" + label_ + ";object=" + object + "?module-path=" + module_;
}

void ScratchToken::add_token(const std::string& label) const {
  Session::init_token(module_, label, so_pin_, pin_);
}

}  // namespace deepseek::security::hsm
