#include "deepseek/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "deepseek/io/file.h"

namespace deepseek::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; big-endian hosts need byte swapping");

namespace {

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kNames[] = {
    {DType::f32, "F32"}, {DType::f64, "F64"}, {DType::f16, "F16"}, {DType::bf16, "BF16"},
    {DType::i8, "I8"},   {DType::u8, "U8"},   {DType::i16, "I16"}, {DType::i32, "I32"},
    {DType::i64, "I64"}, {DType::b8, "BOOL"},
};

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

const char* safetensors_dtype_name(DType t) {
  for (auto& n : kNames)
    if (n.dtype == t) return n.name;
  DS_THROW("[safetensors] dtype ", dtype_name(t), " cannot be stored");
}

DType safetensors_dtype_from_name(const std::string& name) {
  for (auto& n : kNames)
    if (name == n.name) return n.dtype;
  DS_THROW("[safetensors] unsupported dtype '", name,
           "' (supported: F32, F64, F16, BF16, I8, U8, I16, I32, I64, BOOL)");
}

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& what) {
  const std::string where = "[safetensors] " + what + ": ";
  DS_CHECK(size >= 8, where, "file too small (", size, " bytes) to hold the 8-byte header length");
  const uint64_t n = read_u64_le(data);
  DS_CHECK(n <= kMaxSafetensorsHeader, where, "header length ", n, " exceeds the limit of ",
           kMaxSafetensorsHeader, " bytes");
  DS_CHECK(n <= size - 8, where, "header length ", n, " runs past the end of the file (",
           size, " bytes)");
  DS_CHECK(n >= 2 && data[8] == '{', where, "header does not start with '{'");
  const char* hb = reinterpret_cast<const char*>(data + 8);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(hb, hb + n);
  } catch (const nlohmann::json::exception& e) {
    DS_THROW(where, "header is not valid JSON: ", e.what());
  }
  DS_CHECK(j.is_object(), where, "header must be a JSON object");

  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t data_size = size - h.data_start;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      DS_CHECK(v.is_object(), where, "__metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        DS_CHECK(m.value().is_string(), where, "__metadata__ value of '", m.key(),
                 "' must be a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string tw = where + "tensor '" + key + "': ";
    DS_CHECK(v.is_object(), tw, "entry must be an object");
    for (auto f = v.begin(); f != v.end(); ++f)
      DS_CHECK(f.key() == "dtype" || f.key() == "shape" || f.key() == "data_offsets", tw,
               "unknown field '", f.key(), "'");
    DS_CHECK(v.contains("dtype") && v["dtype"].is_string(), tw, "missing string field 'dtype'");
    DS_CHECK(v.contains("shape") && v["shape"].is_array(), tw, "missing array field 'shape'");
    DS_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() &&
                 v["data_offsets"].size() == 2,
             tw, "'data_offsets' must be an array [begin, end]");
    TensorInfo info;
    info.name = key;
    try {
      info.dtype = safetensors_dtype_from_name(v["dtype"].get<std::string>());
    } catch (const Error& e) {
      DS_THROW(tw, e.what());
    }
    uint64_t count = 1;
    for (auto& d : v["shape"]) {
      DS_CHECK(d.is_number_unsigned(), tw, "shape entries must be non-negative integers, got ",
               d.dump());
      uint64_t dim = d.get<uint64_t>();
      DS_CHECK(dim <= static_cast<uint64_t>(INT64_MAX), tw, "dimension ", dim, " too large");
      DS_CHECK(!__builtin_mul_overflow(count, dim, &count), tw, "shape ", v["shape"].dump(),
               " overflows");
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    for (auto& o : v["data_offsets"])
      DS_CHECK(o.is_number_unsigned(), tw, "data_offsets must be non-negative integers, got ",
               o.dump());
    info.begin = v["data_offsets"][0].get<uint64_t>();
    info.end = v["data_offsets"][1].get<uint64_t>();
    DS_CHECK(info.begin <= info.end, tw, "data_offsets [", info.begin, ", ", info.end,
             "] end before they begin");
    DS_CHECK(info.end <= data_size, tw, "data_offsets [", info.begin, ", ", info.end,
             "] run past the end of the data (", data_size, " bytes)");
    uint64_t nbytes;
    DS_CHECK(!__builtin_mul_overflow(count, static_cast<uint64_t>(itemsize(info.dtype)), &nbytes) &&
                 nbytes == info.end - info.begin,
             tw, "dtype ", v["dtype"].get<std::string>(), " × shape ", v["shape"].dump(), " needs ",
             count * itemsize(info.dtype), " bytes but data_offsets span ", info.end - info.begin);
    h.tensors.push_back(std::move(info));
  }
  // The data section must be covered exactly: sorted by offsets, each tensor starts where
  // the previous one ended and the last ends at the end of the file.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (auto& t : h.tensors) {
    DS_CHECK(t.begin >= pos, where, "tensor '", t.name, "' overlaps the previous tensor (starts at ",
             t.begin, ", previous ends at ", pos, ")");
    DS_CHECK(t.begin == pos, where, "gap in the data before tensor '", t.name, "' (bytes ", pos,
             "..", t.begin, " belong to no tensor)");
    pos = t.end;
  }
  DS_CHECK(pos == data_size, where, "data section is ", data_size, " bytes but tensors cover ",
           pos, " (truncated or trailing bytes)");
  return h;
}

