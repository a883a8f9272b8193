// Indexing ops: index_select, index_add, masked_fill, masked_select, index (integer-tensor
// indexing of the leading dims, index tensors broadcast together), index_put (with
// accumulate), one_hot and nonzero. Index and mask inputs are never differentiated.
// masked_select, nonzero and one_hot without num_classes have output shapes that depend on
// the data: their inference reads the mask/values on the host and refuses meta tensors.
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

constexpr int kMaxIndices = 16;

std::vector<int> index_slots(int first) {
  std::vector<int> v;
  for (int i = 0; i < kMaxIndices; ++i) v.push_back(first + i);
  return v;
}

void check_integer_index(const Tensor& index, const char* op, const char* what = "index") {
  DS_CHECK(index.dtype() == DType::i64 || index.dtype() == DType::i32, "[", op, "] ", what,
           " must be an integer tensor (i64 or i32), got ", dtype_name(index.dtype()));
}

void check_bool_mask(const Tensor& mask, const char* op) {
  DS_CHECK(mask.dtype() == DType::b8, "[", op, "] mask must be a bool tensor, got ",
           dtype_name(mask.dtype()));
}

void check_not_meta(const Tensor& t, const char* op) {
  DS_CHECK(!t.is_meta(), "[", op, "] output shape depends on the tensor's values, so it cannot run "
           "on meta tensors (nor be traced without a guard)");
}

// f(value as double) for every element of t, in row-major order (reads host memory; a device
// tensor is copied to the host first).
template <typename F>
void for_each_value(const Tensor& t0, F f) {
  Tensor t = t0.device().is_cpu() ? t0 : t0.to(kCPU);
  int64_t n = t.numel(), nd = t.dim();
  if (n == 0) return;
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(t.raw_data());
    std::vector<int64_t> idx(nd, 0);
    int64_t off = 0;
    for (int64_t k = 0; k < n; ++k) {
      f(static_cast<double>(static_cast<opmath_t<T>>(p[off])));
      for (int64_t d = nd - 1; d >= 0; --d) {
        off += t.strides()[d];
        if (++idx[d] < t.sizes()[d]) break;
        off -= idx[d] * t.strides()[d];
        idx[d] = 0;
      }
    }
  });
}

int64_t count_nonzero_host(const Tensor& t) {
  int64_t c = 0;
  for_each_value(t, [&](double v) { c += v != 0; });
  return c;
}

// Shape of the indexed result x[indices...]: broadcast(indices) + x.sizes()[k:].
Shape index_result_shape(const Tensor& x, const std::vector<Tensor>& idx, const char* op) {
  DS_CHECK(!idx.empty(), "[", op, "] needs at least one index tensor");
  DS_CHECK(static_cast<int64_t>(idx.size()) <= x.dim(), "[", op, "] too many indices (", idx.size(),
           ") for a tensor of shape ", to_string(x.sizes()));
  DS_CHECK(static_cast<int>(idx.size()) <= kMaxIndices, "[", op, "] at most ", kMaxIndices, " index tensors");
  Shape b = idx[0].sizes();
  for (auto& i : idx) {
    DS_CHECK(i.dtype() != DType::b8, "[", op, "] index tensors must be integer; convert bool masks "
             "with nonzero() (deepseek::index and index_put do this for you)");
    check_integer_index(i, op, "each index");
    b = broadcast_shapes(b, i.sizes(), op);
  }
  b.insert(b.end(), x.sizes().begin() + static_cast<int64_t>(idx.size()), x.sizes().end());
  return b;
}

double zero_flops(const std::vector<TensorMeta>&, const std::vector<TensorMeta>&, const Attrs&) {
  return 0.0;
}
double out_flops(const std::vector<TensorMeta>&, const std::vector<TensorMeta>& out, const Attrs&) {
  return static_cast<double>(numel(out[0].sizes));
}

