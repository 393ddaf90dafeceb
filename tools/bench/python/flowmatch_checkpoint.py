#!/usr/bin/env python3
"""Load a flowmatch checkpoint (.safetensors) into its PyTorch twin, and evaluate the velocity from the command line.

  python3 tools/bench/python/flowmatch_checkpoint.py CHECKPOINT --inputs IN.safetensors --out OUT.safetensors
          [--weights auto|ema|model]

IN holds `x` (images NHWC [B, H, W, C] as flowmatch stores them, spectrograms [B, frames, melBins], or points
[B, dim]), `t` [B], and where the model
takes them `labels` (integer [B]), `r` [B] and `guidance` [B] (the guidance scale, for models built with
guidanceInput). OUT gets `v` (float32, x's shape and layout) and the metadata
kind, weights (ema or model) and step. The command prints one JSON line describing what it loaded.

In Python: `loaded = load_checkpoint(path)`, then `loaded.model` is a torch.nn.Module and
`velocity(loaded, x, t, labels=None, r=None, guidance=None)` takes flowmatch's layouts.

Checkpoint: plain safetensors, tensors prefixed `model.` (weights), `ema.` (EMA weights, optional) and `optim.`
(optimizer state, not read here); string metadata format = "flowmatch-checkpoint", version = "1", step, and
config (JSON). The architecture comes from config.model = {"kind": "unet" | "spectrogram-unet" | "mlp",
"config": {...}} (the
model's resolved `model.config`), or in older checkpoints from config.meta.unet (meta.kind "image") or
config.meta.model (meta.kind "2d"). Missing fields take the TypeScript defaults; a field the twin does not know,
or a value it cannot represent, is an error rather than a silently different network. --weights auto (the
default) takes the EMA weights when the checkpoint has them.

Twins: unet.UNetVelocity (of @flowmatch/image's UNetVelocity), audio_unet.SpectrogramUNet (of @flowmatch/audio's
SpectrogramUNet, kind "spectrogram-unet") and mlp2d.MLPVelocity (of @flowmatch/core's MLPVelocity). Their module paths are flowmatch's, so only the leaves and layouts differ:

  flowmatch tensor                           flowmatch layout          twin tensor                 conversion
  ---------------------------------------------------------------------------------------------------------------------
  C.weight, C a Conv2d                       [kh, kw, in, out] (NHWC)  C.weight (SameConv2d)       permute(3, 2, 0, 1)
                                                                                                   → [out, in, kh, kw]
  C.weight, C a Conv1d (spectrogram U-Net)   [k, in, out] (NLC)        C.weight (SameConv1d)       permute(2, 1, 0)
                                                                                                   → [out, in, k]
  L.weight, L a Linear                       [in, out]                 L.weight (nn.Linear)        transpose → [out, in]
  A.qkv.weight, A.proj.weight, A attention   [C, 3C], [C, C] (Linear   same (ChannelLinear, a      transpose, then
                                             over channels)            1×1 conv)                   [out, in, 1, 1]
  C.bias, L.bias, A.qkv.bias, A.proj.bias    [out]                     same                        none
  N.gamma, N.beta, N a GroupNorm             [C]                       N.weight, N.bias            none
                                                                       (nn.GroupNorm, eps 1e-5)
  classEmbedding (U-Net)                     [numClasses + 1, 4·base], classEmbedding.weight       none
                                             last row = null class     (nn.Embedding)
  labelEmbedding (MLP)                       [numClasses + 1, hidden], labelEmbedding.weight       none
                                             last row = null class     (nn.Embedding)
  time.frequencies (MLP, sinusoidal time;    [1, dim/2]                buffer time.frequencies     none
  a buffer)

  U-Net: C = inConv, outConv, {R}.conv1, {R}.conv2, {R}.skip (1×1, only where channels change),
         down{l}_downsample.conv (stride 2), up{l}_upsample.conv; L = timeEmbed.fc1, timeEmbed.fc2,
         secondTimeEmbed.fc1, secondTimeEmbed.fc2 (secondTime only), guidanceEmbed.fc1, guidanceEmbed.fc2
         (guidanceInput only), {R}.embProj; A = down{l}_attn{i},
         up{l}_attn{i}, mid_attn; N = {R}.norm1, {R}.norm2, {A}.norm, outNorm; with R = down{l}_res{i}, mid_res0,
         mid_res1, up{l}_res{i}.
  Spectrogram U-Net: the U-Net's names with Conv1d for C; pitchEmbedding [numPitches + 1, 4·base] and
         timbreEmbedding [numTimbres + 1, 4·base] (last rows = null) in place of classEmbedding, both as is.
  MLP:   L = layer0 … layer{depth−1}, out.

Every tensor of the chosen group must land in a twin tensor and every twin parameter and buffer must be filled,
with matching shapes; otherwise the load fails with the offending names listed (the other weight group, when
present, is checked the same way). Convolutions pad as tfjs's 'same' (unet.tf_same_padding): that is what makes
stride-2 convolutions agree.
"""
import argparse
import json
import math
import struct
import sys
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from mlp2d import ACTIVATIONS, MLPVelocity, SinusoidalFeatures
from audio_unet import SpectrogramUNet
from unet import ChannelLinear, SameConv1d, SameConv2d, UNetVelocity

