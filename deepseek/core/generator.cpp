#include "deepseek/core/generator.h"

#include <array>

namespace deepseek {

Generator::State Generator::reserve(uint64_t n_elements) {
  std::lock_guard<std::mutex> lock(mu_);
  State s = state_;
  state_.offset += (n_elements + 3) / 4;
  return s;
}

Generator::State Generator::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void Generator::set_state(State s) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = s;
}

void Generator::manual_seed(uint64_t seed) { set_state(State{seed, 0}); }

namespace {
constexpr int kMaxCuda = 16;
std::array<Generator, 2 + kMaxCuda>& generators() {
  static std::array<Generator, 2 + kMaxCuda> g;
  return g;
}
}  // namespace

Generator& default_generator(Device device) {
  switch (device.type) {
    case DeviceType::cpu: return generators()[0];
    case DeviceType::meta: return generators()[1];
    case DeviceType::cuda: return generators()[2 + (device.index % kMaxCuda)];
  }
  return generators()[0];
}

void manual_seed(uint64_t seed) {
  for (auto& g : generators()) g.manual_seed(seed);
}

}  // namespace deepseek
