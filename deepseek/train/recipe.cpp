#include "deepseek/train/recipe.h"

#include "deepseek/data/datasets/fashion_mnist.h"
#include "deepseek/models/config.h"
#include "deepseek/models/zoo.h"
#include "deepseek/optim/adam.h"
#include "deepseek/optim/sgd.h"

namespace deepseek::train {

using models::ConfigError;

Recipe Recipe::from_json(const nlohmann::json& j) {
  Recipe r;
  models::ConfigReader c(j, "training config");
  if (c.has("model")) {
    const auto& m = c.raw("model");
    if (!m.is_string() && !(m.is_object() && m.contains("name") && m["name"].is_string()))
      throw ConfigError("training config: 'model' must be a name or a mapping with a 'name' key, got " + m.dump());
    r.model = m;
  }
  c.get("dataset", r.dataset);
  c.get("data_dir", r.data_dir);
  c.get("epochs", r.epochs);
  c.get("batch_size", r.batch_size);
  c.get("eval_batch_size", r.eval_batch_size);
  c.get("optimizer", r.optimizer);
  c.get("lr", r.lr);
  c.get("weight_decay", r.weight_decay);
  c.get("momentum", r.momentum);
  c.get("scheduler", r.scheduler);
  c.get("warmup_steps", r.warmup_steps);
  c.get("max_grad_norm", r.max_grad_norm);
  c.get("grad_accum_steps", r.grad_accum_steps);
  c.get("train_subset", r.train_subset);
  c.get("test_subset", r.test_subset);
  c.get("max_steps", r.max_steps);
  c.get("normalize", r.normalize);
  c.get("augment", r.augment);
  if (c.has("seed")) {
    const auto& s = c.raw("seed");
    if (!s.is_number_integer() || s.get<int64_t>() < 0)
      throw ConfigError("training config: 'seed' must be a non-negative integer, got " + s.dump());
    r.seed = s.get<uint64_t>();
  }
  c.get("workers", r.workers);
  c.get("threads", r.threads);
  c.get("deterministic", r.deterministic);
  c.get("log_every", r.log_every);
  c.get("progress", r.progress);
  c.get("output_dir", r.output_dir);
  c.get("checkpoint_every_steps", r.checkpoint_every_steps);
  c.finish();

  auto positive = [](const char* k, int64_t v) {
    if (v <= 0) throw ConfigError(std::string("training config: '") + k + "' must be positive, got " + std::to_string(v));
  };
  auto non_negative = [](const char* k, int64_t v) {
    if (v < 0) throw ConfigError(std::string("training config: '") + k + "' must be >= 0, got " + std::to_string(v));
  };
  non_negative("epochs", r.epochs);
  positive("batch_size", r.batch_size);
  positive("eval_batch_size", r.eval_batch_size);
  positive("grad_accum_steps", r.grad_accum_steps);
  positive("log_every", r.log_every);
  non_negative("train_subset", r.train_subset);
  non_negative("test_subset", r.test_subset);
  non_negative("workers", r.workers);
  non_negative("threads", r.threads);
  non_negative("warmup_steps", r.warmup_steps);
  non_negative("checkpoint_every_steps", r.checkpoint_every_steps);
  if (!(r.lr > 0)) throw ConfigError("training config: 'lr' must be positive");
  if (r.weight_decay < 0) throw ConfigError("training config: 'weight_decay' must be >= 0");
  if (r.max_grad_norm < 0) throw ConfigError("training config: 'max_grad_norm' must be >= 0");
  if (r.dataset != "fashion-mnist" && r.dataset != "synthetic")
    throw ConfigError("training config: unknown dataset '" + r.dataset + "' (known: fashion-mnist, synthetic)");
  if (r.optimizer != "adam" && r.optimizer != "adamw" && r.optimizer != "sgd")
    throw ConfigError("training config: unknown optimizer '" + r.optimizer + "' (known: adam, adamw, sgd)");
  if (r.scheduler != "none" && r.scheduler != "cosine" && r.scheduler != "step")
    throw ConfigError("training config: unknown scheduler '" + r.scheduler + "' (known: none, cosine, step)");
  if (r.progress != "auto" && r.progress != "bar" && r.progress != "lines" && r.progress != "none")
    throw ConfigError("training config: 'progress' must be auto, bar, lines or none, got '" + r.progress + "'");
  if (r.output_dir.empty()) throw ConfigError("training config: 'output_dir' must not be empty");
  // Validate the model spec now (unknown name or keys) without building the weights.
  try {
    (void)models::create_model(r.model, TensorOptions{DType::f32, kMeta});
  } catch (const ConfigError&) {
    throw;
  } catch (const Error&) {
    // Not a config problem (e.g. an op without meta support): building for real will tell.
  }
  return r;
}

nlohmann::json Recipe::to_json() const {
  return {{"model", model},
          {"dataset", dataset},
          {"data_dir", data_dir},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"eval_batch_size", eval_batch_size},
          {"optimizer", optimizer},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"momentum", momentum},
          {"scheduler", scheduler},
          {"warmup_steps", warmup_steps},
          {"max_grad_norm", max_grad_norm},
          {"grad_accum_steps", grad_accum_steps},
          {"train_subset", train_subset},
          {"test_subset", test_subset},
          {"max_steps", max_steps},
          {"normalize", normalize},
          {"augment", augment},
          {"seed", seed},
          {"workers", workers},
          {"threads", threads},
          {"deterministic", deterministic},
          {"log_every", log_every},
          {"progress", progress},
          {"output_dir", output_dir},
          {"checkpoint_every_steps", checkpoint_every_steps}};
}

