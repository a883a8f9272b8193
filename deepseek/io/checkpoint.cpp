#include "deepseek/io/checkpoint.h"

#include <array>
#include <cstring>
#include <functional>
#include <mutex>

#include "deepseek/io/checkpoint_hook.h"
#include "deepseek/io/file.h"

namespace deepseek::io {

namespace {

constexpr const char* kMetaKey = "deepseek.checkpoint";
constexpr const char* kModelPrefix = "model/";
constexpr const char* kOptimPrefix = "optim/";
constexpr int kFormatVersion = 1;

// Slicing-by-8 tables for CRC-32 (reflected polynomial 0xEDB88320).
struct CrcTables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  CrcTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};

std::string u64_str(uint64_t v) { return std::to_string(v); }

uint64_t parse_u64(const nlohmann::json& j, const char* what) {
  DS_CHECK(j.is_string(), "[checkpoint] ", what, " must be a decimal string");
  const std::string s = j.get<std::string>();
  DS_CHECK(!s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos,
           "[checkpoint] ", what, " is not a 64-bit unsigned integer: '", s, "'");
  uint64_t v = 0;
  for (char c : s) {
    DS_CHECK(!__builtin_mul_overflow(v, 10u, &v) && !__builtin_add_overflow(v, uint64_t(c - '0'), &v),
             "[checkpoint] ", what, " overflows 64 bits: '", s, "'");
  }
  return v;
}

std::mutex& hook_mutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<CheckpointFileHook>& hook_slot() {
  static std::shared_ptr<CheckpointFileHook> h;
  return h;
}

}  // namespace

void set_checkpoint_file_hook(std::shared_ptr<CheckpointFileHook> hook) {
  std::lock_guard<std::mutex> lock(hook_mutex());
  hook_slot() = std::move(hook);
}

std::shared_ptr<CheckpointFileHook> checkpoint_file_hook() {
  std::lock_guard<std::mutex> lock(hook_mutex());
  return hook_slot();
}

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
  static const CrcTables tables;
  const auto& t = tables.t;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  const auto hook = checkpoint_file_hook();
  if (hook) hook->before_save(path);
  TensorMap all;
  for (auto& [k, v] : ckpt.model) all[kModelPrefix + k] = v;
  for (auto& [k, v] : ckpt.optimizer) all[kOptimPrefix + k] = v;

  // The data section does not depend on the metadata, so its CRC can go into the metadata:
  // plan once to get the (contiguous) tensors in file order, then plan the real header.
  auto layout = detail::plan_safetensors(all, {});
  uint32_t crc = 0;
  for (auto& [name, t] : layout.tensors) crc = crc32(t.raw_data(), t.nbytes(), crc);

  nlohmann::json doc;
  doc["format_version"] = kFormatVersion;
  doc["step"] = ckpt.step;
  doc["epoch"] = ckpt.epoch;
  doc["optimizer"] = ckpt.optimizer_meta;
  doc["scheduler"] = ckpt.scheduler;
  doc["meta"] = ckpt.meta;
  doc["data_crc32"] = crc;
  nlohmann::json rng = nlohmann::json::object();
  for (auto& [name, s] : ckpt.rng) rng[name] = {{"seed", u64_str(s.seed)}, {"offset", u64_str(s.offset)}};
  doc["rng"] = rng;
  std::string doc_str;
  try {
    doc_str = doc.dump();
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[checkpoint] metadata cannot be written as JSON: ", e.what());
  }
  // Re-plan with the tensors already made contiguous, so nothing is copied twice.
  TensorMap planned(layout.tensors.begin(), layout.tensors.end());
  if (hook && hook->encodes()) {
    // The image is encoded (encrypted) in memory; only the encoded bytes are written.
    const std::vector<uint8_t> bytes = hook->encode(path, serialize_safetensors(planned, {{kMetaKey, doc_str}}));
    write_file_atomic(path, [&](const ByteSink& sink) { sink(bytes.data(), bytes.size()); });
  } else {
    detail::write_safetensors_atomic(path, detail::plan_safetensors(planned, {{kMetaKey, doc_str}}));
  }
  if (hook) hook->after_save(path);
}

namespace {

// A checkpoint from a safetensors image of `size` bytes; `tensors` gives the validated
// header's tensors (aliasing a mapping, or copies of a decoded buffer).
Checkpoint parse_checkpoint(const uint8_t* data, size_t size, const std::string& path,
                            const CheckpointLoadOptions& options,
                            const std::function<TensorMap(const SafetensorsHeader&)>& tensors) {
  SafetensorsHeader h = parse_safetensors_header(data, size, "'" + path + "'");
  auto it = h.metadata.find(kMetaKey);
  DS_CHECK(it != h.metadata.end(), "[checkpoint] '", path,
           "' is a safetensors file but not a deepseek checkpoint (no '", kMetaKey, "' metadata)");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[checkpoint] '", path, "': metadata is not valid JSON: ", e.what());
  }
  Checkpoint c;
  try {
    DS_CHECK(doc.is_object(), "metadata must be a JSON object");
    int version = doc.at("format_version").get<int>();
    DS_CHECK(version == kFormatVersion, "format version ", version, " is not supported (this build reads ",
             kFormatVersion, ")");
    c.step = doc.at("step").get<int64_t>();
    c.epoch = doc.at("epoch").get<int64_t>();
    c.optimizer_meta = doc.at("optimizer");
    c.scheduler = doc.at("scheduler");
    c.meta = doc.at("meta");
    const auto& rng = doc.at("rng");
    DS_CHECK(rng.is_object(), "'rng' must be an object");
    for (auto r = rng.begin(); r != rng.end(); ++r)
      c.rng[r.key()] = Generator::State{parse_u64(r.value().at("seed"), "rng seed"),
                                        parse_u64(r.value().at("offset"), "rng offset")};
    if (options.verify_checksum) {
      const uint32_t want = doc.at("data_crc32").get<uint32_t>();
      const uint32_t got = crc32(data + h.data_start, size - h.data_start);
      DS_CHECK(got == want, "tensor data is corrupt (CRC-32 ", got, ", expected ", want, ")");
    }
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[checkpoint] '", path, "': bad metadata: ", e.what());
  } catch (const Error& e) {
    DS_THROW("[checkpoint] '", path, "': ", e.what());
  }
  for (auto& [name, t] : tensors(h)) {
    if (name.rfind(kModelPrefix, 0) == 0) c.model[name.substr(std::strlen(kModelPrefix))] = t;
    else if (name.rfind(kOptimPrefix, 0) == 0) c.optimizer[name.substr(std::strlen(kOptimPrefix))] = t;
    else DS_THROW("[checkpoint] '", path, "': tensor '", name, "' belongs to neither model/ nor optim/");
  }
  return c;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path, const CheckpointLoadOptions& options) {
  const auto hook = checkpoint_file_hook();
  if (hook) {
    hook->before_load(path);
    if (auto image = hook->decode(path)) {
      Checkpoint c = parse_checkpoint(image->data(), image->size(), path, options, [&](const SafetensorsHeader&) {
        return deserialize_safetensors(image->data(), image->size()).tensors;
      });
      hook->after_load(path);
      return c;
    }
  }
  auto map = MappedFile::open(path);
  // Tensors come from the same (already validated) mapping.
  Checkpoint c = parse_checkpoint(map->data(), map->size(), path, options,
                                  [&](const SafetensorsHeader& h) { return detail::alias_tensors(map, h); });
  if (hook) hook->after_load(path);
  return c;
}

}  // namespace deepseek::io
