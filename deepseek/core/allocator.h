// Memory for tensors. Each device has an Allocator; the CPU one hands out 64-byte aligned
// blocks and keeps freed blocks in size buckets for reuse, because training allocates the
// same sizes every step. All allocators report allocated, reserved and peak bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "deepseek/core/device.h"

namespace deepseek {

struct MemoryStats {
  int64_t allocated = 0;       // bytes in live blocks
  int64_t reserved = 0;        // bytes held from the system (live + cached)
  int64_t peak_allocated = 0;  // high-water mark of `allocated` since the last reset
  int64_t num_allocs = 0;      // allocation calls served
  int64_t cache_hits = 0;      // of those, served from the cache
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  virtual void empty_cache() = 0;  // return cached blocks to the system
};

// The allocator for a device type; CUDA registers its own at start-up.
Allocator* allocator_for(Device device);
void register_allocator(DeviceType type, Allocator* allocator);

MemoryStats memory_stats(Device device = Device{});
void reset_peak_memory(Device device = Device{});
void empty_cache(Device device = Device{});

}  // namespace deepseek
