// EncryptedTensor: CKKS ciphertexts plus the logical shape and the slot layout they encode.
// Layout (what encrypted linear algebra needs to know): a vector of `period` features (a
// power of two) is interleaved with `batch` independent samples, feature i of sample b in slot
// i·batch + b, and the pattern repeats to fill all slots (period·batch divides the slot
// count). Rotating by k·batch slots then shifts the feature index cyclically mod `period` for
// every sample at once — what Halevi–Shoup diagonals require — and a layer's output lands in
// the same kind of layout for the next layer. Larger tensors span several ciphertexts of
// `slots` consecutive elements each (layout kRowMajor).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "deepseek/security/ckks/plaintext.h"

namespace deepseek::security {

enum class SlotLayout { kRowMajor, kInterleaved };

struct EncryptedTensor {
  std::vector<std::size_t> shape;         // logical shape, e.g. {batch, features} or {rows, cols}
  std::vector<ckks::Ciphertext> cts;      // one or more ciphertexts
  SlotLayout layout = SlotLayout::kRowMajor;
  std::size_t period = 0;                 // kInterleaved: feature period (power of two)
  std::size_t batch = 1;                  // kInterleaved: samples interleaved per ciphertext

  std::size_t numel() const {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  int level() const { return cts.empty() ? -1 : cts.front().level; }
  std::string describe() const;
};

}  // namespace deepseek::security
