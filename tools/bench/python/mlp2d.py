#!/usr/bin/env python3
"""PyTorch reference for the 2D MLP workloads of tools/bench (same recipe as the TypeScript side).

  mlp2d-train   one conditional flow matching step per iteration: draw a moons batch, noise and t,
                build x_t and the target velocity, forward, backward, Adam update.
  mlp2d-sample  integrate N points from noise with the midpoint rule (2 model evaluations per step).

Timing: warm-up, then the fastest of 5 windows sharing --seconds (robust to other processes' bursts).
Prints a human line, or with --json one JSON object: {"workload","unit","value","iterations","seconds",
"threads","torch"}. Threads: torch's default unless --threads is given (reported either way).
"""
import math
import sys

import torch
from torch import nn

from common import parser, report, setup, timed


def build_model(dim: int, hidden: int, depth: int) -> nn.Module:
    layers = []
    width = dim + 1  # x concatenated with raw t
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ELU()]
        width = hidden
    layers.append(nn.Linear(width, dim))
    return nn.Sequential(*layers)


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
        t = torch.rand(batch, 1)
        xt = (1 - t) * x0 + t * x1
        target = x1 - x0
        v = model(torch.cat([xt, t], dim=1))
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
                t = torch.full((n, 1), i * h)
                k1 = model(torch.cat([x, t], dim=1))
                x_mid = x + (0.5 * h) * k1
                k2 = model(torch.cat([x_mid, t + 0.5 * h], dim=1))
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
