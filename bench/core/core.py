"""Core CPU suite: runs bench_core (ours) and the same workloads in PyTorch (the current PyPI
release, same thread count) in one run, in rounds of ours then PyTorch (medians reported); dispatch overhead is compared C++ to C++ against
libtorch (Debian libtorch-dev) when bench_dispatch_libtorch was built.

    .venv/bin/python bench/core/core.py --build build
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import torch


def median_seconds(fn, iters=10, warmup=2):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(iters):
        s = time.perf_counter()
        fn()
        t.append(time.perf_counter() - s)
    return statistics.median(t)


def torch_elementwise():
    torch.manual_seed(0)
    n = 16 << 20
    a, b = torch.randn(n), torch.randn(n)
    m = a.view(4096, 4096)
    r = {}
    with torch.no_grad():
        r["chain add_mul_relu 16M f32"] = median_seconds(lambda: torch.relu((a + b) * b))
        r["exp 16M f32"] = median_seconds(lambda: torch.exp(a))
        r["tanh 16M f32"] = median_seconds(lambda: torch.tanh(a))
        r["sigmoid_mul 16M f32"] = median_seconds(lambda: torch.sigmoid(a) * a)
        r["sum 16M f32"] = median_seconds(lambda: a.sum())
        r["sum rows 4096x4096 f32"] = median_seconds(lambda: m.sum(1))
        r["sum cols 4096x4096 f32"] = median_seconds(lambda: m.sum(0))
        r["softmax 4096x4096 f32"] = median_seconds(lambda: torch.softmax(m, 1))
        r["add broadcast 4096x4096 + 4096"] = median_seconds(lambda: m + a[:4096])
        r["transpose copy 4096x4096"] = median_seconds(lambda: m.t().contiguous())
    return r


def run_json_lines(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    extra = {}
    for line in out.splitlines():
        if line.startswith("{"):
            j = json.loads(line)
            if "name" in j:
                rows[j["name"]] = j["seconds"]
            else:
                extra.update(j)
    return rows, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of ours then PyTorch; medians are reported (a shared machine's load moves "
                         "single runs of these memory-bound loops by 10-50%%)")
    ap.add_argument("--out", default="bench/results/core-cpu.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    lt = os.path.join(args.build, "bin", "bench_dispatch_libtorch")
    ours_rounds, ref_rounds = [], []  # per round: name -> (seconds, reference implementation)
    libtorch_version = "?"
    for _ in range(args.rounds):
        ours, _ = run_json_lines([os.path.join(args.build, "bin", "bench_core")], env)
        ours_rounds.append(ours)
        ref = {name: (t, f"torch {torch.__version__} (PyPI)") for name, t in torch_elementwise().items()}
        if os.path.exists(lt):
            lib, extra = run_json_lines([lt], env)
            libtorch_version = extra.get("torch_version", libtorch_version)
            ref.update({name: (t, f"libtorch {libtorch_version} C++ (Debian)") for name, t in lib.items()})
        ref_rounds.append(ref)
    if not os.path.exists(lt):
        print("note: bench_dispatch_libtorch not built (install libtorch-dev); dispatch has no reference")
    results = []
    for name, (_, impl) in ref_rounds[0].items():
        if name not in ours_rounds[0]:
            continue
        o = [r[name] for r in ours_rounds]
        t = [r[name][0] for r in ref_rounds]
        results.append({"name": name, "ours": statistics.median(o), "reference": statistics.median(t), "unit": "s",
                        "ratio": statistics.median(t) / statistics.median(o),
                        "ratio_per_round": [round(b / a, 4) for a, b in zip(o, t)], "reference_impl": impl})
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    machine = f"{os.cpu_count()} cores, {args.threads} threads"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"machine": machine, "commit": commit, "rounds": args.rounds, "results": results}, f, indent=1)
    print(f"{'benchmark':40s} {'ours':>12s} {'reference':>12s} {'ratio':>7s}   per round")
    for r in results:
        rounds = " ".join(f"{x:.2f}" for x in r["ratio_per_round"])
        print(f"{r['name']:40s} {r['ours']*1e3:10.3f}ms {r['reference']*1e3:10.3f}ms {r['ratio']:6.2f}x   {rounds}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
