// File primitives for io/: read-only memory mappings that tensors can alias, and atomic
// writes (temporary file in the same directory, fsync, rename, fsync of the directory) so a
// crash in the middle of a save never damages the file that was there before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace deepseek::io {

// A private (copy-on-write) mapping of a whole file. Tensors that alias it hold a
// shared_ptr, so the mapping lives as long as any of them; writes through a tensor touch
// only the process's private copy of the page, never the file.
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Receives chunks of bytes to write; the callback passed to write_file_atomic calls it.
using ByteSink = std::function<void(const void* data, size_t n)>;

// Writes `path` atomically: `produce` streams the content into a temporary file next to
// `path`, which is fsynced and renamed over `path`, then the directory is fsynced. On any
// error the temporary file is removed and `path` is left as it was.
//
// Test hook: when the environment variable DEEPSEEK_IO_CRASH_AFTER_BYTES=N is set, the
// process kills itself with SIGKILL once N bytes of the temporary file have been written
// (N larger than the content: after the fsync, just before the rename). Crash tests run a
// child process with it set and check that the previous file still loads.
void write_file_atomic(const std::string& path, const std::function<void(const ByteSink&)>& produce);

}  // namespace deepseek::io
