// Helpers for the io tests: scratch directories, tensors with a known value pattern for
// every dtype, byte-exact comparison, and hand-made safetensors images.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "deepseek/core/tensor.h"

namespace deepseek::io::testing {

inline const DType kAllDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i8,
                                   DType::u8,  DType::i16, DType::i32, DType::i64,  DType::b8};

// A fresh directory under the system temp dir, removed on destruction.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "deepseek_io_XXXXXX").string();
    path = ::mkdtemp(tmpl.data()) ? tmpl : throw std::runtime_error("mkdtemp failed");
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Element i of the pattern: exact in every dtype (the Python interop script uses the same).
inline double pattern_value(int64_t i, DType t) {
  int64_t v = (i * 37 + 11) % 101;
  if (t == DType::b8) return v % 3 == 0;
  if (t == DType::u8) return v;
  if (is_floating(t)) return (v - 50) * 0.25;
  return v - 50;
}

inline Tensor pattern_tensor(const Shape& shape, DType t) {
  Tensor x = Tensor::empty(shape, t);
  visit_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(x.raw_data());
    for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<T>(pattern_value(i, t));
  });
  return x;
}

inline ::testing::AssertionResult same_bytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(a.dtype()) << " vs " << dtype_name(b.dtype());
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shape " << to_string(a.sizes()) << " vs " << to_string(b.sizes());
  if (a.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) != 0)
    return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

// 8-byte length + header JSON (unpadded) + data.
inline std::string make_image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace deepseek::io::testing
