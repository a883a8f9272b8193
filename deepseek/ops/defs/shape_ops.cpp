// Shape ops that copy: cat, flip, roll, pad, tril/triu as primitives (one pass each, kernels
// in backend/cpu/shape_kernels.cpp), and stack, split, split_with_sizes, chunk, repeat as
// composites over views, cat and expand (autograd and tracing for free).
#include <numeric>

#include "deepseek/core/memory_order.h"
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/defs/index_math.h"
#include "deepseek/ops/raw_ops.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;
namespace im = ops::index_math;

ops::AttrValue av(const std::vector<int64_t>& v) { return ops::AttrValue(v); }
std::vector<int64_t> ivec(const Attrs& a, const char* k) { return a.get<std::vector<int64_t>>(k); }

// PyTorch skips 1-D empty tensors in cat whatever the other inputs' rank (legacy behaviour).
bool legacy_empty(const Shape& s) { return s.size() == 1 && s[0] == 0; }

double zero_flops(const std::vector<TensorMeta>&, const std::vector<TensorMeta>&, const Attrs&) {
  return 0.0;
}

void define_cat() {
  auto& d = ops::define_op("cat", OpKind::opaque, -1);
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(!in.empty(), "[cat] expects a non-empty list of tensors");
    int ref = -1;
    for (size_t i = 0; i < in.size(); ++i) {
      DS_CHECK(in[i].dim() > 0, "[cat] zero-dimensional tensor (input ", i,
               ") cannot be concatenated");
      if (ref < 0 && !legacy_empty(in[i].sizes())) ref = static_cast<int>(i);
    }
    ops::cast_inputs(in, ops::promoted_dtype(in));
    if (ref < 0) return std::vector<TensorMeta>{ops::meta_of(in[0])};
    const Shape& rs = in[ref].sizes();
    int64_t nd = static_cast<int64_t>(rs.size());
    int64_t dim = wrap_dim(a.get<int64_t>("dim"), nd, "cat");
    Shape out = rs;
    out[dim] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const Shape& s = in[i].sizes();
      if (legacy_empty(s)) continue;
      DS_CHECK(static_cast<int64_t>(s.size()) == nd, "[cat] tensors must have the same number of dims: input ",
               ref, " has shape ", to_string(rs), ", input ", i, " has shape ", to_string(s));
      for (int64_t k = 0; k < nd; ++k)
        DS_CHECK(k == dim || s[k] == rs[k], "[cat] sizes must match except in dim ", dim,
                 ": input ", ref, " has shape ", to_string(rs), ", input ", i, " has shape ",
                 to_string(s));
      out[dim] += s[dim];
    }
    return std::vector<TensorMeta>{{out, in[0].dtype(), in[0].device()}};
  };
  d.save_all_inputs = false;
  d.flops = zero_flops;
  // Every dim of every input maps to the same output dim; along `dim`, input i's channels
  // occupy the output range starting at the summed sizes of inputs 0..i-1 (pruning reads the
  // attrs for the offsets).
  d.channels.passthrough = true;
  d.backward = [](const BackwardContext& c) {
    const Tensor& g = c.grads[0];
    int64_t dim = wrap_dim(c.attrs.get<int64_t>("dim"), g.dim(), "cat");
    Grads r(c.input_meta.size());
    int64_t off = 0;
    for (size_t i = 0; i < c.input_meta.size(); ++i) {
      const Shape& s = c.input_meta[i].sizes;
      if (legacy_empty(s) && !(g.dim() == 1)) {
        if (c.needs_grad[i]) r[i] = zeros(s, {g.dtype(), g.device()});
        continue;
      }
      if (c.needs_grad[i]) r[i] = narrow(g, dim, off, s[dim]);
      off += s[dim];
    }
    return r;
  };
}

