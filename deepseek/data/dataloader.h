// DataLoader: batches of a Dataset, optionally shuffled, augmented and collated, produced
// ahead of time by worker threads.
//
// Determinism: epoch e's order is a Fisher–Yates shuffle driven by a Philox stream keyed by
// (seed, e), and example i's augmentation uses Rng::for_example(seed, e, i). A batch's content
// is therefore a function of (seed, epoch, batch number) alone: 0 or N workers, any thread
// timing, and resuming at a given (epoch, batch) all give the same bytes.
//
// Workers are threads, not processes. Ops they call run serially (parallel_for runs serially
// off the compute thread), so workers never start OpenMP teams of their own. At most
// num_workers × prefetch_factor batches are in flight; batches are handed out in order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "deepseek/data/dataset.h"
#include "deepseek/data/transforms.h"

namespace deepseek::data {

struct Batch {
  Tensor input;                  // inputs stacked: (B, ...)
  Tensor target;                 // targets stacked: (B, ...)
  std::vector<int64_t> indices;  // dataset indices of the examples, in batch order
  int64_t epoch = 0;
  int64_t index = 0;             // batch number within the epoch
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// Stacks same-shaped, same-dtype CPU tensors along a new first dimension.
Tensor stack_tensors(const std::vector<Tensor>& xs, const char* what = "collate");
// The default collate: stacks inputs and targets.
Batch default_collate(std::vector<Example>&& examples);

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  int num_workers = 0;     // 0: batches are made on the calling thread when asked for
  int prefetch_factor = 2; // batches in flight per worker
  uint64_t seed = 0;       // order and augmentation
  // Data-parallel sharding, as torch's DistributedSampler: every rank draws the same epoch
  // order (same seed), pads it by repeating its start to a multiple of world_size, and takes
  // every world_size-th index from position rank, so ranks are disjoint and equally long.
  int64_t rank = 0;
  int64_t world_size = 1;
  Transform transform;     // applied to each example's input with its own Rng (optional)
  std::function<Batch(std::vector<Example>&&)> collate;  // default: default_collate
  // As torch's pin_memory: batches are collated into page-locked memory (when a CUDA device is
  // present), so their copies to the GPU run asynchronously instead of waiting for the GPU.
  bool pin_memory = false;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);

  int64_t num_batches() const;
  int64_t size() const { return num_batches(); }
  const DataLoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return *dataset_; }

  // Dataset indices in the order epoch `epoch` visits them.
  std::vector<int64_t> order(int64_t epoch) const;
  // Batch `b` of `epoch`, made on the calling thread (what workers do).
  Batch make_batch(int64_t epoch, int64_t b) const;

  class Iterator;
  struct Sentinel {};
  // One pass over `epoch`, starting at batch `start_batch` (to resume mid-epoch). Worker
  // threads start with the range and stop when it is destroyed.
  class Epoch {
   public:
    Iterator begin();
    Sentinel end() { return {}; }
    struct State;  // opaque: order, worker threads, finished batches

   private:
    friend class DataLoader;
    std::shared_ptr<State> state_;
  };
  Epoch epoch(int64_t epoch, int64_t start_batch = 0) const;

  // `for (Batch& b : loader)` runs the next epoch: 0, then 1, ... (see set_epoch).
  Iterator begin();
  Sentinel end() { return {}; }
  void set_epoch(int64_t e) { next_epoch_ = e; }
  int64_t next_epoch() const { return next_epoch_; }

  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    Iterator& operator++();
    bool operator==(Sentinel) const;

   private:
    friend class DataLoader;
    std::shared_ptr<Epoch::State> state_;
  };

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t next_epoch_ = 0;
};

}  // namespace deepseek::data
