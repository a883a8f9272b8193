#include "deepseek/data/dataloader.h"

#include "deepseek/core/accelerator.h"

#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

namespace deepseek::data {

Tensor stack_tensors(const std::vector<Tensor>& xs, const char* what) {
  DS_CHECK(!xs.empty(), "[", what, "] nothing to stack");
  const Tensor& first = xs[0];
  Shape shape{static_cast<int64_t>(xs.size())};
  shape.insert(shape.end(), first.sizes().begin(), first.sizes().end());
  Tensor out = Tensor::empty(shape, first.dtype());
  const size_t row = first.nbytes();
  char* o = static_cast<char*>(out.raw_data());
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    DS_CHECK(x.defined(), "[", what, "] example ", i, " is undefined");
    DS_CHECK(x.device().is_cpu(), "[", what, "] example ", i, " is on ", x.device().str(), ", expected cpu");
    DS_CHECK(x.dtype() == first.dtype() && x.sizes() == first.sizes(), "[", what, "] example ", i, " is ",
             dtype_name(x.dtype()), " ", to_string(x.sizes()), " but example 0 is ", dtype_name(first.dtype()),
             " ", to_string(first.sizes()));
    const Tensor c = x.is_contiguous() ? x : x.contiguous();
    if (row) std::memcpy(o + i * row, c.raw_data(), row);
  }
  return out;
}

Batch default_collate(std::vector<Example>&& examples) {
  std::vector<Tensor> in, tg;
  in.reserve(examples.size());
  tg.reserve(examples.size());
  for (auto& e : examples) {
    in.push_back(std::move(e.input));
    tg.push_back(std::move(e.target));
  }
  Batch b;
  b.input = stack_tensors(in, "collate inputs");
  if (!tg.empty() && tg[0].defined()) b.target = stack_tensors(tg, "collate targets");
  return b;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  DS_CHECK(dataset_ != nullptr, "[DataLoader] dataset is null");
  DS_CHECK(options_.batch_size >= 1, "[DataLoader] batch_size must be >= 1, got ", options_.batch_size);
  DS_CHECK(options_.num_workers >= 0, "[DataLoader] num_workers must be >= 0, got ", options_.num_workers);
  DS_CHECK(options_.prefetch_factor >= 1, "[DataLoader] prefetch_factor must be >= 1, got ",
           options_.prefetch_factor);
  DS_CHECK(options_.world_size >= 1, "[DataLoader] world_size must be >= 1, got ", options_.world_size);
  DS_CHECK(options_.rank >= 0 && options_.rank < options_.world_size, "[DataLoader] rank must be in [0, ",
           options_.world_size, "), got ", options_.rank);
  if (!options_.collate) options_.collate = default_collate;
}

// Examples this rank visits per epoch: ceil(n / world_size) (all of them on one process).
static int64_t shard_size(int64_t n, int64_t world) { return world == 1 ? n : (n + world - 1) / world; }

int64_t DataLoader::num_batches() const {
  const int64_t n = shard_size(dataset_->size(), options_.world_size), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  std::vector<int64_t> idx(static_cast<size_t>(dataset_->size()));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  if (options_.shuffle) {
    Rng rng = Rng::for_shuffle(options_.seed, epoch);
    for (int64_t i = static_cast<int64_t>(idx.size()) - 1; i > 0; --i)
      std::swap(idx[i], idx[rng.randint(0, i + 1)]);
  }
  const int64_t world = options_.world_size, n = static_cast<int64_t>(idx.size());
  if (world == 1 || n == 0) return idx;
  const int64_t per_rank = shard_size(n, world);
  std::vector<int64_t> shard;
  shard.reserve(static_cast<size_t>(per_rank));
  for (int64_t k = options_.rank; k < per_rank * world; k += world) shard.push_back(idx[static_cast<size_t>(k % n)]);
  return shard;
}