CHECKPOINT_FORMAT = "flowmatch-checkpoint"
CHECKPOINT_VERSION = "1"
WEIGHT_PREFIXES = {"model": "model.", "ema": "ema."}
OPTIMIZER_PREFIX = "optim."


class CheckpointError(Exception):
    """A checkpoint (or inputs file) this module cannot turn into a twin; the message names the file."""


# ---- safetensors, with struct + json + torch (no pip package needed) ----

_TORCH_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
_SAFETENSORS_DTYPES = {v: k for k, v in _TORCH_DTYPES.items()}


def read_safetensors(path: str):
    """(tensors, metadata) of a safetensors file: name → torch tensor (a copy), and the string metadata."""
    if sys.byteorder != "little":
        raise CheckpointError(f"{path}: this reader assumes a little-endian host")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise CheckpointError(f"{path}: truncated ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise CheckpointError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + header_len:]
    tensors = {}
    for name, entry in header.items():
        dtype = _TORCH_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise CheckpointError(f"{path}: tensor '{name}': dtype {entry['dtype']} has no torch equivalent here")
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        count = math.prod(shape)
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype) if count else torch.empty(0, dtype=dtype)
        if flat.numel() != count:
            raise CheckpointError(f"{path}: tensor '{name}': {flat.numel()} elements stored for shape {shape}")
        tensors[name] = flat.reshape(shape)
    return tensors, metadata


def write_safetensors(path: str, tensors: dict, metadata: Optional[dict] = None) -> None:
    """Writes name → tensor (contiguous, little-endian) with optional string metadata, names in sorted order."""
    header = {"__metadata__": dict(metadata)} if metadata else {}
    chunks, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


# ---- architecture configs: flowmatch's fields and defaults ----

# resolveUNetConfig's defaults (packages/image/src/unet.ts); attentionLevels defaults to the last level.
UNET_DEFAULTS = {
    "baseChannels": 32, "channelMults": [1, 2, 2], "blocksPerLevel": 2, "midAttention": True, "attentionHeads": 1,
    "groups": 8, "dropout": 0, "numClasses": 0, "secondTime": False, "secondTimeInput": "interval",
    "guidanceInput": False, "timeScale": 1000, "seed": 0,
}
UNET_FIELDS = {"imageSize", "channels", "attentionLevels", *UNET_DEFAULTS}
# MLPVelocity's defaults (packages/core/src/nn/mlp.ts).
MLP_DEFAULTS = {"hidden": 128, "depth": 4, "activation": "silu", "timeEmbedding": "raw", "numClasses": 0, "secondTime": False,
                "guidanceInput": False, "seed": 0}
