#include "deepseek/autograd/function.h"

#include <algorithm>

#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/ops.h"

namespace deepseek::autograd {

void Context::save_for_backward(const std::vector<Tensor>& tensors) {
  saved_.clear();
  for (auto& t : tensors) saved_.emplace_back(t, false);
}

std::vector<Tensor> Context::saved() const {
  std::vector<Tensor> out;
  auto owner = node_.lock();
  for (auto& s : saved_) out.push_back(s.unpack(name_, owner));
  return out;
}

void Context::mark_non_differentiable(const std::vector<Tensor>& outputs) {
  for (auto& t : outputs) non_differentiable_.push_back(t.impl());
}

class FunctionNode final : public Node {
 public:
  FunctionNode(std::shared_ptr<Context> ctx, BackwardFnT backward, std::string name)
      : ctx_(std::move(ctx)), backward_(std::move(backward)), name_(std::move(name)) {}
  std::string name() const override { return name_ + "_backward"; }
  void release_saved() override {
    ctx_->saved_.clear();
    released = true;
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    DS_CHECK(!released, "trying to backward through ", name_, " a second time; pass "
             "retain_graph=true to the first backward");
    for (size_t i = 0; i < grads.size() && i < output_meta.size(); ++i)
      if (!grads[i].defined() && is_floating(output_meta[i].dtype))
        grads[i] = zeros(output_meta[i].sizes, {output_meta[i].dtype, output_meta[i].device});
    std::vector<Tensor> r = backward_(*ctx_, grads);
    DS_CHECK(r.size() == next_edges.size(), "custom function ", name_, ": backward returned ",
             r.size(), " gradients for ", next_edges.size(), " inputs");
    for (size_t i = 0; i < r.size(); ++i) {
      if (!next_edges[i].valid()) r[i] = Tensor();
      else if (r[i].defined()) r[i] = ops::reduce_grad_to(r[i], input_meta[i]);
    }
    return r;
  }
  std::vector<ops::TensorMeta> input_meta;

 private:
  std::shared_ptr<Context> ctx_;
  BackwardFnT backward_;
  std::string name_;
};

std::vector<Tensor> apply_function(const std::string& name, const std::vector<Tensor>& inputs,
                                   const ForwardFn& forward, const BackwardFnT& backward) {
  auto ctx = std::make_shared<Context>();
  ctx->name_ = name;
  bool any_grad = false;
  for (auto& t : inputs) {
    bool g = t.defined() && t.requires_grad();
    ctx->needs_grad_.push_back(g);
    any_grad |= g;
  }
  std::vector<Tensor> outs;
  {
    NoGradGuard ng;
    outs = forward(*ctx, inputs);
  }
  if (!any_grad || !GradMode::enabled()) return outs;
  auto node = std::make_shared<FunctionNode>(ctx, backward, name);
  ctx->node_ = node;
  for (auto& t : inputs) {
    node->next_edges.push_back(t.defined() && t.requires_grad() ? gradient_edge(t) : Edge{});
    node->input_meta.push_back(t.defined() ? ops::meta_of(t) : ops::TensorMeta{});
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    // An output that is an input (or aliases one) gets a fresh alias, so the input's own
    // history is not overwritten.
    for (auto& in : inputs)
      if (in.defined() && outs[i].defined() && outs[i].is_same(in)) outs[i] = outs[i].detach();
    node->output_meta.push_back(ops::meta_of(outs[i]));
    node->outputs.push_back(outs[i].impl_ptr());
    bool nondiff = std::find(ctx->non_differentiable_.begin(), ctx->non_differentiable_.end(),
                             outs[i].impl()) != ctx->non_differentiable_.end();
    if (!nondiff && is_floating(outs[i].dtype())) set_history(outs[i], node, static_cast<uint32_t>(i));
  }
  return outs;
}

}  // namespace deepseek::autograd
