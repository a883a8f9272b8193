#include "deepseek/io/checkpoint.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>

#include "tests/io/io_test_util.h"

extern char** environ;

namespace deepseek::io {
namespace {

using namespace deepseek::io::testing;

// A checkpoint whose contents all depend on `version`, so an old and a new one differ
// everywhere.
Checkpoint make_checkpoint(int version) {
  Checkpoint c;
  c.model["conv.weight"] = pattern_tensor({8, 1, 3, 3}, DType::f32);
  c.model["conv.weight"].data<float>()[0] = static_cast<float>(version);
  c.model["bn.running_mean"] = pattern_tensor({8}, DType::f32);
  c.model["bn.num_batches_tracked"] = pattern_tensor({}, DType::i64);
  c.model["fc.weight"] = pattern_tensor({256, 1024}, DType::bf16);  // ~0.5 MB: several write chunks
  c.optimizer["0.exp_avg"] = pattern_tensor({8, 1, 3, 3}, DType::f32);
  c.optimizer["0.exp_avg_sq"] = pattern_tensor({8, 1, 3, 3}, DType::f64);
  c.optimizer_meta = {{"type", "adam"}, {"lr", 1e-3}, {"betas", {0.9, 0.999}}, {"step", 100 * version}};
  c.scheduler = {{"type", "cosine"}, {"last_epoch", version}};
  c.step = 1000 * version + 7;
  c.epoch = version;
  c.rng["cpu"] = Generator::State{0xFFFFFFFFFFFFFFFFull - version, 0x123456789ABCDEF0ull + version};
  c.rng["data"] = Generator::State{42, static_cast<uint64_t>(version)};
  c.meta = {{"version", version}, {"config", {{"model", "smallcnn"}}}};
  return c;
}

void expect_equal(const Checkpoint& a, const Checkpoint& b) {
  ASSERT_EQ(a.model.size(), b.model.size());
  for (auto& [k, t] : a.model) EXPECT_TRUE(same_bytes(t, b.model.at(k))) << k;
  ASSERT_EQ(a.optimizer.size(), b.optimizer.size());
  for (auto& [k, t] : a.optimizer) EXPECT_TRUE(same_bytes(t, b.optimizer.at(k))) << k;
  EXPECT_EQ(a.optimizer_meta, b.optimizer_meta);
  EXPECT_EQ(a.scheduler, b.scheduler);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.meta, b.meta);
  ASSERT_EQ(a.rng.size(), b.rng.size());
  for (auto& [k, s] : a.rng) {
    EXPECT_EQ(s.seed, b.rng.at(k).seed) << k;
    EXPECT_EQ(s.offset, b.rng.at(k).offset) << k;
  }
}

TEST(Checkpoint, RoundTripIsBitExact) {
  ScratchDir dir;
  Checkpoint c = make_checkpoint(3);
  save_checkpoint(dir.file("ckpt.safetensors"), c);
  expect_equal(c, load_checkpoint(dir.file("ckpt.safetensors")));
}

TEST(Checkpoint, GeneratorStateResumesTheSameStream) {
  Generator g;
  g.manual_seed(2024);
  g.reserve(1000);
  Checkpoint c;
  c.rng["cpu"] = g.state();
  ScratchDir dir;
  save_checkpoint(dir.file("c"), c);
  auto next_a = g.reserve(16);
  Generator h;
  h.set_state(load_checkpoint(dir.file("c")).rng.at("cpu"));
  auto next_b = h.reserve(16);
  EXPECT_EQ(next_a.seed, next_b.seed);
  EXPECT_EQ(next_a.offset, next_b.offset);
}

TEST(Checkpoint, OverwriteReplacesAtomically) {
  ScratchDir dir;
  save_checkpoint(dir.file("c"), make_checkpoint(1));
  save_checkpoint(dir.file("c"), make_checkpoint(2));
  expect_equal(make_checkpoint(2), load_checkpoint(dir.file("c")));
  // No temporary files left behind by successful saves.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) (void)e, ++n;
  EXPECT_EQ(n, 1);
}

TEST(Checkpoint, CorruptDataIsCaughtByChecksum) {
  ScratchDir dir;
  save_checkpoint(dir.file("c"), make_checkpoint(1));
  std::string b = read_bytes(dir.file("c"));
  b[b.size() - 100] ^= 0x10;  // inside a tensor: still a valid safetensors file
  write_bytes(dir.file("c"), b);
  EXPECT_NO_THROW(load_checkpoint(dir.file("c"), {.verify_checksum = false}));
  try {
    load_checkpoint(dir.file("c"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, TruncatedAndForeignFilesAreRejected) {
  ScratchDir dir;
  save_checkpoint(dir.file("c"), make_checkpoint(1));
  std::string b = read_bytes(dir.file("c"));
  for (size_t cut : {size_t{0}, size_t{5}, size_t{100}, b.size() / 2, b.size() - 1}) {
    write_bytes(dir.file("t"), b.substr(0, cut));
    EXPECT_THROW(load_checkpoint(dir.file("t")), Error) << cut;
  }
  save_safetensors(dir.file("plain"), {{"w", pattern_tensor({2}, DType::f32)}});
  try {
    load_checkpoint(dir.file("plain"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a deepseek checkpoint"), std::string::npos) << e.what();
  }
  save_safetensors(dir.file("badmeta"), {}, {{"deepseek.checkpoint", "{\"format_version\": 1}"}});
  EXPECT_THROW(load_checkpoint(dir.file("badmeta")), Error);
  save_safetensors(dir.file("badjson"), {}, {{"deepseek.checkpoint", "{nope"}});
  EXPECT_THROW(load_checkpoint(dir.file("badjson")), Error);
}

TEST(Checkpoint, IsAPlainSafetensorsFile) {
  ScratchDir dir;
  save_checkpoint(dir.file("c"), make_checkpoint(1));
  auto f = load_safetensors(dir.file("c"));
  EXPECT_TRUE(f.tensors.count("model/conv.weight"));
  EXPECT_TRUE(f.tensors.count("optim/0.exp_avg"));
  EXPECT_TRUE(f.metadata.count("deepseek.checkpoint"));
}

// --- crash during save -------------------------------------------------------------------
// The parent runs this test binary again (posix_spawn + exec, never a bare fork: libgomp is
// not fork-safe) with only CheckpointCrashChild.Save selected and
// DEEPSEEK_IO_CRASH_AFTER_BYTES set, so the child kills itself with SIGKILL in the middle of
// writing a new checkpoint over the old one.

TEST(CheckpointCrashChild, Save) {
  const char* path = std::getenv("DEEPSEEK_TEST_CRASH_PATH");
  if (!path) GTEST_SKIP() << "helper for Checkpoint.CrashDuringSave (runs in a child process)";
  save_checkpoint(path, make_checkpoint(2));
}

// Returns the child's wait status.
int run_child_save(const std::string& path, int64_t crash_after) {
  std::vector<std::string> env_strs;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    if (s.rfind("DEEPSEEK_IO_CRASH_AFTER_BYTES=", 0) != 0 && s.rfind("DEEPSEEK_TEST_CRASH_PATH=", 0) != 0)
      env_strs.push_back(s);
  }
  env_strs.push_back("DEEPSEEK_TEST_CRASH_PATH=" + path);
  if (crash_after >= 0) env_strs.push_back("DEEPSEEK_IO_CRASH_AFTER_BYTES=" + std::to_string(crash_after));
  std::vector<char*> envp;
  for (auto& s : env_strs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=CheckpointCrashChild.Save";
  std::string quiet = "--gtest_brief=1";
  char* argv[] = {exe.data(), filter.data(), quiet.data(), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data());
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(Checkpoint, CrashDuringSaveLeavesPreviousCheckpointLoadable) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, make_checkpoint(1));
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(path));
  // Killed: before any byte, inside the header, inside the data, at the last byte, and after
  // everything was written and fsynced but before the rename.
  for (int64_t at : {int64_t{0}, int64_t{100}, size / 2, size - 1, size + 1}) {
    SCOPED_TRACE(at);
    int status = run_child_save(path, at);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
    expect_equal(make_checkpoint(1), load_checkpoint(path));
  }
  // The same child without the crash hook replaces the checkpoint.
  int status = run_child_save(path, -1);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  expect_equal(make_checkpoint(2), load_checkpoint(path));
}

}  // namespace
}  // namespace deepseek::io