void define_flip_roll() {
  auto& f = ops::define_op("flip", OpKind::opaque, 1);
  f.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    dims_mask(ivec(a, "dims"), in[0].dim(), "flip");
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  f.save_all_inputs = false;
  f.flops = zero_flops;
  f.channels.passthrough = true;
  f.backward = [](const BackwardContext& c) { return Grads{flip(c.grads[0], ivec(c.attrs, "dims"))}; };

  auto& r = ops::define_op("roll", OpKind::opaque, 1);
  r.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    auto shifts = ivec(a, "shifts"), dims = ivec(a, "dims");
    DS_CHECK(!dims.empty() && shifts.size() == dims.size(), "[roll] shifts and dims must have the same, non-zero length, got ",
             shifts.size(), " shifts and ", dims.size(), " dims");
    for (auto d : dims) wrap_dim(d, in[0].dim(), "roll");
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  r.save_all_inputs = false;
  r.flops = zero_flops;
  r.channels.passthrough = true;
  r.backward = [](const BackwardContext& c) {
    auto shifts = ivec(c.attrs, "shifts");
    for (auto& s : shifts) s = -s;
    return Grads{roll(c.grads[0], shifts, ivec(c.attrs, "dims"))};
  };
}

void define_pad() {
  auto& p = ops::define_op("pad", OpKind::opaque, 1);
  p.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& x = in[0];
    auto pad = ivec(a, "pad");
    auto mode = im::pad_mode(a.get<std::string>("mode"));
    DS_CHECK(pad.size() % 2 == 0, "[pad] padding length must be even (pairs of before/after), got ",
             pad.size());
    DS_CHECK(static_cast<int64_t>(pad.size()) / 2 <= x.dim(), "[pad] padding of length ", pad.size(),
             " pads more dims than the input's ", x.dim(), " (shape ", to_string(x.sizes()), ")");
    auto per = im::pad_per_dim(pad, x.dim());
    Shape out = x.sizes();
    for (int64_t d = 0; d < x.dim(); ++d) {
      int64_t b = per[2 * d], e = per[2 * d + 1], n = x.sizes()[d];
      if (b == 0 && e == 0) continue;
      if (mode != im::PadMode::constant) {
        DS_CHECK(b >= 0 && e >= 0, "[pad] negative padding is only supported in constant mode, got ",
                 b, ", ", e, " for dim ", d);
        DS_CHECK(n > 0, "[pad] ", a.get<std::string>("mode"), " padding of an empty dim ", d);
      }
      if (mode == im::PadMode::reflect)
        DS_CHECK(b < n && e < n, "[pad] reflect padding (", b, ", ", e, ") must be smaller than dim ",
                 d, "'s size ", n);
      if (mode == im::PadMode::circular)
        DS_CHECK(b <= n && e <= n, "[pad] circular padding (", b, ", ", e, ") must be at most dim ",
                 d, "'s size ", n);
      out[d] = n + b + e;
      DS_CHECK(out[d] >= 0, "[pad] padding (", b, ", ", e, ") gives a negative size for dim ", d,
               " of size ", n);
    }
    return std::vector<TensorMeta>{{out, x.dtype(), x.device()}};
  };
  p.save_all_inputs = false;
  p.flops = zero_flops;
  p.backward = [](const BackwardContext& c) {
    auto pad = ivec(c.attrs, "pad");
    auto mode = im::pad_mode(c.attrs.get<std::string>("mode"));
    Tensor g = c.grads[0];
    if (mode == im::PadMode::constant) {
      for (auto& v : pad) v = -v;
      return Grads{deepseek::pad(g, pad, "constant", 0.0)};
    }
    // Each output position reads one input position per dim: the gradient adds back along
    // each padded dim in turn (index_add, so double backward is an index_select).
    const Shape& in = c.input_meta[0].sizes;
    auto per = im::pad_per_dim(pad, static_cast<int64_t>(in.size()));
    for (int64_t d = static_cast<int64_t>(in.size()) - 1; d >= 0; --d) {
      int64_t b = per[2 * d], e = per[2 * d + 1];
      if (b == 0 && e == 0) continue;
      std::vector<int64_t> src(g.sizes()[d]);
      for (int64_t o = 0; o < g.sizes()[d]; ++o) src[o] = im::pad_source(o, in[d], b, mode);
      Shape s = g.sizes();
      s[d] = in[d];
      g = index_add(zeros(s, {g.dtype(), g.device()}), d, tensor_i64(src).to(g.device()), g);
    }
    return Grads{g};
  };
}

void define_tri() {
  for (const char* n : {"tril", "triu"}) {
    bool lower = std::string(n) == "tril";
    auto& t = ops::define_op(n, OpKind::opaque, 1);
    t.infer = [n](std::vector<Tensor>& in, const Attrs&) {
      DS_CHECK(in[0].dim() >= 2, "[", n, "] input must have at least 2 dims, got shape ",
               to_string(in[0].sizes()));
      return std::vector<TensorMeta>{ops::meta_of(in[0])};
    };
    t.save_all_inputs = false;
    t.flops = zero_flops;
    t.channels.passthrough = true;
    t.backward = [lower](const BackwardContext& c) {
      int64_t k = c.attrs.get<int64_t>("diagonal");
      return Grads{lower ? tril(c.grads[0], k) : triu(c.grads[0], k)};
    };
  }
}

