// Embedding: a lookup table of num_embeddings vectors of size embedding_dim.
#pragma once

#include <optional>

#include "deepseek/nn/module.h"

namespace deepseek::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim,
            std::optional<int64_t> padding_idx = std::nullopt, TensorOptions options = {});
  Tensor forward(const Tensor& indices) override;
  // PyTorch's default: N(0, 1), the padding row zeroed.
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;
  Tensor weight;  // [num_embeddings, embedding_dim]
};

}  // namespace deepseek::nn