MLP_FIELDS = {"dim", *MLP_DEFAULTS}
# resolveSpectrogramUNetConfig's defaults (packages/audio/src/model.ts).
SPECTROGRAM_DEFAULTS = {
    "numPitches": 0, "numTimbres": 0, "layout": "1d", "baseChannels": 128, "channelMults": [1, 2, 2], "blocksPerLevel": 1,
    "attentionLevels": [], "midAttention": True, "attentionHeads": 4, "groups": 8, "dropout": 0, "secondTime": False,
    "secondTimeInput": "interval", "guidanceInput": False, "timeScale": 1000, "seed": 0,
}
SPECTROGRAM_FIELDS = {"frames", "melBins", *SPECTROGRAM_DEFAULTS}
KINDS = ("unet", "spectrogram-unet", "mlp")


def architecture(config, source: str = "<config>"):
    """(kind, fields) of the model a checkpoint config describes: a KINDS entry and its config object."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: config is not a JSON object")
    model = config.get("model")
    if isinstance(model, dict) and "kind" in model:
        if model["kind"] not in KINDS or not isinstance(model.get("config"), dict):
            raise CheckpointError(f"{source}: config.model must be {{\"kind\": {' | '.join(map(repr, KINDS))}, \"config\": {{...}}}}, got kind {model.get('kind')!r}")
        return model["kind"], model["config"]
    meta = config.get("meta")
    if isinstance(meta, dict) and meta.get("kind") == "image" and isinstance(meta.get("unet"), dict):
        return "unet", meta["unet"]
    if isinstance(meta, dict) and meta.get("kind") == "2d" and isinstance(meta.get("model"), dict):
        return "mlp", meta["model"]
    raise CheckpointError(f"{source}: the config names no architecture (no config.model {{kind, config}}, "
                          "no config.meta.unet with meta.kind 'image', no config.meta.model with meta.kind '2d')")


def _resolve(fields: dict, defaults: dict, known: set, what: str, source: str) -> dict:
    unknown = sorted(set(fields) - known)
    if unknown:
        raise CheckpointError(f"{source}: {what} config field(s) {', '.join(unknown)} unknown to the PyTorch twin "
                              "(a feature added after it was written?): refusing to build a network that may differ")
    return {**defaults, **fields}


def _positive_int(value, name: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CheckpointError(f"{source}: {name} must be a positive integer, got {value!r}")
    return value


def _check_unet_time_options(c: dict, source: str) -> None:
    """The fields both U-Net twins check as core's validateUNetTimeOptions does, plus dropout and the flags."""
    if c["secondTimeInput"] not in ("interval", "r"):
        raise CheckpointError(f"{source}: secondTimeInput must be 'interval' or 'r', got {c['secondTimeInput']!r}")
    if not isinstance(c["timeScale"], (int, float)) or not (0 < c["timeScale"] < math.inf):
        raise CheckpointError(f"{source}: timeScale must be a positive number, got {c['timeScale']!r}")
    if not isinstance(c["dropout"], (int, float)) or not 0 <= c["dropout"] < 1:
        raise CheckpointError(f"{source}: dropout must be in [0, 1), got {c['dropout']!r}")
    for flag in ("midAttention", "secondTime", "guidanceInput"):
        if not isinstance(c[flag], bool):
            raise CheckpointError(f"{source}: {flag} must be true or false, got {c[flag]!r}")


