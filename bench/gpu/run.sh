#!/usr/bin/env bash
# GPU benchmarks, ours (bench_gpu) against PyTorch (bench/gpu/torch_ref.py) in the same run,
# alternating per workload. Run from the repository root on the GPU machine:
#
#   bench/gpu/run.sh [BENCH_GPU] [--fmnist [EPOCHS]] [--data DIR] [--only NAME[,NAME...]]
#
# BENCH_GPU defaults to bundle/bin/bench_gpu (the `make bundle` folder). Writes
# bench/results/gpu-h200.json (override with OUT=...) and prints a table. The default set
# (matmul, elementwise, attention, ResNet-50, GPT-2, BERT) takes about 3–5 minutes on an H200; --fmnist
# adds ResNet-18 on Fashion-MNIST (EPOCHS, default 30, for each side: much longer) and runs
# only that unless --only names others too. PYTHON picks the interpreter (default python3).
set -u
cd "$(dirname "$0")/../.."

BIN=bundle/bin/bench_gpu
FMNIST=0
EPOCHS=30
DATA=${DEEPSEEK_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --fmnist) FMNIST=1
              if [ $# -gt 1 ] && [[ "$2" =~ ^[0-9]+$ ]]; then EPOCHS=$2; shift; fi ;;
    --data) DATA=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) BIN=$1 ;;
  esac
  shift
done
PY=${PYTHON:-python3}
OUT=${OUT:-bench/results/gpu-h200.json}
TMP=$(mktemp -d /tmp/bench_gpu.XXXXXX)
if [ ! -x "$BIN" ]; then echo "run.sh: $BIN is not an executable (pass the bundle's bin/bench_gpu)" >&2; exit 1; fi
echo "ours: $BIN   pytorch: $PY bench/gpu/torch_ref.py   scratch: $TMP" >&2

if [ -z "$ONLY" ]; then
  if [ "$FMNIST" = 1 ]; then ONLY=resnet18_fmnist; else ONLY=matmul_bf16,elementwise,attention,resnet50,resnet50_cl,gpt2,bert; fi
elif [ "$FMNIST" = 1 ]; then
  ONLY="$ONLY,resnet18_fmnist"
fi
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

# run_one TAG LIMIT_S CMD...: last JSON line of stdout -> $TMP/TAG.json, stderr -> $TMP/TAG.err
run_one() {
  local tag=$1 limit=$2; shift 2
  local t0=$(date +%s)
  echo "== $tag: $*" >&2
  timeout "$limit" "$@" > "$TMP/$tag.out" 2> "$TMP/$tag.err"
  local rc=$?
  grep '^{' "$TMP/$tag.out" | tail -n 1 > "$TMP/$tag.json"
  if [ $rc -ne 0 ] || [ ! -s "$TMP/$tag.json" ]; then
    echo "   $tag failed (exit $rc); stderr tail:" >&2
    tail -n 5 "$TMP/$tag.err" | sed 's/^/     /' >&2
    printf '{"error": "exit %s: %s"}\n' "$rc" "$(tail -n 1 "$TMP/$tag.err" | tr -d '"\\' | cut -c1-300)" > "$TMP/$tag.json"
  fi
  echo "   $(cat "$TMP/$tag.json" | cut -c1-240)  [$(( $(date +%s) - t0 )) s]" >&2
}

pair() {  # pair NAME LIMIT_S ARGS...: ours, then PyTorch, same arguments
  local name=$1 limit=$2; shift 2
  run_one "$name.ours" "$limit" "$BIN" "$name" "$@"
  run_one "$name.pytorch" "$limit" "$PY" bench/gpu/torch_ref.py "$name" "$@"
}

wanted matmul_bf16 && pair matmul_bf16 120 --n 8192 --iters 20
wanted elementwise && pair elementwise 120 --gib 1 --iters 20
wanted attention && pair attention 120 --batch 16 --heads 12 --seq 1024 --dim 64 --causal 1 --iters 20
wanted resnet50 && pair resnet50 240 --batch 256 --steps 30 --warmup 5
# Both with channels_last (NHWC) model and input (the issue's target configuration).
wanted resnet50_cl && run_one resnet50_cl.ours 240 "$BIN" resnet50 --batch 256 --steps 30 --warmup 5 --channels-last
wanted resnet50_cl && run_one resnet50_cl.pytorch 240 "$PY" bench/gpu/torch_ref.py resnet50 \
  --batch 256 --steps 30 --warmup 5 --channels-last
