"""PyTorch twin of @flowmatch/image's UNetVelocity (packages/image/src/unet.ts and nn/*.ts), written independently
in plain torch.nn (NCHW, PyTorch's native layout and default init), and the U-Net workloads of tools/bench:

  unet-train   one class-conditional flow matching step: images and labels, 10% label dropout to the null
               class, noise and t, x_t = t·x1 + (1 − t)·x0, target x1 − x0, forward, MSE, backward, global
               gradient-norm clipping at 1, AdamW, EMA (decay 0.999) of the weights.
  unet-sample  a batch of class-conditional images from noise with the midpoint rule and classifier-free
               guidance (both branches in one doubled batch), under torch.inference_mode().

Architecture (DDPM-style; the TypeScript side's UNetVelocity with the same config):
  time: sinusoid(timeScale·t, base dims) → Linear → SiLU → Linear (width 4·base) [+ the same on r − t or r]
  [+ the same on the guidance scale ω with scale 10] [+ class embedding (classes + null)]; in 3×3 conv; per level: blocks × ResBlock [+ attention], stride-2 3×3
  conv between levels; middle ResBlock, [attention], ResBlock; up: (blocks + 1) × ResBlock on concat(h, skip)
  [+ attention], nearest 2× + 3×3 conv; out GroupNorm → SiLU → 3×3 conv. ResBlock: GN → SiLU → conv3
  (+ Linear(SiLU(emb))) → GN → SiLU → dropout → conv3, 1×1 skip when channels change. Attention: GN, 1×1 qkv,
  per head softmax(q·kᵀ/√d)·v, 1×1 proj, residual.

Modules carry flowmatch's names (down0_res0.conv1, mid_attn.qkv, up1_upsample.conv, ...), so a flowmatch
checkpoint maps onto this twin leaf by leaf: see flowmatch_checkpoint.py. Every convolution pads as tfjs's
'same' does (tf_same_padding), which for a stride-2 conv on an even size is 0 before and 1 after, not
PyTorch's symmetric padding=1.

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
    """[sin(scale·t·f_k), cos(scale·t·f_k)], f_k = max_period^(−k/half). The frequencies are computed in float64
    and rounded once to float32, as the TypeScript side does, so the products scale·f_k·t agree bit for bit."""
    half = dim // 2
    freqs = scale * torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t[:, None] * freqs.to(torch.float32)[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def tf_same_padding(size: int, kernel: int, stride: int):
    """(before, after) padding of tfjs's 'same' convolution along one axis: output ceil(size/stride), total
    padding max((out − 1)·stride + kernel − size, 0), the odd element after. A stride-2 3×3 conv on an even
    size pads (0, 1), where PyTorch's padding=1 would pad (1, 1) and shift every output by one input pixel."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """nn.Conv2d (same parameters) that pads like tfjs's 'same'. `padding_rule = "symmetric"` pads kernel//2
    on both sides instead, as this twin once did; only there to show what the tfjs rule fixes."""

    padding_rule = "tfjs"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)

    def forward(self, x):
        kh, kw = self.kernel_size
        sh, sw = self.stride
        if self.padding_rule == "symmetric":
            return F.conv2d(x, self.weight, self.bias, self.stride, (kh // 2, kw // 2))
        top, bottom = tf_same_padding(x.shape[2], kh, sh)
        left, right = tf_same_padding(x.shape[3], kw, sw)
        if top == bottom and left == right:  # the common case: let the conv pad, no extra copy
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, self.stride)


class SameConv1d(nn.Conv1d):
    """nn.Conv1d over [B, C, L] (NCL) that pads like tfjs's 'same', as SameConv2d does (flowmatch's Conv1d runs
    as a 2-D convolution of a height-1 image, so the rule along frames is the 2-D rule along width)."""

    padding_rule = "tfjs"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)

    def forward(self, x):
        (k,), (s,) = self.kernel_size, self.stride
        if self.padding_rule == "symmetric":
            return F.conv1d(x, self.weight, self.bias, self.stride, k // 2)
        left, right = tf_same_padding(x.shape[2], k, s)
        if left == right:
            return F.conv1d(x, self.weight, self.bias, self.stride, left)
        return F.conv1d(F.pad(x, (left, right)), self.weight, self.bias, self.stride)


def same_conv(dims: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
    """flowmatch's createConv: a 'same'-padded convolution over 2 spatial axes (NCHW) or 1 (NCL, frames)."""
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims!r}")
    return (SameConv1d if dims == 1 else SameConv2d)(in_channels, out_channels, kernel_size, stride)


