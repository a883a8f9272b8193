"""Training suite (CPU): the SmallCNN on Fashion-MNIST, 2 epochs, normalized inputs, Adam lr 1e-3,
batch 128 — trained by `deepseek train` and by PyTorch (the current PyPI release from the bench
virtualenv) in the same run with the same thread count. Reports test accuracy (goal: >= 90.0 %
and within 0.5 points of PyTorch), training time and throughput, and writes
bench/results/train-cpu.json.

    .venv/bin/python bench/train/smallcnn.py --build build [--epochs 2] [--threads 2]
"""
import argparse
import gzip
import json
import os
import subprocess
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = os.environ.get("DEEPSEEK_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def torch_run(epochs, seed, batch=128):
    torch.manual_seed(seed)
    xtr = (torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").copy()).float().div_(255).sub_(MEAN).div_(STD)).unsqueeze(1)
    ytr = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = (torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").copy()).float().div_(255).sub_(MEAN).div_(STD)).unsqueeze(1)
    yte = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = xtr.shape[0]
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    train_time = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, xte.shape[0], 1000):
            correct += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
    return {"test_accuracy": correct / xte.shape[0], "train_time_s": train_time,
            "train_samples_per_s": epochs * n / train_time,
            "parameters": sum(p.numel() for p in model.parameters())}


def ours_run(build, epochs, seed, threads):
    cmd = [os.path.join(build, "bin", "deepseek"), "train", "--model", "smallcnn", "--dataset", "fashion-mnist",
           "--epochs", str(epochs), "--seed", str(seed), "--threads", str(threads), "--progress", "lines",
           "--output", "runs/bench-smallcnn", "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    load_before = os.getloadavg()[0]
    ours = ours_run(args.build, args.epochs, args.seed, args.threads)
    load_mid = os.getloadavg()[0]
    ref = torch_run(args.epochs, args.seed)
    load_after = os.getloadavg()[0]

    acc_o, acc_r = 100 * ours["test_accuracy"], 100 * ref["test_accuracy"]
    results = [
        {"name": f"smallcnn fashion-mnist {args.epochs} epochs test accuracy", "ours": round(acc_o, 2),
         "reference": round(acc_r, 2), "unit": "%", "ratio": round(acc_o / acc_r, 4)},
        {"name": f"smallcnn fashion-mnist {args.epochs} epochs train time", "ours": round(ours["train_time_s"], 1),
         "reference": round(ref["train_time_s"], 1), "unit": "s",
         "ratio": round(ref["train_time_s"] / ours["train_time_s"], 3)},
        {"name": "smallcnn train throughput batch 128", "ours": round(ours["train_samples_per_s"], 1),
         "reference": round(ref["train_samples_per_s"], 1), "unit": "images/s",
         "ratio": round(ours["train_samples_per_s"] / ref["train_samples_per_s"], 3)},
    ]
    print(f"{'benchmark':<52} {'ours':>10} {'pytorch':>10} {'unit':>9} {'ratio':>7}")
    for r in results:
        print(f"{r['name']:<52} {r['ours']:>10} {r['reference']:>10} {r['unit']:>9} {r['ratio']:>7}")
    print(f"parameters: ours {ours['parameters']}, pytorch {ref['parameters']}")
    ok_acc = acc_o >= 90.0 and abs(acc_o - acc_r) <= 0.5
    print(f"goal test accuracy >= 90.0% and within 0.5 points of PyTorch: {'met' if ok_acc else 'NOT met'}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    machine = f"{os.cpu_count()} cores, {args.threads} threads, torch {torch.__version__}"
    os.makedirs("bench/results", exist_ok=True)
    with open("bench/results/train-cpu.json", "w") as f:
        # Other processes on the shared machine skew both runs: the 1-minute load average
        # before ours, between the two runs and after PyTorch's.
        json.dump({"machine": machine, "commit": commit,
                   "load_average": [round(load_before, 2), round(load_mid, 2), round(load_after, 2)],
                   "results": results}, f, indent=1)
    print("wrote bench/results/train-cpu.json")


if __name__ == "__main__":
    main()