wanted gpt2 && pair gpt2 300 --batch 16 --seq 1024 --steps 20 --warmup 3 --dropout 0
wanted bert && pair bert 300 --batch 32 --seq 512 --steps 15 --warmup 3 --dropout 0.1
wanted resnet18_fmnist && pair resnet18_fmnist 7200 --epochs "$EPOCHS" --batch 128 --data "$DATA"

"$PY" - "$TMP" "$OUT" "$BIN" "$ONLY" <<'EOF'
import datetime, json, os, subprocess, sys

tmp, out, binary, only = sys.argv[1:5]

def load(tag):
    p = os.path.join(tmp, tag + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        line = f.read().strip()
    try:
        return json.loads(line) if line else None
    except json.JSONDecodeError:
        return {"error": "bad JSON: " + line[:200]}

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""

entries = []

def entry(name, ours_tag, torch_tag, key, units, goal, higher_better=True, notes=""):
    o, p = load(ours_tag), load(torch_tag)
    if o is None and p is None:
        return
    ov = o.get(key) if o and "error" not in o else None
    pv = p.get(key) if p and "error" not in p else None
    ratio = None
    if ov is not None and pv:
        ratio = ov / pv
    e = {"name": name, "ours": None if ov is None else round(ov, 4),
         "pytorch": None if pv is None else round(pv, 4),
         "ratio": None if ratio is None else round(ratio, 4), "units": units,
         "higher_is_better": higher_better, "goal": goal, "notes": notes,
         "ours_run": o, "pytorch_run": p}
    if ratio is not None and goal is not None:
        e["meets_goal"] = ratio >= goal if higher_better else ratio <= goal
    entries.append(e)

tf32 = ("TF32: f32 matmuls in true f32 on both sides (ours set_float32_matmul_precision('highest'), "
        "PyTorch allow_tf32=False), cuDNN convolutions may use TF32 on both sides")
entry("bf16 matmul 8192^3", "matmul_bf16.ours", "matmul_bf16.pytorch", "tflops", "TFLOP/s", 0.95,
      notes="20 products after 3 warm-up ones; wall clock between two device synchronizations")
entry("elementwise add, two 1 GiB f32 inputs", "elementwise.ours", "elementwise.pytorch", "add_tbps", "TB/s", 0.90,
      notes="bandwidth = 3 x 1 GiB / time per op; output allocated each time (c = a + b) on both sides")
entry("elementwise mul, two 1 GiB f32 inputs", "elementwise.ours", "elementwise.pytorch", "mul_tbps", "TB/s", 0.90,
      notes="as add")
entry("attention fwd+bwd, bf16, 16 x 12 heads x 1024 x 64, causal", "attention.ours", "attention.pytorch",
      "fwd_bwd_tflops", "TFLOP/s", None, notes="scaled_dot_product_attention forward + backward; ours the "
      "flash kernel of backend/cuda/flash_attention.cu (mma.sync, cp.async double buffering), PyTorch its SDPA (cuDNN flash on this machine)")
entry("attention forward, bf16, 16 x 12 heads x 1024 x 64, causal", "attention.ours", "attention.pytorch",
      "fwd_tflops", "TFLOP/s", None)
entry("ResNet-50 training, bf16 autocast, batch 256, NCHW", "resnet50.ours", "resnet50.pytorch", "img_per_s",
      "img/s", 1.0, notes="SGD momentum 0.9 lr 0.1, synthetic 224x224 inputs; both NCHW. " + tf32)
entry("ResNet-50 training, bf16 autocast, batch 256, channels_last", "resnet50_cl.ours", "resnet50_cl.pytorch",
      "img_per_s", "img/s", 1.0, notes="the issue's target: channels_last (NHWC) model and input on both sides "
      "(model.to(memory_format=channels_last)); otherwise as the NCHW entry")
entry("ResNet-50 training peak allocated memory", "resnet50.ours", "resnet50.pytorch", "peak_allocated_gib",
      "GiB", None, higher_better=False, notes="peak of allocated bytes over the timed steps")
entry("GPT-2 small (124M) training, bf16 autocast, 16 x 1024 tokens", "gpt2.ours", "gpt2.pytorch",
      "tokens_per_s", "tokens/s", 1.0,
      notes="tied embeddings, dropout 0 on both sides, AdamW lr 3e-4 wd 0.01 (PyTorch fused=True), "
      "PyTorch F.scaled_dot_product_attention(is_causal) (flash); ours nn::MultiheadAttention, whose "
      "causal self-attention takes the flash kernel. " + tf32)
entry("GPT-2 small peak reserved memory", "gpt2.ours", "gpt2.pytorch", "reserved_gib", "GiB", 1.0,
      higher_better=False, notes="ours: cudaMallocAsync pool reserved bytes after the timed steps "
      "(the pool keeps its memory); PyTorch: torch.cuda.max_memory_reserved()")
entry("GPT-2 small peak allocated memory", "gpt2.ours", "gpt2.pytorch", "peak_allocated_gib", "GiB", 1.0,
      higher_better=False, notes="ours: memory_stats(cuda).peak_allocated; PyTorch: max_memory_allocated()")
entry("BERT-base MLM training, f32, 32 x 512", "bert.ours", "bert.pytorch", "seq_per_s", "seq/s", 1.0,
      notes="HF BertForMaskedLM layout (tied decoder + bias, no pooler), logits at all positions, loss at "
      "15% of them (labels -100 elsewhere), dropout 0.1 (hidden and attention), AdamW lr 1e-4 "
      "(PyTorch fused=True), PyTorch SDPA (memory-efficient kernel in f32); ours nn::MultiheadAttention, "
      "f32 with dropout: the composite attention with its fused softmax-dropout row kernels (attention_probs; the flash kernel is f16/bf16 without dropout), "
      "its products over the head size as 3xTF32 (tf32_split), as PyTorch's f32 memory-efficient kernel does. " + tf32)
entry("BERT-base peak allocated memory", "bert.ours", "bert.pytorch", "peak_allocated_gib", "GiB", None,
      higher_better=False)
entry("ResNet-18 (small stem) Fashion-MNIST test accuracy", "resnet18_fmnist.ours", "resnet18_fmnist.pytorch",
      "test_accuracy", "%", None, notes="goal: ours >= 94.5%; random crop pad 4 + flip, SGD nesterov, "
      "cosine, bf16 autocast; ours augments per example on CPU workers, PyTorch on the GPU")
entry("ResNet-18 Fashion-MNIST training time", "resnet18_fmnist.ours", "resnet18_fmnist.pytorch",
      "train_time_s", "s", 1.0, higher_better=False)

prev = {}
if os.path.exists(out):
    try:
        with open(out) as f:
            prev = json.load(f)
    except Exception:
        prev = {}
# A partial run (--only, --fmnist) keeps the other entries of an earlier run.
names = {e["name"] for e in entries}
kept = [e for e in prev.get("entries", []) if e.get("name") not in names]
doc = {
    "suite": "gpu",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "device": sh("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1"),
    "commit": sh("git rev-parse --short HEAD"),
    "torch": sh(sys.executable + " -c 'import torch; print(torch.__version__, torch.version.cuda)'"),
    "ours_binary": binary,
    "ran": only,
    "settings": tf32 + "; PyTorch eager (no torch.compile), cudnn.benchmark=True",
    "entries": kept + entries,
}
if prev.get("entries") and kept:
    doc["kept_from"] = prev.get("date")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")

def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3f}"

print(f"{'workload':<58} {'ours':>12} {'pytorch':>12} {'ratio':>7}  units     goal")
for e in entries:
    goal = "" if e["goal"] is None else (">=" if e["higher_is_better"] else "<=") + f"{e['goal']}"
    mark = "" if "meets_goal" not in e else ("  ok" if e["meets_goal"] else "  BELOW")
    err = ""
    for side in ("ours_run", "pytorch_run"):
        r = e[side]
        if r and "error" in r:
            err += f"  [{side.split('_')[0]} error: {r['error'][:80]}]"
    print(f"{e['name'][:58]:<58} {fmt(e['ours']):>12} {fmt(e['pytorch']):>12} "
          f"{fmt(e['ratio']):>7}  {e['units']:<8}  {goal}{mark}{err}")
print(f"-> {out}")
EOF
