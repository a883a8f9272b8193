// Train the SmallCNN on Fashion-MNIST, evaluate it and save a checkpoint — the whole program.
// Build: cmake --build build --target train_mnist; run: ./build/bin/train_mnist [epochs]
#include <cstdio>
#include <cstdlib>

#include "deepseek/data/datasets/fashion_mnist.h"
#include "deepseek/models/small_cnn.h"
#include "deepseek/optim/adam.h"
#include "deepseek/train/train.h"

using namespace deepseek;

int main(int argc, char** argv) {
  manual_seed(0);
  using FM = data::FashionMNIST;
  auto norm = data::normalize({FM::kMean}, {FM::kStd});
  data::DataLoader train_data(std::make_shared<FM>(FM::Split::train),
                              {.batch_size = 128, .shuffle = true, .num_workers = 1, .transform = norm});
  data::DataLoader test_data(std::make_shared<FM>(FM::Split::test),
                             {.batch_size = 1000, .num_workers = 1, .transform = norm});

  auto model = std::make_shared<models::SmallCNN>();
  auto adam = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-3});
  train::Trainer trainer(model, adam, {.epochs = argc > 1 ? std::atoi(argv[1]) : 1});
  trainer.add_callback(std::make_shared<train::CSVLogger>("train_mnist.csv"));

  trainer.fit(train_data);
  auto m = trainer.evaluate(test_data, "test");
  trainer.save_checkpoint("train_mnist.ckpt");
  std::printf("test accuracy %.2f%%, loss %.4f -> train_mnist.ckpt\n",
              100 * m["test_accuracy"], m["test_loss"]);
}