namespace {
Batch make_batch_from(const Dataset& ds, const DataLoaderOptions& o, const std::vector<int64_t>& order,
                      int64_t epoch, int64_t b) {
  const int64_t begin = b * o.batch_size;
  const int64_t end = std::min<int64_t>(begin + o.batch_size, static_cast<int64_t>(order.size()));
  std::vector<Example> examples;
  examples.reserve(static_cast<size_t>(end - begin));
  for (int64_t k = begin; k < end; ++k) {
    const int64_t i = order[static_cast<size_t>(k)];
    Example e = ds.get(i);
    if (o.transform) {
      Rng rng = Rng::for_example(o.seed, epoch, i);
      e.input = o.transform(e.input, rng);
    }
    examples.push_back(std::move(e));
  }
  Batch batch = o.collate(std::move(examples));
  if (o.pin_memory) {
    if (batch.input.defined()) batch.input = pin_memory(batch.input);
    if (batch.target.defined()) batch.target = pin_memory(batch.target);
  }
  batch.indices.assign(order.begin() + begin, order.begin() + end);
  batch.epoch = epoch;
  batch.index = b;
  return batch;
}
}  // namespace

Batch DataLoader::make_batch(int64_t epoch, int64_t b) const {
  DS_CHECK(b >= 0 && b < num_batches(), "[DataLoader] batch ", b, " out of range [0, ", num_batches(), ")");
  return make_batch_from(*dataset_, options_, order(epoch), epoch, b);
}

struct DataLoader::Epoch::State {
  std::shared_ptr<const Dataset> dataset;
  DataLoaderOptions options;
  std::vector<int64_t> order;
  int64_t epoch = 0;
  int64_t num_batches = 0;
  int64_t next = 0;  // the batch the consumer takes next
  Batch current;
  bool have_current = false;

  // Workers.
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  int64_t next_claim = 0;
  int64_t window = 0;
  std::map<int64_t, std::pair<Batch, std::exception_ptr>> done;
  bool stop = false;
  std::vector<std::thread> threads;

  ~State() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    work_cv.notify_all();
    for (auto& t : threads) t.join();
  }

  void worker() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(lock, [&] { return stop || next_claim >= num_batches || next_claim < next + window; });
      if (stop || next_claim >= num_batches) return;
      const int64_t b = next_claim++;
      lock.unlock();
      Batch batch;
      std::exception_ptr err;
      try {
        batch = make_batch_from(*dataset, options, order, epoch, b);
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      done.emplace(b, std::make_pair(std::move(batch), err));
      done_cv.notify_all();
    }
  }

  // Makes `current` batch `next` (or leaves it empty at the end).
  void fetch() {
    have_current = false;
    if (next >= num_batches) return;
    if (threads.empty()) {
      current = make_batch_from(*dataset, options, order, epoch, next);
    } else {
      std::unique_lock<std::mutex> lock(mu);
      done_cv.wait(lock, [&] { return done.count(next) != 0; });
      auto node = done.extract(next);
      lock.unlock();
      work_cv.notify_all();  // the window moves once `next` advances in advance()
      if (node.mapped().second) std::rethrow_exception(node.mapped().second);
      current = std::move(node.mapped().first);
    }
    have_current = true;
  }

  void advance() {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++next;
    }
    work_cv.notify_all();
    fetch();
  }
};

DataLoader::Epoch DataLoader::epoch(int64_t epoch, int64_t start_batch) const {
  DS_CHECK(start_batch >= 0 && start_batch <= num_batches(), "[DataLoader] start batch ", start_batch,
           " out of range [0, ", num_batches(), "]");
  Epoch e;
  e.state_ = std::make_shared<Epoch::State>();
  auto& s = *e.state_;
  s.dataset = dataset_;
  s.options = options_;
  s.order = order(epoch);
  s.epoch = epoch;
  s.num_batches = num_batches();
  s.next = s.next_claim = start_batch;
  s.window = static_cast<int64_t>(options_.num_workers) * options_.prefetch_factor;
  for (int w = 0; w < options_.num_workers; ++w) s.threads.emplace_back([st = &s] { st->worker(); });
  return e;
}

DataLoader::Iterator DataLoader::Epoch::begin() {
  Iterator it;
  it.state_ = state_;
  if (!state_->have_current) state_->fetch();
  return it;
}

DataLoader::Iterator DataLoader::begin() { return epoch(next_epoch_++).begin(); }

Batch& DataLoader::Iterator::operator*() const {
  DS_CHECK(state_ && state_->have_current, "[DataLoader] dereferencing an iterator past the end");
  return state_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  state_->advance();
  return *this;
}

bool DataLoader::Iterator::operator==(Sentinel) const { return !state_ || !state_->have_current; }

}  // namespace deepseek::data
