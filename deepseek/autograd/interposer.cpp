// The autograd interposer: step 4 of dispatch. When grad mode is on and an input requires
// grad, it saves what the op's backward reads (before the kernel for in-place ops), runs the
// kernel, and links the outputs to a new OpNode. In-place writes rebase the written tensor's
// history; a write into a view also rewrites its base's history (CopySlices, as PyTorch).
#include <algorithm>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/autograd/node.h"
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/dispatcher.h"

namespace deepseek::autograd {
namespace {

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Gradient of an in-place op on a view, seen from the view's base: the base's gradient with
// the view's window replaced by what the op's backward gives for the view's old value.
class CopySlices final : public Node {
 public:
  CopySlices(std::shared_ptr<Node> op_node, Shape sizes, Strides strides, int64_t offset)
      : op_(std::move(op_node)), sizes_(std::move(sizes)), strides_(std::move(strides)),
        offset_(offset) {}
  std::string name() const override { return "CopySlices(" + op_->name() + ")"; }
  void release_saved() override { op_->release_saved(); }

  // next_edges[0]: the base's previous history; next_edges[1..]: the op's other inputs.
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor g = contiguous(grads[0]);
    Tensor window = contiguous(as_strided(g, sizes_, strides_, offset_));
    std::vector<Tensor> op_grads = op_->apply({window});
    std::vector<Tensor> out(next_edges.size());
    if (next_edges[0].valid()) {
      Tensor old = op_grads[0].defined() ? op_grads[0] : zeros_like(window);
      out[0] = as_strided_scatter(g, old, sizes_, strides_, offset_);
    }
    for (size_t i = 1; i < op_grads.size() && i < out.size(); ++i) out[i] = op_grads[i];
    return out;
  }

 private:
  std::shared_ptr<Node> op_;
  Shape sizes_;
  Strides strides_;
  int64_t offset_;
};

class AutogradInterposer final : public ops::Interposer {
 public:
  bool active(const ops::OpCall& call) const override {
    if (!GradMode::enabled() || !call.def->differentiable) return false;
    for (auto& t : call.inputs)
      if (t.defined() && t.requires_grad()) return true;
    return false;
  }

  std::vector<Tensor> intercept(ops::OpCall& call, const ops::Next& next) override {
    const ops::OpDef& def = *call.def;
    DS_CHECK(def.backward, "[", def.name, "] has no backward rule: it is not differentiable "
             "(run it under no_grad or detach its inputs)");
    const bool inplace = call.inplace_self.defined();
    Tensor self = call.inplace_self;
    if (inplace) {
      DS_CHECK(!(self.is_leaf() && self.requires_grad() && !self.impl()->view_base),
               "[", def.name, "] a leaf tensor that requires grad is being used in an in-place "
               "operation; do it under no_grad() or on a clone");
    }
    auto node = std::make_shared<OpNode>(&def, call.attrs);
    const int n_in = static_cast<int>(call.inputs.size());
    node->input_meta.reserve(n_in);
    node->next_edges.resize(n_in);
    for (int i = 0; i < n_in; ++i) {
      const Tensor& t = call.inputs[i];
      node->input_meta.push_back(ops::meta_of(t));
      if (!contains(def.nondiff_inputs, i) && t.requires_grad()) node->next_edges[i] = gradient_edge(t);
    }
    // Save inputs (before the kernel: an in-place kernel overwrites input 0).
    node->saved_inputs.resize(n_in);
    for (int i = 0; i < n_in; ++i) {
      if (!def.save_all_inputs && !contains(def.save_inputs, i)) continue;
      Tensor t = call.inputs[i];
      if (inplace && t.storage() == self.storage()) {
        ops::InterposerOff no_trace(ops::Slot::tracer);
        NoGradGuard no_grad;
        t = clone(t);
      }
      node->saved_inputs[i] = SavedTensor(t, false);
    }

    std::vector<Tensor> outs;
    {
      NoGradGuard no_grad;  // ops the kernel step dispatches (none today) record nothing
      outs = next(call);
    }

    node->output_meta.reserve(outs.size());
    for (auto& o : outs) node->output_meta.push_back(ops::meta_of(o));
    node->saved_outputs.resize(outs.size());
    for (size_t i = 0; i < outs.size(); ++i)
      if (contains(def.save_outputs, static_cast<int>(i)))
        node->saved_outputs[i] = SavedTensor(outs[i], true, node, static_cast<uint32_t>(i));

    if (inplace && self.impl()->view_base) {
      rebase_view(self, node);
    } else {
      node->outputs.resize(outs.size());
      for (size_t i = 0; i < outs.size(); ++i) {
        if (!is_floating(outs[i].dtype())) continue;
        set_history(outs[i], node, static_cast<uint32_t>(i));
        node->outputs[i] = outs[i].impl_ptr();
      }
    }
    return outs;
  }

 private:
  // self (a view of base) was written in place by the op recorded in `op_node`.
  static void rebase_view(const Tensor& self, const std::shared_ptr<OpNode>& op_node) {
    Tensor base(self.impl()->view_base);
    DS_CHECK(base.is_contiguous(), "in-place operation on a view of a non-contiguous tensor "
             "that requires grad is not supported; call .contiguous() on the base first");
    DS_CHECK(!(base.is_leaf() && base.requires_grad()),
             "a view of a leaf tensor that requires grad is being used in an in-place "
             "operation; do it under no_grad() or on a clone");
    int64_t rel = self.offset() - base.offset();
    auto cs = std::make_shared<CopySlices>(op_node, self.sizes(), self.strides(), rel);
    cs->next_edges = op_node->next_edges;
    cs->next_edges[0] = gradient_edge(base);
    cs->output_meta = {ops::meta_of(base)};
    cs->outputs = {base.impl_ptr()};
    set_history(base, cs, 0);
    set_view_history(self, base);
  }
};

void install() {
  static AutogradInterposer interposer;
  ops::set_interposer(ops::Slot::autograd, &interposer);
}
DS_REGISTER(install);

}  // namespace
}  // namespace deepseek::autograd
