// Reduction kernels. The input's dims are split into kept dims (one output element each) and
// reduced dims, both coalesced. Three loops cover the layouts: reduced elements contiguous
// (inner loop with SIMD accumulators), kept dim contiguous (accumulate whole rows, which
// vectorizes across outputs), and a general strided walk. A reduction to few outputs is split
// over threads along the reduced range and merged in a fixed order (deterministic).
#include <cmath>
#include <limits>
#include <memory>

#include "deepseek/backend/cpu/vec/vec.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

struct Dims {
  std::vector<int64_t> sizes, strides;  // in elements, outermost first
};

// Coalesce dims (outermost first) that are contiguous with each other.
Dims coalesce(Dims d) {
  Dims r;
  for (size_t i = 0; i < d.sizes.size(); ++i) {
    if (d.sizes[i] == 1) continue;
    if (!r.sizes.empty() && r.strides.back() == d.strides[i] * d.sizes[i]) {
      r.sizes.back() *= d.sizes[i];
      r.strides.back() = d.strides[i];
    } else {
      r.sizes.push_back(d.sizes[i]);
      r.strides.push_back(d.strides[i]);
    }
  }
  return r;
}

int64_t offset_of(int64_t linear, const Dims& d) {
  int64_t off = 0;
  for (int64_t i = static_cast<int64_t>(d.sizes.size()) - 1; i >= 0; --i) {
    off += (linear % d.sizes[i]) * d.strides[i];
    linear /= d.sizes[i];
  }
  return off;
}

// Reducer concept: Acc init(); Acc step(Acc, V); Acc merge(Acc, Acc); Out finish(Acc, n).
template <typename V> struct SumR {
  using Acc = V;
  static Acc init() { return V(0); }
  static Acc step(Acc a, V x) { return a + x; }
  static Acc merge(Acc a, Acc b) { return a + b; }
  static constexpr bool simd_sum = true;
};
template <typename V> struct ProdR {
  using Acc = V;
  static Acc init() { return V(1); }
  static Acc step(Acc a, V x) { return a * x; }
  static Acc merge(Acc a, Acc b) { return a * b; }
  static constexpr bool simd_sum = false;
};
template <typename V> struct MaxR {
  using Acc = V;
  static Acc init() { return std::numeric_limits<V>::has_infinity ? -std::numeric_limits<V>::infinity() : std::numeric_limits<V>::lowest(); }
  static Acc step(Acc a, V x) { return (x != x || a != a) ? (a != a ? a : x) : (x > a ? x : a); }
  static Acc merge(Acc a, Acc b) { return step(a, b); }
  static constexpr bool simd_sum = false;
};
template <typename V> struct MinR {
  using Acc = V;
  static Acc init() { return std::numeric_limits<V>::has_infinity ? std::numeric_limits<V>::infinity() : std::numeric_limits<V>::max(); }
  static Acc step(Acc a, V x) { return (x != x || a != a) ? (a != a ? a : x) : (x < a ? x : a); }
  static Acc merge(Acc a, Acc b) { return step(a, b); }
  static constexpr bool simd_sum = false;
};
struct AnyR {
  using Acc = bool;
  static Acc init() { return false; }
  template <typename V> static Acc step(Acc a, V x) { return a || (x != V(0)); }
  static Acc merge(Acc a, Acc b) { return a || b; }
  static constexpr bool simd_sum = false;
};
struct AllR {
  using Acc = bool;
  static Acc init() { return true; }
  template <typename V> static Acc step(Acc a, V x) { return a && (x != V(0)); }
  static Acc merge(Acc a, Acc b) { return a && b; }
  static constexpr bool simd_sum = false;
};

// Floating sums use a fixed cascade so a result does not depend on the thread count or the
// CPU capability: blocks of kSumBlock elements, each summed in kSumLanes independent lanes
// (lane j takes elements j, j + kSumLanes, ...; the compiler maps the lanes onto SIMD
// registers, several independent chains, without reassociating anything), the lanes folded
// by a fixed tree, and the block sums added in f64 in block order.
inline constexpr int64_t kSumBlock = 4096;
inline constexpr int kSumLanes = 32;

