// Shape kernels on CUDA: cat, flip, roll, pad (every mode), tril and triu, and gather_map,
// the "copy through per-dim index maps" kernel they (and index_select, index, embedding)
// share. Values are moved as raw bytes of the element's width: one instantiation per width.
#include <cstring>

#include "deepseek/backend/cuda/index_common.cuh"
#include "deepseek/ops/defs/index_math.h"

namespace deepseek::cuda {

namespace im = ops::index_math;

namespace {

struct MapParams {
  int nd = 0;
  DimMap m[kMaxMapDims];
  TriMask tri;
};

// The source index along one dim for output index o; -1: the fill value. Mirrors
// ops::index_math::pad_source / roll_source.
__device__ __forceinline__ int64_t map_source(const DimMap& m, int64_t o) {
  switch (m.kind) {
    case kMapIdentity: return o;
    case kMapFlip: return m.n - 1 - o;
    case kMapRoll: {
      int64_t i = o - m.a;
      return i < 0 ? i + m.n : i;
    }
    case kMapPadConstant: {
      int64_t i = o - m.a;
      return (i >= 0 && i < m.n) ? i : -1;
    }
    case kMapPadReplicate: {
      int64_t i = o - m.a;
      return i < 0 ? 0 : (i >= m.n ? m.n - 1 : i);
    }
    case kMapPadCircular: {
      int64_t i = o - m.a;
      return ((i % m.n) + m.n) % m.n;
    }
    case kMapPadReflect: {
      if (m.n == 1) return 0;
      int64_t i = o - m.a;
      int64_t period = 2 * (m.n - 1);
      int64_t r = ((i % period) + period) % period;
      return r < m.n ? r : period - r;
    }
    case kMapTable: {
      int64_t v = load_index(m.table, m.table_i64, o * m.table_stride);
      return v < 0 ? v + m.n : v;
    }
  }
  return -1;
}

template <typename U>
__global__ void gather_map_kernel(const U* __restrict__ src, U* __restrict__ out, int64_t n, MapParams p,
                                  U fill) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t rest = i, off = 0, row = 0, col = 0;
    bool filled = false;
    for (int d = p.nd - 1; d >= 0; --d) {
      const DimMap& m = p.m[d];
      int64_t o = rest % m.size;
      rest /= m.size;
      if (d == p.nd - 1) col = o;
      if (d == p.nd - 2) row = o;
      int64_t s = map_source(m, o);
      if (s < 0) filled = true;
      off += s * m.stride;
    }
    if (p.tri.mode == 1) filled = filled || (col - row > p.tri.k);
    if (p.tri.mode == 2) filled = filled || (col - row < p.tri.k);
    out[i] = filled ? fill : src[off];
  }
}

}  // namespace

void gather_map(const Tensor& src, const Tensor& out, std::vector<DimMap> maps, uint64_t fill_bits, TriMask tri) {
  int64_t total = 1;
  for (auto& m : maps) total *= m.size;
  DS_CHECK(total == out.numel() && out.is_contiguous(), "gather_map: output of shape ",
           to_string(out.sizes()), " does not match the maps");
  if (total == 0) return;
  if (tri.mode == 0) {
    // Drop size-1 dims and merge identity dims that are contiguous in the source.
    std::vector<DimMap> merged;
    for (auto& m : maps) {
      if (m.size == 1 && m.kind == kMapIdentity) continue;  // offset 0 whatever its stride
      if (!merged.empty() && m.kind == kMapIdentity && merged.back().kind == kMapIdentity &&
          merged.back().stride == m.stride * m.size) {
        merged.back().size *= m.size;
        merged.back().n = merged.back().size;
        merged.back().stride = m.stride;
        continue;
      }
      merged.push_back(m);
    }
    maps = std::move(merged);
  }
  DS_CHECK(maps.size() <= static_cast<size_t>(kMaxMapDims), "CUDA gather: more than ", kMaxMapDims,
           " dims that cannot be merged");
  MapParams p;
  p.nd = static_cast<int>(maps.size());
  for (size_t d = 0; d < maps.size(); ++d) p.m[d] = maps[d];
  p.tri = tri;
  DeviceGuard g(out.device().index);
  cudaStream_t stream = current_stream(out.device().index);
  visit_width(out.element_size(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U fill;
    std::memcpy(&fill, &fill_bits, sizeof(U));
    gather_map_kernel<U><<<blocks_for(total, kThreads), kThreads, 0, stream>>>(
        static_cast<const U*>(src.raw_data()), static_cast<U*>(out.raw_data()), total, p, fill);
  });
  DS_CUDA_LAUNCH_CHECK();
}

