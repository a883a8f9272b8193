// Tuning of scaled_dot_product_attention (declared in ops.h): how many attention weights one
// chunk of the batch may hold (default 2^26). Tests lower it to exercise the chunking.
#pragma once

#include <cstdint>

namespace deepseek {

void set_attention_chunk_elements(int64_t n);
int64_t attention_chunk_elements();

}  // namespace deepseek
