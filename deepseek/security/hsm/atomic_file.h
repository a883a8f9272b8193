// Crash-safe file replacement for everything security/ writes whole (encrypted checkpoints,
// wrapped seeds): data goes to a temporary file in the target's folder, is fsync'ed, then
// renamed over the target and the folder is fsync'ed. A crash or an error at any point leaves
// either the old file or the new one, never a torn mix, so nothing already saved is lost.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace deepseek::security::hsm {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);  // creates "<path>.tmp-XXXXXX" (mode 0600)
  ~AtomicFileWriter();                          // removes the temp file unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::span<const std::uint8_t> bytes) { write(bytes.data(), bytes.size()); }
  void commit();  // fsync + rename + fsync(dir)

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

void write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> read_whole_file(const std::string& path);

std::string to_hex(std::span<const std::uint8_t> bytes);
// Throws deepseek::Error naming `what` on odd length or non-hex characters.
std::vector<std::uint8_t> from_hex(std::string_view hex, std::string_view what);

}  // namespace deepseek::security::hsm
