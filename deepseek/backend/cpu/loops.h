// Elementwise loops over any strides and broadcasting. An ElementwisePlan sorts dims into the
// output's memory order, drops size-1 dims and merges dims that are contiguous for every
// operand, so most calls end in one flat loop that the compiler vectorizes; the rest walk
// rows of the innermost dim. Work is split over OpenMP threads by parallel_for.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "deepseek/core/parallel.h"
#include "deepseek/core/tensor.h"

namespace deepseek::cpu {

inline constexpr int64_t kGrain = 32768;  // elements per thread chunk, at least

template <int N>  // N operands: output(s) first, then inputs
struct ElementwisePlan {
  int ndim = 0;
  std::array<int64_t, 16> sizes{};
  std::array<std::array<int64_t, 16>, N> strides{};  // bytes; dims innermost-last
  std::array<char*, N> base{};
  int64_t numel = 1;

  // Every operand must have `shape` after broadcasting (inputs may have fewer dims).
  ElementwisePlan(const std::array<const Tensor*, N>& ops, const Shape& shape) {
    int64_t nd = static_cast<int64_t>(shape.size());
    DS_CHECK(nd <= 16, "tensors of more than 16 dims are not supported");
    numel = deepseek::numel(shape);
    std::vector<std::array<int64_t, N>> st(nd);
    for (int k = 0; k < N; ++k) {
      const Tensor& t = *ops[k];
      base[k] = static_cast<char*>(t.raw_data());
      int64_t es = static_cast<int64_t>(t.element_size());
      int64_t lead = nd - t.dim();
      for (int64_t d = 0; d < nd; ++d) {
        int64_t td = d - lead;
        st[d][k] = (td < 0 || t.sizes()[td] == 1) ? 0 : t.strides()[td] * es;
      }
    }
    // Order dims by the output's strides (largest first) so iteration follows its memory.
    std::vector<int64_t> order(nd);
    for (int64_t i = 0; i < nd; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return std::abs(st[a][0]) > std::abs(st[b][0]);
    });
    for (int64_t i : order) {
      if (shape[i] == 1) continue;
      if (ndim > 0) {  // merge with the previous (outer) dim when contiguous for all operands
        bool merge = true;
        for (int k = 0; k < N; ++k)
          if (strides[k][ndim - 1] != st[i][k] * shape[i]) merge = false;
        if (merge) {
          sizes[ndim - 1] *= shape[i];
          for (int k = 0; k < N; ++k) strides[k][ndim - 1] = st[i][k];
          continue;
        }
      }
      sizes[ndim] = shape[i];
      for (int k = 0; k < N; ++k) strides[k][ndim] = st[i][k];
      ++ndim;
    }
  }

  // Calls loop(ptrs, inner_strides, n) over rows of the innermost dim, in parallel.
  template <typename Loop>
  void run(Loop&& loop, int64_t grain = kGrain) const {
    if (numel == 0) return;
    if (ndim == 0) {
      std::array<char*, N> p = base;
      std::array<int64_t, N> s{};
      loop(p.data(), s.data(), 1);
      return;
    }
    int64_t inner = sizes[ndim - 1];
    std::array<int64_t, N> inner_st;
    for (int k = 0; k < N; ++k) inner_st[k] = strides[k][ndim - 1];
    parallel_for(0, numel, grain, [&](int64_t begin, int64_t end) {
      // Position of `begin` as a multi-index over the outer dims plus an inner offset.
      int64_t pos = begin;
      std::array<int64_t, 16> idx{};
      int64_t in0 = pos % inner;
      int64_t rest = pos / inner;
      for (int d = ndim - 2; d >= 0; --d) {
        idx[d] = rest % sizes[d];
        rest /= sizes[d];
      }
      while (pos < end) {
        std::array<char*, N> p;
        for (int k = 0; k < N; ++k) {
          int64_t off = in0 * inner_st[k];
          for (int d = 0; d < ndim - 1; ++d) off += idx[d] * strides[k][d];
          p[k] = base[k] + off;
        }
        int64_t n = std::min(inner - in0, end - pos);
        loop(p.data(), inner_st.data(), n);
        pos += n;
        in0 = 0;
        for (int d = ndim - 2; d >= 0; --d) {
          if (++idx[d] < sizes[d]) break;
          idx[d] = 0;
        }
      }
    });
  }
};

// out[i] = f(in0[i], in1[i], ...) with typed operands; the contiguous and scalar-broadcast
// cases are plain loops over pointers so they vectorize.
template <typename Out, typename... In, typename F, size_t... I>
inline void basic_loop_impl(char** p, const int64_t* s, int64_t n, F& f,
                            std::index_sequence<I...>) {
  constexpr int N = 1 + sizeof...(In);
  bool contiguous = s[0] == sizeof(Out) && ((s[I + 1] == sizeof(In)) && ...);
  if (contiguous) {
    Out* __restrict o = reinterpret_cast<Out*>(p[0]);
    auto ins = std::make_tuple(reinterpret_cast<const In* __restrict>(p[I + 1])...);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = f(std::get<I>(ins)[i]...);
    return;
  }
  bool scalar_or_contig = s[0] == sizeof(Out) && (((s[I + 1] == sizeof(In)) || s[I + 1] == 0) && ...);
  if (scalar_or_contig && N <= 4) {
    Out* __restrict o = reinterpret_cast<Out*>(p[0]);
    auto ins = std::make_tuple(reinterpret_cast<const In*>(p[I + 1])...);
    auto at = [&](auto ptr, int64_t stride, int64_t i) { return stride ? ptr[i] : ptr[0]; };
    for (int64_t i = 0; i < n; ++i) o[i] = f(at(std::get<I>(ins), s[I + 1], i)...);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    *reinterpret_cast<Out*>(p[0] + i * s[0]) =
        f(*reinterpret_cast<const In*>(p[I + 1] + i * s[I + 1])...);
  }
}

// Runs out = f(inputs...) elementwise. Inputs broadcast to out's shape and have the dtypes
// In...; out has dtype Out. f takes and returns storage types (convert inside for f16).
template <typename Out, typename... In, typename F>
void elementwise(Tensor& out, const std::array<const Tensor*, sizeof...(In)>& in, F f) {
  std::array<const Tensor*, 1 + sizeof...(In)> ops;
  ops[0] = &out;
  for (size_t i = 0; i < sizeof...(In); ++i) ops[i + 1] = in[i];
  ElementwisePlan<1 + sizeof...(In)> plan(ops, out.sizes());
  plan.run([&](char** p, const int64_t* s, int64_t n) {
    basic_loop_impl<Out, In...>(p, s, n, f, std::index_sequence_for<In...>{});
  });
}

}  // namespace deepseek::cpu
