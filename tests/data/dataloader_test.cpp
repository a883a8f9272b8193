#include "deepseek/data/dataloader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

#include "deepseek/data/datasets/fashion_mnist.h"

namespace deepseek::data {
namespace {

// n examples: input (1, 8, 8) filled with a value derived from the index, target = index.
std::shared_ptr<TensorDataset> toy(int64_t n) {
  Tensor x = Tensor::empty({n, 1, 8, 8}, DType::f32);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>((i * 7919) % 1000) / 1000.f;
  Tensor y = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = i;
  return std::make_shared<TensorDataset>(x, y);
}

Transform augment() {
  return compose({random_crop(8, 8, 2), random_horizontal_flip(), random_erasing(0.5),
                  normalize({0.5f}, {0.25f})});
}

// Everything a pass produces, as bytes, for exact comparison.
std::vector<std::string> run_epoch(DataLoader& loader, int64_t epoch, int64_t start = 0) {
  std::vector<std::string> out;
  for (Batch& b : loader.epoch(epoch, start)) {
    std::string s(static_cast<const char*>(b.input.raw_data()), b.input.nbytes());
    s.append(static_cast<const char*>(b.target.raw_data()), b.target.nbytes());
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<int64_t> targets_of_epoch(DataLoader& loader, int64_t epoch) {
  std::vector<int64_t> t;
  for (Batch& b : loader.epoch(epoch)) {
    auto v = b.target.to_vector<int64_t>();
    EXPECT_EQ(v, b.indices);
    t.insert(t.end(), v.begin(), v.end());
  }
  return t;
}

TEST(DataLoader, SequentialBatchesAndShapes) {
  DataLoader loader(toy(10), {.batch_size = 4});
  EXPECT_EQ(loader.num_batches(), 3);
  std::vector<int64_t> sizes;
  for (Batch& b : loader) {
    EXPECT_EQ(b.input.dim(), 4);
    EXPECT_EQ(b.input.size(1), 1);
    EXPECT_EQ(b.target.dtype(), DType::i64);
    sizes.push_back(b.size());
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  std::vector<int64_t> expect(10);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(targets_of_epoch(loader, 0), expect);
}

TEST(DataLoader, DropLast) {
  DataLoader loader(toy(10), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(loader.num_batches(), 2);
  int n = 0;
  for (Batch& b : loader) {
    EXPECT_EQ(b.size(), 4);
    ++n;
  }
  EXPECT_EQ(n, 2);
}

TEST(DataLoader, ShuffleIsAPermutationDeterministicPerSeedAndDifferentAcrossEpochs) {
  auto ds = toy(100);
  DataLoader a(ds, {.batch_size = 7, .shuffle = true, .seed = 5});
  DataLoader b(ds, {.batch_size = 7, .shuffle = true, .seed = 5});
  DataLoader c(ds, {.batch_size = 7, .shuffle = true, .seed = 6});
  auto e0 = targets_of_epoch(a, 0);
  EXPECT_EQ(e0, targets_of_epoch(b, 0));
  EXPECT_NE(e0, targets_of_epoch(a, 1));
  EXPECT_NE(e0, targets_of_epoch(c, 0));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expect(100);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(sorted, expect);
  EXPECT_NE(e0, expect);
  // Range-for advances the epoch.
  std::vector<int64_t> first, second;
  for (Batch& bt : a) first.insert(first.end(), bt.indices.begin(), bt.indices.end());
  for (Batch& bt : a) second.insert(second.end(), bt.indices.begin(), bt.indices.end());
  EXPECT_EQ(first, a.order(0));
  EXPECT_EQ(second, a.order(1));
}

TEST(DataLoader, ShuffleIsPinned) {
  // The order for a seed is part of the format of a resumable run: pin it.
  DataLoader a(toy(10), {.batch_size = 10, .shuffle = true, .seed = 0});
  auto o = a.order(0);
  std::set<int64_t> s(o.begin(), o.end());
  EXPECT_EQ(s.size(), 10u);
  EXPECT_EQ(o, a.order(0));
}

TEST(DataLoader, WorkersGiveIdenticalBatchesIncludingAugmentation) {
  auto ds = toy(203);
  DataLoaderOptions o{.batch_size = 16, .shuffle = true, .seed = 42, .transform = augment()};
  DataLoader serial(ds, o);
  o.num_workers = 2;
  DataLoader two(ds, o);
  o.num_workers = 3;
  o.prefetch_factor = 1;
  DataLoader three(ds, o);
  for (int64_t epoch : {0, 1, 7}) {
    auto ref = run_epoch(serial, epoch);
    EXPECT_EQ(ref.size(), 13u);
    EXPECT_EQ(ref, run_epoch(two, epoch)) << epoch;
    EXPECT_EQ(ref, run_epoch(three, epoch)) << epoch;
  }
  EXPECT_NE(run_epoch(serial, 0), run_epoch(serial, 1));
}

// pin_memory changes where batches live, never what they hold (on a machine without a GPU
// there is nothing to pin for and the batches are the ordinary ones).
TEST(DataLoader, PinMemoryKeepsTheBatches) {
  auto ds = toy(50);
  DataLoaderOptions o{.batch_size = 16, .shuffle = true, .num_workers = 2, .seed = 3, .transform = augment()};
  DataLoader plain(ds, o);
  o.pin_memory = true;
  DataLoader pinned(ds, o);
  EXPECT_EQ(run_epoch(plain, 1), run_epoch(pinned, 1));
  for (Batch& b : pinned) EXPECT_TRUE(b.input.device().is_cpu() && b.target.device().is_cpu());
}

// Resuming at (epoch, batch) gives the same remaining batches as an uninterrupted epoch.
TEST(DataLoader, ResumeMidEpoch) {
  auto ds = toy(50);
  DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .num_workers = 2, .seed = 1, .transform = augment()});
  auto full = run_epoch(loader, 3);
  auto tail = run_epoch(loader, 3, 4);
  ASSERT_EQ(tail.size(), full.size() - 4);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), full.begin() + 4));
  EXPECT_EQ(run_epoch(loader, 3, loader.num_batches()).size(), 0u);
  EXPECT_THROW(loader.epoch(3, loader.num_batches() + 1), Error);
}

// Thread timing must not matter: a dataset whose get() sleeps a varying amount.
class SlowDataset : public Dataset {
 public:
  explicit SlowDataset(std::shared_ptr<TensorDataset> base) : base_(std::move(base)) {}
  int64_t size() const override { return base_->size(); }
  Example get(int64_t i) const override {
    std::this_thread::sleep_for(std::chrono::microseconds((i * 37) % 5 * 200));
    return base_->get(i);
  }