template <typename T, typename V> V sum_block(const T* p, int64_t n) {
  V acc[kSumLanes] = {};
  int64_t k = 0;
  for (; k + kSumLanes <= n; k += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) acc[j] += static_cast<V>(p[k + j]);
  for (int j = 0; k + j < n; ++j) acc[j] += static_cast<V>(p[k + j]);
  for (int w = kSumLanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

// Sum of blocks [b0, b1) of a contiguous range of n values, in f64, in block order.
template <typename T, typename V> double sum_blocks(const T* p, int64_t n, int64_t b0, int64_t b1) {
  double total = 0;
  for (int64_t b = b0; b < b1; ++b) {
    int64_t s = b * kSumBlock;
    total += static_cast<double>(sum_block<T, V>(p + s, std::min(kSumBlock, n - s)));
  }
  return total;
}

// The same cascade fed by contiguous pieces in reduction order (a sum over N, H, W of NCHW
// arrives as runs of H*W): element k goes to lane k mod kSumLanes of block k / kSumBlock, so
// the additions are exactly those of sum_block over the whole range.
template <typename T, typename V> struct LaneCascade {
  V acc[kSumLanes] = {};
  int64_t k = 0;  // position inside the current block
  double total = 0;
  void push(const T* p, int64_t m) {
    V a[kSumLanes];  // a local copy the compiler keeps in registers (p may alias a member)
    for (int j = 0; j < kSumLanes; ++j) a[j] = acc[j];
    while (m > 0) {
      const int64_t take = std::min(m, kSumBlock - k);
      int64_t i = 0;
      int l = static_cast<int>(k % kSumLanes);
      for (; i < take && l != 0; ++i, l = (l + 1) % kSumLanes) a[l] += static_cast<V>(p[i]);
      for (; i + kSumLanes <= take; i += kSumLanes)
        for (int j = 0; j < kSumLanes; ++j) a[j] += static_cast<V>(p[i + j]);
      for (int j = 0; i < take; ++i, ++j) a[j] += static_cast<V>(p[i]);
      k += take;
      p += take;
      m -= take;
      if (k == kSumBlock) {
        for (int j = 0; j < kSumLanes; ++j) acc[j] = a[j];
        flush();
        for (int j = 0; j < kSumLanes; ++j) a[j] = 0;
      }
    }
    for (int j = 0; j < kSumLanes; ++j) acc[j] = a[j];
  }
  void flush() {
    for (int w = kSumLanes / 2; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    total += static_cast<double>(acc[0]);
    for (int j = 0; j < kSumLanes; ++j) acc[j] = 0;
    k = 0;
  }
  double finish() {
    if (k > 0) flush();
    return total;
  }
};

// The same cascade over any walk: get(k) is the k-th value in reduction order.
template <typename V, typename Get> double sum_cascade(int64_t n, Get get) {
  double total = 0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t e = std::min(n, b + kSumBlock);
    V acc[kSumLanes] = {};
    for (int64_t k = b; k < e; ++k) acc[(k - b) % kSumLanes] += get(k);
    for (int w = kSumLanes / 2; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    total += static_cast<double>(acc[0]);
  }
  return total;
}

// Reduce n contiguous values starting at p.
template <typename R, typename T, typename V>
typename R::Acc reduce_contiguous(const T* p, int64_t n) {
  using Acc = typename R::Acc;
  if constexpr (R::simd_sum && std::is_floating_point_v<Acc>) {
    return static_cast<Acc>(sum_blocks<T, V>(p, n, 0, (n + kSumBlock - 1) / kSumBlock));
  } else {
    Acc a = R::init();
    for (int64_t i = 0; i < n; ++i) a = R::step(a, static_cast<V>(p[i]));
    return a;
  }
}

// out (contiguous, numel = product of kept sizes) = reduce of in over `mask` dims.
// Finish(acc, count) -> Out.
template <typename R, typename T, typename V, typename Out, typename Finish>
void reduce(const Tensor& in, Tensor& out, const std::vector<bool>& mask, Finish finish) {
  Dims kept, red;
  for (int64_t i = 0; i < in.dim(); ++i) {
    (mask[i] ? red : kept).sizes.push_back(in.sizes()[i]);
    (mask[i] ? red : kept).strides.push_back(in.strides()[i]);
  }
  int64_t n_out = numel(kept.sizes), n_red = numel(red.sizes);
  Dims kc = coalesce(kept), rc = coalesce(red);
  const T* src = in.data<T>();
  Out* dst = out.data<Out>();
  using Acc = typename R::Acc;
  if (n_out == 0) return;
  if (n_red == 0) {
    for (int64_t o = 0; o < n_out; ++o) dst[o] = finish(R::init(), 0);
    return;
  }
  bool red_contig = rc.sizes.size() <= 1 && (rc.sizes.empty() || rc.strides[0] == 1);

  // Few outputs, long contiguous reductions: split the reduced range over threads.
  if (red_contig && n_out < num_threads() * 2 && n_red >= 4 * kGrain) {
    for (int64_t o = 0; o < n_out; ++o) {
      const T* p = src + offset_of(o, kc);
      if constexpr (R::simd_sum && std::is_floating_point_v<Acc>) {
        // One f64 per block, added in block order afterwards: the same value as the serial
        // cascade whatever the thread count.
        int64_t nb = (n_red + kSumBlock - 1) / kSumBlock;
        std::vector<double> blocks(nb);
        parallel_for(0, nb, 1, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) blocks[i] = sum_blocks<T, V>(p, n_red, i, i + 1);
        });
        double total = 0;
        for (double v : blocks) total += v;
        dst[o] = finish(static_cast<Acc>(total), n_red);
      } else {
        int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(num_threads(), n_red / kGrain));
        std::vector<Acc> partial(chunks, R::init());
        int64_t per = (n_red + chunks - 1) / chunks;
        parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c) {
            int64_t s = c * per, t = std::min(n_red, s + per);
            if (s < t) partial[c] = reduce_contiguous<R, T, V>(p + s, t - s);
          }
        });
        Acc acc = partial[0];
        for (int64_t c = 1; c < chunks; ++c) acc = R::merge(acc, partial[c]);
        dst[o] = finish(acc, n_red);
      }
    }
    return;
  }
  if (red_contig) {
    parallel_for(0, n_out, std::max<int64_t>(1, kGrain / n_red), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o)
        dst[o] = finish(reduce_contiguous<R, T, V>(src + offset_of(o, kc), n_red), n_red);
    });
    return;
  }
  // Kept innermost dim contiguous in the input: accumulate rows into a vector of outputs
  // (vectorizes across outputs). Each element still adds its rows one after another in row
  // order; four rows go through registers per pass over the accumulator.
  if (!kc.sizes.empty() && kc.strides.back() == 1) {
    int64_t row = kc.sizes.back();
    Dims outer{std::vector<int64_t>(kc.sizes.begin(), kc.sizes.end() - 1),
               std::vector<int64_t>(kc.strides.begin(), kc.strides.end() - 1)};
    int64_t n_outer = numel(outer.sizes);
    constexpr int64_t kTile = 2048;  // accumulator columns kept in L1
    // Grain in output columns: enough reduced work per chunk, at least a few cache lines.
    int64_t grain = std::max<int64_t>(64, kGrain / n_red);
    std::vector<int64_t> roff(n_red);
    for (int64_t r = 0; r < n_red; ++r) roff[r] = offset_of(r, rc);
    if constexpr (R::simd_sum && std::is_floating_point_v<Acc>) {
      // The cascade of reduce_contiguous, column-wise: row r of a block goes to lane
      // r mod kSumLanes (kSumLanes accumulator rows per column tile), lanes fold by the same
      // tree at the end of each block, block sums add in f64. Same bits as a contiguous sum.
      constexpr int64_t kT = 1024;  // lanes: 32 x 1024 accumulators (128 KiB, L2); rows read 4 KiB runs
      parallel_for(0, n_out, grain, [&](int64_t b, int64_t e) {
        std::unique_ptr<Acc[]> lanes(new Acc[kSumLanes * kT]);
        double tot[kT];
        for (int64_t pos = b; pos < e;) {
          int64_t oi = pos / row, c0 = pos % row;
          int64_t w = std::min({row - c0, e - pos, kT});
          const T* base = src + offset_of(oi, outer) + c0;
          for (int64_t j = 0; j < w; ++j) tot[j] = 0;
          for (int64_t blk = 0; blk < n_red; blk += kSumBlock) {
            const int64_t bend = std::min(n_red, blk + kSumBlock);
            for (int l = 0; l < kSumLanes; ++l) {
              Acc* a = lanes.get() + l * kT;
              for (int64_t j = 0; j < w; ++j) a[j] = 0;
            }
            for (int64_t r = blk; r < bend; ++r) {
              Acc* a = lanes.get() + ((r - blk) % kSumLanes) * kT;
              const T* p = base + roff[r];
#pragma omp simd
              for (int64_t j = 0; j < w; ++j) a[j] += static_cast<V>(p[j]);
            }
            for (int lw = kSumLanes / 2; lw >= 1; lw /= 2)
              for (int l = 0; l < lw; ++l) {
                Acc* a = lanes.get() + l * kT;
                const Acc* c = lanes.get() + (l + lw) * kT;
#pragma omp simd
                for (int64_t j = 0; j < w; ++j) a[j] += c[j];
              }
            for (int64_t j = 0; j < w; ++j) tot[j] += static_cast<double>(lanes[j]);
          }
          for (int64_t j = 0; j < w; ++j) dst[pos + j] = finish(static_cast<Acc>(tot[j]), n_red);
          pos += w;
        }
      });
      return;
    }
    parallel_for(0, n_out, grain, [&](int64_t b, int64_t e) {
      std::unique_ptr<Acc[]> acc(new Acc[std::min<int64_t>(kTile, e - b)]);
      for (int64_t pos = b; pos < e;) {
        int64_t oi = pos / row, c0 = pos % row;
        int64_t w = std::min({row - c0, e - pos, kTile});
        Acc* a = acc.get();
        for (int64_t j = 0; j < w; ++j) a[j] = R::init();
        const T* base = src + offset_of(oi, outer) + c0;
        int64_t r = 0;
        for (; r + 4 <= n_red; r += 4) {
          const T* p0 = base + roff[r];
          const T* p1 = base + roff[r + 1];
          const T* p2 = base + roff[r + 2];
          const T* p3 = base + roff[r + 3];
#pragma omp simd
          for (int64_t j = 0; j < w; ++j) {
            Acc v = a[j];
            v = R::step(v, static_cast<V>(p0[j]));
            v = R::step(v, static_cast<V>(p1[j]));
            v = R::step(v, static_cast<V>(p2[j]));
            a[j] = R::step(v, static_cast<V>(p3[j]));
          }
        }
        for (; r < n_red; ++r) {
          const T* p = base + roff[r];
#pragma omp simd
          for (int64_t j = 0; j < w; ++j) a[j] = R::step(a[j], static_cast<V>(p[j]));
        }
        for (int64_t j = 0; j < w; ++j) dst[pos + j] = finish(a[j], n_red);
        pos += w;
      }
    });
    return;
  }
  // Reduced elements in contiguous runs (innermost reduced dim of stride 1, several reduced
  // dims, e.g. a sum over (N, H, W) of NCHW): walk the runs in order. Sums feed them to a
  // LaneCascade, so the additions (and the bits) are those of a contiguous sum.
  if (rc.strides.back() == 1) {
    const int64_t run = rc.sizes.back();
    Dims router{std::vector<int64_t>(rc.sizes.begin(), rc.sizes.end() - 1),
                std::vector<int64_t>(rc.strides.begin(), rc.strides.end() - 1)};
    const int64_t n_runs = n_red / run;
    std::vector<int64_t> roff(n_runs);
    for (int64_t q = 0; q < n_runs; ++q) roff[q] = offset_of(q, router);
    parallel_for(0, n_out, std::max<int64_t>(1, kGrain / n_red), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* base = src + offset_of(o, kc);
        if constexpr (R::simd_sum && std::is_floating_point_v<Acc>) {
          LaneCascade<T, V> c;
          for (int64_t q = 0; q < n_runs; ++q) c.push(base + roff[q], run);
          dst[o] = finish(static_cast<Acc>(c.finish()), n_red);
        } else {
          Acc a = R::init();
          for (int64_t q = 0; q < n_runs; ++q) {
            const T* p = base + roff[q];
            for (int64_t j = 0; j < run; ++j) a = R::step(a, static_cast<V>(p[j]));
          }
          dst[o] = finish(a, n_red);
        }
      }
    });
    return;
  }
  parallel_for(0, n_out, std::max<int64_t>(1, kGrain / n_red), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const T* p = src + offset_of(o, kc);
      if constexpr (R::simd_sum && std::is_floating_point_v<Acc>) {
        double t = sum_cascade<V>(n_red, [&](int64_t r) { return static_cast<V>(p[offset_of(r, rc)]); });
        dst[o] = finish(static_cast<Acc>(t), n_red);
        continue;
      }
      Acc a = R::init();
      for (int64_t r = 0; r < n_red; ++r) a = R::step(a, static_cast<V>(p[offset_of(r, rc)]));
      dst[o] = finish(a, n_red);
    }
  });
}

