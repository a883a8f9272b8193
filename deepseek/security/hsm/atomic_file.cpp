#include "deepseek/security/hsm/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "deepseek/core/error.h"

namespace deepseek::security::hsm {

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  std::string templ = path_ + ".tmp-XXXXXX";
  fd_ = ::mkstemp(templ.data());
  DS_CHECK(fd_ >= 0, "[io] cannot create temporary file next to '", path_,
           "': ", std::strerror(errno));
  tmp_ = templ;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
  DS_CHECK(fd_ >= 0 && !committed_, "[io] write after commit to '", path_, "'");
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    DS_CHECK(n > 0, "[io] write to '", tmp_, "' failed: ", std::strerror(errno));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  DS_CHECK(fd_ >= 0 && !committed_, "[io] double commit of '", path_, "'");
  DS_CHECK(::fsync(fd_) == 0, "[io] fsync of '", tmp_, "' failed: ", std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  DS_CHECK(::rename(tmp_.c_str(), path_.c_str()) == 0, "[io] rename '", tmp_, "' -> '", path_,
           "' failed: ", std::strerror(errno));
  committed_ = true;
  // The rename is durable only once the directory entry is on disk.
  auto dir = std::filesystem::path(path_).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes) {
  AtomicFileWriter w(path);
  w.write(bytes);
  w.commit();
}

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  DS_CHECK(fd >= 0, "[io] cannot open '", path, "': ", std::strerror(errno));
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      DS_THROW("[io] read of '", path, "' failed: ", std::strerror(e));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static const char* d = "0123456789abcdef";
  std::string s(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = d[bytes[i] >> 4];
    s[2 * i + 1] = d[bytes[i] & 15];
  }
  return s;
}

std::vector<std::uint8_t> from_hex(std::string_view hex, std::string_view what) {
  DS_CHECK(hex.size() % 2 == 0, "[hex] ", what, " has odd length ", hex.size());
  auto val = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    DS_THROW("[hex] ", what, " contains non-hex character '", c, "'");
  };
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(val(hex[2 * i]) * 16 + val(hex[2 * i + 1]));
  return out;
}

}  // namespace deepseek::security::hsm