void define_select_add() {
  auto& s = ops::define_op("index_select", OpKind::opaque, 2);
  s.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const Tensor &x = in[0], &index = in[1];
    check_integer_index(index, "index_select");
    DS_CHECK(index.dim() <= 1, "[index_select] index must be 0-D or 1-D, got shape ", to_string(index.sizes()));
    int64_t d = wrap_dim(a.get<int64_t>("dim"), x.dim(), "index_select");
    Shape out = x.sizes();
    if (x.dim() == 0) {
      DS_CHECK(index.numel() == 1, "[index_select] a 0-d input takes exactly one index, got ", index.numel());
    } else {
      out[d] = index.numel();
    }
    return std::vector<TensorMeta>{{out, x.dtype(), x.device()}};
  };
  s.nondiff_inputs = {1};
  s.save_all_inputs = false;
  s.save_inputs = {1};
  s.flops = zero_flops;
  s.backward = [](const BackwardContext& c) {
    const Shape& in = c.input_meta[0].sizes;
    if (in.empty()) return Grads{c.grads[0], Tensor()};
    Tensor z = zeros(in, {c.grads[0].dtype(), c.grads[0].device()});
    return Grads{index_add(z, c.attrs.get<int64_t>("dim"), c.inputs[1], c.grads[0]), Tensor()};
  };

  auto& a = ops::define_op("index_add", OpKind::opaque, 3);
  a.infer = [](std::vector<Tensor>& in, const Attrs& at) {
    const Tensor &x = in[0], &index = in[1], &src = in[2];
    check_integer_index(index, "index_add");
    DS_CHECK(index.dim() <= 1, "[index_add] index must be 0-D or 1-D, got shape ", to_string(index.sizes()));
    int64_t d = wrap_dim(at.get<int64_t>("dim"), x.dim(), "index_add");
    if (x.dim() == 0) {
      DS_CHECK(src.numel() == 1 && index.numel() == 1, "[index_add] a 0-d input takes one index and one value");
    } else {
      Shape want = x.sizes();
      want[d] = index.numel();
      Shape got = src.sizes();
      if (index.dim() == 0 && src.dim() == x.dim() - 1) got.insert(got.begin() + d, 1);
      DS_CHECK(got == want, "[index_add] source must have shape ", to_string(want), " (input shape ",
               to_string(x.sizes()), " with dim ", d, " of size index.numel()), got ",
               to_string(src.sizes()));
    }
    if (src.dtype() != x.dtype()) in[2] = cast(src, x.dtype());
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  a.nondiff_inputs = {1};
  a.save_all_inputs = false;
  a.save_inputs = {1};
  a.flops = [](const std::vector<TensorMeta>& in, auto&, auto&) { return static_cast<double>(numel(in[2].sizes)); };
  a.backward = [](const BackwardContext& c) {
    Grads r(3);
    const Tensor& g = c.grads[0];
    if (c.needs_grad[0]) r[0] = g;
    if (c.needs_grad[2]) {
      Tensor s = g.dim() == 0 ? g : index_select(g, c.attrs.get<int64_t>("dim"), c.inputs[1]);
      r[2] = reshape(s, c.input_meta[2].sizes);
    }
    return r;
  };
}

