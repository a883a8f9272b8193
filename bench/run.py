"""`make bench`: runs every suite, each measuring ours and its reference in the same run, and
prints one table. Suites write bench/results/<suite>.json themselves.

    python3 bench/run.py --build build [--only core,linalg,train,train_resnet,security]
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def suites(build):
    py = sys.executable
    return {
        "core": ([py, "bench/core/core.py", "--build", build], "bench/results/core-cpu.json"),
        "linalg": ([py, "bench/core/linalg_conv.py", "--build", build], "bench/results/core-cpu-linalg.json"),
        "train": ([py, "bench/train/smallcnn.py", "--build", build], "bench/results/train-cpu.json"),
        "train_resnet": ([py, "bench/train/resnet.py", "--build", build], "bench/results/train-resnet-cpu.json"),
        "security": ([os.path.join(build, "bin", "bench_security"), "--json"], "bench/results/security.json"),
        "audit_abac": ([os.path.join(build, "bin", "bench_security_audit_abac")], "bench/results/security-audit-abac.json"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    os.chdir(ROOT)
    wanted = set(filter(None, args.only.split(",")))
    failed = []
    for name, (cmd, result) in suites(args.build).items():
        if wanted and name not in wanted:
            continue
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(name)
            continue
        if os.path.exists(result):
            with open(result) as f:
                data = json.load(f)
            for r in data.get("results", []):
                ratio = r.get("ratio")
                print(f"   {r['name'][:48]:48s} ratio {ratio:.2f}x" if isinstance(ratio, (int, float)) else f"   {r['name']}")
    if failed:
        print("suites that failed:", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
