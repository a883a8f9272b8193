#include "deepseek/autograd/node.h"

#include <atomic>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/ops.h"

namespace deepseek::autograd {

namespace {
std::atomic<uint64_t> g_sequence{0};
thread_local bool tl_grad_enabled = true;
}  // namespace

bool GradMode::enabled() { return tl_grad_enabled; }
void GradMode::set_enabled(bool on) { tl_grad_enabled = on; }

Node::Node() : sequence_nr(g_sequence.fetch_add(1, std::memory_order_relaxed)) {}

SavedTensor::SavedTensor(const Tensor& t, bool is_output, const std::shared_ptr<Node>&,
                         uint32_t output_nr)
    : version_(t.defined() ? t.version() : 0), is_output_(is_output), output_nr_(output_nr) {
  if (!t.defined()) return;
  // Outputs are kept as plain aliases (no grad_fn): a tensor holding its own node is a cycle.
  data_ = is_output ? t.detach() : t;
}

Tensor SavedTensor::unpack(const std::string& op_name, const std::shared_ptr<Node>& owner) const {
  if (!data_.defined()) return data_;
  DS_CHECK(data_.version() == version_,
           "one of the tensors needed for gradient computation has been modified by an in-place "
           "operation: ", data_.to_string(), " saved by ", op_name, " is at version ",
           data_.version(), "; expected version ", version_,
           ". Clone it before the in-place op, or do the in-place op out of place");
  if (!is_output_ || !GradMode::enabled()) return data_;
  // Double backward: reconnect the output to the node that made it.
  Tensor t = data_.detach();
  set_history(t, owner, output_nr_);
  return t;
}

void OpNode::release_saved() {
  for (auto& s : saved_inputs) s.reset();
  for (auto& s : saved_outputs) s.reset();
  released = true;
}

std::vector<Tensor> OpNode::apply(std::vector<Tensor>&& grads) {
  DS_CHECK(!released, "trying to backward through the graph a second time (", name(),
           "): its saved tensors were freed after the first backward. Pass retain_graph=true "
           "to the first backward if you need to backward twice");
  auto self = shared_from_this();
  std::vector<Tensor> in(saved_inputs.size()), out(saved_outputs.size());
  for (size_t i = 0; i < saved_inputs.size(); ++i) in[i] = saved_inputs[i].unpack(def_->name, self);
  for (size_t i = 0; i < saved_outputs.size(); ++i) out[i] = saved_outputs[i].unpack(def_->name, self);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() && (def_->materialize_grads || i == 0) && i < output_meta.size() &&
        is_floating(output_meta[i].dtype))
      grads[i] = zeros(output_meta[i].sizes, {output_meta[i].dtype, output_meta[i].device});
  }
  std::vector<bool> needs(next_edges.size());
  for (size_t i = 0; i < next_edges.size(); ++i) needs[i] = next_edges[i].valid();
  ops::BackwardContext ctx{in, out, grads, input_meta, attrs_, needs};
  std::vector<Tensor> result = def_->backward(ctx);
  DS_CHECK(result.size() == next_edges.size(), "backward of ", def_->name, " returned ",
           result.size(), " gradients for ", next_edges.size(), " inputs");
  for (size_t i = 0; i < result.size(); ++i) {
    if (!needs[i]) {
      result[i] = Tensor();
      continue;
    }
    if (result[i].defined()) result[i] = ops::reduce_grad_to(result[i], input_meta[i]);
  }
  return result;
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  Tensor g = grads.empty() ? Tensor() : grads[0];
  if (!g.defined()) return {};
  Tensor leaf(leaf_);
  Tensor current = leaf.grad();
  if (!current.defined()) {
    // Keep the incoming gradient unless something else may still write to its storage; a
    // copy keeps a channels_last gradient channels_last (PyTorch's layout contract).
    if (GradMode::enabled()) {
      leaf.set_grad(g);
    } else {
      MemoryFormat f = suggest_memory_format(g);
      bool dense = g.is_contiguous() || g.is_contiguous(f);
      leaf.set_grad(dense && g.storage().use_count() == 1 ? g.detach() : clone(g.detach(), f));
    }
  } else if (GradMode::enabled()) {
    leaf.set_grad(add(current, g));  // create_graph: keep the gradient differentiable
  } else {
    current.add_(g);  // accumulate in place into the existing .grad
  }
  for (auto& hook : leaf.autograd_meta().post_accumulate_hooks) hook(leaf);
  return {};
}

std::vector<Tensor> ViewOfBase::apply(std::vector<Tensor>&& grads) {
  if (grads.empty() || !grads[0].defined()) return {Tensor()};  // no gradient reached the view
  Tensor z = zeros(base_.sizes, {grads[0].dtype(), grads[0].device()});
  return {as_strided_scatter(z, grads[0], sizes_, strides_, offset_)};
}

void set_view_history(const Tensor& view, const Tensor& base) {
  auto node = std::make_shared<ViewOfBase>(view.sizes(), view.strides(),
                                           view.offset() - base.offset(), ops::meta_of(base));
  node->next_edges = {gradient_edge(base)};
  node->output_meta = {ops::meta_of(view)};
  node->outputs = {view.impl_ptr()};
  set_history(view, node, 0);
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.has_autograd_meta()) return {};
  AutogradMeta& m = t.autograd_meta();
  if (m.grad_fn && t.impl()->view_base && m.history_version != t.version()) {
    Tensor base(t.impl()->view_base);
    if (base.requires_grad() && base.is_contiguous()) set_view_history(t, base);
  }
  if (m.grad_fn) return {m.grad_fn, m.output_nr};
  if (!m.requires_grad) return {};
  auto acc = m.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    acc->output_meta = {ops::meta_of(t)};
    m.grad_accumulator = acc;
  }
  return {acc, 0};
}

void set_history(const Tensor& t, const std::shared_ptr<Node>& fn, uint32_t output_nr) {
  AutogradMeta& m = t.autograd_meta();
  m.requires_grad = true;
  m.grad_fn = fn;
  m.output_nr = output_nr;
  m.history_version = t.version();
}

}  // namespace deepseek::autograd