// unbind: the slices of x along dim as separate tensors. Copies, unlike PyTorch's views: one
// op whose backward is a single stack, where a view per slice would each scatter its gradient
// into zeros and the results be summed (attention's q, k, v from one packed projection).
void define_unbind() {
  auto& d = ops::define_op("unbind", OpKind::opaque, 1, -1);
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor& x = in[0];
    DS_CHECK(x.dim() > 0, "[unbind] needs a tensor with at least one dim");
    int64_t dim = wrap_dim(a.get<int64_t>("dim"), x.dim(), "unbind");
    Shape s = x.sizes();
    s.erase(s.begin() + dim);
    return std::vector<TensorMeta>(static_cast<size_t>(x.sizes()[dim]), TensorMeta{s, x.dtype(), x.device()});
  };
  d.flops = zero_flops;
  d.save_all_inputs = false;
  d.backward = [](const BackwardContext& c) {
    const int64_t nd = static_cast<int64_t>(c.input_meta[0].sizes.size());
    const int64_t dim = wrap_dim(c.attrs.get<int64_t>("dim"), nd, "unbind");
    if (!c.attrs.has("memory_order")) return Grads{stack(c.grads, dim)};
    // A permuted input (attention's q, k, v taken head-major from one packed projection):
    // stack in the input's memory order and permute back, so the gradient has the input's
    // strides and the reshape before the unbind stays a view instead of a copy.
    const auto order = c.attrs.get<std::vector<int64_t>>("memory_order");  // outermost first
    std::vector<int64_t> grad_order;  // the same order over a gradient's dims (dim removed)
    int64_t at = 0;
    for (int64_t i = 0; i < nd; ++i) {
      if (order[i] == dim) at = i;
      else grad_order.push_back(order[i] > dim ? order[i] - 1 : order[i]);
    }
    std::vector<Tensor> parts;
    for (const Tensor& g : c.grads) parts.push_back(permute(g, grad_order));
    std::vector<int64_t> back(nd);  // the inverse permutation
    for (int64_t i = 0; i < nd; ++i) back[order[i]] = i;
    return Grads{permute(stack(parts, at), back)};
  };
  auto kernel = [](const std::vector<Tensor>& in, std::vector<Tensor>& out, const Attrs& a) {
    ops::NoInterposers raw;
    int64_t dim = wrap_dim(a.get<int64_t>("dim"), in[0].dim(), "unbind");
    for (size_t i = 0; i < out.size(); ++i) copy_(out[i], select(in[0], dim, static_cast<int64_t>(i)));
  };
  for (DeviceType dev : {DeviceType::cpu, DeviceType::cuda}) ops::Registry::get().register_kernel("unbind", dev, kernel);
}

