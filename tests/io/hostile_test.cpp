// Corrupt, truncated and hostile safetensors images: each must give a deepseek::Error with a
// message saying what is wrong, never a crash, an out-of-bounds read or a huge allocation.
#include <gtest/gtest.h>

#include <random>

#include "deepseek/io/safetensors.h"
#include "tests/io/io_test_util.h"

namespace deepseek::io {
namespace {

using namespace deepseek::io::testing;

// Parses `bytes` both from memory and from a file; expects an Error mentioning `needle`.
void expect_rejected(const std::string& bytes, const std::string& needle) {
  SCOPED_TRACE(needle);
  try {
    deserialize_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ADD_FAILURE() << "accepted from memory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  ScratchDir dir;
  write_bytes(dir.file("h.safetensors"), bytes);
  try {
    load_safetensors(dir.file("h.safetensors"));
    ADD_FAILURE() << "accepted from file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::string one(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return R"({"x":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
}

TEST(SafetensorsHostile, TooSmall) {
  expect_rejected("", "too small");
  expect_rejected(std::string(7, '\0'), "too small");
}

TEST(SafetensorsHostile, HugeHeaderLength) {
  std::string b(8, '\xff');
  b += "{}";
  expect_rejected(b, "exceeds the limit");
  uint64_t n = 50'000'000;  // under the cap but past the end of the file
  std::memcpy(b.data(), &n, 8);
  expect_rejected(b, "past the end of the file");
}

TEST(SafetensorsHostile, BadJson) {
  expect_rejected(make_image("{\"x\": ", ""), "not valid JSON");
  expect_rejected(make_image("[1, 2]  ", ""), "does not start with '{'");
  expect_rejected(make_image("{\"a\":\"\xff\xfe\"}", ""), "not valid JSON");
  expect_rejected(make_image("{\"x\": 3}", ""), "must be an object");
  expect_rejected(make_image(R"({"__metadata__":{"k":1}})", ""), "must be a string");
}

TEST(SafetensorsHostile, DeeplyNestedJson) {
  // A parser that recursed per nesting level would overflow the stack here.
  const int depth = 100000;
  std::string h = "{\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  expect_rejected(make_image(h, ""), "must be an object");
}

TEST(SafetensorsHostile, BadDType) {
  expect_rejected(make_image(one("F33", "[1]", "[0,4]"), "abcd"), "unsupported dtype 'F33'");
  expect_rejected(make_image(one("U64", "[1]", "[0,8]"), std::string(8, 'a')), "unsupported dtype");
}

TEST(SafetensorsHostile, OffsetsOutOfBounds) {
  expect_rejected(make_image(one("F32", "[4]", "[0,16]"), std::string(8, 'a')), "past the end of the data");
  expect_rejected(make_image(one("F32", "[1]", "[18446744073709551612,18446744073709551615]"),
                             std::string(4, 'a')),
                  "past the end");
  expect_rejected(make_image(one("F32", "[1]", "[4,0]"), std::string(4, 'a')), "end before they begin");
  expect_rejected(make_image(one("F32", "[1]", "[-4,0]"), std::string(4, 'a')), "non-negative");
  expect_rejected(make_image(one("F32", "[1]", "[0]"), std::string(4, 'a')), "data_offsets");
  expect_rejected(make_image(one("F32", "[1]", "[0.0,4.0]"), std::string(4, 'a')), "non-negative integers");
}

TEST(SafetensorsHostile, ShapeSizeMismatch) {
  expect_rejected(make_image(one("F32", "[3]", "[0,8]"), std::string(8, 'a')), "needs 12 bytes");
  expect_rejected(make_image(one("F32", "[-1]", "[0,4]"), std::string(4, 'a')), "non-negative");
  expect_rejected(make_image(one("F32", "[4294967296,4294967296,16]", "[0,4]"), std::string(4, 'a')),
                  "overflows");
  expect_rejected(make_image(one("F32", "[\"2\"]", "[0,8]"), std::string(8, 'a')), "shape");
}

TEST(SafetensorsHostile, OverlapGapAndTrailingBytes) {
  std::string two =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_rejected(make_image(two, std::string(12, 'a')), "overlaps");
  std::string gap =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  expect_rejected(make_image(gap, std::string(12, 'a')), "gap");
  expect_rejected(make_image(one("F32", "[1]", "[0,4]"), std::string(6, 'a')), "trailing");
}

TEST(SafetensorsHostile, Truncated) {
  TensorMap in{{"w", pattern_tensor({10, 10}, DType::f32)}, {"b", pattern_tensor({10}, DType::i64)}};
  std::string good = serialize_safetensors(in);
  for (size_t cut : {good.size() - 1, good.size() - 400, size_t{20}, size_t{9}, size_t{8}, size_t{3}}) {
    std::string bad = good.substr(0, cut);
    EXPECT_THROW(deserialize_safetensors(reinterpret_cast<const uint8_t*>(bad.data()), bad.size()), Error)
        << cut;
  }
}

TEST(SafetensorsHostile, BoolBytesMustBeZeroOrOne) {
  expect_rejected(make_image(one("BOOL", "[2]", "[0,2]"), std::string("\x01\x02", 2)), "not 0 or 1");
}

TEST(SafetensorsHostile, UnknownFieldAndMissingFields) {
  expect_rejected(make_image(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", "abcd"),
                  "unknown field");
  expect_rejected(make_image(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", "abcd"), "dtype");
}

// Random mutations of a valid image: whatever the bytes, parsing either succeeds or throws a
// deepseek::Error (ASan/UBSan builds check there is no out-of-bounds access on the way).
TEST(SafetensorsFuzz, RandomMutationsNeverCrash) {
  TensorMap in{{"weight", pattern_tensor({3, 4}, DType::f32)},
               {"bias", pattern_tensor({4}, DType::f16)},
               {"mask", pattern_tensor({5}, DType::b8)},
               {"idx", pattern_tensor({2}, DType::i64)}};
  const std::string good = serialize_safetensors(in, {{"k", "v"}});
  uint64_t hlen;
  std::memcpy(&hlen, good.data(), 8);
  std::mt19937_64 rng(1234);
  int accepted = 0, rejected = 0;
  const char interesting[] = {'0', '9', '-', '"', '{', '}', '[', ']', ',', ':', '\0', '\xff', ' ', 'e'};
  for (int iter = 0; iter < 4000; ++iter) {
    std::string b = good;
    int n_mut = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < n_mut; ++m) {
      // Mostly the header, where the structure is.
      size_t pos = (rng() % 4 != 0) ? rng() % (8 + hlen) : rng() % b.size();
      if (b.empty()) break;
      pos %= b.size();
      switch (rng() % 6) {
        case 0: b[pos] = static_cast<char>(rng()); break;
        case 1: b[pos] = interesting[rng() % sizeof(interesting)]; break;
        case 2: b[pos] ^= static_cast<char>(1u << (rng() % 8)); break;
        case 3: b.erase(pos, 1 + rng() % 4); break;
        case 4: b.insert(pos, 1, interesting[rng() % sizeof(interesting)]); break;
        case 5: b.resize(rng() % b.size()); break;
      }
    }
    try {
      auto f = deserialize_safetensors(reinterpret_cast<const uint8_t*>(b.data()), b.size());
      for (auto& [name, t] : f.tensors) (void)t.nbytes();
      ++accepted;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(accepted, 0);  // e.g. mutations inside tensor data are legal
}

}  // namespace
}  // namespace deepseek::io