std::string Recipe::model_name() const {
  return model.is_string() ? model.get<std::string>() : model["name"].get<std::string>();
}

namespace {

std::shared_ptr<const data::Dataset> first_n(std::shared_ptr<const data::Dataset> ds, int64_t n) {
  if (n <= 0 || n >= ds->size()) return ds;
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  return std::make_shared<data::Subset>(ds, std::move(idx));
}

}  // namespace

std::shared_ptr<const data::Dataset> synthetic_images(int64_t n, uint64_t seed) {
  // Class k lights up a 7×7 block at a class-specific place, on top of uniform noise.
  Generator::State saved = default_generator().state();
  default_generator().manual_seed(seed + 12345);
  Tensor x = mul(rand({n, 1, 28, 28}), 0.5);
  Tensor y = randint(0, 10, {n});
  default_generator().set_state(saved);
  float* px = x.data<float>();
  const int64_t* py = y.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = py[i], r0 = (k / 4) * 7 + 3, c0 = (k % 4) * 7;
    for (int64_t r = r0; r < r0 + 7; ++r)
      for (int64_t c = c0; c < c0 + 7; ++c) px[i * 784 + r * 28 + c] += 0.5f;
  }
  return std::make_shared<data::TensorDataset>(x, y);
}

DataSplits load_data(const Recipe& r) {
  DataSplits d;
  if (r.dataset == "fashion-mnist") {
    d.train = std::make_shared<data::FashionMNIST>(data::FashionMNIST::Split::train, r.data_dir);
    d.test = std::make_shared<data::FashionMNIST>(data::FashionMNIST::Split::test, r.data_dir);
  } else {
    d.train = synthetic_images(r.train_subset > 0 ? r.train_subset : 2048, r.seed);
    d.test = synthetic_images(r.test_subset > 0 ? r.test_subset : 512, r.seed + 1);
  }
  d.train = first_n(d.train, r.train_subset);
  d.test = first_n(d.test, r.test_subset);
  return d;
}

namespace {
data::Transform input_transform(const Recipe& r, bool train) {
  std::vector<data::Transform> ts;
  if (train && r.augment) {
    ts.push_back(data::random_crop(28, 28, 2));
    ts.push_back(data::random_horizontal_flip());
  }
  if (r.normalize && r.dataset == "fashion-mnist")
    ts.push_back(data::normalize({data::FashionMNIST::kMean}, {data::FashionMNIST::kStd}));
  if (ts.empty()) return nullptr;
  return ts.size() == 1 ? ts[0] : data::compose(ts);
}
}  // namespace

std::unique_ptr<data::DataLoader> make_train_loader(const Recipe& r, const DataSplits& d) {
  data::DataLoaderOptions o;
  o.batch_size = r.batch_size;
  o.shuffle = true;
  o.num_workers = static_cast<int>(r.workers);
  o.seed = r.seed;
  o.transform = input_transform(r, true);
  return std::make_unique<data::DataLoader>(d.train, o);
}

std::unique_ptr<data::DataLoader> make_eval_loader(const Recipe& r,
                                                   std::shared_ptr<const data::Dataset> ds) {
  data::DataLoaderOptions o;
  o.batch_size = r.eval_batch_size;
  o.num_workers = static_cast<int>(r.workers);
  o.seed = r.seed;
  o.transform = input_transform(r, false);
  return std::make_unique<data::DataLoader>(std::move(ds), o);
}

nn::ModulePtr make_model(const Recipe& r, int64_t num_classes) {
  nlohmann::json spec = r.model.is_string() ? nlohmann::json{{"name", r.model}} : r.model;
  const std::string name = spec["name"];
  // Image datasets here are 1×28×28: fill in what the spec leaves out.
  auto fill = [&](const char* k, nlohmann::json v) {
    if (!spec.contains(k)) spec[k] = std::move(v);
  };
  if (name == "mlp") {
    fill("in_features", 784);
    fill("out_features", num_classes);
  } else if (name == "smallcnn") {
    fill("num_classes", num_classes);
  } else if (name.rfind("resnet", 0) == 0) {
    fill("num_classes", num_classes);
    fill("in_channels", 1);
    fill("stem", "small");
  } else if (name.rfind("vit", 0) == 0) {
    fill("num_classes", num_classes);
    fill("in_channels", 1);
    fill("image_size", 28);
    fill("patch_size", 7);
  }
  return models::create_model(spec);
}

std::shared_ptr<optim::Optimizer> make_optimizer(const Recipe& r, nn::Module& model) {
  if (r.optimizer == "sgd") {
    optim::SGDOptions o;
    o.lr = r.lr;
    o.momentum = r.momentum;
    o.weight_decay = r.weight_decay;
    return std::make_shared<optim::SGD>(model.parameters(), o);
  }
  optim::AdamOptions o;
  o.lr = r.lr;
  o.weight_decay = r.weight_decay;
  if (r.optimizer == "adamw") return std::make_shared<optim::AdamW>(model.parameters(), o);
  return std::make_shared<optim::Adam>(model.parameters(), o);
}

std::shared_ptr<optim::LRScheduler> make_scheduler(const Recipe& r, optim::Optimizer& opt,
                                                   int64_t total_steps) {
  if (r.scheduler == "cosine")
    return std::make_shared<optim::CosineWithWarmup>(opt, r.warmup_steps, std::max<int64_t>(total_steps, 1));
  if (r.scheduler == "step")
    return std::make_shared<optim::StepLR>(opt, std::max<int64_t>(total_steps / 3, 1), 0.1);
  if (r.warmup_steps > 0) return std::make_shared<optim::LinearWarmup>(opt, r.warmup_steps);
  return nullptr;
}

}  // namespace deepseek::train