std::vector<bool> mask_of(const Tensor& in, const ops::Attrs& a) {
  return dims_mask(a.get<std::vector<int64_t>>("dims", {}), in.dim(), "reduction");
}

// Accumulation type: f32 for f16/bf16/f32, f64 for f64, i64 for integers.
template <typename T> using SumAcc = std::conditional_t<std::is_floating_point_v<opmath_t<T>>, opmath_t<T>, int64_t>;

// Output dtype is the input's for floating types and i64 for integers (inference casts the
// input first when another floating dtype is requested), so one instantiation per dtype.
void sum_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a, bool mean) {
  auto mask = mask_of(in[0], a);
  visit_dtype(in[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = SumAcc<T>;
    using O = std::conditional_t<std::is_floating_point_v<opmath_t<T>>, T, int64_t>;
    DS_CHECK(out[0].dtype() == dtype_of<O>(), "sum kernel: unexpected output dtype");
    reduce<SumR<V>, T, V, O>(in[0], out[0], mask, [mean](V acc, int64_t n) {
      if (mean) return static_cast<O>(static_cast<opmath_t<O>>(acc / static_cast<V>(n == 0 ? 0 : n)));
      return static_cast<O>(static_cast<opmath_t<O>>(acc));
    });
  });
}

template <template <typename> class R>
void same_type_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  auto mask = mask_of(in[0], a);
  visit_dtype(in[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = std::conditional_t<std::is_same_v<T, bool>, int64_t, opmath_t<T>>;
    reduce<R<V>, T, V, T>(in[0], out[0], mask, [](V acc, int64_t) { return static_cast<T>(acc); });
  });
}

