"""Matmul and conv2d: ours (bench_linalg_conv) against PyTorch on the CPU, same run, same threads.

    .venv/bin/python bench/core/linalg_conv.py --build build-linalg [--threads 2] [--quick]

Runs the C++ benchmark (our timings as JSON lines) in --paced mode: each of our timed calls is
followed by the same call in PyTorch, so both sides sample the same stretches of a shared
machine's load (bursts of seconds from other tenants). A few rounds (--rounds), each a new
process; prints a table with ratio = the median over rounds of (PyTorch's median call / ours)
(> 1: we are faster), times and the peak as medians over rounds; GFLOP/s and the share of peak
come from our calls run back to back (a throughput, as the peak probe), before the paced ones:
their median, and for matmul also the fastest call (the probe reports its fastest run), and writes
bench/results/core-cpu-linalg.json with the machine, commit, PyTorch's BLAS/oneDNN config and
the oneDNN implementations our primitives picked (ONEDNN_VERBOSE, impl_info_str).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

PAUSE_S = 0.25  # between calls: see run_round
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def torch_call(name, threads):
    """PyTorch's side of benchmark `name`: a closure running the same work on the same shapes."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    if name.startswith("matmul"):
        m, k, n = map(int, re.findall(r"(\d+)x(\d+)x(\d+)", name)[0])
        a, b = torch.randn(m, k), torch.randn(k, n)
        return lambda: torch.matmul(a, b)
    n_, cin, h, w_, k, cout = map(int, re.findall(r"(\d+)x(\d+)x(\d+)x(\d+)_k(\d+)_to(\d+)", name)[0])
    x = torch.randn(n_, cin, h, w_, requires_grad=True)
    w = (torch.randn(cout, cin, k, k) * 0.05).requires_grad_(True)
    g = torch.randn(n_, cout, h, w_)

    def step():
        y = F.conv2d(x, w, padding=k // 2)
        torch.autograd.grad([y], [x, w], [g])

    return step


def run_round(build, threads, quick, exe=None):
    """One round: our benchmark binary in --paced mode, each of its timed calls followed by the
    same PyTorch call. Returns our result rows, PyTorch's median ms per benchmark and the oneDNN
    implementations our primitives picked."""
    exe = exe or os.path.join(ROOT, build, "bin", "bench_linalg_conv")
    if not os.path.exists(exe):
        subprocess.run(["cmake", "--build", os.path.join(ROOT, build), "-j2", "--target", "bench_linalg_conv"],
                       check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), ONEDNN_VERBOSE="1")
    args = [exe, "--threads", str(threads), "--paced"] + (["--quick"] if quick else [])
    rows, impls, ref, paced = [], {}, {}, {}
    with subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
        def line():
            """The next line that is not oneDNN's verbose log (its exec lines give the impls); None at
            the end of the output."""
            while True:
                s = p.stdout.readline()
                if not s:
                    return None
                if s.startswith("onednn_verbose,exec"):
                    f = s.split(",")  # onednn_verbose,exec,cpu,<primitive>,<impl>,<prop>,...
                    if len(f) > 5:
                        impls.setdefault(f"{f[3]}/{f[5]}", f[4])
                elif not s.startswith("onednn_verbose"):
                    return s.strip()

        while (s := line()) is not None:
            r = json.loads(s)
            if r["kind"] != "pace":
                rows.append(r)
                continue
            call = torch_call(r["name"], threads)
            call()  # warm-up
            ours, theirs = [], []
            for _ in range(r["reps"]):
                # Idle threads of either side's OpenMP runtime spin for a while after a call
                # (libgomp, and KMP_BLOCKTIME = 200 ms for Intel's): a pause lets them sleep, so
                # neither side runs against the other's spinning threads.
                time.sleep(PAUSE_S)
                p.stdin.write("go\n")
                p.stdin.flush()
                t = line()
                if t is None:
                    break
                ours.append(float(t))
                time.sleep(PAUSE_S)
                t0 = time.perf_counter()
                call()
                theirs.append((time.perf_counter() - t0) * 1e3)
            ref[r["name"]] = median(theirs) if theirs else None
            paced[r["name"]] = median(ours) if ours else None
    if p.returncode != 0:
        sys.exit(f"{exe} failed (exit status {p.returncode})")
    for r in rows:  # ms: our paced median, beside PyTorch's; gflops stays the back-to-back rate
        if r["name"] in paced:
            r["ms_back_to_back"], r["ms"] = r["ms"], paced[r["name"]]
    return rows, ref, impls


