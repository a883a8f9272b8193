#include "deepseek/core/device.h"

#include "deepseek/core/error.h"

namespace deepseek {

Device::Device(const std::string& spec) {
  if (spec == "cpu") { type = DeviceType::cpu; return; }
  if (spec == "meta") { type = DeviceType::meta; return; }
  if (spec.rfind("cuda", 0) == 0) {
    type = DeviceType::cuda;
    if (spec.size() == 4) return;
    DS_CHECK(spec[4] == ':' && spec.size() > 5 && spec.size() <= 8 &&
                 spec.find_first_not_of("0123456789", 5) == std::string::npos,
             "bad device '", spec, "': expected cpu, meta, cuda or cuda:N");
    index = static_cast<int8_t>(std::stoi(spec.substr(5)));
    return;
  }
  DS_THROW("bad device '", spec, "': expected cpu, meta, cuda or cuda:N");
}

std::string Device::str() const {
  switch (type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::meta: return "meta";
    case DeviceType::cuda: return "cuda:" + std::to_string(index);
  }
  return "?";
}

}  // namespace deepseek