void define() {
  define_cat();
  define_unbind();
  define_flip_roll();
  define_pad();
  define_tri();
}
DS_REGISTER(define);

}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  static const auto op = ops::op_id("cat");
  return ops::dispatch1(op, xs, Attrs().set("dim", ops::AttrValue(dim)));
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  DS_CHECK(!xs.empty(), "[stack] expects a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) {
    DS_CHECK(xs[i].defined(), "[stack] input ", i, " is an undefined tensor");
    DS_CHECK(xs[i].sizes() == xs[0].sizes(), "[stack] all tensors must have the same shape: input 0 has ",
             to_string(xs[0].sizes()), ", input ", i, " has ", to_string(xs[i].sizes()));
  }
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> u;
  u.reserve(xs.size());
  for (auto& x : xs) u.push_back(unsqueeze(x, d));
  return cat(u, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  DS_CHECK(x.defined() && x.dim() > 0, "[split] needs a tensor with at least one dim");
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.sizes()[d];
  DS_CHECK(split_size > 0 || (split_size == 0 && n == 0), "[split] split_size must be positive, got ",
           split_size);
  std::vector<Tensor> r;
  if (n == 0) return {narrow(x, d, 0, 0)};
  for (int64_t s = 0; s < n; s += split_size) r.push_back(narrow(x, d, s, std::min(split_size, n - s)));
  return r;
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  DS_CHECK(x.defined() && x.dim() > 0, "[split_with_sizes] needs a tensor with at least one dim");
  int64_t d = wrap_dim(dim, x.dim(), "split_with_sizes");
  int64_t total = 0;
  for (auto s : sizes) {
    DS_CHECK(s >= 0, "[split_with_sizes] sizes must be non-negative, got ", to_string(sizes));
    total += s;
  }
  DS_CHECK(total == x.sizes()[d], "[split_with_sizes] sizes ", to_string(sizes), " sum to ", total,
           " but dim ", d, " has size ", x.sizes()[d]);
  std::vector<Tensor> r;
  int64_t off = 0;
  for (auto s : sizes) {
    r.push_back(narrow(x, d, off, s));
    off += s;
  }
  return r;
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  static const auto op = ops::op_id("unbind");
  DS_CHECK(x.defined() && x.dim() > 0, "[unbind] needs a tensor with at least one dim");
  Attrs a;
  a.set("dim", dim);
  // A permuted dense input tells its memory order, for the gradient's layout (see backward).
  if (!x.is_contiguous() && x.is_non_overlapping_and_dense()) a.set("memory_order", dims_by_stride(x.strides()));
  return ops::dispatch(op, {x}, a);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  DS_CHECK(x.defined() && x.dim() > 0, "[chunk] needs a tensor with at least one dim");
  DS_CHECK(chunks > 0, "[chunk] number of chunks must be positive, got ", chunks);
  int64_t d = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.sizes()[d];
  if (n == 0) return std::vector<Tensor>(static_cast<size_t>(chunks), narrow(x, d, 0, 0));
  return split(x, (n + chunks - 1) / chunks, d);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& padding, const std::string& mode, double value) {
  static const auto op = ops::op_id("pad");
  Attrs a;
  a.set("pad", av(padding)).set("mode", ops::AttrValue(mode));
  if (value != 0.0) a.set("value", ops::AttrValue(value));
  return ops::dispatch1(op, {x}, a);
}

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  static const auto op = ops::op_id("flip");
  return ops::dispatch1(op, {x}, Attrs().set("dims", av(dims)));
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  static const auto op = ops::op_id("roll");
  if (dims.empty() && x.defined()) {
    // No dims: roll the flattened tensor and restore the shape, as PyTorch.
    DS_CHECK(shifts.size() == 1, "[roll] without dims takes exactly one shift, got ", shifts.size());
    Tensor f = flatten(x);
    return reshape(ops::dispatch1(op, {f}, Attrs().set("shifts", av(shifts)).set("dims", av({0}))), x.sizes());
  }
  return ops::dispatch1(op, {x}, Attrs().set("shifts", av(shifts)).set("dims", av(dims)));
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  DS_CHECK(x.defined(), "[repeat] undefined tensor");
  int64_t nr = static_cast<int64_t>(repeats.size());
  DS_CHECK(nr >= x.dim(), "[repeat] number of repeats (", nr,
           ") can not be smaller than the number of dims of the tensor (", x.dim(), ")");
  for (auto r : repeats) DS_CHECK(r >= 0, "[repeat] repeats must be non-negative, got ", to_string(repeats));
  // x viewed as [1, s0, 1, s1, ...], expanded to [r0, s0, r1, s1, ...], copied by reshape.
  Shape padded(nr - x.dim(), 1);
  padded.insert(padded.end(), x.sizes().begin(), x.sizes().end());
  Shape inter, expanded, out;
  for (int64_t i = 0; i < nr; ++i) {
    inter.push_back(1);
    inter.push_back(padded[i]);
    expanded.push_back(repeats[i]);
    expanded.push_back(padded[i]);
    out.push_back(repeats[i] * padded[i]);
  }
  return reshape(contiguous(expand(reshape(x, inter), expanded)), out);
}

Tensor tril(const Tensor& x, int64_t diagonal) {
  static const auto op = ops::op_id("tril");
  return ops::dispatch1(op, {x}, Attrs().set("diagonal", ops::AttrValue(diagonal)));
}

Tensor triu(const Tensor& x, int64_t diagonal) {
  static const auto op = ops::op_id("triu");
  return ops::dispatch1(op, {x}, Attrs().set("diagonal", ops::AttrValue(diagonal)));
}

}  // namespace deepseek
