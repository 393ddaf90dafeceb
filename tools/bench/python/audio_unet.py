"""PyTorch twin of @flowmatch/audio's SpectrogramUNet (packages/audio/src/model.ts), and the audio U-Net workloads
of tools/bench:

  audio-unet-train   one pitch × timbre-conditional flow matching step of `flowmatch audio`'s default network on
                     random normalised log-mel spectrograms [B, melBins, frames]: joint labels with each condition
                     (pitch, timbre) dropped to its null value on its own with probability 0.1, noise and t,
                     x_t = t·x1 + (1 − t)·x0, target x1 − x0, forward, MSE, backward, global gradient-norm clipping
                     at 1, AdamW, EMA (decay 0.999) of the weights.
  audio-unet-sample  a batch of conditional spectrograms from noise with the midpoint rule and classifier-free
                     guidance (both branches in one doubled batch, the null label = no pitch, no timbre), under
                     torch.inference_mode().

Architecture: unet.UNetBackbone with dims 1 (the body flowmatch's image U-Net and SpectrogramUNet share: width-3
Conv1d over frames with the mel bins as channels, stride-2 Conv1d down, nearest 2× + Conv1d up, ResBlocks,
self-attention over frames), in PyTorch's NCL layout ([B, melBins, frames]); every convolution pads as tfjs's
'same' (unet.tf_same_padding). Conditioning embedding (width 4·base):

  timeEmbed(t) [+ secondTimeEmbed(r − t or r)] [+ guidanceEmbed(ω), scale 10]
    + pitchEmbedding[pitch] + timbreEmbedding[timbre]

with ONE integer label per example, the joint index label = pitch·(numTimbres + 1) + timbre (pitch = numPitches
and timbre = numTimbres are the null values; packages/audio/src/labels.ts). flowmatch looks each table up as
one_hot(index) · table, so an index outside its table adds nothing; the twin does the same. Module names are
flowmatch's (timeEmbed.fc1, pitchEmbedding, timbreEmbedding, inConv, down0_res0.conv1, mid_attn.qkv, outConv,
...), so flowmatch_checkpoint.py loads a 'spectrogram-unet' checkpoint into it leaf by leaf; initialisation is
PyTorch's default, as in unet.py.

Timing is the harness's (common.timed). Prints a human line or, with --json, one JSON object.
"""
import copy
import sys

import torch
from torch import nn

from common import parser, report, setup, timed
from unet import ScalarEmbedding, UNetBackbone, cfm_step, guided_midpoint


class SpectrogramUNet(UNetBackbone):
    """The twin of flowmatch's SpectrogramUNet; arguments are its config fields (snake_case) with its defaults.
    forward(x [B, melBins, frames] NCL, t [B], labels [B] int (joint indices) or None, r [B] or None,
    guidance [B] or None) → velocity [B, melBins, frames]."""

    def __init__(self, frames=None, mel_bins=128, num_pitches=0, num_timbres=0, base_channels=128, channel_mults=(1, 2, 2),
                 blocks_per_level=1, attention_levels=(), mid_attention=True, attention_heads=4, groups=8, dropout=0.0,
                 second_time=False, second_time_input="interval", guidance_input=False, time_scale=1000.0):
        super().__init__()
        if second_time_input not in ("interval", "r"):
            raise ValueError(f"second_time_input must be 'interval' or 'r', got {second_time_input!r}")
        base = base_channels
        emb = 4 * base
        self.frames, self.mel_bins = frames, mel_bins
        self.num_pitches, self.num_timbres = num_pitches, num_timbres
        self.second_time_input = second_time_input
        # Registration order follows flowmatch's constructor.
        self.timeEmbed = ScalarEmbedding(base, emb, time_scale)
        self.secondTimeEmbed = ScalarEmbedding(base, emb, time_scale) if second_time else None
        self.guidanceEmbed = ScalarEmbedding(base, emb, 10.0) if guidance_input else None
        # One row per value plus the null row (index num_pitches / num_timbres).
        self.pitchEmbedding = nn.Embedding(num_pitches + 1, emb) if num_pitches > 0 else None
        self.timbreEmbedding = nn.Embedding(num_timbres + 1, emb) if num_timbres > 0 else None
        self.build_unet(1, mel_bins, mel_bins, base, list(channel_mults), blocks_per_level, list(attention_levels),
                        mid_attention, attention_heads, groups, dropout, emb)

    @property
    def null_label(self) -> int:
        """The joint label with no pitch and no timbre, also the number of non-null labels (flowmatch's numClasses)."""
        return (self.num_pitches + 1) * (self.num_timbres + 1) - 1

    def split_labels(self, labels):
        """Joint labels → (pitch, timbre) indices, as flowmatch decodes them (floor division by numTimbres + 1)."""
        labels = labels.long()
        pitch = torch.div(labels, self.num_timbres + 1, rounding_mode="floor")
        return pitch, labels - pitch * (self.num_timbres + 1)

    def embed(self, t, labels=None, r=None, guidance=None):
        emb = self.timeEmbed(t)
        if self.secondTimeEmbed is not None:
            if r is None:
                raise ValueError("this SpectrogramUNet was built with second_time: pass r of shape [B]")
            emb = emb + self.secondTimeEmbed(r - t if self.second_time_input == "interval" else r)
        if self.guidanceEmbed is not None:
            if guidance is None:
                raise ValueError("this SpectrogramUNet was built with guidance_input: pass guidance of shape [B]")
            emb = emb + self.guidanceEmbed(guidance)
        if self.pitchEmbedding is not None or self.timbreEmbedding is not None:
            if labels is None:  # no labels on a conditional model: no pitch, no timbre for the whole batch
                labels = torch.full(t.shape, self.null_label, dtype=torch.long)
            pitch, timbre = self.split_labels(labels)
            for table, index in ((self.pitchEmbedding, pitch), (self.timbreEmbedding, timbre)):
                if table is not None:  # one_hot(index) · table: an index outside the table adds nothing
                    valid = (index >= 0) & (index < table.num_embeddings)
                    emb = emb + table(torch.where(valid, index, 0)) * valid[:, None]
        return emb

    def forward(self, x, t, labels=None, r=None, guidance=None):
        if self.frames is not None and (x.dim() != 3 or tuple(x.shape[1:]) != (self.mel_bins, self.frames)):
            raise ValueError(f"SpectrogramUNet expected x of shape [B, {self.mel_bins}, {self.frames}] (NCL), got {list(x.shape)}")
        return self.run_unet(x, self.embed(t, labels, r, guidance))


