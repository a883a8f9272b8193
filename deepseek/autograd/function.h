// Custom autograd functions: a layer supplies its own forward and backward (tensor-parallel
// layers, straight-through estimators, fused ops). Like torch.autograd.Function:
//
//   struct Square : autograd::Function<Square> {
//     static std::vector<Tensor> forward(autograd::Context& ctx, const std::vector<Tensor>& in) {
//       ctx.save_for_backward({in[0]});
//       return {mul(in[0], in[0])};
//     }
//     static std::vector<Tensor> backward(autograd::Context& ctx, const std::vector<Tensor>& g) {
//       return {mul(g[0], mul(ctx.saved()[0], 2))};
//     }
//   };
//   Tensor y = Square::apply({x})[0];
//
// forward runs with grad recording off; backward's ops are recorded when create_graph is set,
// so double backward works when backward is written with differentiable ops.
#pragma once

#include <any>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/autograd/node.h"

namespace deepseek::autograd {

class Context {
 public:
  void save_for_backward(const std::vector<Tensor>& tensors);
  std::vector<Tensor> saved() const;  // checks none was modified in place since saving
  std::map<std::string, std::any> data;  // anything else backward needs
  bool needs_input_grad(size_t i) const { return i < needs_grad_.size() && needs_grad_[i]; }
  void mark_non_differentiable(const std::vector<Tensor>& outputs);

 private:
  friend class FunctionNode;
  friend std::vector<Tensor> apply_function(
      const std::string&, const std::vector<Tensor>&,
      const std::function<std::vector<Tensor>(Context&, const std::vector<Tensor>&)>&,
      const std::function<std::vector<Tensor>(Context&, const std::vector<Tensor>&)>&);
  std::vector<SavedTensor> saved_;
  std::vector<bool> needs_grad_;
  std::vector<TensorImpl*> non_differentiable_;
  std::weak_ptr<Node> node_;
  std::string name_;
};

using ForwardFn = std::function<std::vector<Tensor>(Context&, const std::vector<Tensor>&)>;
using BackwardFnT = std::function<std::vector<Tensor>(Context&, const std::vector<Tensor>&)>;

std::vector<Tensor> apply_function(const std::string& name, const std::vector<Tensor>& inputs,
                                   const ForwardFn& forward, const BackwardFnT& backward);

template <typename Derived>
struct Function {
  static std::vector<Tensor> apply(const std::vector<Tensor>& inputs) {
    return apply_function(typeid(Derived).name(), inputs, &Derived::forward, &Derived::backward);
  }
};

}  // namespace deepseek::autograd
