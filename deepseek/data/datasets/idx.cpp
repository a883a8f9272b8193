#include "deepseek/data/datasets/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace deepseek::data {

namespace {
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

std::string gz_error(gzFile f) {
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code == Z_ERRNO) return std::strerror(errno);
  return msg ? msg : "unknown zlib error";
}

// Reads up to n bytes; returns how many were read (fewer only at end of file).
size_t read_some(gzFile f, void* dst, size_t n, const std::string& path) {
  size_t total = 0;
  while (total < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
    int r = gzread(f, static_cast<char*>(dst) + total, chunk);
    DS_CHECK(r >= 0, "[idx] '", path, "': read failed: ", gz_error(f));
    if (r == 0) break;
    total += static_cast<size_t>(r);
  }
  return total;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
}  // namespace

Tensor read_idx_u8(const std::string& path, uint32_t expected_magic, int64_t max_elements) {
  GzFile g;
  g.f = gzopen(path.c_str(), "rb");
  DS_CHECK(g.f != nullptr, "[idx] cannot open '", path, "': ", errno ? std::strerror(errno) : "out of memory");
  gzbuffer(g.f, 1 << 20);
  uint8_t magic[4];
  DS_CHECK(read_some(g.f, magic, 4, path) == 4, "[idx] '", path, "': file too short for the magic number");
  const uint32_t m = be32(magic);
  DS_CHECK(expected_magic == 0 || m == expected_magic, "[idx] '", path, "': magic number ", m, ", expected ",
           expected_magic);
  DS_CHECK(magic[0] == 0 && magic[1] == 0, "[idx] '", path, "': bad magic number ", m,
           " (an IDX file starts with two zero bytes)");
  DS_CHECK(magic[2] == 0x08, "[idx] '", path, "': data type 0x", std::hex, int(magic[2]),
           " is not supported (only unsigned bytes, 0x08)");
  const int ndim = magic[3];
  DS_CHECK(ndim >= 1, "[idx] '", path, "': zero dimensions");
  std::vector<uint8_t> dims_raw(4 * static_cast<size_t>(ndim));
  DS_CHECK(read_some(g.f, dims_raw.data(), dims_raw.size(), path) == dims_raw.size(), "[idx] '", path,
           "': file too short for its ", ndim, " dimensions");
  Shape shape;
  int64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    shape.push_back(be32(dims_raw.data() + 4 * d));
    DS_CHECK(!__builtin_mul_overflow(count, shape.back(), &count) && count <= max_elements, "[idx] '", path,
             "': dimensions ", to_string(shape), "... exceed ", max_elements, " elements");
  }
  // Read in chunks so a header claiming more data than the file holds costs no more memory
  // than the data that is really there.
  std::vector<uint8_t> data;
  const size_t want = static_cast<size_t>(count);
  while (data.size() < want) {
    const size_t old = data.size();
    data.resize(std::min(want, old + (size_t{16} << 20)));
    const size_t got = read_some(g.f, data.data() + old, data.size() - old, path);
    DS_CHECK(got == data.size() - old, "[idx] '", path, "': truncated: dimensions ", to_string(shape),
             " need ", want, " bytes of data, the file has ", old + got);
  }
  uint8_t extra;
  DS_CHECK(read_some(g.f, &extra, 1, path) == 0, "[idx] '", path, "': trailing bytes after ", want,
           " bytes of data for dimensions ", to_string(shape));
  Tensor t = Tensor::empty(shape, DType::u8);
  if (want) std::memcpy(t.raw_data(), data.data(), want);
  return t;
}

}  // namespace deepseek::data