def build(args) -> SpectrogramUNet:
    """The twin from the architecture flags (add_architecture_flags)."""
    return SpectrogramUNet(frames=args.frames, mel_bins=args.mels, num_pitches=args.pitches, num_timbres=args.timbres,
                           base_channels=args.base, channel_mults=args.mults, blocks_per_level=args.blocks,
                           attention_levels=args.attention_levels, mid_attention=not args.no_mid_attention,
                           attention_heads=args.heads, groups=args.groups)


def drop_conditions(labels, num_pitches: int, num_timbres: int, p: float):
    """labels.ts's dropConditions: pitch and timbre each replaced by its null value on its own with probability p."""
    pitch = torch.div(labels, num_timbres + 1, rounding_mode="floor")
    timbre = labels - pitch * (num_timbres + 1)
    pitch = torch.where(torch.rand(labels.shape) < p, torch.full_like(pitch, num_pitches), pitch)
    timbre = torch.where(torch.rand(labels.shape) < p, torch.full_like(timbre, num_timbres), timbre)
    return pitch * (num_timbres + 1) + timbre


def bench_train(args):
    model = build(args)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    b, kp, kt = args.batch, args.pitches, args.timbres
    # A pool of 1024 fixed random "spectrograms" with labels, as a data set would be.
    pool = torch.randn(1024, args.mels, args.frames)
    pool_labels = torch.randint(0, kp, (1024,)) * (kt + 1) + torch.randint(0, kt, (1024,))

    def draw():
        idx = torch.randint(0, pool.shape[0], (b,))
        return pool[idx], drop_conditions(pool_labels[idx], kp, kt, args.label_dropout)

    iterations, seconds = timed(cfm_step(model, ema, opt, draw), args.seconds, args.warmup_seconds)
    return {"unit": "spectrograms/s", "value": b * iterations / seconds, "iterations": iterations, "seconds": seconds}


def bench_sample(args):
    model = build(args).eval()
    n, steps, w = args.spectrograms, args.steps, args.cfg
    kt = args.timbres

    def run():
        with torch.inference_mode():
            i = torch.arange(n)
            labels = (i % args.pitches) * (kt + 1) + i % kt
            return guided_midpoint(model, torch.randn(n, args.mels, args.frames), labels, model.null_label, w, steps)

    iterations, seconds = timed(run, args.seconds, args.warmup_seconds)
    return {"unit": "spectrograms/s", "value": n * iterations / seconds, "iterations": iterations, "seconds": seconds}


def add_architecture_flags(p) -> None:
    """The architecture flags (the TypeScript side's pythonAudioArchitecture in workloads/audio.ts)."""
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--mels", type=int, default=128)
    p.add_argument("--pitches", type=int, default=25)
    p.add_argument("--timbres", type=int, default=4)
    p.add_argument("--base", type=int, default=64)
    p.add_argument("--mults", type=int, nargs="+", default=[1, 2, 2])
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--attention-levels", type=int, nargs="*", default=[])
    p.add_argument("--no-mid-attention", action="store_true")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--groups", type=int, default=8)


def main(argv=None):
    p = parser(__doc__, ["audio-unet-train", "audio-unet-sample"])
    add_architecture_flags(p)
    p.add_argument("--batch", type=int, default=32, help="audio-unet-train batch")
    p.add_argument("--lr", type=float, default=1e-3, help="audio-unet-train AdamW learning rate")
    p.add_argument("--label-dropout", type=float, default=0.1, help="audio-unet-train per-condition dropout")
    p.add_argument("--spectrograms", type=int, default=25, help="audio-unet-sample spectrograms per call")
    p.add_argument("--steps", type=int, default=8, help="audio-unet-sample midpoint steps (2 evaluations each)")
    p.add_argument("--cfg", type=float, default=2.0, help="audio-unet-sample guidance weight")
    args = p.parse_args(argv)
    setup(args)
    result = bench_train(args) if args.workload == "audio-unet-train" else bench_sample(args)
    return report(args, {**result, "params": sum(q.numel() for q in build(args).parameters())})


if __name__ == "__main__":
    sys.exit(main())
