#include "deepseek/nn/embedding.h"

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/core/error.h"
#include "deepseek/nn/init.h"

namespace deepseek::nn {

Embedding::Embedding(int64_t n, int64_t d, std::optional<int64_t> pad, TensorOptions o)
    : Module("Embedding"), num_embeddings(n), embedding_dim(d), padding_idx(pad) {
  DS_CHECK(n > 0 && d > 0, "[Embedding] sizes must be positive, got ", n, " x ", d);
  if (padding_idx) {
    DS_CHECK(*padding_idx >= -n && *padding_idx < n, "[Embedding] padding_idx ", *padding_idx,
             " out of range for ", n, " embeddings");
    if (*padding_idx < 0) *padding_idx += n;
  }
  weight = empty({n, d}, o);
  bind_parameter("weight", weight);
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  if (padding_idx) {
    autograd::NoGradGuard ng;
    weight.select(0, *padding_idx).fill_(0.0);
  }
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx); }

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s;
}

}  // namespace deepseek::nn
