// safetensors (https://github.com/huggingface/safetensors): the tensor file format shared
// with PyTorch and the Hugging Face tools. Layout: an 8-byte little-endian header length N,
// N bytes of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}) padded with spaces to a multiple of 8, then the data.
// Reading validates everything against the file before touching the data (header size cap,
// JSON, dtype names, offsets in bounds, no overlap or gap, byte counts equal dtype × shape),
// so a corrupt or hostile file gives a deepseek::Error, never a crash or an out-of-bounds
// read. Loading memory-maps the file and the tensors alias the mapping (copy-on-write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deepseek/core/tensor.h"

namespace deepseek::io {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

// Largest JSON header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct SafetensorsFile {
  TensorMap tensors;
  Metadata metadata;
};

// One entry of the header, as validated against the file size.
struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets relative to the start of the data section
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in data order
  Metadata metadata;
  uint64_t data_start = 0;          // byte offset of the data section in the file
};

// "F32", "BF16", "BOOL", ... <-> DType; unknown names throw.
const char* safetensors_dtype_name(DType t);
DType safetensors_dtype_from_name(const std::string& name);

// Parses and validates the header of a safetensors image of `size` bytes.
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size,
                                           const std::string& what = "buffer");

// The whole file as bytes (tensors are written in the reference order: by alignment, then
// name). Non-contiguous and non-CPU tensors are copied first.
std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata = {});

// Parses an image held in memory; tensors are copies (the buffer may go away).
SafetensorsFile deserialize_safetensors(const uint8_t* data, size_t size);

// Writes atomically (temporary file, fsync, rename; see io/file.h).
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const Metadata& metadata = {});

class MappedFile;
namespace detail {
// A planned file: the 8-byte length plus padded JSON header, then the tensors' bytes in
// this order (each a contiguous CPU tensor). Lets writers stream without building the file
// in memory.
struct SafetensorsLayout {
  std::string header;
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint64_t data_bytes = 0;
};
SafetensorsLayout plan_safetensors(const TensorMap& tensors, const Metadata& metadata);
// Streams a planned file into an atomic write of `path`.
void write_safetensors_atomic(const std::string& path, const SafetensorsLayout& layout);
// Tensors of a validated header, aliasing `map`.
TensorMap alias_tensors(const std::shared_ptr<MappedFile>& map, const SafetensorsHeader& h);
}  // namespace detail

// Memory-maps `path`; tensors alias the mapping (which lives while any of them does). A
// tensor whose data is not aligned to its element size is copied instead.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace deepseek::io
