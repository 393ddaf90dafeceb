"""PyTorch twin of @flowmatch/core's MLPVelocity (packages/core/src/nn/mlp.ts) and the 2D MLP workloads of
tools/bench (same recipe as the TypeScript side).

  mlp2d-train   one conditional flow matching step per iteration: draw a moons batch, noise and t,
                build x_t and the target velocity, forward, backward, Adam update.
  mlp2d-sample  integrate N points from noise with the midpoint rule (2 model evaluations per step).

The workloads use the twin as x ⊕ raw t → 3×64 ELU → 2 (PyTorch's default init). Its modules carry flowmatch's
names (layer0 … layer{depth−1}, out, labelEmbedding, time.frequencies), so flowmatch_checkpoint.py loads a
flowmatch MLP checkpoint into it.

Timing: warm-up, then the fastest of 5 windows sharing --seconds (robust to other processes' bursts).
Prints a human line, or with --json one JSON object: {"workload","unit","value","iterations","seconds",
"threads","torch"}. Threads: torch's default unless --threads is given (reported either way).
"""
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from common import parser, report, setup, timed


def gelu_tanh(x):
    """GELU with the tanh approximation, written out as flowmatch's activations.ts does."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


ACTIVATIONS = {"silu": F.silu, "elu": F.elu, "relu": F.relu, "gelu": gelu_tanh, "tanh": torch.tanh, "softplus": F.softplus}


class SinusoidalFeatures(nn.Module):
    """[sin(t·f_k), cos(t·f_k)] with flowmatch's MLP frequencies f_k = π·(1/64)^(−k/half), kept (like flowmatch's
    SinusoidalEmbedding) as the buffer `frequencies` [1, half] so a checkpoint's stored values are the ones used."""

    def __init__(self, dim: int, scale: float = math.pi, max_period: float = 1 / 64):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"sinusoidal time features need an even dim >= 2, got {dim}")
        half = dim // 2
        freqs = scale * torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
        self.register_buffer("frequencies", freqs.to(torch.float32)[None, :])

    def forward(self, t):
        args = t[:, None] * self.frequencies
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class MLPVelocity(nn.Module):
    """The twin of flowmatch's MLPVelocity: [x, features(t) [, features(r)] [, guidance]] → depth × (Linear → act)
    → Linear, with a learned per-class vector (numClasses + 1 rows, the last the null class) added before the first
    activation when labels are given. Features are raw t ([B, 1]) or sinusoidal ones; the guidance scale (with
    guidance_input) is one raw column.
    forward(x [B, dim], t [B], labels [B] int or None, r [B] or None, guidance [B] or None) → velocity [B, dim]."""

    def __init__(self, dim: int, hidden: int = 128, depth: int = 4, activation: str = "silu", sinusoidal_time: int = 0,
                 num_classes: int = 0, second_time: bool = False, guidance_input: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; the twin has {', '.join(ACTIVATIONS)}")
        self.dim, self.depth, self.num_classes, self.second_time = dim, depth, num_classes, second_time
        self.guidance_input = guidance_input
        self.act = ACTIVATIONS[activation]
        self.time = SinusoidalFeatures(sinusoidal_time) if sinusoidal_time else None
        time_dims = sinusoidal_time or 1
        width = dim + time_dims * (2 if second_time else 1) + (1 if guidance_input else 0)
        for i in range(depth):
            self.add_module(f"layer{i}", nn.Linear(width, hidden))
            width = hidden
        self.out = nn.Linear(width, dim)
        self.labelEmbedding = nn.Embedding(num_classes + 1, hidden) if num_classes > 0 else None

    def features(self, s):
        return s[:, None] if self.time is None else self.time(s)

    def forward(self, x, t, labels=None, r=None, guidance=None):
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"MLPVelocity expected x of shape [B, {self.dim}], got {list(x.shape)}")
        parts = [x, self.features(t)]
        if self.second_time:
            if r is None:
                raise ValueError("this MLP was built with second_time: pass r of shape [B]")
            parts.append(self.features(r))
        if self.guidance_input:
            if guidance is None:
                raise ValueError("this MLP was built with guidance_input: pass guidance (the guidance scale) of shape [B]")
            parts.append(guidance[:, None])
        h = torch.cat(parts, dim=1)
        for i in range(self.depth):
            h = getattr(self, f"layer{i}")(h)
            if i == 0 and self.labelEmbedding is not None and labels is not None:
                labels = labels.long()
                if bool(((labels < 0) | (labels > self.num_classes)).any()):
                    raise ValueError(f"labels must lie in 0..{self.num_classes} (the last is the null class)")
                h = h + self.labelEmbedding(labels)
            h = self.act(h)
        return self.out(h)


def build_model(dim: int, hidden: int, depth: int) -> nn.Module:
    return MLPVelocity(dim, hidden=hidden, depth=depth, activation="elu")


def sample_moons(n: int, noise: float = 0.1) -> torch.Tensor:
    """Two interleaving half circles, drawn on the fly (no dataset tensor), plus Gaussian noise."""
    angle = torch.rand(n) * math.pi
    upper = torch.rand(n) < 0.5
    x = torch.where(upper, torch.cos(angle), 1.0 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    return torch.stack([x, y], dim=1) + noise * torch.randn(n, 2)


def bench_train(args):
    model = build_model(2, args.hidden, args.depth)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = args.batch

    def step():
        x1 = sample_moons(batch)
        x0 = torch.randn(batch, 2)
        t = torch.rand(batch)
        tb = t[:, None]
        xt = (1 - tb) * x0 + tb * x1
        target = x1 - x0
        v = model(xt, t)
        loss = torch.mean((v - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    iterations, seconds = timed(step, args.seconds, args.warmup_seconds)
    return {"unit": "steps/s", "value": iterations / seconds, "iterations": iterations, "seconds": seconds}


def bench_sample(args):
    model = build_model(2, args.hidden, args.depth).eval()
    n, steps = args.points, args.steps
    h = 1.0 / steps

    def run():
        with torch.inference_mode():
            x = torch.randn(n, 2)
            for i in range(steps):
                t = torch.full((n,), i * h)
                k1 = model(x, t)
                x_mid = x + (0.5 * h) * k1
                k2 = model(x_mid, t + 0.5 * h)
                x = x + h * k2
            return x

    iterations, seconds = timed(run, args.seconds, args.warmup_seconds)
    return {"unit": "points/s", "value": n * iterations / seconds, "iterations": iterations, "seconds": seconds}


def main(argv=None):
    p = parser(__doc__, ["mlp2d-train", "mlp2d-sample"])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--points", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args(argv)
    setup(args)
    result = bench_train(args) if args.workload == "mlp2d-train" else bench_sample(args)
    return report(args, result)


if __name__ == "__main__":
    sys.exit(main())