template <typename R>
void bool_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  auto mask = mask_of(in[0], a);
  visit_dtype(in[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = std::conditional_t<std::is_same_v<T, bool>, bool, opmath_t<T>>;
    reduce<R, T, V, bool>(in[0], out[0], mask, [](bool acc, int64_t) { return acc; });
  });
}

// Values and first index of the extreme along `dim` (all dims when dim is absent).
template <bool IsMax>
void arg_kernel(const Tensor& x, Tensor* values, Tensor& indices, std::optional<int64_t> dim) {
  Tensor in = x;
  int64_t d;
  if (!dim) {
    in = x.is_contiguous() ? Tensor::make(x.storage(), {x.numel()}, {1}, x.offset(), x.dtype())
                           : Tensor();
    if (!in.defined()) {  // make a contiguous copy without going through the dispatcher
      in = Tensor::empty({x.numel()}, x.dtype());
      Tensor view = Tensor::make(in.storage(), x.sizes(), contiguous_strides(x.sizes()), 0, x.dtype());
      visit_dtype(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        elementwise<T, T>(view, {&x}, [](T v) { return v; });
      });
    }
    d = 0;
  } else {
    d = wrap_dim(*dim, x.dim(), "argmax");
  }
  if (in.dim() == 0) {
    visit_dtype(in.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (values) values->data<T>()[0] = in.data<T>()[0];
    });
    indices.data<int64_t>()[0] = 0;
    return;
  }
  int64_t n = in.sizes()[d], st = in.strides()[d];
  Dims kept;
  for (int64_t i = 0; i < in.dim(); ++i)
    if (i != d) {
      kept.sizes.push_back(in.sizes()[i]);
      kept.strides.push_back(in.strides()[i]);
    }
  Dims kc = coalesce(kept);
  int64_t n_out = numel(kept.sizes);
  visit_dtype(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using V = opmath_t<T>;
    const T* src = in.data<T>();
    int64_t* idx = indices.data<int64_t>();
    T* val = values ? values->data<T>() : nullptr;
    parallel_for(0, n_out, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* p = src + offset_of(o, kc);
        V best = static_cast<V>(p[0]);
        int64_t bi = 0;
        for (int64_t i = 1; i < n && best == best; ++i) {
          V v = static_cast<V>(p[i * st]);
          if (v != v || (IsMax ? v > best : v < best)) {  // NaN wins, as in PyTorch
            best = v;
            bi = i;
          }
        }
        idx[o] = bi;
        if (val) val[o] = static_cast<T>(best);
      }
    });
  });
}

}  // namespace

void register_reduce_kernels() {
  reg("sum", [](auto& in, auto& out, auto& a) { sum_kernel(in, out, a, false); });
  reg("mean", [](auto& in, auto& out, auto& a) { sum_kernel(in, out, a, true); });
  reg("prod", same_type_kernel<ProdR>);
  reg("amax", same_type_kernel<MaxR>);
  reg("amin", same_type_kernel<MinR>);
  reg("any", bool_kernel<AnyR>);
  reg("all", bool_kernel<AllR>);
  reg("max_dim", [](auto& in, auto& out, auto& a) {
    arg_kernel<true>(in[0], &out[0], out[1], a.template get<int64_t>("dim"));
  });
  reg("min_dim", [](auto& in, auto& out, auto& a) {
    arg_kernel<false>(in[0], &out[0], out[1], a.template get<int64_t>("dim"));
  });
  reg("argmax", [](auto& in, auto& out, auto& a) { arg_kernel<true>(in[0], nullptr, out[0], a.optional_int("dim")); });
  reg("argmin", [](auto& in, auto& out, auto& a) { arg_kernel<false>(in[0], nullptr, out[0], a.optional_int("dim")); });
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