def build_unet(fields: dict, source: str = "<config>") -> UNetVelocity:
    """The U-Net twin of a flowmatch UNetVelocity config (resolved or not), checked as flowmatch checks it."""
    c = _resolve(fields, UNET_DEFAULTS, UNET_FIELDS, "UNetVelocity", source)
    for name in ("imageSize", "channels", "baseChannels", "blocksPerLevel", "groups", "attentionHeads"):
        _positive_int(c.get(name), name, source)
    mults = c["channelMults"]
    if not isinstance(mults, list) or not mults:
        raise CheckpointError(f"{source}: channelMults must be a non-empty list, got {mults!r}")
    for i, m in enumerate(mults):
        _positive_int(m, f"channelMults[{i}]", source)
    levels = c.get("attentionLevels", [len(mults) - 1])
    if not isinstance(levels, list) or any(not isinstance(l, int) or not 0 <= l < len(mults) for l in levels):
        raise CheckpointError(f"{source}: attentionLevels must list level indices in 0..{len(mults) - 1}, got {levels!r}")
    if c["baseChannels"] % 2:
        raise CheckpointError(f"{source}: baseChannels must be even (the sinusoidal feature size), got {c['baseChannels']}")
    if c["imageSize"] % 2 ** (len(mults) - 1):
        raise CheckpointError(f"{source}: imageSize {c['imageSize']} is not divisible by 2^(levels − 1)")
    for m in mults:
        ch = c["baseChannels"] * m
        if ch % c["groups"] or ch % c["attentionHeads"]:
            raise CheckpointError(f"{source}: level channels {ch} must be divisible by groups ({c['groups']}) and attentionHeads ({c['attentionHeads']})")
    if isinstance(c["numClasses"], bool) or not isinstance(c["numClasses"], int) or c["numClasses"] < 0:
        raise CheckpointError(f"{source}: numClasses must be an integer >= 0, got {c['numClasses']!r}")
    _check_unet_time_options(c, source)
    try:
        return UNetVelocity(
            image_size=c["imageSize"], channels=c["channels"], base_channels=c["baseChannels"], channel_mults=mults,
            blocks_per_level=c["blocksPerLevel"], attention_levels=levels, mid_attention=c["midAttention"],
            attention_heads=c["attentionHeads"], groups=c["groups"], dropout=c["dropout"], num_classes=c["numClasses"],
            second_time=c["secondTime"], second_time_input=c["secondTimeInput"], guidance_input=c["guidanceInput"],
            time_scale=float(c["timeScale"]))
    except ValueError as error:  # e.g. concatenated channels that GroupNorm cannot split
        raise CheckpointError(f"{source}: cannot build the U-Net twin: {error}") from error


def build_mlp(fields: dict, source: str = "<config>") -> MLPVelocity:
    """The MLP twin of a flowmatch MLPVelocity config (resolved or not)."""
    c = _resolve(fields, MLP_DEFAULTS, MLP_FIELDS, "MLPVelocity", source)
    for name in ("dim", "hidden", "depth"):
        _positive_int(c.get(name), name, source)
    if c["activation"] not in ACTIVATIONS:
        raise CheckpointError(f"{source}: activation {c['activation']!r} has no twin (known: {', '.join(ACTIVATIONS)})")
    te = c["timeEmbedding"]
    if te == "raw":
        sinusoidal = 0
    elif isinstance(te, dict) and set(te) == {"sinusoidal"} and isinstance(te["sinusoidal"], int) and te["sinusoidal"] >= 2 and te["sinusoidal"] % 2 == 0:
        sinusoidal = te["sinusoidal"]
    else:
        raise CheckpointError(f"{source}: timeEmbedding must be 'raw' or {{\"sinusoidal\": even n >= 2}}, got {te!r}")
    if isinstance(c["numClasses"], bool) or not isinstance(c["numClasses"], int) or c["numClasses"] < 0:
        raise CheckpointError(f"{source}: numClasses must be an integer >= 0, got {c['numClasses']!r}")
    for flag in ("secondTime", "guidanceInput"):
        if not isinstance(c[flag], bool):
            raise CheckpointError(f"{source}: {flag} must be true or false, got {c[flag]!r}")
    return MLPVelocity(c["dim"], hidden=c["hidden"], depth=c["depth"], activation=c["activation"], sinusoidal_time=sinusoidal,
                       num_classes=c["numClasses"], second_time=c["secondTime"], guidance_input=c["guidanceInput"])