namespace {

void check_bool_bytes(const TensorInfo& t, const uint8_t* p) {
  if (t.dtype != DType::b8) return;
  for (uint64_t i = 0; i < t.end - t.begin; ++i)
    DS_CHECK(p[i] <= 1, "[safetensors] tensor '", t.name, "': BOOL byte ", i, " is ",
             int(p[i]), ", not 0 or 1");
}

Tensor copy_tensor(const TensorInfo& t, const uint8_t* p) {
  Tensor out = Tensor::empty(t.shape, t.dtype);
  if (t.end > t.begin) std::memcpy(out.raw_data(), p, t.end - t.begin);
  return out;
}

}  // namespace

namespace detail {

SafetensorsLayout plan_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  for (auto& [name, t] : tensors) {
    DS_CHECK(t.defined(), "[safetensors] tensor '", name, "' is undefined");
    DS_CHECK(name != "__metadata__", "[safetensors] '__metadata__' is reserved, not a tensor name");
    DS_CHECK(!t.is_meta(), "[safetensors] tensor '", name, "' is on the meta device (no data)");
    safetensors_dtype_name(t.dtype());
  }
  // The reference writer's order: larger alignment first, then by name, so every tensor
  // starts aligned to its element size (the data section starts 8-aligned).
  SafetensorsLayout layout;
  for (auto& [name, t] : tensors) {
    Tensor c = t;
    if (!c.device().is_cpu()) c = c.to(kCPU);
    if (!c.is_contiguous()) c = c.contiguous();
    layout.tensors.emplace_back(name, c);
  }
  std::stable_sort(layout.tensors.begin(), layout.tensors.end(), [](auto& a, auto& b) {
    return a.second.element_size() > b.second.element_size();
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t pos = 0;
  for (auto& [name, t] : layout.tensors) {
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype())},
                    {"shape", t.sizes()},
                    {"data_offsets", {pos, pos + t.nbytes()}}};
    pos += t.nbytes();
  }
  layout.data_bytes = pos;
  std::string h;
  try {
    h = header.dump();
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[safetensors] names and metadata must be valid UTF-8: ", e.what());
  }
  h.append((8 - h.size() % 8) % 8, ' ');
  uint64_t n = h.size();
  layout.header.assign(8, '\0');
  std::memcpy(layout.header.data(), &n, 8);
  layout.header += h;
  return layout;
}

void write_safetensors_atomic(const std::string& path, const SafetensorsLayout& layout) {
  write_file_atomic(path, [&](const ByteSink& sink) {
    sink(layout.header.data(), layout.header.size());
    // In chunks, so the crash hook can stop in the middle of a tensor.
    constexpr size_t kChunk = 1 << 20;
    for (auto& [name, t] : layout.tensors) {
      const char* p = static_cast<const char*>(t.raw_data());
      for (size_t i = 0; i < t.nbytes(); i += kChunk) sink(p + i, std::min(kChunk, t.nbytes() - i));
    }
  });
}

TensorMap alias_tensors(const std::shared_ptr<MappedFile>& map, const SafetensorsHeader& h) {
  TensorMap out;
  for (auto& t : h.tensors) {
    uint8_t* p = map->data() + h.data_start + t.begin;
    check_bool_bytes(t, p);
    const size_t nbytes = t.end - t.begin;
    if (reinterpret_cast<uintptr_t>(p) % itemsize(t.dtype) != 0) {
      out[t.name] = copy_tensor(t, p);  // misaligned (not written by a reference writer)
      continue;
    }
    auto storage = std::make_shared<Storage>(p, nbytes, kCPU, [map] {});
    out[t.name] = Tensor::make(std::move(storage), t.shape, contiguous_strides(t.shape), 0, t.dtype);
  }
  return out;
}

}  // namespace detail

std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  auto layout = detail::plan_safetensors(tensors, metadata);
  std::string out = layout.header;
  out.reserve(out.size() + layout.data_bytes);
  for (auto& [name, t] : layout.tensors)
    out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

SafetensorsFile deserialize_safetensors(const uint8_t* data, size_t size) {
  SafetensorsHeader h = parse_safetensors_header(data, size);
  SafetensorsFile f;
  f.metadata = std::move(h.metadata);
  for (auto& t : h.tensors) {
    const uint8_t* p = data + h.data_start + t.begin;
    check_bool_bytes(t, p);
    f.tensors[t.name] = copy_tensor(t, p);
  }
  return f;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  detail::write_safetensors_atomic(path, detail::plan_safetensors(tensors, metadata));
}

SafetensorsFile load_safetensors(const std::string& path) {
  auto map = MappedFile::open(path);
  SafetensorsHeader h = parse_safetensors_header(map->data(), map->size(), "'" + path + "'");
  SafetensorsFile f;
  f.tensors = detail::alias_tensors(map, h);
  f.metadata = std::move(h.metadata);
  return f;
}

}  // namespace deepseek::io