void define_masked() {
  auto& f = ops::define_op("masked_fill", OpKind::elementwise, 2);
  f.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_bool_mask(in[1], "masked_fill");
    a.scalar("value");
    Shape s = broadcast_shapes(in[0].sizes(), in[1].sizes(), "masked_fill");
    return std::vector<TensorMeta>{{s, in[0].dtype(), in[0].device()}};
  };
  f.nondiff_inputs = {1};
  f.save_all_inputs = false;
  f.save_inputs = {1};
  f.flops = zero_flops;
  f.backward = [](const BackwardContext& c) {
    return Grads{where(c.inputs[1], zeros({}, {c.grads[0].dtype(), c.grads[0].device()}), c.grads[0]), Tensor()};
  };

  auto& s = ops::define_op("masked_select", OpKind::opaque, 2);
  s.infer = [](std::vector<Tensor>& in, const Attrs&) {
    check_bool_mask(in[1], "masked_select");
    Shape b = broadcast_shapes(in[0].sizes(), in[1].sizes(), "masked_select");
    check_not_meta(in[1], "masked_select");
    int64_t mn = in[1].numel();
    int64_t count = mn == 0 ? 0 : count_nonzero_host(in[1]) * (numel(b) / mn);
    return std::vector<TensorMeta>{{{count}, in[0].dtype(), in[0].device()}};
  };
  s.nondiff_inputs = {1};
  s.save_all_inputs = false;
  s.save_inputs = {1};
  s.flops = zero_flops;
  s.backward = [](const BackwardContext& c) {
    const Tensor& g = c.grads[0];
    Shape b = broadcast_shapes(c.input_meta[0].sizes, c.input_meta[1].sizes, "masked_select");
    Tensor positions = select(nonzero(reshape(expand(c.inputs[1], b), {-1})), 1, 0);
    Tensor flat = index_add(zeros({numel(b)}, {g.dtype(), g.device()}), 0, positions, g);
    return Grads{reshape(flat, b), Tensor()};
  };

  auto& nz = ops::define_op("nonzero", OpKind::opaque, 1);
  nz.infer = [](std::vector<Tensor>& in, const Attrs&) {
    check_not_meta(in[0], "nonzero");
    int64_t count = count_nonzero_host(in[0]);
    return std::vector<TensorMeta>{{{count, in[0].dim()}, DType::i64, in[0].device()}};
  };
  nz.differentiable = false;
  nz.flops = zero_flops;
}

void define_index() {
  auto& ix = ops::define_op("index", OpKind::opaque, -1);
  ix.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in.size() >= 2, "[index] needs the tensor and at least one index tensor");
    std::vector<Tensor> idx(in.begin() + 1, in.end());
    Shape out = index_result_shape(in[0], idx, "index");
    return std::vector<TensorMeta>{{out, in[0].dtype(), in[0].device()}};
  };
  ix.nondiff_inputs = index_slots(1);
  ix.save_all_inputs = false;
  ix.save_inputs = index_slots(1);
  ix.flops = zero_flops;
  ix.backward = [](const BackwardContext& c) {
    std::vector<Tensor> idx(c.inputs.begin() + 1, c.inputs.end());
    const Tensor& g = c.grads[0];
    Tensor z = zeros(c.input_meta[0].sizes, {g.dtype(), g.device()});
    Grads r(c.inputs.size());
    r[0] = index_put(z, idx, g, true);
    return r;
  };

  auto& ip = ops::define_op("index_put", OpKind::opaque, -1);
  ip.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in.size() >= 3, "[index_put] needs the tensor, the values and at least one index tensor");
    std::vector<Tensor> idx(in.begin() + 2, in.end());
    Shape target = index_result_shape(in[0], idx, "index_put");
    Shape b = broadcast_shapes(in[1].sizes(), target, "index_put");
    DS_CHECK(b == target, "[index_put] values of shape ", to_string(in[1].sizes()),
             " do not broadcast to the indexed shape ", to_string(target));
    if (in[1].dtype() != in[0].dtype()) in[1] = cast(in[1], in[0].dtype());
    return std::vector<TensorMeta>{ops::meta_of(in[0])};
  };
  ip.nondiff_inputs = index_slots(2);
  ip.save_all_inputs = false;
  ip.save_inputs = index_slots(2);
  ip.flops = [](const std::vector<TensorMeta>& in, auto&, const Attrs& a) {
    return a.get<bool>("accumulate", false) ? static_cast<double>(numel(in[1].sizes)) : 0.0;
  };
  ip.backward = [](const BackwardContext& c) {
    std::vector<Tensor> idx(c.inputs.begin() + 2, c.inputs.end());
    const Tensor& g = c.grads[0];
    bool acc = c.attrs.get<bool>("accumulate", false);
    Grads r(c.inputs.size());
    if (c.needs_grad[0])
      r[0] = acc ? g : index_put(g, idx, zeros({}, {g.dtype(), g.device()}), false);
    if (c.needs_grad[1]) r[1] = index(g, idx);  // summed to the values' shape by autograd
    return r;
  };

  auto& oh = ops::define_op("one_hot", OpKind::opaque, 1);
  oh.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    check_integer_index(in[0], "one_hot", "labels");
    int64_t c = a.get<int64_t>("num_classes");
    DS_CHECK(c >= -1, "[one_hot] num_classes must be -1 (infer) or non-negative, got ", c);
    if (c == -1) {
      check_not_meta(in[0], "one_hot");
      DS_CHECK(in[0].numel() > 0, "[one_hot] can not infer num_classes from an empty tensor");
      double mx = -1;
      for_each_value(in[0], [&](double v) { mx = std::max(mx, v); });
      c = static_cast<int64_t>(mx) + 1;
    }
    Shape s = in[0].sizes();
    s.push_back(c);
    return std::vector<TensorMeta>{{s, DType::i64, in[0].device()}};
  };
  oh.differentiable = false;
  oh.flops = zero_flops;
  (void)out_flops;
}

