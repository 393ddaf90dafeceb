#!/usr/bin/env python3
"""PyTorch reference for the U-Net workloads of tools/bench: the same architecture as @flowmatch/image's
UNetVelocity, written independently in plain torch.nn (NCHW, PyTorch's native layout and default init).

  unet-train   one class-conditional flow matching step: images and labels, 10% label dropout to the null
               class, noise and t, x_t = t·x1 + (1 − t)·x0, target x1 − x0, forward, MSE, backward, global
               gradient-norm clipping at 1, AdamW, EMA (decay 0.999) of the weights.
  unet-sample  a batch of class-conditional images from noise with the midpoint rule and classifier-free
               guidance (both branches in one doubled batch), under torch.inference_mode().

Architecture (DDPM-style; the TypeScript side's UNetVelocity with the same config):
  time: sinusoid(1000·t, base dims) → Linear → SiLU → Linear (width 4·base), + class embedding (classes + null)
  in 3×3 conv; per level: blocks × ResBlock [+ attention], stride-2 3×3 conv between levels; middle ResBlock,
  attention, ResBlock; up: (blocks + 1) × ResBlock on concat(h, skip) [+ attention], nearest 2× + 3×3 conv;
  out GroupNorm → SiLU → 3×3 conv. ResBlock: GN → SiLU → conv3 (+ Linear(SiLU(emb))) → GN → SiLU → conv3,
  1×1 skip when channels change. Attention: GN, 1×1 qkv, softmax(q·kᵀ/√d)·v, 1×1 proj, residual.

Timing is the harness's: warm-up, then the fastest of 5 windows sharing --seconds. Prints a human line or,
with --json, one JSON object {"workload","unit","value","iterations","seconds","threads","torch","params"}.
"""
import copy
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from common import parser, report, setup, timed


def sinusoid(t: torch.Tensor, dim: int, scale: float = 1000.0, max_period: float = 10000.0) -> torch.Tensor:
    half = dim // 2
    freqs = scale * torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb_proj = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        scores = torch.bmm(q.transpose(1, 2), k) / math.sqrt(c)  # [B, N, N]
        out = torch.bmm(v, scores.softmax(dim=-1).transpose(1, 2))  # [B, C, N]
        return x + self.proj(out.reshape(b, c, h, w))


