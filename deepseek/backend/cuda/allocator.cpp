// Device memory from the CUDA runtime's stream-ordered pools (cudaMallocAsync): the pool
// caches freed blocks itself, and its release threshold is raised so memory is not handed
// back to the driver at every synchronization. A block is freed on the stream it was
// allocated on; streams that also used it (record_stream) are made to wait first, so the
// memory is never reused while their work is in flight. We keep our own allocated/peak
// counts; reserved comes from the pool.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "deepseek/backend/cuda/runtime.h"
#include "deepseek/core/allocator.h"

namespace deepseek::cuda {
namespace {

struct Block {
  size_t size;
  int device;
  cudaStream_t stream;
  std::vector<cudaStream_t> used_by;  // other streams (record_stream)
};

class CudaAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    int dev = current_device();
    prepare_pool(dev);
    cudaStream_t s = current_stream(dev);
    void* p = nullptr;
    cudaError_t err = cudaMallocAsync(&p, nbytes, s);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      // Out of memory: return cached pool memory to the driver and try once more.
      DS_CUDA_CHECK(cudaDeviceSynchronize());
      cudaMemPool_t pool;
      DS_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
      DS_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
      err = cudaMallocAsync(&p, nbytes, s);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      (void)cudaMemGetInfo(&free_b, &total_b);
      DS_THROW("CUDA out of memory on cuda:", dev, " allocating ", nbytes, " bytes (",
               free_b >> 20, " MiB free of ", total_b >> 20, " MiB; ", stats_[dev].allocated >> 20,
               " MiB held by tensors)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    blocks_[p] = Block{nbytes, dev, s, {}};
    auto& st = stats_[dev];
    st.allocated += static_cast<int64_t>(nbytes);
    st.num_allocs += 1;
    if (st.allocated > st.peak_allocated) st.peak_allocated = st.allocated;
    return p;
  }

  void deallocate(void* ptr, size_t) override {
    Block b;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = blocks_.find(ptr);
      if (it == blocks_.end()) return;
      b = std::move(it->second);
      blocks_.erase(it);
      stats_[b.device].allocated -= static_cast<int64_t>(b.size);
    }
    int prev = -1;
    (void)cudaGetDevice(&prev);
    if (prev != b.device) (void)cudaSetDevice(b.device);
    for (cudaStream_t other : b.used_by) {
      cudaEvent_t ev;
      if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) != cudaSuccess) continue;
      (void)cudaEventRecord(ev, other);
      (void)cudaStreamWaitEvent(b.stream, ev, 0);
      (void)cudaEventDestroy(ev);  // released once the wait is satisfied
    }
    (void)cudaFreeAsync(ptr, b.stream);  // destructors never throw
    if (prev != b.device && prev >= 0) (void)cudaSetDevice(prev);
  }

  void record_stream(void* ptr, cudaStream_t s) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find(ptr);
    DS_CHECK(it != blocks_.end(), "record_stream: not memory of the CUDA allocator");
    if (s == it->second.stream) return;
    for (auto u : it->second.used_by)
      if (u == s) return;
    it->second.used_by.push_back(s);
  }

  MemoryStats stats() const override {
    int dev = device_count() ? current_device() : 0;
    std::lock_guard<std::mutex> lock(mu_);
    MemoryStats st = stats_[dev];
    cudaMemPool_t pool;
    uint64_t reserved = 0;
    if (device_count() && cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess &&
        cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved) == cudaSuccess)
      st.reserved = static_cast<int64_t>(reserved);
    return st;
  }

  void reset_peak() override {
    int dev = current_device();
    std::lock_guard<std::mutex> lock(mu_);
    stats_[dev].peak_allocated = stats_[dev].allocated;
  }

  void empty_cache() override {
    if (!device_count()) return;
    int dev = current_device();
    DS_CUDA_CHECK(cudaDeviceSynchronize());
    cudaMemPool_t pool;
    DS_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
    DS_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
  }

 private:
  void prepare_pool(int dev) {
    static std::once_flag once[64];
    std::call_once(once[dev], [dev] {
      cudaMemPool_t pool;
      DS_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
      uint64_t keep = UINT64_MAX;  // keep freed memory cached in the pool
      DS_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    });
  }

  mutable std::mutex mu_;
  std::unordered_map<void*, Block> blocks_;
  MemoryStats stats_[64];
};

CudaAllocator& cuda_allocator() {
  static auto* a = new CudaAllocator;  // immortal: tensors may be freed during exit
  return *a;
}

// Page-locked host blocks are slow to get (cudaHostAlloc maps them for the device), so
// freed ones are cached by size for the next batch.
class PinnedCache {
 public:
  void* get(size_t n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(n);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    void* p = nullptr;
    DS_CUDA_CHECK(cudaHostAlloc(&p, n, cudaHostAllocDefault));
    return p;
  }
  void put(void* p, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    free_[n].push_back(p);
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
};

PinnedCache& pinned_cache() {
  static auto* c = new PinnedCache;
  return *c;
}

struct RegisterAllocator {
  RegisterAllocator() { register_allocator(DeviceType::cuda, &cuda_allocator()); }
} register_allocator_at_load;

}  // namespace

void record_stream(const Tensor& t, cudaStream_t stream) {
  DS_CHECK(t.defined() && t.device().is_cuda(), "record_stream needs a CUDA tensor");
  cuda_allocator().record_stream(t.storage()->data(), stream);
}

Tensor pin_memory(const Tensor& cpu_tensor) {
  DS_CHECK(cpu_tensor.defined() && cpu_tensor.device().is_cpu(),
           "pin_memory needs a CPU tensor, got ", cpu_tensor.to_string());
  DS_CHECK(device_count() > 0, "pin_memory needs a CUDA device");
  Tensor src = cpu_tensor.contiguous();
  size_t n = std::max<size_t>(src.nbytes(), 1);
  void* p = pinned_cache().get(n);
  auto storage = std::make_shared<Storage>(p, n, kCPU, [p, n] { pinned_cache().put(p, n); });
  Tensor out = Tensor::make(storage, src.sizes(), src.strides(), 0, src.dtype());
  if (src.nbytes()) std::memcpy(p, src.raw_data(), src.nbytes());
  return out;
}

bool is_pinned(const Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || !t.storage()->data() || device_count() == 0)
    return false;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, t.storage()->data()) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

}  // namespace deepseek::cuda