 private:
  std::shared_ptr<TensorDataset> base_;
};

TEST(DataLoader, IndependentOfThreadTiming) {
  auto ds = std::make_shared<SlowDataset>(toy(64));
  DataLoaderOptions o{.batch_size = 4, .shuffle = true, .seed = 9, .transform = augment()};
  DataLoader serial(ds, o);
  o.num_workers = 4;
  DataLoader four(ds, o);
  EXPECT_EQ(run_epoch(serial, 2), run_epoch(four, 2));
}

class ThrowingDataset : public Dataset {
 public:
  int64_t size() const override { return 20; }
  Example get(int64_t i) const override {
    DS_CHECK(i != 13, "[ThrowingDataset] example 13 is broken");
    return {Tensor::empty({2}, DType::f32), Tensor::empty({}, DType::i64)};
  }
};

TEST(DataLoader, WorkerErrorsReachTheConsumer) {
  for (int workers : {0, 2}) {
    DataLoader loader(std::make_shared<ThrowingDataset>(), {.batch_size = 3, .num_workers = workers});
    int seen = 0;
    try {
      for (Batch& b : loader) (void)b, ++seen;
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("example 13 is broken"), std::string::npos);
    }
    EXPECT_EQ(seen, 4);  // batches 0..3 fine, batch 4 holds index 13
  }
}

TEST(DataLoader, AbandonedEpochStopsWorkers) {
  DataLoader loader(toy(1000), {.batch_size = 2, .num_workers = 3});
  for (Batch& b : loader) {
    if (b.index == 2) break;  // the epoch's destructor must stop and join the workers
  }
  SUCCEED();
}

