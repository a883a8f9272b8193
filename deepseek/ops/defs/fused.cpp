// The fused optimizer ops. Inputs are tensor lists back to back, one tensor per parameter in
// each: fused_adam (params, grads, exp_avgs, exp_avg_sqs), fused_sgd (params, grads and, with a
// momentum, momentum buffers). They have no outputs and write their inputs (params and state).
#include "deepseek/ops/fused.h"

#include "deepseek/ops/defs/common.h"

namespace deepseek {
using ops::Attrs;
using ops::OpKind;
namespace {

// `lists` lists of n tensors each: floating parameters, dense, and every other list's tensor
// in its parameter's shape and flat layout (state in the parameter's dtype).
size_t check_lists(const char* op, const std::vector<Tensor>& in, size_t lists, const char* names) {
  DS_CHECK(!in.empty() && in.size() % lists == 0, "[", op, "] expects ", names, " of one length, got ", in.size(),
           " tensors");
  size_t n = in.size() / lists;
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = in[i];
    DS_CHECK(is_floating(p.dtype()), "[", op, "] parameters must be floating point, got ", dtype_name(p.dtype()));
    DS_CHECK(p.is_contiguous() || p.is_contiguous(MemoryFormat::channels_last), "[", op, "] parameter ", i,
             " must be contiguous or channels_last");
    for (size_t k = 1; k < lists; ++k) {
      const Tensor& t = in[k * n + i];
      DS_CHECK(t.sizes() == p.sizes(), "[", op, "] tensor ", k, " of parameter ", i, " has shape ",
               to_string(t.sizes()), ", expected ", to_string(p.sizes()));
      DS_CHECK(same_flat_layout(p, t), "[", op, "] gradients and optimizer state must have their parameter's layout");
      DS_CHECK(is_floating(t.dtype()) && (k == 1 || t.dtype() == p.dtype()), "[", op,
               "] optimizer state must have the parameter's dtype");
    }
  }
  return n;
}

void define() {
  auto& adam = ops::define_op("fused_adam", OpKind::opaque, -1, 0);
  adam.differentiable = false;
  adam.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    size_t n = check_lists("fused_adam", in, 4, "params, grads, exp_avgs and exp_avg_sqs");
    auto steps = a.get<std::vector<double>>("steps");
    DS_CHECK(steps.size() == n, "[fused_adam] expects one step per parameter, got ", steps.size(), " for ", n);
    return std::vector<ops::TensorMeta>{};
  };
  auto& sgd = ops::define_op("fused_sgd", OpKind::opaque, -1, 0);
  sgd.differentiable = false;
  sgd.infer = [](std::vector<Tensor>& in, const Attrs& a) {
    const bool momentum = a.get<double>("momentum") != 0;
    size_t n = momentum ? check_lists("fused_sgd", in, 3, "params, grads and momentum buffers")
                        : check_lists("fused_sgd", in, 2, "params and grads");
    if (momentum) {
      auto first = a.get<std::vector<int64_t>>("first");
      DS_CHECK(first.size() == n, "[fused_sgd] expects one first-step flag per parameter, got ", first.size(),
               " for ", n);
    }
    return std::vector<ops::TensorMeta>{};
  };
}
DS_REGISTER(define);

bool has_kernel(const char* name, Device device) {
  return ops::Registry::get().at(ops::op_id(name)).has_kernel(device.type);
}

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

void fused_sgd_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& momentum_buffers, const std::vector<int64_t>& first,
                const SgdStepArgs& args) {
  static const auto op = ops::op_id("fused_sgd");
  const bool momentum = args.momentum != 0;
  DS_CHECK(grads.size() == params.size() && momentum_buffers.size() == (momentum ? params.size() : 0),
           "[fused_sgd] expects one gradient per parameter and, with a momentum, one buffer per parameter");
  if (params.empty()) return;
  std::vector<Tensor> in;
  in.reserve(params.size() * 3);
  for (auto* list : {&params, &grads, &momentum_buffers})
    for (auto& t : *list) in.push_back(t);
  Attrs a;
  a.set("lr", args.lr)
      .set("momentum", args.momentum)
      .set("dampening", args.dampening)
      .set("weight_decay", args.weight_decay)
      .set("nesterov", static_cast<int64_t>(args.nesterov))
      .set("maximize", static_cast<int64_t>(args.maximize))
      .set("first", first);
  ops::dispatch(op, std::move(in), a);
  for (auto* list : {&params, &momentum_buffers})
    for (auto& t : *list) t.bump_version();
}

bool has_fused_adam(Device device) { return has_kernel("fused_adam", device); }
bool has_fused_sgd(Device device) { return has_kernel("fused_sgd", device); }

}  // namespace deepseek
