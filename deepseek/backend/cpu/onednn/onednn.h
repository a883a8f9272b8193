// oneDNN glue for the CPU kernels: one engine, a stream per thread, an LRU cache of
// primitives keyed by everything that shapes them (dims, strides, dtypes, attrs), a weight
// reorder cache keyed by (storage, version, descriptor), and scratchpads taken from our own
// allocator (scratchpad_mode user) so memory stats count what oneDNN uses.
// The math kernels (matmul, convolution) live beside this file; f64 goes through OpenBLAS
// because oneDNN 2.6 has no f64.
#pragma once

#include <dnnl.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek::cpu::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // one per thread (a CPU stream runs primitives synchronously)

dnnl::memory::data_type to_dnnl(DType t);
dnnl::memory::dims to_dims(const std::vector<int64_t>& v);

// Builds exact cache keys from numbers and strings.
class Key {
 public:
  Key& operator<<(int64_t v) {
    s_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Key& operator<<(double v) {
    s_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Key& operator<<(const std::string& v) {
    s_ += v;
    s_ += '\0';
    return *this;
  }
  Key& operator<<(const char* v) { return *this << std::string(v); }
  Key& operator<<(const std::vector<int64_t>& v) {
    *this << static_cast<int64_t>(v.size());
    for (auto x : v) *this << x;
    return *this;
  }
  Key& operator<<(const dnnl::memory::desc& md);
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t size = 0;
};

// Thread-safe LRU map from key to any cached object (a primitive with its descriptors).
class PrimitiveCache {
 public:
  explicit PrimitiveCache(size_t capacity) : capacity_(capacity) {}
  std::shared_ptr<void> get(const std::string& key, const std::function<std::shared_ptr<void>()>& make);
  CacheStats stats() const;
  void clear();

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<void>>> lru_;  // front = most recent
  std::unordered_map<std::string, decltype(lru_)::iterator> map_;
  int64_t hits_ = 0, misses_ = 0;
};

PrimitiveCache& primitive_cache();
CacheStats primitive_cache_stats();
CacheStats weight_cache_stats();

template <typename T>
std::shared_ptr<T> cached(const Key& key, const std::function<std::shared_ptr<T>()>& make) {
  return std::static_pointer_cast<T>(
      primitive_cache().get(key.str(), [&]() -> std::shared_ptr<void> { return make(); }));
}

// A memory descriptor of a tensor's geometry (its own dims and strides, any rank).
dnnl::memory::desc md_of(const Tensor& t);
dnnl::memory::desc md_of(const Tensor& t, const std::vector<int64_t>& sizes,
                         const std::vector<int64_t>& strides);
dnnl::memory mem(const dnnl::memory::desc& md, const Tensor& t);

// A scratch buffer from our allocator, holding `md`'s bytes; `holder` keeps it alive.
dnnl::memory scratch(const dnnl::memory::desc& md, Tensor& holder);

// Runs `prim` with args, adding a user scratchpad of `pd`'s size (from our allocator).
void execute(const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd,
             std::unordered_map<int, dnnl::memory> args);

// `src` in layout `want`: src itself when it already is, else a reordered copy (cached reorder
// primitive, buffer from our allocator held by `holder`).
dnnl::memory reorder_to(const dnnl::memory& src, const dnnl::memory::desc& want, Tensor& holder);
// Writes `src` into `dst` (different layouts), through a cached reorder primitive.
void reorder_into(const dnnl::memory& src, const dnnl::memory& dst);
// Weights in layout `want`, reordered once per (storage, version, descriptor) and kept;
// `holder` keeps the buffer alive while the caller uses it, even if the cache evicts it.
dnnl::memory cached_weights(const Tensor& w, const dnnl::memory& user, const dnnl::memory::desc& want,
                            Tensor& holder);

// Dense copy of a tensor (any strides) in dtype `to` (converts f16/bf16 <-> f32 too).
Tensor dense_copy(const Tensor& t, DType to);
inline Tensor dense_copy(const Tensor& t) { return dense_copy(t, t.dtype()); }
// Copies src into dst (any strides, same shape, dtype converted).
void copy_into(Tensor& dst, const Tensor& src);

// Name of the implementation oneDNN chose for the last primitive of each kind built, for the
// benchmarks' records ("matmul" -> "gemm:jit", "conv_fwd" -> "jit:avx2", ...).
std::string impl_name(const std::string& kind);
void note_impl(const std::string& kind, const dnnl::primitive_desc_base& pd);
void note_impl(const std::string& kind, const std::string& name);  // a kernel outside oneDNN

}  // namespace deepseek::cpu::onednn
