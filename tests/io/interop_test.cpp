// Interop with the reference implementation: a file we write loads with the Python
// `safetensors` package into PyTorch with identical values, and a file that package writes
// loads in ours. Needs the project virtualenv (.venv, made by `make venv`); skipped without it.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>

#include "deepseek/io/safetensors.h"
#include "tests/io/io_test_util.h"

namespace deepseek::io {
namespace {

using namespace deepseek::io::testing;

const char* kScript = R"PY(
import sys
try:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
except ImportError as e:
    print("python: missing", e)
    sys.exit(77)

DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16,
          "bf16": torch.bfloat16, "i8": torch.int8, "u8": torch.uint8, "i16": torch.int16,
          "i32": torch.int32, "i64": torch.int64, "bool": torch.bool}

def pattern(shape, name):
    dt = DTYPES[name]
    n = 1
    for d in shape:
        n *= d
    v = (torch.arange(n, dtype=torch.int64) * 37 + 11) % 101
    if dt == torch.bool:
        x = v % 3 == 0
    elif dt == torch.uint8:
        x = v.to(dt)
    elif dt.is_floating_point:
        x = ((v - 50).to(torch.float64) * 0.25).to(dt)
    else:
        x = (v - 50).to(dt)
    return x.reshape(shape)

mode, path = sys.argv[1], sys.argv[2]
if mode == "check":
    got = load_file(path)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    assert meta == {"producer": "deepseek", "note": "ünïcode"}, meta
    assert set(got) == {"t_" + k for k in DTYPES} | {"scalar", "empty"}, sorted(got)
    for k in DTYPES:
        x, want = got["t_" + k], pattern((3, 5), k)
        assert x.dtype == want.dtype and x.shape == want.shape, (k, x.dtype, x.shape)
        assert torch.equal(x, want), (k, x, want)
    assert got["scalar"].shape == () and torch.equal(got["scalar"], pattern((), "f32"))
    assert got["empty"].shape == (0, 4) and got["empty"].dtype == torch.int32
    print("python: all tensors identical")
else:
    t = {"p_" + k: pattern((2, 7), k) for k in DTYPES}
    t["p_big"] = pattern((33, 17), "f32")
    t["p_scalar"] = pattern((), "f64")
    save_file(t, path, metadata={"producer": "torch"})
    print("python: wrote", len(t), "tensors")
)PY";

std::string python() {
  if (const char* p = std::getenv("DEEPSEEK_PYTHON")) return p;
  return ".venv/bin/python";
}

bool have_python() { return std::filesystem::exists(python()); }

// Exit status of the script (77: torch or safetensors cannot be imported).
int run_script(const std::string& cmd) {
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SafetensorsInterop, OurFileLoadsInPythonSafetensors) {
  if (!have_python()) GTEST_SKIP() << "no " << python() << " (run `make venv`)";
  ScratchDir dir;
  TensorMap t;
  for (DType d : kAllDTypes) t[std::string("t_") + dtype_name(d)] = pattern_tensor({3, 5}, d);
  t["scalar"] = pattern_tensor({}, DType::f32);
  t["empty"] = pattern_tensor({0, 4}, DType::i32);
  save_safetensors(dir.file("ours.safetensors"), t, {{"producer", "deepseek"}, {"note", "ünïcode"}});
  write_bytes(dir.file("check.py"), kScript);
  std::string cmd = python() + " " + dir.file("check.py") + " check " + dir.file("ours.safetensors");
  int rc = run_script(cmd);
  if (rc == 77) GTEST_SKIP() << python() << " lacks torch or safetensors (run `make venv`)";
  EXPECT_EQ(rc, 0) << cmd;
}

TEST(SafetensorsInterop, PythonFileLoadsInOurs) {
  if (!have_python()) GTEST_SKIP() << "no " << python() << " (run `make venv`)";
  ScratchDir dir;
  write_bytes(dir.file("write.py"), kScript);
  std::string cmd = python() + " " + dir.file("write.py") + " write " + dir.file("theirs.safetensors");
  int rc = run_script(cmd);
  if (rc == 77) GTEST_SKIP() << python() << " lacks torch or safetensors (run `make venv`)";
  ASSERT_EQ(rc, 0) << cmd;
  auto f = load_safetensors(dir.file("theirs.safetensors"));
  EXPECT_EQ(f.metadata, (Metadata{{"producer", "torch"}}));
  EXPECT_EQ(f.tensors.size(), 12u);
  for (DType d : kAllDTypes) {
    const std::string name = std::string("p_") + dtype_name(d);
    ASSERT_TRUE(f.tensors.count(name)) << name;
    EXPECT_TRUE(same_bytes(f.tensors.at(name), pattern_tensor({2, 7}, d))) << name;
  }
  EXPECT_TRUE(same_bytes(f.tensors.at("p_big"), pattern_tensor({33, 17}, DType::f32)));
  EXPECT_TRUE(same_bytes(f.tensors.at("p_scalar"), pattern_tensor({}, DType::f64)));
}

}  // namespace
}  // namespace deepseek::io