def median(v):  # the upper median for an even count
    return sorted(v)[len(v) // 2]


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:
        return "unknown"


def machine():
    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None, help="ours-then-PyTorch rounds (default 3, --quick 1)")
    ap.add_argument("--exe", default=None, help="bench_linalg_conv binary (default: <build>/bin/)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "core-cpu-linalg.json"))
    a = ap.parse_args()

    load_before = os.getloadavg()[0]
    rounds = a.rounds or (1 if a.quick else 3)
    runs = []  # (our rows, PyTorch times) per round
    for _ in range(rounds):
        rows, ref_ms, impls = run_round(a.build, a.threads, a.quick, a.exe)
        runs.append((rows, ref_ms))
    import torch

    # One row per benchmark: our time and GFLOP/s, the reference time and the ratio, each the
    # median over rounds (the ratio of each round pairs runs taken close together).
    rows, ref, round_ratios = [], {}, {}
    for i, r in enumerate(runs[0][0]):
        same = [rr[i] for rr, _ in runs]
        m = dict(r)
        if r["kind"] == "peak":
            m["gflops"] = median([x["gflops"] for x in same])
        else:
            m["ms"] = median([x["ms"] for x in same])
            m["ms_back_to_back"] = median([x["ms_back_to_back"] for x in same])
            m["gflops"] = median([x["gflops"] for x in same])
            if "gflops_best" in r:
                m["gflops_best"] = max(x["gflops_best"] for x in same)
            ref[r["name"]] = median([t[r["name"]] for _, t in runs])
            round_ratios[r["name"]] = [round(t[r["name"]] / x["ms"], 4) for x, (_, t) in zip(same, runs)]
        rows.append(m)

    peak = next((r["gflops"] for r in rows if r["kind"] == "peak"), None)
    results = []
    print(f"{'benchmark':44s} {'ours':>10s} {'torch':>10s} {'ratio':>7s} {'GFLOP/s':>8s} {'%peak':>6s}")
    for r in rows:
        if r["kind"] == "peak":
            print(f"{'peak f32 FMA (' + str(a.threads) + ' threads)':44s} {'':>10s} {'':>10s} {'':>7s} "
                  f"{r['gflops']:8.1f}")
            results.append({"name": r["name"], "ours": r["gflops"], "reference": None, "unit": "GFLOP/s",
                            "ratio": None})
            continue
        t = ref[r["name"]]
        ratio = median(round_ratios[r["name"]])
        pct = 100 * r["gflops"] / peak if peak else float("nan")
        wino = "winograd" in r.get("impl_fwd", "")  # direct-equivalent GFLOP/s (see ours_conv below)
        print(f"{r['name']:44s} {r['ms']:8.2f}ms {t:8.2f}ms {ratio:7.3f} {r['gflops']:8.1f} {pct:5.1f}%"
              + (" (direct-equivalent, Winograd)" if wino else ""))
        entry = {"name": r["name"], "ours": round(r["ms"], 4), "reference": round(t, 4), "unit": "ms",
                 "ratio": round(ratio, 4), "ratio_per_round": round_ratios[r["name"]],
                 "ours_ms_back_to_back": round(r["ms_back_to_back"], 4),
                 "ours_gflops": r["gflops"],
                 "percent_of_peak": round(pct, 2)}
        if "gflops_best" in r and peak:  # the fastest call against the probe's best run
            entry["ours_gflops_best"] = r["gflops_best"]
            entry["percent_of_peak_best"] = round(100 * r["gflops_best"] / peak, 2)
            print(f"{'':44s} {'':>10s} {'':>10s} {'':>7s} {r['gflops_best']:8.1f} "
                  f"{entry['percent_of_peak_best']:5.1f}% (fastest call)")
        for key in ("impl", "impl_fwd", "impl_bwd_data", "impl_bwd_weights"):
            if key in r:
                entry[key] = r[key]
        results.append(entry)

    cfg = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\S+?),", cfg)
    doc = {
        "machine": machine(),
        "commit": git_commit(),
        "threads": a.threads,
        "rounds": rounds,
        # Other processes on the machine skew both sides and above all the short peak probe;
        # a load average above the thread count means the figures are not clean.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "reference": {
            "name": f"PyTorch {torch.__version__} (CPU)",
            "blas": blas.group(1) if blas else "unknown",
            "mkldnn": torch.backends.mkldnn.is_available(),
            "config": cfg,
        },
        "onednn_impls": impls,
        # Where our products run (backend/cpu/onednn/matmul.cpp): oneDNN's verbose log above
        # lists only the primitives oneDNN ran.
        "ours_matmul": "each matmul row's impl: our AVX2 sgemm for products with min(M, N, K) >= 256 and "
                       ">= 2^25 multiply-adds, oneDNN's matmul otherwise; DEEPSEEK_CPU_SGEMM=onednn|openblas "
                       "moves the large ones: " + os.environ.get("DEEPSEEK_CPU_SGEMM", "default"),
        # Conv GFLOP/s counts a direct convolution's multiply-adds (forward + both gradients):
        # for rows whose impl is our Winograd F(4x4, 3x3), which does 4x fewer, the figure is
        # the direct-equivalent rate and may exceed the peak.
        "ours_conv": "each conv row's impl_*: our Winograd F(4x4,3x3) for f32 3x3 stride-1 convolutions with "
                     ">= 32 channels, >= 128 tiles at least half used, oneDNN otherwise; DEEPSEEK_CPU_WINOGRAD=0: "
                     + os.environ.get("DEEPSEEK_CPU_WINOGRAD", "default"),
        "results": results,
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"reference BLAS: {doc['reference']['blas']}; oneDNN implementations: {impls}")
    if max(load_before, os.getloadavg()[0]) > a.threads + 0.5:
        print(f"warning: load average {load_before:.1f} / {os.getloadavg()[0]:.1f} exceeds {a.threads} threads; "
              "timings (and the peak probe) are disturbed by other processes")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    sys.exit(main())
