// Where a tensor lives: cpu, cuda:N, or meta (shape and dtype only, no data — for tracing,
// shape propagation and building models too big to materialize).
#pragma once

#include <cstdint>
#include <string>

namespace deepseek {

enum class DeviceType : uint8_t { cpu, cuda, meta };

struct Device {
  DeviceType type = DeviceType::cpu;
  int8_t index = 0;

  Device() = default;
  Device(DeviceType t, int index = 0) : type(t), index(static_cast<int8_t>(index)) {}
  // "cpu", "meta", "cuda", "cuda:1"; throws on anything else.
  explicit Device(const std::string& spec);

  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool is_meta() const { return type == DeviceType::meta; }
  std::string str() const;
  bool operator==(const Device&) const = default;
};

inline const Device kCPU{DeviceType::cpu};
inline const Device kMeta{DeviceType::meta};

}  // namespace deepseek