class ChannelLinear(nn.Conv2d):
    """A Linear layer over the channel axis, run as a 1×1 convolution on NCHW. Its own class (rather than a
    plain 1×1 nn.Conv2d) because flowmatch stores it as a Linear ([in, out]), not as a conv kernel."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 1)


class ScalarEmbedding(nn.Module):
    """sinusoid(scale·s) → Linear → SiLU → Linear, flowmatch's timeEmbed / secondTimeEmbed."""

    def __init__(self, feature_dim: int, emb_dim: int, scale: float):
        super().__init__()
        self.feature_dim, self.scale = feature_dim, scale
        self.fc1 = nn.Linear(feature_dim, emb_dim)
        self.fc2 = nn.Linear(emb_dim, emb_dim)

    def forward(self, s):
        return self.fc2(F.silu(self.fc1(sinusoid(s, self.feature_dim, self.scale))))


class ResBlock(nn.Module):
    """dims 2: on NCHW; dims 1: on NCL (flowmatch's ResBlock with dims 1, width-3 convolutions over frames)."""

    def __init__(self, cin: int, cout: int, emb: int, groups: int, dropout: float = 0.0, dims: int = 2):
        super().__init__()
        self.dims = dims
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = same_conv(dims, cin, cout, 3)
        self.embProj = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = same_conv(dims, cout, cout, 3)
        self.skip = same_conv(dims, cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embProj(F.silu(emb))[(...,) + (None,) * self.dims]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (x if self.skip is None else self.skip(x)) + h


class Attention(nn.Module):
    """Self-attention over every spatial position of NCHW or NCL (the positions are flattened either way)."""

    def __init__(self, channels: int, groups: int, heads: int = 1):
        super().__init__()
        if channels % heads != 0:
            raise ValueError(f"Attention: channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = ChannelLinear(channels, 3 * channels)
        self.proj = ChannelLinear(channels, channels)

    def forward(self, x):
        b, c = x.shape[:2]
        n, heads = math.prod(x.shape[2:]), self.heads
        d = c // heads
        # qkv (a 1×1 conv) runs on [B, C, N, 1] for any number of spatial axes.
        # qkv's channels are [q | k | v], each split into heads of d consecutive channels (flowmatch's order).
        q, k, v = self.qkv(self.norm(x).reshape(b, c, n, 1)).reshape(b, 3, heads, d, n).unbind(1)
        q, k, v = (m.reshape(b * heads, d, n) for m in (q, k, v))
        scores = torch.bmm(q.transpose(1, 2), k) / math.sqrt(d)  # [B·heads, N, N]
        out = torch.bmm(v, scores.softmax(dim=-1).transpose(1, 2))  # [B·heads, d, N]
        return x + self.proj(out.reshape(b, c, n, 1)).reshape(x.shape)


class Downsample(nn.Module):
    def __init__(self, channels: int, dims: int = 2):
        super().__init__()
        self.conv = same_conv(dims, channels, channels, 3, stride=2)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int, dims: int = 2):
        super().__init__()
        self.conv = same_conv(dims, channels, channels, 3)

    def forward(self, x):  # nearest 2× over every spatial axis (NCHW or NCL)
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class UNetBackbone(nn.Module):
    """flowmatch's UNetBackbone (packages/core/src/nn/unet.ts): the U-Net body without its conditioning, for twins
    to extend. build_unet registers its layers on the model itself under flowmatch's flat names (inConv,
    down0_res0, ..., outConv); run_unet(x, emb) takes channels-first x ([B, C, H, W] for dims 2, [B, C, L] for dims
    1) and the conditioning embedding [B, emb]."""

    def build_unet(self, dims, in_channels, out_channels, base_channels, channel_mults, blocks_per_level,
                   attention_levels, mid_attention, attention_heads, groups, dropout, emb):
        base = base_channels
        self.inConv = same_conv(dims, in_channels, base, 3)
        # Forward order as lists of flowmatch module names; the modules themselves are attributes by those names.
        self.down_steps, self.up_steps = [], []
        skips = [base]
        ch = base
        for level, mult in enumerate(channel_mults):
            out = base * mult
            for i in range(blocks_per_level):
                self.add_module(f"down{level}_res{i}", ResBlock(ch, out, emb, groups, dropout, dims))
                attn = f"down{level}_attn{i}" if level in attention_levels else None
                if attn:
                    self.add_module(attn, Attention(out, groups, attention_heads))
                self.down_steps.append(("res", f"down{level}_res{i}", attn))
                ch = out
                skips.append(ch)
            if level < len(channel_mults) - 1:
                self.add_module(f"down{level}_downsample", Downsample(ch, dims))
                self.down_steps.append(("down", f"down{level}_downsample", None))
                skips.append(ch)
        self.mid_res0 = ResBlock(ch, ch, emb, groups, dropout, dims)
        self.mid_attn = Attention(ch, groups, attention_heads) if mid_attention else None
        self.mid_res1 = ResBlock(ch, ch, emb, groups, dropout, dims)
        for level in reversed(range(len(channel_mults))):
            out = base * channel_mults[level]
            for i in range(blocks_per_level + 1):
                self.add_module(f"up{level}_res{i}", ResBlock(ch + skips.pop(), out, emb, groups, dropout, dims))
                attn = f"up{level}_attn{i}" if level in attention_levels else None
                if attn:
                    self.add_module(attn, Attention(out, groups, attention_heads))
                self.up_steps.append(("res", f"up{level}_res{i}", attn))
                ch = out
            if level > 0:
                self.add_module(f"up{level}_upsample", Upsample(ch, dims))
                self.up_steps.append(("up", f"up{level}_upsample", None))
        self.outNorm = nn.GroupNorm(groups, ch)
        self.outConv = same_conv(dims, ch, out_channels, 3)

    def run_unet(self, x, emb):
        h = self.inConv(x)
        hs = [h]
        for kind, name, attn in self.down_steps:
            h = getattr(self, name)(h) if kind == "down" else getattr(self, name)(h, emb)
            if attn:
                h = getattr(self, attn)(h)
            hs.append(h)
        h = self.mid_res0(h, emb)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid_res1(h, emb)
        for kind, name, attn in self.up_steps:
            h = getattr(self, name)(h) if kind == "up" else getattr(self, name)(torch.cat([h, hs.pop()], dim=1), emb)
            if attn:
                h = getattr(self, attn)(h)
        return self.outConv(F.silu(self.outNorm(h)))


class UNetVelocity(UNetBackbone):
    """The twin of flowmatch's UNetVelocity; arguments are its config fields (snake_case) with its defaults.
    forward(x [B, C, H, W] NCHW, t [B], labels [B] int or None, r [B] or None, guidance [B] or None)
    → velocity [B, C, H, W]."""

    def __init__(self, image_size=None, channels=1, base_channels=32, channel_mults=(1, 2, 2), blocks_per_level=2,
                 attention_levels=None, mid_attention=True, attention_heads=1, groups=8, dropout=0.0,
                 num_classes=0, second_time=False, second_time_input="interval", guidance_input=False,
                 time_scale=1000.0):
        super().__init__()
        if second_time_input not in ("interval", "r"):
            raise ValueError(f"second_time_input must be 'interval' or 'r', got {second_time_input!r}")
        channel_mults = list(channel_mults)
        attention_levels = [len(channel_mults) - 1] if attention_levels is None else list(attention_levels)
        base = base_channels
        emb = 4 * base
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes
        self.second_time_input = second_time_input
        self.timeEmbed = ScalarEmbedding(base, emb, time_scale)
        self.secondTimeEmbed = ScalarEmbedding(base, emb, time_scale) if second_time else None
        # The guidance scale ω spans a few units, not [0, 1]: flowmatch embeds it with frequencies up to 10.
        self.guidanceEmbed = ScalarEmbedding(base, emb, 10.0) if guidance_input else None
        # One row per class plus the null class (index num_classes).
        self.classEmbedding = nn.Embedding(num_classes + 1, emb) if num_classes > 0 else None
        self.build_unet(2, channels, channels, base, channel_mults, blocks_per_level, attention_levels, mid_attention,
                        attention_heads, groups, dropout, emb)

    def embed(self, t, labels=None, r=None, guidance=None):
        emb = self.timeEmbed(t)
        if self.secondTimeEmbed is not None:
            if r is None:
                raise ValueError("this U-Net was built with second_time: pass r of shape [B]")
            # 'interval': r − t, the length of the jump (r ≥ t in flowmatch's time).
            emb = emb + self.secondTimeEmbed(r - t if self.second_time_input == "interval" else r)
        if self.guidanceEmbed is not None:
            if guidance is None:
                raise ValueError("this U-Net was built with guidance_input: pass guidance (the guidance scale) of shape [B]")
            emb = emb + self.guidanceEmbed(guidance)
        if self.classEmbedding is not None:
            k = self.num_classes
            if labels is None:  # no labels on a conditional model: the null class for the whole batch
                labels = torch.full(t.shape, k, dtype=torch.long)
            # flowmatch looks labels up as one_hot(labels) · table: a label outside 0..k adds nothing.
            labels = labels.long()
            valid = (labels >= 0) & (labels <= k)
            emb = emb + self.classEmbedding(torch.where(valid, labels, 0)) * valid[:, None]
        return emb

    def forward(self, x, t, labels=None, r=None, guidance=None):
        if self.image_size is not None and (x.dim() != 4 or tuple(x.shape[1:]) != (self.channels, self.image_size, self.image_size)):
            raise ValueError(f"UNetVelocity expected x of shape [B, {self.channels}, {self.image_size}, {self.image_size}] (NCHW), got {list(x.shape)}")
        return self.run_unet(x, self.embed(t, labels, r, guidance))


def build(args, **overrides) -> UNetVelocity:
    """The twin from the architecture flags (add_architecture_flags); `overrides` sets further fields (second_time)."""
    return UNetVelocity(image_size=args.size, channels=args.channels, base_channels=args.base, channel_mults=args.mults,
                        blocks_per_level=args.blocks, attention_levels=args.attention_levels,
                        mid_attention=not args.no_mid_attention, num_classes=args.classes, **overrides)


def pool_batches(b, c, s, k):
    """A pool of 1024 fixed random "images" with labels, as a data set would be; draw() gives a batch of b with 10%
    of its labels replaced by the null class k (label dropout)."""
    pool = torch.rand(1024, c, s, s) * 2 - 1
    pool_labels = torch.randint(0, k, (1024,))

    def draw():
        idx = torch.randint(0, pool.shape[0], (b,))
        x1, labels = pool[idx], pool_labels[idx]
        return x1, torch.where(torch.rand(b) < 0.1, torch.full_like(labels, k), labels)

    return draw


def bench_train(args):
    model = build(args)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.0)
    b, c, s, k = args.batch, args.channels, args.size, args.classes
    draw = pool_batches(b, c, s, k)

    iterations, seconds = timed(cfm_step(model, ema, opt, draw), args.seconds, args.warmup_seconds)
    return {"unit": "images/s", "value": b * iterations / seconds, "iterations": iterations, "seconds": seconds}


