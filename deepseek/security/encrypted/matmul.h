// Encrypted × encrypted d×d matrix product (Jiang, Kim, Lauter, Song, CCS 2018): both matrices
// row-major in one ciphertext each (d^2 ≤ slots). With σ(A)_{i,j} = A_{i,i+j} and
// τ(B)_{i,j} = B_{i+j,j} (linear transforms with 2d-1 and d diagonals, evaluated with
// baby-step/giant-step), φ^k a column shift and ψ^k a row shift,
//     A·B = Σ_{k<d} φ^k(σ(A)) ⊙ ψ^k(τ(B)).
// φ^k needs two rotations and two masks, ψ^k one rotation; both families are hoisted (one
// decomposition of σ(A) and τ(B) each), and the d products are accumulated before a single
// relinearization. Depth: 3 levels. Rotation keys: encrypted_matmul_rotations(d).
#pragma once

#include <vector>

#include "deepseek/security/ckks/evaluator.h"
#include "deepseek/security/encrypted/encrypted_tensor.h"

namespace deepseek::security {

EncryptedTensor encrypted_matmul(const ckks::Evaluator& ev, const EncryptedTensor& a, const EncryptedTensor& b);
std::vector<int> encrypted_matmul_rotations(std::size_t d);

}  // namespace deepseek::security
