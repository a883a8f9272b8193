#!/usr/bin/env python3
"""Compares two GPU traces of one training benchmark (ours and PyTorch's), step by step.

The traces come from libkernel_trace.so (bench/gpu/kernel_trace.cpp), preloaded into each run:

  DEEPSEEK_KERNEL_TRACE=ours.csv LD_PRELOAD=bundle/lib/libkernel_trace.so bundle/bin/bench_gpu bert
  DEEPSEEK_KERNEL_TRACE=torch.csv LD_PRELOAD=bundle/lib/libkernel_trace.so python3 bench/gpu/torch_ref.py bert
  python3 bench/gpu/kernel_trace.py ours.csv torch.csv --steps 10

A step ends with the optimizer's last kernel (--marker, a regular expression over kernel names).
For the last --steps steps of each trace it prints the step time on the GPU's clock, the time the
GPU was busy (the union of kernel intervals), the idle time and the gaps that make it, the
number of launches, and the time per kernel class side by side, so a difference in step time
can be put down to kernels that are slower, kernels one side does not need, or a GPU left
waiting for the host.
"""
import argparse
import csv
import json
import re
import sys
from collections import defaultdict

# Kernel classes, first match wins; the names are demangled kernel names of either side.
CLASSES = [
    ("adam", r"adam|Adam"),
    ("sgd", r"sgd|SGD|momentum"),
    ("attention", r"flash|fmha|attention|Attention|mem_eff|probs_|tf32_split"),
    ("gemm", r"gemm|Gemm|cutlass|sm90_xmma|cublas|nvjet|splitK|xmma"),
    # copies before convolutions: our cast kernel is named Convert
    ("copy", r"Convert<(\w+); \1>|Identity<|copy|Copy|[Cc]at[A-Z(]|memcpy|transpose|permute|contiguous|stack"),
    ("conv", r"conv2d|Conv2d|convolve|cudnn|implicit|wgrad|dgrad|fprop|nchwToNhwc|nhwcToNchw"),
    ("norm", r"norm|Norm|welford|Welford"),
    ("softmax/loss", r"softmax|Softmax|lsm_|nll|cross_entropy|ce_forward|ce_backward|log_softmax"),
    ("dropout", r"dropout|Dropout|fused_dropout|philox|Philox"),
    ("reduce", r"reduce|Reduce|sum|Sum"),
    ("embedding", r"embedding|Embedding|index|Index|gather|scatter|segment|piece_sums|keys_from|RadixSort"),
    ("fill", r"memset|fill|Fill|zero|Constant"),
    ("elementwise", r"elementwise|vectorized|unrolled|Elementwise|ew_vector|ew_rows|binary|unary|Functor|loop"),
]


def kernel_class(name):
    for cls, rx in CLASSES:
        if re.search(rx, name):
            return cls
    return "other"


def read(path):
    with open(path, newline="") as f:
        rows = [(int(r["start_ns"]), int(r["end_ns"]), r["kind"], r["name"]) for r in csv.DictReader(f)]
    rows.sort()
    return rows


def steps_of(rows, marker, count):
    """The last `count` steps: [begin, end) on the GPU clock, each ending at a marker run's end."""
    if count == 0:  # the whole trace
        return rows[0][0], max(r[1] for r in rows)
    rx = re.compile(marker)
    ends = []
    for i, r in enumerate(rows):
        if rx.search(r[3]) and (i + 1 == len(rows) or not rx.search(rows[i + 1][3])):
            ends.append(r[1])
    if len(ends) < count + 1:
        sys.exit(f"kernel_trace: {len(ends) - 1} whole steps end with /{marker}/; --steps {count} needs more")
    ends = ends[-(count + 1):]
    return ends[0], ends[-1]


def summarize(rows, begin, end, steps, gap_ns):
    inside = [r for r in rows if r[0] >= begin and r[1] <= end]
    busy, idle_gaps, cursor = 0, [], begin
    by_class, by_name = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for s, e, kind, name in inside:
        if s > cursor:
            idle_gaps.append(s - cursor)
        busy += max(0, e - max(s, cursor))
        cursor = max(cursor, e)
        c = by_class[kernel_class(name)]
        c[0] += e - s
        c[1] += 1
        n = by_name[name[:120]]
        n[0] += e - s
        n[1] += 1
    wall = end - begin
    per = lambda ns: ns / steps / 1e6  # ms per step
    return {
        "step_ms": per(wall),
        "busy_ms": per(busy),
        "idle_ms": per(wall - busy),
        "launches_per_step": len(inside) / steps,
        "gaps_over_threshold_per_step": sum(1 for g in idle_gaps if g > gap_ns) / steps,
        "idle_in_gaps_over_threshold_ms": per(sum(g for g in idle_gaps if g > gap_ns)),
        "classes_ms": {k: per(v[0]) for k, v in by_class.items()},
        "class_launches": {k: v[1] / steps for k, v in by_class.items()},
        "top_kernels": sorted(((per(v[0]), v[1] / steps, k) for k, v in by_name.items()), reverse=True)[:25],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ours")
    ap.add_argument("reference")
    ap.add_argument("--steps", type=int, default=10, help="0: the whole trace as one step")
    ap.add_argument("--marker", default=r"adam|Adam|sgd|SGD")
    ap.add_argument("--gap-us", type=float, default=5.0, help="idle gaps longer than this are counted")
    ap.add_argument("--json", help="also write the summaries here")
    a = ap.parse_args()
    sums = {}
    for label, path in (("ours", a.ours), ("reference", a.reference)):
        rows = read(path)
        b, e = steps_of(rows, a.marker, a.steps)
        sums[label] = summarize(rows, b, e, max(a.steps, 1), a.gap_us * 1e3)
    o, r = sums["ours"], sums["reference"]
    print(f"{'per step':<36}{'ours':>12}{'reference':>12}{'diff':>10}")
    for key in ("step_ms", "busy_ms", "idle_ms", "launches_per_step", "gaps_over_threshold_per_step",
                "idle_in_gaps_over_threshold_ms"):
        print(f"{key:<36}{o[key]:>12.2f}{r[key]:>12.2f}{o[key] - r[key]:>+10.2f}")
    print(f"\n{'kernel class (ms per step, launches)':<36}{'ours':>18}{'reference':>18}{'diff ms':>10}")
    classes = sorted(set(o["classes_ms"]) | set(r["classes_ms"]),
                     key=lambda k: -max(o["classes_ms"].get(k, 0), r["classes_ms"].get(k, 0)))
    for k in classes:
        om, rm = o["classes_ms"].get(k, 0), r["classes_ms"].get(k, 0)
        ol, rl = o["class_launches"].get(k, 0), r["class_launches"].get(k, 0)
        print(f"{k:<36}{om:>10.2f} ({ol:>5.0f}){rm:>10.2f} ({rl:>5.0f}){om - rm:>+10.2f}")
    for label in ("ours", "reference"):
        print(f"\ntop kernels, {label} (ms per step, launches per step)")
        for ms, n, name in sums[label]["top_kernels"]:
            print(f"  {ms:8.3f} {n:6.1f}  {name}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(sums, f, indent=1)


if __name__ == "__main__":
    main()