class UNet(nn.Module):
    def __init__(self, channels=1, base=16, mults=(1, 2, 2), blocks=1, attention_levels=(), mid_attention=True,
                 groups=8, num_classes=10):
        super().__init__()
        emb = 4 * base
        self.base = base
        self.time_mlp = nn.Sequential(nn.Linear(base, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_emb = nn.Embedding(num_classes + 1, emb) if num_classes > 0 else None
        self.in_conv = nn.Conv2d(channels, base, 3, padding=1)
        self.down = nn.ModuleList()
        skips = [base]
        ch = base
        for level, mult in enumerate(mults):
            out = base * mult
            for _ in range(blocks):
                self.down.append(nn.ModuleList([ResBlock(ch, out, emb, groups)] + ([Attention(out, groups)] if level in attention_levels else [])))
                ch = out
                skips.append(ch)
            if level < len(mults) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid1 = ResBlock(ch, ch, emb, groups)
        self.mid_attn = Attention(ch, groups) if mid_attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, emb, groups)
        self.up = nn.ModuleList()
        for level in reversed(range(len(mults))):
            out = base * mults[level]
            for _ in range(blocks + 1):
                skip = skips.pop()
                self.up.append(nn.ModuleList([ResBlock(ch + skip, out, emb, groups)] + ([Attention(out, groups)] if level in attention_levels else [])))
                ch = out
            if level > 0:
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))  # after a nearest 2× upsampling
        self.out_norm = nn.GroupNorm(groups, ch)
        self.out_conv = nn.Conv2d(ch, channels, 3, padding=1)

    def forward(self, x, t, labels=None):
        emb = self.time_mlp(sinusoid(t, self.base))
        if self.class_emb is not None:
            emb = emb + self.class_emb(labels)
        h = self.in_conv(x)
        hs = [h]
        for step in self.down:
            if isinstance(step, nn.Conv2d):
                h = step(h)
            else:
                h = step[0](h, emb)
                if len(step) > 1:
                    h = step[1](h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for step in self.up:
            if isinstance(step, nn.Conv2d):
                h = step(F.interpolate(h, scale_factor=2, mode="nearest"))
            else:
                h = step[0](torch.cat([h, hs.pop()], dim=1), emb)
                if len(step) > 1:
                    h = step[1](h)
        return self.out_conv(F.silu(self.out_norm(h)))


def build(args) -> UNet:
    return UNet(channels=args.channels, base=args.base, mults=tuple(args.mults), blocks=args.blocks,
                attention_levels=tuple(args.attention_levels), mid_attention=not args.no_mid_attention,
                num_classes=args.classes)


def bench_train(args):
    model = build(args)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.0)
    b, c, s, k = args.batch, args.channels, args.size, args.classes
    # A pool of fixed "images" to draw batches from, as a data set would be.
    pool = torch.rand(1024, c, s, s) * 2 - 1
    pool_labels = torch.randint(0, k, (1024,))

    def step():
        idx = torch.randint(0, pool.shape[0], (b,))
        x1, labels = pool[idx], pool_labels[idx]
        labels = torch.where(torch.rand(b) < 0.1, torch.full_like(labels, k), labels)
        x0 = torch.randn_like(x1)
        t = torch.rand(b)
        tb = t[:, None, None, None]
        xt = tb * x1 + (1 - tb) * x0
        loss = F.mse_loss(model(xt, t, labels), x1 - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.mul_(0.999).add_(p, alpha=0.001)

    iterations, seconds = timed(step, args.seconds, args.warmup_seconds)
    return {"unit": "images/s", "value": b * iterations / seconds, "iterations": iterations, "seconds": seconds}


def bench_sample(args):
    model = build(args).eval()
    n, steps, w, k = args.images, args.steps, args.cfg, args.classes
    h = 1.0 / steps

    def run():
        with torch.inference_mode():
            labels = torch.arange(n) % k
            both = torch.cat([labels, torch.full_like(labels, k)])
            x = torch.randn(n, args.channels, args.size, args.size)

            def velocity(x, t):
                v = model(torch.cat([x, x]), torch.full((2 * n,), t), both)
                cond, uncond = v.chunk(2)
                return uncond + w * (cond - uncond)

            for i in range(steps):
                k1 = velocity(x, i * h)
                x = x + h * velocity(x + (0.5 * h) * k1, (i + 0.5) * h)
            return x

    iterations, seconds = timed(run, args.seconds, args.warmup_seconds)
    return {"unit": "images/s", "value": n * iterations / seconds, "iterations": iterations, "seconds": seconds}


def main(argv=None):
    p = parser(__doc__, ["unet-train", "unet-sample"])
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--base", type=int, default=16)
    p.add_argument("--mults", type=int, nargs="+", default=[1, 2, 2])
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--attention-levels", type=int, nargs="*", default=[])
    p.add_argument("--no-mid-attention", action="store_true")
    p.add_argument("--batch", type=int, default=32, help="unet-train batch")
    p.add_argument("--images", type=int, default=50, help="unet-sample images per call")
    p.add_argument("--steps", type=int, default=10, help="unet-sample midpoint steps (2 evaluations each)")
    p.add_argument("--cfg", type=float, default=1.0, help="unet-sample guidance weight")
    args = p.parse_args(argv)
    setup(args)
    result = bench_train(args) if args.workload == "unet-train" else bench_sample(args)
    return report(args, {**result, "params": sum(p.numel() for p in build(args).parameters())})


if __name__ == "__main__":
    sys.exit(main())
