"""ResNet speed suite (CPU): ours (bench_resnet_cpu) against PyTorch (the current PyPI release
from the bench virtualenv, torchvision's ResNets) in the same run with the same thread count:

  - ResNet-18 training step, small stem (3x3 stride-1 conv, no max pool) on 1x28x28 inputs, 10
    classes, batch 128, cross-entropy, SGD momentum 0.9: ms/step and images/s (goal: >= 1.0x).
  - ResNet-50 inference, ImageNet stem, 3x224x224, batch 1, eval mode, no grad: median latency
    (goal: latency <= PyTorch's).

Other load on the host comes in bursts of seconds, so after each side's warm-up the timed calls
alternate one by one (ours, PyTorch, ours, ...: bench_resnet_cpu --paced waits for a line
before each call) and each side's figure is the median of its calls. ratio > 1 means we are
faster. Writes bench/results/train-resnet-cpu.json with the 1-minute load average before and
after each part.

    .venv/bin/python bench/train/resnet.py --build build [--threads 2] [--steps 12] [--runs 30]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import torchvision
except ImportError:
    sys.exit("bench/train/resnet.py needs torchvision in the bench virtualenv: .venv/bin/pip install torchvision")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resnet18_small():
    """torchvision's ResNet-18 with our zoo's small stem (deepseek/models/resnet.cpp, stem
    "small"): a 3x3 stride-1 conv from 1 channel and no max pool."""
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = nn.Conv2d(1, 64, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(m.conv1.weight, mode="fan_out", nonlinearity="relu")
    m.maxpool = nn.Identity()
    return m


def torch_resnet18_train(batch):
    model = resnet18_small().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    return model, step


def torch_resnet50_infer():
    model = torchvision.models.resnet50().eval()
    x = torch.randn(1, 3, 224, 224)

    def run():
        with torch.no_grad():
            model(x).sum().item()

    return model, run


def paired(build, threads, bench, args, torch_setup, warmup, calls):
    """Our calls and PyTorch's, alternating after both have warmed up: (ours ms, pytorch ms,
    our parameter count, PyTorch's)."""
    cmd = [os.path.join(ROOT, build, "bin", "bench_resnet_cpu"), bench, "--threads", str(threads),
           "--warmup", str(warmup), "--steps", str(calls), "--paced", *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) as p:
        if p.stdout.readline().strip() != "ready":
            sys.exit(f"{' '.join(cmd)} did not start")
        model, call = torch_setup()
        for _ in range(warmup):
            call()
        ours, ref = [], []
        for _ in range(calls):
            p.stdin.write("go\n")
            p.stdin.flush()
            ours.append(float(p.stdout.readline()))
            t0 = time.perf_counter()
            call()
            ref.append((time.perf_counter() - t0) * 1e3)
        summary = json.loads(p.stdout.readline())
    return ours, ref, summary["parameters"], sum(q.numel() for q in model.parameters())


def load():
    return round(os.getloadavg()[0], 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=12, help="timed ResNet-18 training steps per side")
    ap.add_argument("--runs", type=int, default=30, help="timed ResNet-50 inference runs per side")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warm_steps, warm_runs = 2, 5

    loads = [load()]
    o18, r18, p18, q18 = paired(args.build, args.threads, "resnet18_train", ["--batch", args.batch],
                                lambda: torch_resnet18_train(args.batch), warm_steps, args.steps)
    loads.append(load())
    o50, r50, p50, q50 = paired(args.build, args.threads, "resnet50_infer", [], torch_resnet50_infer,
                                warm_runs, args.runs)
    loads.append(load())
    for name, a, b in (("resnet18", p18, q18), ("resnet50", p50, q50)):
        if a != b:
            sys.exit(f"{name}: parameter counts differ (ours {a}, pytorch {b})")

    m18 = [statistics.median(t) for t in (o18, r18)]
    m50 = [statistics.median(t) for t in (o50, r50)]
    ips = [1e3 * args.batch / t for t in m18]
    t18 = f"resnet18 28x28 train step batch {args.batch}"
    results = [
        {"name": f"{t18} time", "ours": round(m18[0], 1), "reference": round(m18[1], 1), "unit": "ms/step",
         "ratio": round(m18[1] / m18[0], 3)},
        {"name": f"{t18} throughput", "ours": round(ips[0], 1), "reference": round(ips[1], 1), "unit": "images/s",
         "ratio": round(ips[0] / ips[1], 3), "goal": ">= 1.0"},
        {"name": "resnet50 224x224 inference batch 1 median latency", "ours": round(m50[0], 1),
         "reference": round(m50[1], 1), "unit": "ms", "ratio": round(m50[1] / m50[0], 3),
         "goal": ">= 1.0 (latency <= PyTorch's)"},
    ]
    print(f"{'benchmark (ratio > 1: we are faster)':<52} {'ours':>9} {'pytorch':>9} {'unit':>9} {'ratio':>7}  goal")
    for r in results:
        goal = r.get("goal", "")
        if goal:
            goal += " met" if r["ratio"] >= 1.0 else " NOT met"
        print(f"{r['name']:<52} {r['ours']:>9} {r['reference']:>9} {r['unit']:>9} {r['ratio']:>7}  {goal}")
    fastest = {"resnet18": [round(min(t), 1) for t in (o18, r18)], "resnet50": [round(min(t), 1) for t in (o50, r50)]}
    print(f"parameters: resnet18 {p18}, resnet50 {p50} (both sides); fastest call ms [ours, pytorch]: {fastest}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    machine = (f"{os.cpu_count()} cores, {args.threads} threads, torch {torch.__version__}, "
               f"torchvision {torchvision.__version__}")
    setup = {"resnet18": f"small stem, 1x28x28, 10 classes, {p18} parameters, batch {args.batch}, "
                         f"SGD(lr=0.01, momentum=0.9), {warm_steps} warm-up + {args.steps} timed steps per side",
             "resnet50": f"ImageNet stem, 3x224x224, {p50} parameters, batch 1, eval, no grad, {warm_runs} "
                         f"warm-up + {args.runs} timed runs per side",
             "timing": "calls alternate ours/PyTorch after the warm-ups; median per side",
             "fastest_call_ms": fastest}
    path = os.path.join(ROOT, "bench/results/train-resnet-cpu.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        # load_average: 1-minute load before the ResNet-18 part, between the parts, after.
        json.dump({"machine": machine, "commit": commit, "load_average": loads, "setup": setup,
                   "results": results}, f, indent=1)
    print("wrote bench/results/train-resnet-cpu.json")


if __name__ == "__main__":
    main()