def build_spectrogram_unet(fields: dict, source: str = "<config>") -> SpectrogramUNet:
    """The twin of a flowmatch SpectrogramUNet config (resolved or not), checked as flowmatch checks it."""
    c = _resolve(fields, SPECTROGRAM_DEFAULTS, SPECTROGRAM_FIELDS, "SpectrogramUNet", source)
    for name in ("frames", "melBins", "baseChannels", "blocksPerLevel", "groups", "attentionHeads"):
        _positive_int(c.get(name), name, source)
    for name in ("numPitches", "numTimbres"):
        if isinstance(c[name], bool) or not isinstance(c[name], int) or c[name] < 0:
            raise CheckpointError(f"{source}: {name} must be an integer >= 0, got {c[name]!r}")
    if c["layout"] != "1d":
        raise CheckpointError(f"{source}: layout {c['layout']!r} has no twin (the twin is the 1-D U-Net, layout '1d')")
    mults, levels = c["channelMults"], c["attentionLevels"]
    if not isinstance(mults, list) or not mults or any(isinstance(m, bool) or not isinstance(m, int) or m <= 0 for m in mults):
        raise CheckpointError(f"{source}: channelMults must be a non-empty list of positive integers, got {mults!r}")
    if not isinstance(levels, list) or any(not isinstance(l, int) or not 0 <= l < len(mults) for l in levels):
        raise CheckpointError(f"{source}: attentionLevels must list level indices in 0..{len(mults) - 1}, got {levels!r}")
    if c["baseChannels"] % 2:
        raise CheckpointError(f"{source}: baseChannels must be even (the sinusoidal feature size), got {c['baseChannels']}")
    if c["frames"] % 2 ** (len(mults) - 1):
        raise CheckpointError(f"{source}: frames {c['frames']} is not divisible by 2^(levels − 1)")
    _check_unet_time_options(c, source)
    try:
        return SpectrogramUNet(
            frames=c["frames"], mel_bins=c["melBins"], num_pitches=c["numPitches"], num_timbres=c["numTimbres"],
            base_channels=c["baseChannels"], channel_mults=mults, blocks_per_level=c["blocksPerLevel"],
            attention_levels=levels, mid_attention=c["midAttention"], attention_heads=c["attentionHeads"],
            groups=c["groups"], dropout=c["dropout"], second_time=c["secondTime"],
            second_time_input=c["secondTimeInput"], guidance_input=c["guidanceInput"], time_scale=float(c["timeScale"]))
    except ValueError as error:  # e.g. channels that GroupNorm cannot split
        raise CheckpointError(f"{source}: cannot build the SpectrogramUNet twin: {error}") from error


def build_twin(kind: str, fields: dict, source: str = "<config>") -> nn.Module:
    if kind == "spectrogram-unet":
        return build_spectrogram_unet(fields, source)
    return build_unet(fields, source) if kind == "unet" else build_mlp(fields, source)


# ---- the name and layout mapping (the table in the docstring) ----

def _conv_kernel(w):  # [kh, kw, in, out] → [out, in, kh, kw]
    return w.permute(3, 2, 0, 1)


def _conv1d_kernel(w):  # [k, in, out] → [out, in, k]
    return w.permute(2, 1, 0)


def _channel_linear(w):  # Linear [in, out] → 1×1 conv [out, in, 1, 1]
    return w.t()[:, :, None, None]


def _linear(w):  # [in, out] → [out, in]
    return w.t()


def _as_is(w):
    return w


def flowmatch_names(twin: nn.Module) -> dict:
    """flowmatch state-dict name → (twin tensor, conversion from flowmatch's layout), for every twin parameter and
    buffer. Fails if the twin holds a tensor the table does not cover (a new module type, say)."""
    mapping = {}
    for path, module in twin.named_modules():
        p = f"{path}." if path else ""
        if isinstance(module, ChannelLinear):  # before nn.Conv2d: it is one, but stored as a Linear
            mapping[p + "weight"] = (module.weight, _channel_linear)
            mapping[p + "bias"] = (module.bias, _as_is)
        elif isinstance(module, SameConv2d):
            mapping[p + "weight"] = (module.weight, _conv_kernel)
            mapping[p + "bias"] = (module.bias, _as_is)
        elif isinstance(module, SameConv1d):
            mapping[p + "weight"] = (module.weight, _conv1d_kernel)
            mapping[p + "bias"] = (module.bias, _as_is)
        elif isinstance(module, nn.Linear):
            mapping[p + "weight"] = (module.weight, _linear)
            mapping[p + "bias"] = (module.bias, _as_is)
        elif isinstance(module, nn.GroupNorm):
            mapping[p + "gamma"] = (module.weight, _as_is)
            mapping[p + "beta"] = (module.bias, _as_is)
        elif isinstance(module, nn.Embedding):
            mapping[path] = (module.weight, _as_is)
        elif isinstance(module, SinusoidalFeatures):
            mapping[p + "frequencies"] = (module.frequencies, _as_is)
    covered = {id(t) for t, _ in mapping.values()}
    uncovered = [n for n, t in [*twin.named_parameters(), *twin.named_buffers()] if id(t) not in covered]
    if uncovered:
        raise CheckpointError(f"twin tensors with no flowmatch counterpart in the mapping table: {', '.join(uncovered)}")
    return mapping


