// Embedding lookup and its deterministic backward, and the Philox dropout kernel.
#include <algorithm>
#include <cstring>

#include "deepseek/backend/cpu/vec/vec.h"
#include "deepseek/core/generator.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

// Calls f(const I* indices) with the index tensor's integer type.
template <typename F>
void with_indices(const Tensor& idx, F f) {
  if (idx.dtype() == DType::i64) f(idx.data<int64_t>());
  else f(idx.data<int32_t>());
}

template <typename I>
void check_range(const I* p, int64_t n, int64_t rows, const char* op) {
  for (int64_t i = 0; i < n; ++i)
    DS_CHECK(p[i] >= 0 && p[i] < rows, "[", op, "] index ", static_cast<int64_t>(p[i]),
             " is out of range for ", rows, " embeddings");
}

void embedding_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
  const Tensor& w = in[0];
  int64_t rows = w.sizes()[0], d = w.sizes()[1], n = in[1].numel();
  size_t row_bytes = static_cast<size_t>(d) * w.element_size();
  const char* src = static_cast<const char*>(w.raw_data());
  char* dst = static_cast<char*>(out[0].raw_data());
  with_indices(in[1], [&](const auto* idx) {
    check_range(idx, n, rows, "embedding");  // before the parallel copy: no throw inside it
    parallel_for(0, n, std::max<int64_t>(1, kGrain / std::max<int64_t>(d, 1)), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        std::memcpy(dst + i * row_bytes, src + static_cast<int64_t>(idx[i]) * row_bytes, row_bytes);
    });
  });
}

void embedding_backward_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out,
                               const ops::Attrs& a) {
  const Tensor& g = in[0];
  int64_t rows = out[0].sizes()[0], d = out[0].sizes()[1], n = in[1].numel();
  auto pad = a.optional_int("padding_idx");
  int64_t padding = pad ? *pad : -1;
  visit_floating(g.dtype(), "embedding_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* gp = g.data<T>();
    T* op = out[0].data<T>();
    with_indices(in[1], [&](const auto* idx) {
      check_range(idx, n, rows, "embedding_backward");
      // Each thread owns a column range of every row: deterministic, no atomics.
      int64_t col_grain = std::max<int64_t>(16, kGrain / std::max<int64_t>(n, 1));
      parallel_for(0, d, col_grain, [&](int64_t cb, int64_t ce) {
        int64_t w = ce - cb;
        if constexpr (std::is_same_v<T, V>) {  // f32/f64: accumulate into the output directly
          for (int64_t r = 0; r < rows; ++r) std::fill(op + r * d + cb, op + r * d + ce, T(0));
          for (int64_t i = 0; i < n; ++i) {
            int64_t r = static_cast<int64_t>(idx[i]);
            if (r == padding) continue;
            T* orow = op + r * d + cb;
            const T* gr = gp + i * d + cb;
#pragma omp simd
            for (int64_t j = 0; j < w; ++j) orow[j] += gr[j];
          }
        } else {  // f16/bf16: accumulate in f32
          std::vector<V> acc(static_cast<size_t>(rows) * w, V(0));
          for (int64_t i = 0; i < n; ++i) {
            int64_t r = static_cast<int64_t>(idx[i]);
            if (r == padding) continue;
            V* ar = acc.data() + r * w;
            const T* gr = gp + i * d + cb;
            for (int64_t j = 0; j < w; ++j) ar[j] += static_cast<V>(gr[j]);
          }
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < w; ++j) op[r * d + cb + j] = static_cast<T>(acc[r * w + j]);
        }
      });
    });
  });
}

void dropout_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  double p = a.get<double>("p");
  uint64_t seed = static_cast<uint64_t>(a.get<int64_t>("seed"));
  uint64_t off = static_cast<uint64_t>(a.get<int64_t>("offset"));
  const float threshold = static_cast<float>(p);
  visit_floating(in[0].dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const V scale = p < 1 ? static_cast<V>(1.0 / (1.0 - p)) : V(0);
    const T* src = in[0].data<T>();
    T* dst = out[0].data<T>();
    int64_t n = in[0].numel();
    // Chunks start at multiples of 4 so every Philox block is computed once.
    parallel_for(0, (n + 3) / 4, kGrain / 4, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        auto bits = Philox::block(seed, off + static_cast<uint64_t>(blk));
        int64_t base = blk * 4;
        for (int lane = 0; lane < 4 && base + lane < n; ++lane) {
          bool keep = Philox::uniform(bits[lane]) >= threshold;
          dst[base + lane] = keep ? static_cast<T>(static_cast<V>(src[base + lane]) * scale) : T(0);
        }
      }
    });
  });
}

}  // namespace

void register_nn_kernels() {
  reg("embedding", embedding_kernel);
  reg("embedding_backward", embedding_backward_kernel);
  reg("dropout", dropout_kernel);
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