void define() {
  define_select_add();
  define_masked();
  define_index();
}
DS_REGISTER(define);

// Expands bool masks among `indices` into integer index tensors (one per mask dim), as
// PyTorch's advanced indexing does.
std::vector<Tensor> expand_bool_indices(const Tensor& x, const std::vector<Tensor>& indices, const char* op) {
  std::vector<Tensor> out;
  int64_t dim = 0;
  for (auto& i : indices) {
    DS_CHECK(i.defined(), "[", op, "] undefined index tensor");
    if (i.dtype() == DType::b8) {
      DS_CHECK(dim + i.dim() <= x.dim(), "[", op, "] bool mask of shape ", to_string(i.sizes()),
               " indexes past the dims of a tensor of shape ", to_string(x.sizes()));
      for (int64_t k = 0; k < i.dim(); ++k)
        DS_CHECK(i.sizes()[k] == x.sizes()[dim + k], "[", op, "] bool mask of shape ", to_string(i.sizes()),
                 " does not match the indexed dims of shape ", to_string(x.sizes()), " at dim ", dim + k);
      Tensor nz = nonzero(i);
      for (int64_t k = 0; k < i.dim(); ++k) out.push_back(select(nz, 1, k));
      dim += i.dim();
    } else {
      out.push_back(i);
      dim += 1;
    }
  }
  return out;
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  static const auto op = ops::op_id("index_select");
  return ops::dispatch1(op, {x, index}, Attrs().set("dim", ops::AttrValue(dim)));
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  static const auto op = ops::op_id("index_add");
  return ops::dispatch1(op, {x, index, src}, Attrs().set("dim", ops::AttrValue(dim)));
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value) {
  static const auto op = ops::op_id("masked_fill");
  return ops::dispatch1(op, {x, mask}, Attrs().set("value", value));
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  static const auto op = ops::op_id("masked_select");
  return ops::dispatch1(op, {x, mask});
}

Tensor nonzero(const Tensor& x) {
  static const auto op = ops::op_id("nonzero");
  return ops::dispatch1(op, {x});
}

Tensor index(const Tensor& x, const std::vector<Tensor>& indices) {
  static const auto op = ops::op_id("index");
  DS_CHECK(x.defined(), "[index] undefined tensor");
  std::vector<Tensor> in{x};
  for (auto& i : expand_bool_indices(x, indices, "index")) in.push_back(i);
  return ops::dispatch1(op, in);
}

Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  static const auto op = ops::op_id("index_put");
  DS_CHECK(x.defined(), "[index_put] undefined tensor");
  std::vector<Tensor> in{x, values};
  for (auto& i : expand_bool_indices(x, indices, "index_put")) in.push_back(i);
  Attrs a;
  if (accumulate) a.set("accumulate", ops::AttrValue(true));
  return ops::dispatch1(op, in, a);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  static const auto op = ops::op_id("one_hot");
  return ops::dispatch1(op, {labels}, Attrs().set("num_classes", ops::AttrValue(num_classes)));
}

}  // namespace deepseek