def check_state(twin: nn.Module, state: dict, source: str) -> list:
    """Every problem loading `state` (flowmatch names → tensors in flowmatch's layout) into the twin would hit."""
    mapping = flowmatch_names(twin)
    problems = [f"unexpected tensor '{n}' (no twin parameter takes it)" for n in sorted(set(state) - set(mapping))]
    for name, (target, convert) in mapping.items():
        value = state.get(name)
        if value is None:
            problems.append(f"missing tensor '{name}' (the twin's {tuple(target.shape)} needs it)")
        elif not value.is_floating_point():
            problems.append(f"tensor '{name}' has dtype {value.dtype}, expected a float type")
        elif convert(value).shape != target.shape:
            problems.append(f"tensor '{name}' has shape {list(value.shape)}, which converts to {list(convert(value).shape)}, "
                            f"but the twin's tensor is {list(target.shape)}")
    return [f"{source}: {p}" for p in problems]


def load_flowmatch_state(twin: nn.Module, state: dict, source: str = "<state>") -> None:
    """Copies a flowmatch state dict into the twin, converting layouts; all-or-nothing, every problem reported."""
    problems = check_state(twin, state, source)
    if problems:
        raise CheckpointError("cannot load into the PyTorch twin:\n  " + "\n  ".join(problems))
    with torch.no_grad():
        for name, (target, convert) in flowmatch_names(twin).items():
            target.copy_(convert(state[name].to(torch.float32)))


# ---- checkpoints ----

@dataclass
class LoadedTwin:
    model: nn.Module
    kind: str  # a KINDS entry
    fields: dict  # the architecture config as stored
    weights: str  # "ema" or "model"
    step: int


