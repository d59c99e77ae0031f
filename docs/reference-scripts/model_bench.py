"""PyTorch CPU side of `cargo run --release -p wonhee-model --example bench_model`.

The bench example runs this with the Python of a throw-away venv (`--torch PYTHON`) right
after measuring candle, so both are timed back to back on the same machine. It prints one JSON
object. The model is model_torch.WonHee (same architecture, same config, dropout on), the
training step is the crate's: the three task forwards, the summed loss, one backward.

    python model_bench.py --patch 1 --batch 32 --steps 3 --threads 2 --attention composed
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_torch import Cfg, WonHee  # noqa: E402


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patch", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--attention", choices=["composed", "sdpa"], default="composed")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = Cfg(patch=a.patch, dropout=a.dropout, attn_dropout=a.dropout)
    model = WonHee(cfg, sdpa=a.attention == "sdpa").train()
    b, L = a.batch, cfg.seq_len
    x = torch.randn(b, L)
    imp_mask = torch.zeros(b, L, dtype=torch.uint8)
    fc_mask = torch.zeros(b, L, dtype=torch.uint8)
    g = torch.Generator().manual_seed(1)
    for i in range(b):
        k = 200 + (i * 37) % 341
        imp_mask[i, torch.randperm(L, generator=g)[:k]] = 1
        fc_mask[i, L - k:] = 1
    labels = torch.arange(b) % cfg.n_classes
    mi, mf = imp_mask.float(), fc_mask.float()

    def step():
        ce = F.cross_entropy(model.forward_classify(x), labels)
        imp = model.forward_impute(x, imp_mask)
        fc = model.forward_forecast(x, fc_mask)
        l_imp = (((imp - x) * mi) ** 2).sum() / mi.sum()
        l_fc = (((fc - x) * mf) ** 2).sum() / mf.sum()
        t1 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        (ce + l_imp + l_fc).backward()
        return t1

    for _ in range(a.warmup):
        step()
    fwd = bwd = 0.0
    for _ in range(a.steps):
        t0 = time.perf_counter()
        t1 = step()
        t2 = time.perf_counter()
        fwd += t1 - t0
        bwd += t2 - t1
    secs = (fwd + bwd) / a.steps
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
        "patch": a.patch,
        "batch": b,
        "steps": a.steps,
        "step_s": secs,
        "forward_s": fwd / a.steps,
        "backward_s": bwd / a.steps,
        "samples_per_s": b / secs,
        "matmul_2048_gflops": peak,
        "peak_rss_bytes": peak_rss_bytes(),
    }))


if __name__ == "__main__":
    main()
