// The fused optimizer op: inputs are the four tensor lists back to back (params, grads,
// exp_avgs, exp_avg_sqs); it has no outputs and writes its inputs (params and moments).
#include "deepseek/ops/fused.h"

#include "deepseek/ops/defs/common.h"

namespace deepseek {
using ops::Attrs;
using ops::OpKind;
namespace {

void define() {
  auto& d = ops::define_op("fused_adam", OpKind::opaque, -1, 0);
  d.differentiable = false;
  d.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    DS_CHECK(!in.empty() && in.size() % 4 == 0, "[fused_adam] expects params, grads, exp_avgs and exp_avg_sqs "
             "of one length, got ", in.size(), " tensors");
    size_t n = in.size() / 4;
    auto steps = a.get<std::vector<double>>("steps");
    DS_CHECK(steps.size() == n, "[fused_adam] expects one step per parameter, got ", steps.size(), " for ", n);
    for (size_t i = 0; i < n; ++i) {
      const Tensor& p = in[i];
      DS_CHECK(is_floating(p.dtype()), "[fused_adam] parameters must be floating point, got ", dtype_name(p.dtype()));
      DS_CHECK(p.is_contiguous() || p.is_contiguous(MemoryFormat::channels_last), "[fused_adam] parameter ", i,
               " must be contiguous or channels_last");
      for (size_t k = 1; k < 4; ++k) {
        const Tensor& t = in[k * n + i];
        DS_CHECK(t.sizes() == p.sizes(), "[fused_adam] tensor ", k, " of parameter ", i, " has shape ",
                 to_string(t.sizes()), ", expected ", to_string(p.sizes()));
        DS_CHECK(same_flat_layout(p, t), "[fused_adam] optimizer tensors must have their parameter's layout");
        DS_CHECK(t.dtype() == (k == 1 ? t.dtype() : p.dtype()) && is_floating(t.dtype()),
                 "[fused_adam] moments must have the parameter's dtype");
      }
    }
    return std::vector<ops::TensorMeta>{};
  };
}
DS_REGISTER(define);

}  // namespace

void fused_adam_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const std::vector<double>& steps, const AdamStepArgs& args) {
  static const auto op = ops::op_id("fused_adam");
  DS_CHECK(grads.size() == params.size() && exp_avgs.size() == params.size() &&
               exp_avg_sqs.size() == params.size(),
           "[fused_adam] params, grads, exp_avgs and exp_avg_sqs must have one length");
  if (params.empty()) return;
  std::vector<Tensor> in;
  in.reserve(params.size() * 4);
  for (auto* list : {&params, &grads, &exp_avgs, &exp_avg_sqs})
    for (auto& t : *list) in.push_back(t);
  Attrs a;
  a.set("steps", steps)
      .set("lr", args.lr)
      .set("beta1", args.beta1)
      .set("beta2", args.beta2)
      .set("eps", args.eps)
      .set("weight_decay", args.weight_decay)
      .set("decoupled", static_cast<int64_t>(args.decoupled))
      .set("maximize", static_cast<int64_t>(args.maximize));
  ops::dispatch(op, std::move(in), a);
  for (auto* list : {&params, &exp_avgs, &exp_avg_sqs})
    for (auto& t : *list) t.bump_version();
}

bool has_fused_adam(Device device) {
  static const auto op = ops::op_id("fused_adam");
  return ops::Registry::get().at(op).has_kernel(device.type);
}

}  // namespace deepseek