def load_checkpoint(path: str, weights: str = "auto") -> LoadedTwin:
    """Builds the twin of a flowmatch checkpoint and loads its weights: weights "ema", "model", or "auto" (EMA
    when present). The returned model is in eval mode."""
    if weights not in ("auto", "ema", "model"):
        raise ValueError(f"weights must be auto, ema or model, got {weights!r}")
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a flowmatch checkpoint (format {metadata.get('format')!r})")
    if metadata.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {metadata.get('version')!r} (this reads {CHECKPOINT_VERSION})")
    try:
        config = json.loads(metadata["config"])
    except (KeyError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: metadata 'config' is missing or not JSON ({error})") from error
    groups = {"model": {}, "ema": {}}
    for name, tensor in tensors.items():
        role = next((r for r, prefix in WEIGHT_PREFIXES.items() if name.startswith(prefix)), None)
        if role is not None:
            groups[role][name[len(WEIGHT_PREFIXES[role]):]] = tensor
        elif not name.startswith(OPTIMIZER_PREFIX):
            raise CheckpointError(f"{path}: tensor '{name}' has no known role prefix (model., ema., optim.)")
    if not groups["model"]:
        raise CheckpointError(f"{path}: no model tensors (no names starting with 'model.')")
    if weights == "ema" and not groups["ema"]:
        raise CheckpointError(f"{path}: --weights ema, but the checkpoint has no EMA weights")
    chosen = "ema" if weights == "ema" or (weights == "auto" and groups["ema"]) else "model"
    kind, fields = architecture(config, path)
    twin = build_twin(kind, fields, path)
    # Both weight groups must fit, so a malformed group is found whichever one is loaded.
    problems = [p for role, group in groups.items() if group for p in check_state(twin, group, f"{path} ({role} weights)")]
    if problems:
        raise CheckpointError("cannot load into the PyTorch twin:\n  " + "\n  ".join(problems))
    load_flowmatch_state(twin, groups[chosen], f"{path} ({chosen} weights)")
    return LoadedTwin(model=twin.eval(), kind=kind, fields=fields, weights=chosen, step=int(metadata.get("step", 0)))


def velocity(loaded: LoadedTwin, x, t, labels=None, r=None, guidance=None):
    """The twin's velocity in flowmatch's layouts: x NHWC [B, H, W, C] for the U-Net (NCHW inside), [B, frames,
    melBins] for the spectrogram U-Net (NCL inside), [B, dim] for the MLP; t, r and guidance [B]; labels integer [B]."""
    x = x.to(torch.float32)
    t = t.to(torch.float32).reshape(-1)
    r = None if r is None else r.to(torch.float32).reshape(-1)
    guidance = None if guidance is None else guidance.to(torch.float32).reshape(-1)
    labels = None if labels is None else labels.reshape(-1).long()
    with torch.inference_mode():
        if loaded.kind == "unet":
            if x.dim() != 4:
                raise ValueError(f"x must be NHWC [B, H, W, C] for a U-Net, got shape {list(x.shape)}")
            v = loaded.model(x.permute(0, 3, 1, 2), t, labels, r, guidance)
            return v.permute(0, 2, 3, 1).contiguous()
        if loaded.kind == "spectrogram-unet":
            if x.dim() != 3:
                raise ValueError(f"x must be [B, frames, melBins] for a spectrogram U-Net, got shape {list(x.shape)}")
            return loaded.model(x.permute(0, 2, 1), t, labels, r, guidance).permute(0, 2, 1).contiguous()
        return loaded.model(x, t, labels, r, guidance)


def use_symmetric_padding(model: nn.Module) -> None:
    """Switches every convolution to PyTorch's symmetric padding=k//2: the twin as it was before it padded like
    tfjs. A diagnostic only, to measure what the tfjs rule fixes."""
    for module in model.modules():
        if isinstance(module, (SameConv1d, SameConv2d)):
            module.padding_rule = "symmetric"


INPUT_NAMES = {"x", "t", "labels", "r", "guidance"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a flowmatch checkpoint (.safetensors)")
    p.add_argument("--inputs", required=True, help="safetensors with x, t [, labels, r, guidance]")
    p.add_argument("--out", required=True, help="where to write v (safetensors)")
    p.add_argument("--weights", choices=["auto", "ema", "model"], default="auto", help="auto: EMA when present (default)")
    p.add_argument("--symmetric-padding", action="store_true", help="diagnostic: pad convolutions as PyTorch's padding=k//2 instead of tfjs's 'same'")
    args = p.parse_args(argv)
    try:
        loaded = load_checkpoint(args.checkpoint, args.weights)
        inputs, _ = read_safetensors(args.inputs)
        unknown = sorted(set(inputs) - INPUT_NAMES)
        if unknown or "x" not in inputs or "t" not in inputs:
            raise CheckpointError(f"{args.inputs}: needs x and t, optionally labels, r and guidance; "
                                  f"{'got unknown ' + ', '.join(unknown) if unknown else 'x or t is missing'}")
        if args.symmetric_padding:
            use_symmetric_padding(loaded.model)
        v = velocity(loaded, inputs["x"], inputs["t"], inputs.get("labels"), inputs.get("r"), inputs.get("guidance"))
    except (CheckpointError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_safetensors(args.out, {"v": v}, {"kind": loaded.kind, "weights": loaded.weights, "step": str(loaded.step)})
    print(json.dumps({"kind": loaded.kind, "weights": loaded.weights, "step": loaded.step,
                      "parameters": sum(q.numel() for q in loaded.model.parameters()), "shape": list(v.shape),
                      "padding": "symmetric" if args.symmetric_padding else "tfjs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
