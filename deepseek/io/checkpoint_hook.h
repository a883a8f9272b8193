// A hook through which a layer above io/ sees every checkpoint file that is saved or loaded —
// the security pillar uses it to check access (ABAC), append audit records and
// envelope-encrypt the file with an HSM-held key — without io/ depending on that layer
// (DESIGN §2: io/ sits below the pillars). The program installs one process-wide (tools/ does
// when given a security config); with none installed checkpoints are plain safetensors files.
//
// The interface uses only standard types and has no out-of-line members, so an
// implementation needs this header, not the io library.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace deepseek::io {

class CheckpointFileHook {
 public:
  virtual ~CheckpointFileHook() = default;

  // Called before anything is written or read; throw deepseek::Error to refuse.
  virtual void before_save(const std::string& path) = 0;
  virtual void before_load(const std::string& path) = 0;

  // When true, save builds the whole safetensors image in memory, passes it to encode() and
  // writes what encode returns (atomically) instead of the image: the plaintext never
  // reaches the disk.
  virtual bool encodes() const = 0;
  virtual std::vector<std::uint8_t> encode(const std::string& path, const std::string& image) = 0;

  // For an encoded file, the safetensors image it holds; std::nullopt for a plain file (which
  // is then memory-mapped as usual). May throw to refuse a file (tampered, wrong key, or a
  // plain file where only encoded ones are accepted).
  virtual std::optional<std::vector<std::uint8_t>> decode(const std::string& path) = 0;

  // After the file was written / fully read and validated (for "done" audit records).
  virtual void after_save(const std::string& path) { (void)path; }
  virtual void after_load(const std::string& path) { (void)path; }
};

// Installs (nullptr: removes) the process-wide hook; defined in checkpoint.cpp.
void set_checkpoint_file_hook(std::shared_ptr<CheckpointFileHook> hook);
std::shared_ptr<CheckpointFileHook> checkpoint_file_hook();

}  // namespace deepseek::io
