// MultiheadAttention with PyTorch's parameters (in_proj_weight/in_proj_bias packed, or
// q/k/v_proj_weight when kdim/vdim differ; out_proj) and semantics: boolean masks mark
// positions NOT to attend (true = masked), float masks are added to the scores.
#pragma once

#include <optional>
#include <utility>

#include "deepseek/nn/linear.h"
#include "deepseek/nn/module.h"

namespace deepseek::nn {

struct MultiheadAttentionOptions {
  double dropout = 0.0;
  bool bias = true;
  bool add_bias_kv = false;
  // Append a zero key and value (after bias_k/bias_v) to every sequence, masks padded by one
  // unmasked column: every query can attend to "nothing". No parameters.
  bool add_zero_attn = false;
  std::optional<int64_t> kdim, vdim;
  bool batch_first = false;
};

// Per-call arguments (as the keyword arguments of PyTorch's forward).
struct AttentionArgs {
  Tensor key_padding_mask;  // (N, S): true / -inf = ignore that key
  Tensor attn_mask;         // (L, S) or (N·heads, L, S)
  bool need_weights = true;
  bool average_attn_weights = true;
  bool is_causal = false;  // with no attn_mask: mask future positions
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {},
                     TensorOptions to = {});
  // Returns (output, attention weights or undefined when !need_weights). Shapes: (L, N, E),
  // or (N, L, E) with batch_first; weights (N, L, S), or (N, heads, L, S) unaveraged.
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const AttentionArgs& args = {});
  // Through hooks and the module scope.
  std::pair<Tensor, Tensor> operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                       const AttentionArgs& args = {});
  // {query, key, value[, key_padding_mask[, attn_mask]]} -> {output, weights}.
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  MultiheadAttentionOptions options;
  Tensor in_proj_weight, in_proj_bias;                 // [3E, E], [3E]
  Tensor q_proj_weight, k_proj_weight, v_proj_weight;  // when kdim/vdim != E
  Tensor bias_k, bias_v;                               // [1, 1, E] with add_bias_kv
  std::shared_ptr<Linear> out_proj;

 private:
  std::optional<AttentionArgs> pending_;  // flags for the call in flight through operator()
};

}  // namespace deepseek::nn
