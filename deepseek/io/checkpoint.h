// Training checkpoints: model + optimizer + scheduler + step + RNG state in one safetensors
// file, written atomically so a crash during a save leaves the previous checkpoint intact.
// Tensors are stored under "model/<name>" and "optim/<name>"; everything else (step, epoch,
// scheduler and optimizer hyper-parameters, generator states, free-form metadata) is one JSON
// document in the safetensors `__metadata__` under "deepseek.checkpoint", together with a
// CRC-32 of the data section so bit rot is caught on load. The file stays a valid
// safetensors file: `safetensors.torch.load_file` reads its tensors.
//
// io/ sits below nn/ and optim/, so a checkpoint holds plain named tensor maps and JSON: the
// trainer fills `model` from Module::state_dict(), `optimizer` from the optimizer's state
// tensors and `optimizer_meta`/`scheduler` from their hyper-parameters.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "deepseek/core/generator.h"
#include "deepseek/io/safetensors.h"

namespace deepseek::io {

struct Checkpoint {
  TensorMap model;                 // module state_dict (parameters and buffers)
  TensorMap optimizer;             // optimizer state tensors (e.g. "0.exp_avg")
  nlohmann::json optimizer_meta;   // param groups, hyper-parameters, per-param step counts
  nlohmann::json scheduler;        // scheduler state
  int64_t step = 0;
  int64_t epoch = 0;
  // Generator states by name ("cpu", "cuda:0", "data", ...), restored bit for bit.
  std::map<std::string, Generator::State> rng;
  nlohmann::json meta;             // anything else: config, metrics, data-loader position
};

struct CheckpointLoadOptions {
  bool verify_checksum = true;  // CRC-32 over the data section (reads every byte once)
};

void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Tensors alias a memory mapping of the file (copy them into parameters with copy_).
Checkpoint load_checkpoint(const std::string& path, const CheckpointLoadOptions& options = {});

// CRC-32 (IEEE 802.3, as zlib's crc32), continuing from `crc`.
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

}  // namespace deepseek::io