TEST(DataLoader, BoundedPrefetch) {
  // Counts how far ahead workers run while the consumer does not advance.
  struct Counting : Dataset {
    mutable std::atomic<int> calls{0};
    int64_t size() const override { return 100; }
    Example get(int64_t) const override {
      ++calls;
      return {Tensor::empty({1}, DType::f32), Tensor::empty({}, DType::i64)};
    }
  };
  auto ds = std::make_shared<Counting>();
  DataLoader loader(ds, {.batch_size = 1, .num_workers = 2, .prefetch_factor = 2});
  auto ep = loader.epoch(0);
  auto it = ep.begin();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(ds->calls.load(), 4);  // window: workers × prefetch_factor batches
  EXPECT_EQ(it->index, 0);
}

TEST(DataLoader, BadOptions) {
  EXPECT_THROW(DataLoader(toy(3), {.batch_size = 0}), Error);
  EXPECT_THROW(DataLoader(toy(3), {.num_workers = -1}), Error);
  EXPECT_THROW(DataLoader(nullptr, {}), Error);
  DataLoader loader(toy(3), {});
  EXPECT_THROW(loader.make_batch(0, 3), Error);
}

TEST(DataLoader, CollateRejectsMismatchedShapes) {
  std::vector<Tensor> xs{Tensor::empty({2}, DType::f32), Tensor::empty({3}, DType::f32)};
  EXPECT_THROW(stack_tensors(xs), Error);
}

TEST(DataLoader, FashionMnistWithAugmentationAndWorkers) {
  if (!std::filesystem::exists(std::string(FashionMNIST::kDefaultRoot) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto ds = std::make_shared<FashionMNIST>(FashionMNIST::Split::test);
  DataLoaderOptions o{.batch_size = 128, .shuffle = true, .seed = 3,
                      .transform = compose({random_crop(28, 28, 4), random_horizontal_flip(),
                                            normalize({FashionMNIST::kMean}, {FashionMNIST::kStd})})};
  DataLoader serial(ds, o);
  o.num_workers = 2;
  DataLoader two(ds, o);
  auto a = run_epoch(serial, 0), b = run_epoch(two, 0);
  EXPECT_EQ(a.size(), 79u);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace deepseek::data

namespace deepseek::data {
namespace {

// Sharding for data parallelism, as torch.utils.data.DistributedSampler (shuffle=False gives
// indices[rank::world] of the list padded with its start).
TEST(DataLoader, DistributedShardsMatchTorchsSampler) {
  auto ds = toy(10);
  std::vector<std::vector<int64_t>> expect = {{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}};
  for (int64_t r = 0; r < 3; ++r) {
    DataLoaderOptions o;
    o.batch_size = 3;
    o.rank = r;
    o.world_size = 3;
    DataLoader loader(ds, o);
    EXPECT_EQ(loader.order(0), expect[static_cast<size_t>(r)]);
    EXPECT_EQ(loader.num_batches(), 2);
    EXPECT_EQ(targets_of_epoch(loader, 0), expect[static_cast<size_t>(r)]);
  }
}

TEST(DataLoader, DistributedShuffledShardsPartitionOneGlobalOrder) {
  auto ds = toy(101);
  DataLoaderOptions one;
  one.shuffle = true;
  one.seed = 5;
  auto global = DataLoader(ds, one).order(3);
  std::multiset<int64_t> seen;
  for (int64_t r = 0; r < 4; ++r) {
    DataLoaderOptions o = one;
    o.rank = r;
    o.world_size = 4;
    auto shard = DataLoader(ds, o).order(3);
    ASSERT_EQ(shard.size(), 26u);  // ceil(101 / 4)
    for (size_t k = 0; k < shard.size(); ++k) EXPECT_EQ(shard[k], global[(r + 4 * k) % 101]);
    seen.insert(shard.begin(), shard.end());
  }
  EXPECT_EQ(seen.size(), 104u);
  for (int64_t i = 0; i < 101; ++i) EXPECT_GE(seen.count(i), 1u);  // every example, 3 twice
  DataLoaderOptions bad = one;
  bad.world_size = 2;
  bad.rank = 2;
  EXPECT_THROW(DataLoader(ds, bad), Error);
}

}  // namespace
}  // namespace deepseek::data
