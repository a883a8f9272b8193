// The backward graph. Each op call that needs gradients creates a Node holding what its
// backward rule needs; edges point to the nodes that produced its inputs. Leaves end in an
// AccumulateGrad node that writes .grad. Saved tensors remember the version they had, so a
// later in-place write is caught instead of giving a wrong gradient.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deepseek/core/tensor.h"
#include "deepseek/ops/op_def.h"

namespace deepseek::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;  // which output of fn (= which input slot of its gradient buffer)
  bool valid() const { return fn != nullptr; }
};

// A tensor kept for backward, with the version it had when saved. Outputs are stored without
// their autograd link (that would be a cycle) and get it back on unpack.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output, const std::shared_ptr<Node>& owner = nullptr,
              uint32_t output_nr = 0);
  Tensor unpack(const std::string& op_name, const std::shared_ptr<Node>& owner) const;
  void reset() { data_ = Tensor(); }
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint32_t version_ = 0;
  bool is_output_ = false;
  uint32_t output_nr_ = 0;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node() = default;
  // Gradients w.r.t. this node's outputs in, gradients for each next edge out.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  virtual std::string name() const = 0;
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  std::vector<ops::TensorMeta> output_meta;
  // The output tensors (weakly), to run their gradient hooks and retain_grad.
  std::vector<std::weak_ptr<TensorImpl>> outputs;
  uint64_t sequence_nr;
  bool released = false;
};

// Backward of a registered op: runs OpDef::backward with the saved tensors.
class OpNode final : public Node {
 public:
  OpNode(const ops::OpDef* def, ops::Attrs attrs) : def_(def), attrs_(std::move(attrs)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  std::string name() const override { return def_->name + "_backward"; }
  void release_saved() override;

  std::vector<SavedTensor> saved_inputs, saved_outputs;
  std::vector<ops::TensorMeta> input_meta;

 private:
  const ops::OpDef* def_;
  ops::Attrs attrs_;
};

// Writes incoming gradients into a leaf's .grad (in place when it already exists).
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  std::string name() const override { return "AccumulateGrad"; }
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Gradient flowing into a view from its base's current history: the view's window of the
// base's gradient. Views get it when their base was written in place after they were made.
class ViewOfBase final : public Node {
 public:
  ViewOfBase(Shape sizes, Strides strides, int64_t offset, ops::TensorMeta base)
      : sizes_(std::move(sizes)), strides_(std::move(strides)), offset_(offset), base_(std::move(base)) {}
  std::string name() const override { return "AsStridedBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;

 private:
  Shape sizes_;
  Strides strides_;
  int64_t offset_;
  ops::TensorMeta base_;
};

// Points view's history at its base's current history (through a ViewOfBase node).
void set_view_history(const Tensor& view, const Tensor& base);

// The edge along which a tensor's gradient flows: its grad_fn, or its leaf accumulator. A view
// whose storage was written since its history was recorded re-derives it from its base, as
// PyTorch does, so it never backpropagates through a stale graph.
Edge gradient_edge(const Tensor& t);
// Points t's history at (fn, output_nr) and marks it as requiring grad.
void set_history(const Tensor& t, const std::shared_ptr<Node>& fn, uint32_t output_nr);

}  // namespace deepseek::autograd
