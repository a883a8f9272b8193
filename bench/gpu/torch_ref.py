#!/usr/bin/env python3
"""PyTorch side of bench/gpu: the same workloads as bench_gpu, configured the same way, one
JSON line per subcommand with the same keys (impl "pytorch").

  python3 bench/gpu/torch_ref.py matmul_bf16 --n 8192
  python3 bench/gpu/torch_ref.py elementwise --gib 1
  python3 bench/gpu/torch_ref.py resnet50 --batch 256 --steps 20
  python3 bench/gpu/torch_ref.py gpt2 --batch 16 --seq 1024 --steps 10
  python3 bench/gpu/torch_ref.py bert --batch 32 --seq 512 --steps 10
  python3 bench/gpu/torch_ref.py resnet18_fmnist --epochs 30 --data /usr/share/datasets/fashion-mnist

Settings shared with ours: f32 matmuls in true f32 (torch.backends.cuda.matmul.allow_tf32 =
False, set_float32_matmul_precision("highest")), cuDNN convolutions may use TF32
(torch.backends.cudnn.allow_tf32 = True), cudnn.benchmark = True (ours caches an algorithm
choice per shape). Eager mode (no torch.compile), fused AdamW, F.scaled_dot_product_attention
(flash for bf16, memory-efficient for f32). GPT-2 small and BERT-base are written here with the
same shapes, parameters, initialisation scheme and dropout as deepseek's models (GPT: 124,439,808
parameters with the tied head; BERT: HF's BertForMaskedLM layout without pooler). Timing: warm-up,
torch.cuda.synchronize, time.perf_counter, the timed steps, synchronize.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

GIB = float(1 << 30)


def emit(d):
    print(json.dumps(d), flush=True)


def sync():
    torch.cuda.synchronize()


def memory(d):
    d["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / GIB
    d["reserved_gib"] = torch.cuda.max_memory_reserved() / GIB  # peak reserved
    return d


def time_steps(warmup, steps, step):
    first = None
    for i in range(warmup):
        loss = step()
        if i == 0:
            first = float(loss)
    sync()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    loss = None
    for _ in range(steps):
        loss = step()
    sync()
    s = time.perf_counter() - t0
    return s, first, float(loss)


# ---------------- matmul / elementwise ----------------

def matmul_bf16(a):
    n, iters = a.n, a.iters
    torch.manual_seed(0)
    x = torch.randn(n, n, device="cuda").to(torch.bfloat16)
    y = torch.randn(n, n, device="cuda").to(torch.bfloat16)
    for _ in range(3):
        torch.mm(x, y)
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        z = torch.mm(x, y)
    sync()
    s = time.perf_counter() - t0
    emit({"bench": "matmul_bf16", "impl": "pytorch", "n": n, "iters": iters,
          "time_per_mm_ms": 1e3 * s / iters, "tflops": 2.0 * n ** 3 * iters / s / 1e12})


def elementwise(a):
    n = int(a.gib * GIB / 4)
    x = torch.rand(n, device="cuda")
    y = torch.rand(n, device="cuda")

    def run(op):
        z = None
        for _ in range(3):
            z = op(x, y)
        sync()
        t0 = time.perf_counter()
        for _ in range(a.iters):
            z = None  # free the previous output first, as bench_gpu does
            z = op(x, y)
        sync()
        s = (time.perf_counter() - t0) / a.iters
        return 3.0 * n * 4 / s / 1e12

    add, mul = run(torch.add), run(torch.mul)
    emit({"bench": "elementwise", "impl": "pytorch", "gib": a.gib, "iters": a.iters,
          "add_tbps": add, "mul_tbps": mul})


# ---------------- attention ----------------

def attention(a):
    torch.manual_seed(0)
    shape = (a.batch, a.heads, a.seq, a.dim)
    q, k, v = (torch.randn(shape, device="cuda").to(torch.bfloat16).requires_grad_() for _ in range(3))
    dout = torch.randn(shape, device="cuda").to(torch.bfloat16)
    causal = bool(a.causal)

    def time_it(with_backward):
        def once():
            if with_backward:
                F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(dout)
            else:
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        for _ in range(3):
            once()
        sync()
        t0 = time.perf_counter()
        for _ in range(a.iters):
            once()
        sync()
        return (time.perf_counter() - t0) / a.iters

    fwd, fwdbwd = time_it(False), time_it(True)
    flop = 4.0 * a.batch * a.heads * a.seq ** 2 * a.dim * (0.5 if causal else 1.0)
    emit({"bench": "attention", "impl": "pytorch", "batch": a.batch, "heads": a.heads, "seq": a.seq,
          "dim": a.dim, "causal": causal, "fwd_ms": 1e3 * fwd, "fwd_bwd_ms": 1e3 * fwdbwd,
          "fwd_tflops": flop / fwd / 1e12, "fwd_bwd_tflops": 3.5 * flop / fwdbwd / 1e12})


# ---------------- ResNet-50 ----------------

def resnet50(a):
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet50(num_classes=1000).cuda().train()
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(a.batch, 3, 224, 224, device="cuda")
    if a.channels_last:
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (a.batch,), device="cuda")

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    s, first, last = time_steps(a.warmup, a.steps, step)
    emit(memory({"bench": "resnet50", "impl": "pytorch", "batch": a.batch, "steps": a.steps,
                 "warmup": a.warmup, "img_per_s": a.batch * a.steps / s, "step_ms": 1e3 * s / a.steps,
                 "amp": "bf16 autocast", "channels_last": bool(a.channels_last),
                 "optimizer": "SGD(lr=0.1, momentum=0.9)", "first_loss": first, "last_loss": last}))


# ---------------- GPT-2 small ----------------

class GPTBlock(nn.Module):
    # deepseek's TransformerEncoderLayer(norm_first, gelu_tanh, batch_first): packed qkv with
    # bias, out projection, 4x MLP; dropout after attention, inside and after the MLP.
    def __init__(self, d, h, p, layers):
        super().__init__()
        self.h, self.p = h, p
        self.norm1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-5)
        self.linear1 = nn.Linear(d, 4 * d)
        self.linear2 = nn.Linear(4 * d, d)
        self.drop = nn.Dropout(p)
        for lin in (self.out_proj, self.linear2):
            nn.init.normal_(lin.weight, 0.0, 0.02 / math.sqrt(2 * layers))

    def attn(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(n, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.p if self.training else 0.0)
        return self.out_proj(o.transpose(1, 2).reshape(n, t, d))

    def forward(self, x):
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.linear2(self.drop(F.gelu(self.linear1(self.norm2(x)), approximate="tanh"))))


class GPT(nn.Module):
    def __init__(self, vocab=50257, pos=1024, d=768, layers=12, heads=12, p=0.0):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(pos, d)
        nn.init.normal_(self.wte.weight, 0.0, 0.02)
        nn.init.normal_(self.wpe.weight, 0.0, 0.01)
        self.drop = nn.Dropout(p)
        self.blocks = nn.ModuleList(GPTBlock(d, heads, p, layers) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids):
        h = self.drop(self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device)))
        for b in self.blocks:
            h = b(h)
        return F.linear(self.ln_f(h), self.wte.weight)  # tied head


def gpt2(a):
    torch.manual_seed(0)
    model = GPT(p=a.dropout).cuda().train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01, fused=True)
    tokens = torch.randint(0, 50257, (a.batch, a.seq + 1), device="cuda")
    ids, tgt = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(ids)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1))
        loss.backward()
        opt.step()
        return loss.detach()

    s, first, last = time_steps(a.warmup, a.steps, step)
    emit(memory({"bench": "gpt2", "impl": "pytorch", "batch": a.batch, "seq": a.seq, "steps": a.steps,
                 "warmup": a.warmup, "params": params, "tokens_per_s": a.batch * a.seq * a.steps / s,
                 "step_ms": 1e3 * s / a.steps, "amp": "bf16 autocast", "dropout": a.dropout,
                 "tied_embeddings": True, "optimizer": "AdamW(lr=3e-4, wd=0.01, fused=True)",
                 "attention": "F.scaled_dot_product_attention(is_causal=True)",
                 "first_loss": first, "last_loss": last}))


# ---------------- BERT-base MLM ----------------

class BertLayer(nn.Module):
    # Post-norm encoder layer (HF BertLayer / deepseek's TransformerEncoderLayer, exact GELU).
    def __init__(self, d, h, ff, p, eps):
        super().__init__()
        self.h, self.p = h, p
        self.qkv = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(n, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0)
        x = self.norm1(x + self.drop(self.out_proj(o.transpose(1, 2).reshape(n, t, d))))
        return self.norm2(x + self.drop(self.linear2(self.drop(F.gelu(self.linear1(x))))))


class BertMLM(nn.Module):
    def __init__(self, vocab=30522, d=768, layers=12, heads=12, ff=3072, pos=512, types=2, p=0.1, eps=1e-12):
        super().__init__()
        self.word = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Embedding(pos, d)
        self.types = nn.Embedding(types, d)
        for e in (self.word, self.pos, self.types):
            nn.init.normal_(e.weight, 0.0, 0.02)
        self.emb_norm = nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(p)
        self.layers = nn.ModuleList(BertLayer(d, heads, ff, p, eps) for _ in range(layers))
        self.transform = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=eps)
        self.decoder_bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, ids):
        t = ids.shape[1]
        h = self.word(ids) + self.pos(torch.arange(t, device=ids.device)) + self.types(torch.zeros_like(ids))
        h = self.drop(self.emb_norm(h))
        for layer in self.layers:
            h = layer(h)
        h = self.norm(F.gelu(self.transform(h)))
        return F.linear(h, self.word.weight, self.decoder_bias)  # tied decoder


def bert(a):
    torch.manual_seed(0)
    model = BertMLM(p=a.dropout).cuda().train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, fused=True)
    ids = torch.randint(0, 30522, (a.batch, a.seq), device="cuda")
    picked = torch.rand(a.batch, a.seq, device="cuda") < 0.15
    labels = torch.where(picked, ids, torch.full_like(ids, -100))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        loss.backward()
        opt.step()
        return loss.detach()

    s, first, last = time_steps(a.warmup, a.steps, step)
    emit(memory({"bench": "bert", "impl": "pytorch", "batch": a.batch, "seq": a.seq, "steps": a.steps,
                 "warmup": a.warmup, "params": params, "seq_per_s": a.batch * a.steps / s,
                 "step_ms": 1e3 * s / a.steps, "dtype": "f32", "tf32_matmul": False, "dropout": a.dropout,
                 "mlm": "logits at all positions, loss at 15% (labels -100 elsewhere)",
                 "optimizer": "AdamW(lr=1e-4, wd=0.01, fused=True)",
                 "attention": "F.scaled_dot_product_attention", "first_loss": first, "last_loss": last}))


# ---------------- ResNet-18 on Fashion-MNIST ----------------

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.view(*dims)


def resnet18_fmnist(a):
    import torchvision
    torch.manual_seed(0)
    root = a.data
    xtr = read_idx(os.path.join(root, "train-images-idx3-ubyte.gz")).float().div_(255).unsqueeze(1)
    ytr = read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).long()
    xte = read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).float().div_(255).unsqueeze(1)
    yte = read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).long()
    mean, std = 0.2860, 0.3530
    xtr, ytr = ((xtr - mean) / std).cuda(), ytr.cuda()
    xte, yte = ((xte - mean) / std).cuda(), yte.cuda()
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)  # small-image stem
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    model = model.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=a.wd, nesterov=True)
    per_epoch = xtr.shape[0] // a.batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs * per_epoch)
    amp = not a.f32
    g = torch.Generator(device="cuda")
    g.manual_seed(0)

    def augment(x):
        # random crop 28 from the image zero-padded by 4 (zero = 0 before normalisation), then
        # a horizontal flip with probability 0.5; per example, as torchvision's transforms.
        n = x.shape[0]
        pad = F.pad(x, (4, 4, 4, 4), value=(0 - mean) / std)
        ox = torch.randint(0, 9, (n,), device="cuda", generator=g)
        oy = torch.randint(0, 9, (n,), device="cuda", generator=g)
        ar = torch.arange(28, device="cuda")
        rows = (oy[:, None] + ar[None, :])[:, :, None].expand(n, 28, 28)
        cols = (ox[:, None] + ar[None, :])[:, None, :].expand(n, 28, 28)
        flip = torch.rand(n, device="cuda", generator=g) < 0.5
        cols = torch.where(flip[:, None, None], cols.flip(2), cols)
        idx = torch.arange(n, device="cuda")[:, None, None]
        return pad[idx, 0, rows, cols].unsqueeze(1)

    t0 = time.perf_counter()
    last = 0.0
    for e in range(a.epochs):
        model.train()
        te = time.perf_counter()
        perm = torch.randperm(xtr.shape[0], device="cuda", generator=g)
        for b in range(per_epoch):
            i = perm[b * a.batch:(b + 1) * a.batch]
            x, y = augment(xtr[i]), ytr[i]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
        last = float(loss)
        print(f"epoch {e + 1}: last batch loss {last:.4f}, {time.perf_counter() - te:.1f} s", file=sys.stderr)
    sync()
    train_s = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        for b in range(0, xte.shape[0], 1000):
            correct += int((model(xte[b:b + 1000]).argmax(1) == yte[b:b + 1000]).sum())
    cmd = (f"python3 bench/gpu/torch_ref.py resnet18_fmnist --epochs {a.epochs} --batch {a.batch} "
           f"--lr {a.lr} --wd {a.wd}{' --f32' if a.f32 else ''} --data {root}")
    emit(memory({"bench": "resnet18_fmnist", "impl": "pytorch", "epochs": a.epochs, "batch": a.batch,
                 "test_accuracy": 100.0 * correct / xte.shape[0], "train_time_s": train_s,
                 "last_train_loss": last, "amp": "bf16 autocast" if amp else "f32",
                 "recipe": "small stem; random crop 28 pad 4 + flip (on the GPU); SGD nesterov m=0.9 "
                           "wd=5e-4; cosine per step", "command": cmd}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("matmul_bf16")
    s.add_argument("--n", type=int, default=8192)
    s.add_argument("--iters", type=int, default=20)
    s = sub.add_parser("elementwise")
    s.add_argument("--gib", type=float, default=1.0)
    s.add_argument("--iters", type=int, default=20)
    s = sub.add_parser("attention")
    s.add_argument("--batch", type=int, default=16)
    s.add_argument("--heads", type=int, default=12)
    s.add_argument("--seq", type=int, default=1024)
    s.add_argument("--dim", type=int, default=64)
    s.add_argument("--causal", type=int, default=1)
    s.add_argument("--iters", type=int, default=20)
    s = sub.add_parser("resnet50")
    s.add_argument("--batch", type=int, default=256)
    s.add_argument("--steps", type=int, default=20)
    s.add_argument("--warmup", type=int, default=5)
    s.add_argument("--channels-last", action="store_true", help="model and input in channels_last (NHWC); bench_gpu resnet50 takes the same flag")
    s = sub.add_parser("gpt2")
    s.add_argument("--batch", type=int, default=16)
    s.add_argument("--seq", type=int, default=1024)
    s.add_argument("--steps", type=int, default=10)
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--dropout", type=float, default=0.0)
    s = sub.add_parser("bert")
    s.add_argument("--batch", type=int, default=32)
    s.add_argument("--seq", type=int, default=512)
    s.add_argument("--steps", type=int, default=10)
    s.add_argument("--warmup", type=int, default=3)
    s.add_argument("--dropout", type=float, default=0.1)
    s = sub.add_parser("resnet18_fmnist")
    s.add_argument("--epochs", type=int, default=30)
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--lr", type=float, default=0.1)
    s.add_argument("--wd", type=float, default=5e-4)
    s.add_argument("--f32", action="store_true")
    s.add_argument("--data", default=os.environ.get("DEEPSEEK_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("torch_ref.py: no CUDA device is available", file=sys.stderr)
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    globals()[a.cmd](a)


if __name__ == "__main__":
    main()
