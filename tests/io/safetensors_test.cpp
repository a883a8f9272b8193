#include "deepseek/io/safetensors.h"

#include <gtest/gtest.h>

#include "tests/io/io_test_util.h"

namespace deepseek::io {
namespace {

using namespace deepseek::io::testing;

TEST(Safetensors, RoundTripEveryDType) {
  ScratchDir dir;
  TensorMap in;
  for (DType t : kAllDTypes) in[std::string("t_") + dtype_name(t)] = pattern_tensor({3, 5}, t);
  in["scalar"] = pattern_tensor({}, DType::f32);
  in["empty"] = pattern_tensor({0, 4}, DType::i32);
  in["vec"] = pattern_tensor({7}, DType::bf16);
  Metadata meta{{"format", "pt"}, {"note", "héllo \"quoted\""}};
  save_safetensors(dir.file("a.safetensors"), in, meta);
  SafetensorsFile out = load_safetensors(dir.file("a.safetensors"));
  EXPECT_EQ(out.metadata, meta);
  ASSERT_EQ(out.tensors.size(), in.size());
  for (auto& [name, t] : in) {
    ASSERT_TRUE(out.tensors.count(name)) << name;
    EXPECT_TRUE(same_bytes(out.tensors[name], t)) << name;
  }
  // The in-memory path agrees with the file.
  std::string bytes = read_bytes(dir.file("a.safetensors"));
  auto mem = deserialize_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(mem.metadata, meta);
  for (auto& [name, t] : in) EXPECT_TRUE(same_bytes(mem.tensors.at(name), t)) << name;
}

TEST(Safetensors, InMemoryRoundTripAndLayout) {
  TensorMap in{{"b", pattern_tensor({2, 3}, DType::u8)}, {"a", pattern_tensor({4}, DType::f64)},
               {"c", pattern_tensor({3}, DType::f16)}};
  std::string bytes = serialize_safetensors(in);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "header must be padded to 8 bytes";
  EXPECT_EQ(bytes[8], '{');
  // Reference order: by alignment (f64, f16, u8), so offsets are aligned.
  auto h = parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "a");
  EXPECT_EQ(h.tensors[1].name, "c");
  EXPECT_EQ(h.tensors[2].name, "b");
  auto out = deserialize_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  for (auto& [name, t] : in) EXPECT_TRUE(same_bytes(out.tensors.at(name), t)) << name;
  EXPECT_TRUE(out.metadata.empty());
}

TEST(Safetensors, NonContiguousInputIsWrittenInLogicalOrder) {
  Tensor x = pattern_tensor({3, 4}, DType::f32);
  Tensor xt = x.t();  // strides (1, 4)
  ASSERT_FALSE(xt.is_contiguous());
  std::string bytes = serialize_safetensors({{"xt", xt}});
  auto out = deserialize_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(out.tensors.at("xt").to_vector<double>(), xt.to_vector<double>());
}

TEST(Safetensors, LoadedTensorsAliasTheMappingAndOutliveIt) {
  ScratchDir dir;
  save_safetensors(dir.file("m.safetensors"), {{"w", pattern_tensor({64}, DType::f32)}});
  Tensor w;
  {
    auto f = load_safetensors(dir.file("m.safetensors"));
    w = f.tensors.at("w");
  }
  std::filesystem::remove(dir.file("m.safetensors"));  // mapping keeps the data
  EXPECT_TRUE(same_bytes(w, pattern_tensor({64}, DType::f32)));
  // Copy-on-write: writing through the tensor never touches a file.
  w.data<float>()[0] = 42.f;
  EXPECT_EQ(w.data<float>()[0], 42.f);
}

TEST(Safetensors, WritesThroughTensorDoNotModifyTheFile) {
  ScratchDir dir;
  save_safetensors(dir.file("m.safetensors"), {{"w", pattern_tensor({16}, DType::f32)}});
  std::string before = read_bytes(dir.file("m.safetensors"));
  {
    auto f = load_safetensors(dir.file("m.safetensors"));
    f.tensors.at("w").data<float>()[3] = -1.f;
  }
  EXPECT_EQ(read_bytes(dir.file("m.safetensors")), before);
}

TEST(Safetensors, MisalignedDataIsCopiedNotAliased) {
  // Hand-made file: u8 tensor of 1 byte first, then an f32 at offset 1 (legal, misaligned).
  std::string header =
      R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  while ((8 + header.size()) % 8) header += ' ';
  float v = 3.5f;
  std::string data(1, '\x07');
  data.append(reinterpret_cast<const char*>(&v), 4);
  ScratchDir dir;
  write_bytes(dir.file("x"), make_image(header, data));
  auto f = load_safetensors(dir.file("x"));
  EXPECT_EQ(f.tensors.at("b").item<float>(), 3.5f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors.at("b").raw_data()) % 4, 0u);
  EXPECT_EQ(f.tensors.at("a").item<int64_t>(), 7);
}

TEST(Safetensors, WriteErrors) {
  EXPECT_THROW(serialize_safetensors({{"x", Tensor()}}), Error);
  EXPECT_THROW(serialize_safetensors({{"__metadata__", pattern_tensor({1}, DType::f32)}}), Error);
  EXPECT_THROW(serialize_safetensors({{"bad\xff", pattern_tensor({1}, DType::f32)}}), Error);
  ScratchDir dir;
  EXPECT_THROW(save_safetensors(dir.file("no/such/dir/x.safetensors"), {}), Error);
}

TEST(Safetensors, MissingFileNamesThePath) {
  try {
    load_safetensors("/nonexistent/dir/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.safetensors"), std::string::npos);
  }
}

}  // namespace
}  // namespace deepseek::io
