// sort (always stable) and topk along one dim: values plus i64 indices. NaN counts as larger
// than every number (ascending sorts put it last, topk(largest) picks it first), as PyTorch.
// topk breaks ties by the lower index, so its result is the same on every run.
#include <cmath>

#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

// Gradient of values picked (or permuted) along `dim` by `indices`.
Tensor scatter_back(const BackwardContext& c) {
  const Shape& in = c.input_meta[0].sizes;
  const Tensor& g = c.grads[0];
  if (in.empty()) return g;
  int64_t dim = wrap_dim(c.attrs.get<int64_t>("dim"), static_cast<int64_t>(in.size()), "sort");
  return scatter(zeros(in, {g.dtype(), g.device()}), dim, c.outputs[1], g);
}

double sort_flops(const std::vector<TensorMeta>& in, const std::vector<TensorMeta>&, const Attrs& a) {
  const Shape& s = in[0].sizes;
  if (s.empty()) return 0.0;
  double n = static_cast<double>(s[wrap_dim(a.get<int64_t>("dim"), static_cast<int64_t>(s.size()), "sort")]);
  return static_cast<double>(numel(s)) * std::max(1.0, std::log2(std::max(n, 1.0)));  // comparisons
}

void define() {
  auto& s = ops::define_op("sort", OpKind::opaque, 1, 2);
  s.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    wrap_dim(a.get<int64_t>("dim"), in[0].dim(), "sort");
    return std::vector<TensorMeta>{ops::meta_of(in[0]), {in[0].sizes(), DType::i64, in[0].device()}};
  };
  s.save_all_inputs = false;
  s.save_outputs = {1};
  s.flops = sort_flops;
  s.channels.passthrough = true;
  s.backward = [](const BackwardContext& c) { return Grads{scatter_back(c)}; };

  auto& t = ops::define_op("topk", OpKind::opaque, 1, 2);
  t.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    int64_t d = wrap_dim(a.get<int64_t>("dim"), in[0].dim(), "topk");
    int64_t n = in[0].dim() == 0 ? 1 : in[0].sizes()[d];
    int64_t k = a.get<int64_t>("k");
    DS_CHECK(k >= 0 && k <= n, "[topk] k (", k, ") must be in [0, ", n, "], the size of dim ", d);
    Shape out = in[0].sizes();
    if (!out.empty()) out[d] = k;
    return std::vector<TensorMeta>{{out, in[0].dtype(), in[0].device()}, {out, DType::i64, in[0].device()}};
  };
  t.save_all_inputs = false;
  t.save_outputs = {1};
  t.flops = sort_flops;
  t.backward = [](const BackwardContext& c) { return Grads{scatter_back(c)}; };
}
DS_REGISTER(define);
}  // namespace

std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  static const auto op = ops::op_id("topk");
  auto r = ops::dispatch(op, {x}, Attrs().set("k", ops::AttrValue(k)).set("dim", ops::AttrValue(dim))
                                      .set("largest", ops::AttrValue(largest)).set("sorted", ops::AttrValue(sorted)));
  return {r[0], r[1]};
}

std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  static const auto op = ops::op_id("sort");
  (void)stable;  // always stable: the stable order is also a valid unstable one
  auto r = ops::dispatch(op, {x}, Attrs().set("dim", ops::AttrValue(dim)).set("descending", ops::AttrValue(descending)));
  return {r[0], r[1]};
}

}  // namespace deepseek
