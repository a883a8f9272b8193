#include "deepseek/io/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "deepseek/core/error.h"

namespace deepseek::io {

namespace {
std::string errno_text() { return std::strerror(errno); }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};
}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  DS_CHECK(f.fd >= 0, "[io] cannot open '", path, "': ", errno_text());
  struct stat st {};
  DS_CHECK(::fstat(f.fd, &st) == 0, "[io] cannot stat '", path, "': ", errno_text());
  DS_CHECK(S_ISREG(st.st_mode), "[io] '", path, "' is not a regular file");
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ == 0) return m;  // mmap of 0 bytes is invalid; nothing to alias anyway
  // PROT_WRITE with MAP_PRIVATE: tensors may be modified in place without touching the file.
  void* p = ::mmap(nullptr, m->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0);
  DS_CHECK(p != MAP_FAILED, "[io] cannot map '", path, "' (", m->size_, " bytes): ", errno_text());
  m->data_ = static_cast<uint8_t*>(p);
  return m;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

namespace {
int64_t crash_after_bytes() {
  const char* v = std::getenv("DEEPSEEK_IO_CRASH_AFTER_BYTES");
  if (!v || !*v) return -1;
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  return (end && *end == '\0' && n >= 0) ? n : -1;
}

[[noreturn]] void crash_now() {
  ::raise(SIGKILL);
  std::_Exit(137);
}

void write_all(int fd, const char* p, size_t n, const std::string& tmp) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    DS_CHECK(w > 0, "[io] write to '", tmp, "' failed: ", errno_text());
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void fsync_dir(const std::filesystem::path& dir) {
  Fd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DS_CHECK(d.fd >= 0, "[io] cannot open directory '", dir.string(), "': ", errno_text());
  DS_CHECK(::fsync(d.fd) == 0, "[io] fsync of directory '", dir.string(), "' failed: ", errno_text());
}

std::atomic<uint64_t> tmp_counter{0};
}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
  namespace fs = std::filesystem;
  fs::path target(path);
  DS_CHECK(!target.filename().empty(), "[io] '", path, "' names no file");
  fs::path dir = target.parent_path();
  fs::path tmp = dir / (target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                        std::to_string(tmp_counter.fetch_add(1)));
  Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  DS_CHECK(f.fd >= 0, "[io] cannot create '", tmp.string(), "': ", errno_text());
  const int64_t crash_at = crash_after_bytes();
  int64_t written = 0;
  try {
    ByteSink sink = [&](const void* data, size_t n) {
      const char* p = static_cast<const char*>(data);
      if (crash_at >= 0 && written + static_cast<int64_t>(n) >= crash_at) {
        size_t part = static_cast<size_t>(crash_at - written);
        write_all(f.fd, p, part, tmp.string());
        crash_now();
      }
      write_all(f.fd, p, n, tmp.string());
      written += static_cast<int64_t>(n);
    };
    produce(sink);
    DS_CHECK(::fsync(f.fd) == 0, "[io] fsync of '", tmp.string(), "' failed: ", errno_text());
    int fd = f.fd;
    f.fd = -1;
    DS_CHECK(::close(fd) == 0, "[io] close of '", tmp.string(), "' failed: ", errno_text());
    if (crash_at >= 0) crash_now();  // everything written, not yet renamed
    DS_CHECK(::rename(tmp.c_str(), target.c_str()) == 0, "[io] cannot rename '", tmp.string(),
             "' to '", path, "': ", errno_text());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fsync_dir(dir);
}

}  // namespace deepseek::io
