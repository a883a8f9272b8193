// A buffer shared by a tensor and all of its views. It owns the version counter, so an
// in-place write through any alias is seen by autograd when it checks saved tensors.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "deepseek/core/allocator.h"
#include "deepseek/core/device.h"

namespace deepseek {

class Storage {
 public:
  // Allocates nbytes on `device` (no memory for meta).
  Storage(size_t nbytes, Device device);
  // Wraps memory owned elsewhere (a memory-mapped file, a DLPack tensor); `release` runs
  // when the last tensor using it is gone.
  Storage(void* data, size_t nbytes, Device device, std::function<void()> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
  std::function<void()> release_;
  std::atomic<uint32_t> version_{0};
};

}  // namespace deepseek
