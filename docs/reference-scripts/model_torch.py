"""Independent PyTorch implementation of the WonHEE model of crates/wonhee-model.

Documentation only: the product and its tests never run Python. This file is imported by
model_fixture.py (which wrote crates/wonhee-model/tests/fixtures/*.safetensors) and by
model_bench.py (the PyTorch side of `cargo xtask bench model`).

Written from the architecture description in the crate docs, not translated from the Rust code:
plain torch modules, torch's own softmax/silu/matmul. Parameter names are the crate's tensor
names (see `state_dict_wonhee`).
"""
import math
import struct
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Cfg:
    def __init__(self, **kw):
        self.seq_len = 640
        self.patch = 1
        self.d_model = 128
        self.n_heads = 4
        self.n_layers = 4
        self.head_layers = 2
        self.ffn = "swiglu"
        self.ffn_mult = 4
        self.n_experts = 5
        self.slots_per_expert = 128
        self.n_classes = 5
        self.dropout = 0.0
        self.attn_dropout = 0.0
        self.norm_eps = 1e-5
        for k, v in kw.items():
            assert hasattr(self, k), k
            setattr(self, k, v)

    @property
    def n_tokens(self):
        return self.seq_len // self.patch


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, cfg, sdpa=False):
        super().__init__()
        d = cfg.d_model
        self.h = cfg.n_heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.p = cfg.attn_dropout
        self.sdpa = sdpa

    def forward(self, x, causal):
        b, t, d = x.shape
        hd = d // self.h
        q, k, v = self.qkv(x).view(b, t, 3, self.h, hd).permute(2, 0, 3, 1, 4)
        if self.sdpa:
            o = F.scaled_dot_product_attention(
                q, k, v, is_causal=causal, dropout_p=self.p if self.training else 0.0
            )
        else:
            s = (q / math.sqrt(hd)) @ k.transpose(-1, -2)
            if causal:
                mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
                s = s.masked_fill(mask, float("-inf"))
            a = F.dropout(torch.softmax(s, dim=-1), self.p, self.training)
            o = a @ v
        return self.proj(o.transpose(1, 2).reshape(b, t, d))


class SwiGLU(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.gate_up = nn.Linear(d, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        g, u = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(g) * u)


class SoftMoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h = cfg.d_model, cfg.ffn_mult * cfg.d_model
        self.spe = cfg.slots_per_expert
        self.phi = nn.Parameter(torch.randn(d, cfg.n_experts * self.spe) / math.sqrt(d))
        self.experts = nn.ModuleList([SwiGLU(d, h) for _ in range(cfg.n_experts)])

    def routing(self, x):
        logits = x @ self.phi  # [b, tokens, slots]
        dispatch = torch.softmax(logits, dim=1).transpose(1, 2)  # over tokens -> [b, slots, tokens]
        combine = torch.softmax(logits, dim=-1)  # over slots
        return dispatch, combine

    def forward(self, x):
        dispatch, combine = self.routing(x)
        slots = dispatch @ x
        ys = torch.cat(
            [e(s) for e, s in zip(self.experts, slots.split(self.spe, dim=1))], dim=1
        )
        return combine @ ys


class Block(nn.Module):
    def __init__(self, cfg, moe, sdpa=False):
        super().__init__()
        self.norm1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg, sdpa)
        self.norm2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.ffn = SoftMoE(cfg) if moe else SwiGLU(cfg.d_model, cfg.ffn_mult * cfg.d_model)
        self.p = cfg.dropout

    def forward(self, x, causal):
        x = x + F.dropout(self.attn(self.norm1(x), causal), self.p, self.training)
        return x + F.dropout(self.ffn(self.norm2(x)), self.p, self.training)


class Head(nn.Module):
    def __init__(self, cfg, out, sdpa=False):
        super().__init__()
        self.blocks = nn.ModuleList([Block(cfg, False, sdpa) for _ in range(cfg.head_layers)])
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.out = nn.Linear(cfg.d_model, out)


def sinusoid(n, d):
    t = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    a = t * torch.pow(10000.0, -2.0 * i / d)
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(a)
    pe[:, 1::2] = torch.cos(a)
    return pe.float()


class WonHee(nn.Module):
    def __init__(self, cfg, sdpa=False):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.embed = nn.Linear(cfg.patch, d)
        self.missing = nn.Parameter(torch.randn(d) * 0.02)
        self.cls = nn.Parameter(torch.randn(d) * 0.02)
        self.register_buffer("pos", sinusoid(cfg.n_tokens, d), persistent=False)
        self.encoder = nn.ModuleList(
            [Block(cfg, cfg.ffn == "soft_moe", sdpa) for _ in range(cfg.n_layers)]
        )
        self.encoder_norm = RMSNorm(d, cfg.norm_eps)
        self.classify = Head(cfg, cfg.n_classes, sdpa)
        self.impute = Head(cfg, cfg.patch, sdpa)
        self.forecast = Head(cfg, cfg.patch, sdpa)

    def tokens(self, x, missing):
        b = x.shape[0]
        n, p = self.cfg.n_tokens, self.cfg.patch
        if missing is not None:
            m = missing != 0
            x = torch.where(m, torch.zeros_like(x), x)
        e = self.embed(x.view(b, n, p))
        if missing is not None:
            tok = m.view(b, n, p).any(-1, keepdim=True)
            e = torch.where(tok, self.missing.expand_as(e), e)
        return e + self.pos.to(e.dtype)

    def trunk(self, h, head, causal):
        for blk in self.encoder:
            h = blk(h, causal)
        h = self.encoder_norm(h)
        for blk in head.blocks:
            h = blk(h, causal)
        return head.norm(h)

    def embed_cls(self, x):
        e = self.tokens(x, None)
        cls = self.cls.view(1, 1, -1).expand(e.shape[0], 1, -1)
        return self.trunk(torch.cat([cls, e], dim=1), self.classify, False)[:, 0]

    def forward_classify(self, x):
        return self.classify.out(self.embed_cls(x))

    def forward_impute(self, x, missing):
        h = self.trunk(self.tokens(x, missing), self.impute, False)
        return self.impute.out(h).reshape(x.shape[0], -1)

    def forward_forecast(self, x, missing):
        h = self.trunk(self.tokens(x, missing), self.forecast, True)
        return self.forecast.out(h).reshape(x.shape[0], -1)


def wonhee_name(torch_name):
    """Crate tensor name of a torch parameter name."""
    return torch_name.replace("encoder_norm.", "encoder.norm.")


def save_safetensors(path, tensors):
    """Minimal safetensors writer (f32, u8, i64), so the venv needs no extra package."""
    kinds = {np.float32: "F32", np.uint8: "U8", np.int64: "I64"}
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        kind = kinds[a.dtype.type]
        raw = a.tobytes()
        header[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
