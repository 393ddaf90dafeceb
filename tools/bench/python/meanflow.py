"""PyTorch references of the MeanFlow workloads of tools/bench (src/workloads/meanflow.ts), on the twins of
mlp2d.py (MLPVelocity) and unet.py (UNetVelocity), in flowmatch's time (t = 0 noise, t = 1 data, r ≥ t where the
jump lands):

  meanflow2d-train     one MeanFlow step of x ⊕ t ⊕ r → 3×64 SiLU → 2, batch 256 moons, times logit-normal(0, 1),
                       the last half of the batch with r ≠ t, exact JVP, p = 1, c = 1e-3, Adam lr 1e-3, clipping 1.
  meanflow2d-train-fm  the same network and step with r = t on every row: no JVP, exactly flow matching. The
                       ratio of the two rows is the JVP's cost.
  meanflow-unet-train  one MeanFlow step of the `flowmatch image` U-Net with a second time (r − t), batch 32 from a
                       fixed pool of random images, 10% label dropout, times logit-normal(0.4, 1), a quarter of the
                       batch with r ≠ t, exact JVP, p = 1, Adam, clipping 1.

One step, as @flowmatch/meanflow's meanFlowObjective does it: x0 ~ N(0, I), (t, r) pairs, x_t = t·x1 + (1 − t)·x0,
v = x1 − x0; on the rows with r ≠ t the forward-mode JVP du/dt = ∂_x u·v + ∂_t u (torch.func.jvp; functorch.jvp
before torch 2.0, the same function), target u_tgt = v + (r − t)·du/dt, computed without a graph (stop-gradient);
then u = model(x_t, t, r), L_i = Σ_j (u − u_tgt)², loss = mean_i L_i / stopgrad((L_i + c)^p), backward,
clip_grad_norm_(1), Adam. Timing and output as common.py.
"""
import math
import sys

import torch

from common import parser, report, setup, timed
from mlp2d import MLPVelocity, sample_moons
from unet import add_architecture_flags, build, pool_batches

try:
    from torch.func import jvp
except ImportError:  # torch < 2.0: torch.func.jvp was functorch.jvp
    from functorch import jvp


def time_pairs(n: int, mean: float, std: float, distinct_share: float):
    """(t, r, k): two logit-normal draws per row ordered so t ≤ r; rows before k get r = t (time-pairs.ts)."""
    a = torch.sigmoid(mean + std * torch.randn(n))
    b = torch.sigmoid(mean + std * torch.randn(n))
    t, r = torch.minimum(a, b), torch.maximum(a, b)
    k = n - math.floor(distinct_share * n + 0.5)  # JavaScript's Math.round
    return t, torch.cat([t[:k], r[k:]]), k


def meanflow_step(model, opt, x1, conditioning: dict, times, power: float = 1.0, epsilon: float = 1e-3, clip: float = 1.0):
    """One MeanFlow training step; `conditioning` holds further model keywords (labels), one row per sample."""
    n = x1.shape[0]
    t, r, k = times
    x0 = torch.randn_like(x1)
    tb = t.view(n, *[1] * (x1.dim() - 1))
    xt = tb * x1 + (1 - tb) * x0
    v = x1 - x0
    target = v
    if k < n:
        xs, ts, rs, vs = xt[k:], t[k:], r[k:], v[k:]
        sliced = {name: value[k:] for name, value in conditioning.items()}
        with torch.no_grad():
            _, dudt = jvp(lambda x, s: model(x, s, r=rs, **sliced), (xs, ts), (vs, torch.ones_like(ts)))
            gap = (rs - ts).view(n - k, *[1] * (x1.dim() - 1))
            target = torch.cat([v[:k], vs + gap * dudt])
    u = model(xt, t, r=r, **conditioning)
    per_sample = (u - target).square().flatten(1).sum(1)
    loss = per_sample.mean() if power == 0 else (per_sample * (per_sample.detach() + epsilon).pow(-power)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss


def bench_2d(args, distinct_share: float):
    model = MLPVelocity(2, hidden=args.hidden, depth=args.depth, activation="silu", second_time=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    b = args.batch

    def step():
        meanflow_step(model, opt, sample_moons(b), {}, time_pairs(b, 0.0, 1.0, distinct_share))

    iterations, seconds = timed(step, args.seconds, args.warmup_seconds)
    return {"unit": "steps/s", "value": iterations / seconds, "iterations": iterations, "seconds": seconds,
            "params": sum(p.numel() for p in model.parameters())}


def bench_unet(args):
    model = build(args, second_time=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    b = args.batch
    draw = pool_batches(b, args.channels, args.size, args.classes)

    def step():
        x1, labels = draw()
        meanflow_step(model, opt, x1, {"labels": labels}, time_pairs(b, 0.4, 1.0, args.distinct_share))

    iterations, seconds = timed(step, args.seconds, args.warmup_seconds)
    return {"unit": "images/s", "value": b * iterations / seconds, "iterations": iterations, "seconds": seconds,
            "params": sum(p.numel() for p in model.parameters())}


def main(argv=None):
    p = parser(__doc__, ["meanflow2d-train", "meanflow2d-train-fm", "meanflow-unet-train"])
    add_architecture_flags(p)
    p.add_argument("--hidden", type=int, default=64, help="2D MLP width")
    p.add_argument("--depth", type=int, default=3, help="2D MLP depth")
    p.add_argument("--batch", type=int, default=None, help="batch (default 256 for the 2D workloads, 32 for the U-Net)")
    p.add_argument("--distinct-share", type=float, default=0.25, help="meanflow-unet-train: share of the batch with r ≠ t")
    p.add_argument("--lr", type=float, default=2e-4, help="meanflow-unet-train: Adam learning rate")
    args = p.parse_args(argv)
    setup(args)
    if args.workload == "meanflow-unet-train":
        args.batch = args.batch or 32
        result = bench_unet(args)
    else:
        args.batch = args.batch or 256
        result = bench_2d(args, 0.5 if args.workload == "meanflow2d-train" else 0.0)
    return report(args, result)


if __name__ == "__main__":
    sys.exit(main())
