"""Writes the PyTorch reference fixtures of crates/wonhee-model/tests/reference.rs.

Run from a throw-away venv with torch (never needed by the product or its tests):
    python docs/reference-scripts/model_fixture.py crates/wonhee-model/tests/fixtures

For two tiny configs (SwiGLU with patching, Soft-MoE without), it draws weights and inputs,
computes in float64 the three forward outputs, the [CLS] embedding, the task losses and the
gradient of their sum for every parameter, and writes
  <name>.toml                  the crate's ModelConfig
  <name>.weights.safetensors   f32 weights under the crate's tensor names
  <name>.expected.safetensors  inputs, outputs, losses and gradients (f32)
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_torch import Cfg, WonHee, save_safetensors, wonhee_name  # noqa: E402


def toml_of(cfg):
    keys = ["seq_len", "patch", "d_model", "n_heads", "n_layers", "head_layers", "ffn",
            "ffn_mult", "n_experts", "slots_per_expert", "n_classes", "dropout",
            "attn_dropout", "norm_eps"]
    out = []
    for k in keys:
        v = getattr(cfg, k)
        out.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}")
    return "\n".join(out) + "\n"


def make(name, cfg, seed, batch, outdir):
    torch.manual_seed(seed)
    model = WonHee(cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))  # non-trivial norm weights
            elif n in ("missing", "cls"):
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.mul_(1.5)
    # Weights are rounded to f32 once; the reference then runs in float64.
    weights = {wonhee_name(n): p.detach().float().numpy() for n, p in model.named_parameters()}
    model = model.double().eval()

    L = cfg.seq_len
    x = torch.randn(batch, L, dtype=torch.float32).double()
    missing = torch.zeros(batch, L, dtype=torch.uint8)
    g = torch.Generator().manual_seed(seed + 1)
    missing[0] = (torch.rand(L, generator=g) < 0.3).to(torch.uint8)  # scattered points
    missing[1, L - 7:] = 1  # trailing block starting inside a patch
    if batch > 2:
        missing[2, L // 3: L // 3 + 3] = 1
    x_masked = x.clone()
    idx = missing.nonzero()
    for r, (b, t) in enumerate(idx.tolist()):
        x_masked[b, t] = [float("nan"), 1e6, -3e5][r % 3]  # values the model must never see
    labels = torch.tensor([r % cfg.n_classes for r in range(1, batch + 1)], dtype=torch.int64)

    logits = model.forward_classify(x)
    emb = model.embed_cls(x)
    imp = model.forward_impute(x_masked, missing)
    fc = model.forward_forecast(x_masked, missing)
    m = missing.double()
    ce = F.cross_entropy(logits, labels)
    l_imp = (((imp - x) * m) ** 2).sum() / m.sum()
    l_fc = (((fc - x) * m) ** 2).sum() / m.sum()
    total = ce + l_imp + l_fc
    params = list(model.named_parameters())
    grads = torch.autograd.grad(total, [p for _, p in params])

    f32 = lambda t: t.detach().float().numpy()  # noqa: E731
    expected = {
        "input.x": f32(x),
        "input.x_masked": f32(x_masked),
        "input.missing": missing.numpy(),
        "input.labels": labels.numpy(),
        "out.classify": f32(logits),
        "out.embed": f32(emb),
        "out.impute": f32(imp),
        "out.forecast": f32(fc),
        "loss.classify": f32(ce.reshape(1)),
        "loss.impute": f32(l_imp.reshape(1)),
        "loss.forecast": f32(l_fc.reshape(1)),
    }
    for (n, _), gr in zip(params, grads):
        expected["grad." + wonhee_name(n)] = f32(gr)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, f"{name}.toml"), "w") as f:
        f.write(toml_of(cfg))
    save_safetensors(os.path.join(outdir, f"{name}.weights.safetensors"), weights)
    save_safetensors(os.path.join(outdir, f"{name}.expected.safetensors"), expected)
    print(name, "params", sum(w.size for w in weights.values()), "loss", float(total))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "crates/wonhee-model/tests/fixtures"
    make("tiny_swiglu", Cfg(seq_len=24, patch=2, d_model=16, n_heads=2, n_layers=2,
                            head_layers=1, ffn_mult=2, n_classes=5), 1, 3, out)
    make("tiny_moe", Cfg(seq_len=16, patch=1, d_model=16, n_heads=4, n_layers=2, head_layers=1,
                         ffn="soft_moe", ffn_mult=2, n_experts=2, slots_per_expert=3,
                         n_classes=6), 2, 3, out)
