// IDX files (the MNIST family's format), optionally gzip-compressed: a big-endian magic
// (0x00 0x00, type code, number of dims), big-endian u32 dims, then the row-major data.
// Only unsigned-byte data (type 0x08) is supported, which is what the MNIST sets use.
#pragma once

#include <cstdint>
#include <string>

#include "deepseek/core/tensor.h"

namespace deepseek::data {

// Reads an IDX file of u8 data (through zlib, so plain or .gz) into a u8 tensor shaped by
// the file's dims. Checks the magic number (equal to `expected_magic` unless that is 0, e.g.
// 2051 for MNIST images, 2049 for labels), that the data is exactly as long as the dims say,
// and that it has at most `max_elements` elements. Errors name the file.
Tensor read_idx_u8(const std::string& path, uint32_t expected_magic = 0,
                   int64_t max_elements = int64_t{1} << 32);

}  // namespace deepseek::data
