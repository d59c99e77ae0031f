"""PyTorch CPU peer of `cargo xtask bench model`: one full training step of the WonHEE model.

Documentation only (nothing in the build runs Python). `cargo xtask bench model --python PY`
runs it right after timing our own step, on the same machine, with the same threads, so the
two are measured back to back. It prints one JSON object.

The step is the trainer's (`wonhee_train::Learner::step`): the three task forwards in training
mode (dropout on the residual branches and, unless `--attn-dropout 0`, on the attention
probabilities), cross-entropy + the two masked MSEs summed, one backward, and AdamW
(lr 3e-4, weight decay 0.01, torch's other defaults). The model is model_torch.WonHee (same
architecture, same parameter count: checked against `--expect-params`).

Fastest settings found on the 2-core AMD EPYC (docs/benchmarks.md, "Model: one training
step"): `--attention sdpa --norm fused --optimizer fused`; `--compile` (torch.compile,
inductor) where a C++ compiler is present. With attention dropout on, SDPA on CPU has no fused
kernel and runs its reference path (the score matrix in full), as the explicit softmax does.

    python model_bench.py --patch 8 --batch 32 --steps 20 --threads 2
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_torch  # noqa: E402
from model_torch import Cfg, WonHee  # noqa: E402


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def fused_rmsnorm_forward(self, x):
    return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def batch(cfg, b):
    L = cfg.seq_len
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, L, generator=g)
    imp = torch.zeros(b, L, dtype=torch.uint8)
    fc = torch.zeros(b, L, dtype=torch.uint8)
    for i in range(b):
        k = 200 + (i * 37) % 341
        imp[i, torch.randperm(L, generator=g)[:k]] = 1
        fc[i, L - k:] = 1
    labels = torch.arange(b) % cfg.n_classes
    return x, imp, fc, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patch", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--attn-dropout", type=float, default=0.1)
    ap.add_argument("--attention", choices=["composed", "sdpa"], default="sdpa")
    ap.add_argument("--norm", choices=["composed", "fused"], default="fused",
                    help="RMSNorm as torch ops, or F.rms_norm")
    ap.add_argument("--optimizer", choices=["fused", "foreach", "forloop"], default="fused",
                    help="torch.optim.AdamW implementation")
    ap.add_argument("--compile", action="store_true", help="torch.compile the three task passes")
    ap.add_argument("--expect-params", type=int, default=None,
                    help="fail unless the model has exactly this many parameters")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.norm == "fused":
        model_torch.RMSNorm.forward = fused_rmsnorm_forward
    cfg = Cfg(patch=a.patch, dropout=a.dropout, attn_dropout=a.attn_dropout)
    model = WonHee(cfg, sdpa=a.attention == "sdpa").train()
    n_params = sum(p.numel() for p in model.parameters())
    if a.expect_params is not None and n_params != a.expect_params:
        sys.exit(f"parameter count {n_params} != expected {a.expect_params}")
    impl = {"fused": {"fused": True}, "foreach": {"foreach": True}, "forloop": {"foreach": False}}
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01, **impl[a.optimizer])
    x, imp_mask, fc_mask, labels = batch(cfg, a.batch)
    mi, mf = imp_mask.float(), fc_mask.float()

    def losses(x, imp_mask, fc_mask, labels, mi, mf):
        ce = F.cross_entropy(model.forward_classify(x), labels)
        imp = model.forward_impute(x, imp_mask)
        fc = model.forward_forecast(x, fc_mask)
        l_imp = (((imp - x) * mi) ** 2).sum() / mi.sum()
        l_fc = (((fc - x) * mf) ** 2).sum() / mf.sum()
        return ce + l_imp + l_fc

    if a.compile:
        losses = torch.compile(losses)

    def step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = losses(x, imp_mask, fc_mask, labels, mi, mf)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    reset_peak_rss()
    t_first = time.perf_counter()
    for _ in range(a.warmup):
        step()
    warmup_s = time.perf_counter() - t_first
    parts = [step() for _ in range(a.steps)]
    steps = [sum(p) for p in parts]
    med = lambda i: statistics.median(p[i] for p in parts)  # noqa: E731
    # Matmul peak of this torch build on this machine, same threads.
    m = torch.randn(2048, 2048)
    torch.mm(m, m)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        torch.mm(m, m)
        reps += 1
    peak = 2 * 2048 ** 3 * reps / (time.perf_counter() - t0) / 1e9
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "attention": a.attention,
        "norm": a.norm,
        "optimizer": a.optimizer,
        "compile": a.compile,
        "dropout": a.dropout,
        "attn_dropout": a.attn_dropout,
        "patch": a.patch,
        "batch": a.batch,
        "parameters": n_params,
        "steps": a.steps,
        "warmup_s": warmup_s,
        "step_s_median": statistics.median(steps),
        "step_s_mean": statistics.fmean(steps),
        "step_s_best": min(steps),
        "step_s_all": steps,
        "forward_s_median": med(0),
        "backward_s_median": med(1),
        "optimizer_s_median": med(2),
        "samples_per_s": a.batch / statistics.median(steps),
        "matmul_2048_gflops": peak,
        # ATen's vector kernels: "AVX512" or "AVX2" (ATEN_CPU_CAPABILITY restricts it).
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "peak_rss_bytes": peak_rss_bytes(),
    }))


if __name__ == "__main__":
    main()