namespace {

std::vector<DimMap> identity_maps(const Tensor& x) {
  std::vector<DimMap> maps(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) {
    maps[d].size = maps[d].n = x.sizes()[d];
    maps[d].stride = x.strides()[d];
  }
  return maps;
}

void cat_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& y = out[0];
  if (y.numel() == 0) return;
  int64_t dim = wrap_dim(a.get<int64_t>("dim"), y.dim(), "cat");
  int64_t off = 0;
  for (const Tensor& x : in) {
    if (x.numel() == 0) continue;  // includes the legacy 1-D empty inputs
    Tensor window = Tensor::make(y.storage(), x.sizes(), y.strides(), y.offset() + off * y.strides()[dim], y.dtype());
    copy_bytes(window, x);
    off += x.sizes()[dim];
  }
}

void flip_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  auto mask = dims_mask(a.get<std::vector<int64_t>>("dims"), x.dim(), "flip");
  auto maps = identity_maps(x);
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d] && x.sizes()[d] > 1) maps[d].kind = kMapFlip;
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, maps); });
}

void roll_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  auto shifts = a.get<std::vector<int64_t>>("shifts"), dims = a.get<std::vector<int64_t>>("dims");
  std::vector<int64_t> total(x.dim(), 0);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "roll");
    if (x.dim() > 0) total[d] += shifts[i];
  }
  auto maps = identity_maps(x);
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t n = x.sizes()[d];
    int64_t s = n == 0 ? 0 : ((total[d] % n) + n) % n;
    if (s != 0) {
      maps[d].kind = kMapRoll;
      maps[d].a = s;
    }
  }
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, maps); });
}

void pad_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  auto mode = im::pad_mode(a.get<std::string>("mode"));
  auto per = im::pad_per_dim(a.get<std::vector<int64_t>>("pad"), x.dim());
  auto maps = identity_maps(x);
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t b = per[2 * d], e = per[2 * d + 1];
    maps[d].size = out[0].sizes()[d];
    if (b == 0 && e == 0) continue;
    maps[d].a = b;
    switch (mode) {
      case im::PadMode::constant: maps[d].kind = kMapPadConstant; break;
      case im::PadMode::reflect: maps[d].kind = kMapPadReflect; break;
      case im::PadMode::replicate: maps[d].kind = kMapPadReplicate; break;
      case im::PadMode::circular: maps[d].kind = kMapPadCircular; break;
    }
  }
  uint64_t fill = scalar_bits(Scalar(a.get<double>("value", 0.0)), x.dtype());
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, maps, fill); });
}

template <bool Lower>
void tri_kernel(const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
  const Tensor& x = in[0];
  TriMask tri{Lower ? 1 : 2, a.get<int64_t>("diagonal")};
  into_contiguous(out[0], [&](const Tensor& y) { gather_map(x, y, identity_maps(x), 0, tri); });
}

void register_shape_kernels() {
  register_cuda_kernel("cat", cat_kernel);
  register_cuda_kernel("flip", flip_kernel);
  register_cuda_kernel("roll", roll_kernel);
  register_cuda_kernel("pad", pad_kernel);
  register_cuda_kernel("tril", tri_kernel<true>);
  register_cuda_kernel("triu", tri_kernel<false>);
}

}  // namespace
}  // namespace deepseek::cuda

DS_REGISTER(deepseek::cuda::register_shape_kernels);