def bench_sample(args):
    model = build(args).eval()
    n, steps, w, k = args.images, args.steps, args.cfg, args.classes

    def run():
        with torch.inference_mode():
            return guided_midpoint(model, torch.randn(n, args.channels, args.size, args.size), torch.arange(n) % k, k, w, steps)

    iterations, seconds = timed(run, args.seconds, args.warmup_seconds)
    return {"unit": "images/s", "value": n * iterations / seconds, "iterations": iterations, "seconds": seconds}


def cfm_step(model, ema, opt, draw):
    """One class-conditional flow matching step as the recipes' trainer takes it (the training workloads of both U-Net
    twins): a batch from draw(), noise, t ~ U(0, 1), x_t = t·x1 + (1 − t)·x0, MSE to x1 − x0, backward, global
    gradient-norm clipping at 1, the optimizer, EMA 0.999."""

    def step():
        x1, labels = draw()
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0])
        tb = t.view(-1, *[1] * (x1.dim() - 1))
        xt = tb * x1 + (1 - tb) * x0
        loss = F.mse_loss(model(xt, t, labels), x1 - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.mul_(0.999).add_(p, alpha=0.001)

    return step


def guided_midpoint(model, x, labels, null_label, w, steps):
    """The midpoint rule from noise x at t = 0 to t = 1 in `steps` steps, with classifier-free guidance weight w (both
    branches in one doubled batch, the second with the null label): the sampling workloads of both U-Net twins."""
    h = 1.0 / steps
    both = torch.cat([labels, torch.full_like(labels, null_label)])
    n = x.shape[0]

    def velocity(x, t):
        v = model(torch.cat([x, x]), torch.full((2 * n,), t), both)
        cond, uncond = v.chunk(2)
        return uncond + w * (cond - uncond)

    for i in range(steps):
        k1 = velocity(x, i * h)
        x = x + h * velocity(x + (0.5 * h) * k1, (i + 0.5) * h)
    return x


def add_architecture_flags(p) -> None:
    """The U-Net's architecture flags (the TypeScript side's pythonArchitecture), shared with meanflow.py."""
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--base", type=int, default=16)
    p.add_argument("--mults", type=int, nargs="+", default=[1, 2, 2])
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--attention-levels", type=int, nargs="*", default=[])
    p.add_argument("--no-mid-attention", action="store_true")


def main(argv=None):
    p = parser(__doc__, ["unet-train", "unet-sample"])
    add_architecture_flags(p)
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
