"""Compressed weight files: a model's state dict in safetensors, sparse tensors as values + a bitmask.

Size on disk is the size of this file, so it is measured, not computed. Each tensor is written whichever way
is smaller:
- dense: the tensor as it is (fp32 weights, int8 quantised weights);
- sparse: its non-zero entries in order (`NAME::values`) and a bitmask of where they sit, one bit per entry
  packed eight to a byte (`NAME::bitmask`, numpy `packbits`), which wins once more than 1/32 of an fp32
  tensor (1/8 of an int8 one) is zero. Zero is a pruned weight, so no index type is needed.
A quantised tensor (torch.ao) is stored as its int8 integers (`int_repr`, dense or sparse as above) plus
its scales (`NAME::scales`, float32) and zero points (`NAME::zero_points`, in the integers' own type), one
per output channel or one for the tensor. A linear layer's packed (weight, bias) pair is stored as NAME.0
and NAME.1. The shapes and the quantisation axis go into the file's JSON metadata. `read_weights` decodes the file back
into float tensors (quantised ones dequantised): what a runtime reading this format would rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from neuralab.atomic import write_atomic

METADATA_KEY = "neuralab-compressed"


def _tensors(state: dict[str, object]) -> Iterator[tuple[str, torch.Tensor]]:
    """The tensors of a state dict, a packed-parameters tuple's elements as NAME.I (dtype entries dropped)."""
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            yield key, value
        elif isinstance(value, tuple):
            yield from ((f"{key}.{i}", t) for i, t in enumerate(value) if isinstance(t, torch.Tensor))


def _encode(name: str, t: torch.Tensor, out: dict[str, torch.Tensor], info: dict[str, object]) -> None:
    """Put plain tensor `t` into `out` dense or as values + bitmask, whichever takes fewer bytes."""
    flat = t.detach().cpu().contiguous().reshape(-1)
    nonzero = flat != 0
    dense_bytes = flat.numel() * flat.element_size()
    sparse_bytes = int(nonzero.sum()) * flat.element_size() + (flat.numel() + 7) // 8
    info["shape"] = list(t.shape)
    if (t.is_floating_point() or t.dtype == torch.int8) and sparse_bytes < dense_bytes:
        info["sparse"] = True
        out[f"{name}::values"] = flat[nonzero].clone()
        out[f"{name}::bitmask"] = torch.from_numpy(np.packbits(nonzero.numpy()))
        return
    out[name] = flat.reshape(t.shape).clone()


def write_weights(model: torch.nn.Module, path: Path) -> int:
    """Write `model`'s state dict (fp32 or torch.ao int8) to `path` in the compressed format; returns its bytes."""
    out: dict[str, torch.Tensor] = {}
    meta: dict[str, dict[str, object]] = {}
    for name, t in _tensors(model.state_dict()):
        info: dict[str, object] = {}
        if t.is_quantized:
            if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                scales, zeros = t.q_per_channel_scales(), t.q_per_channel_zero_points()
                info["axis"] = t.q_per_channel_axis()
            else:
                scales, zeros = torch.tensor([t.q_scale()]), torch.tensor([t.q_zero_point()])
            info["quantized"] = str(t.dtype)
            t = t.int_repr()  # int8 (weights) or uint8 (activations)
            out[f"{name}::scales"] = scales.float().contiguous()
            out[f"{name}::zero_points"] = zeros.to(t.dtype).contiguous()  # a zero point is one of the integers
        _encode(name, t, out, info)
        meta[name] = info
    write_atomic(path, lambda tmp: save_file(out, tmp, metadata={METADATA_KEY: json.dumps(meta)}))
    return path.stat().st_size


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a file written by `write_weights`, dense and in float (quantised ones dequantised)."""
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()[METADATA_KEY])
        stored = {k: f.get_tensor(k) for k in f.keys()}
    tensors = {}
    for name, info in meta.items():
        shape = info["shape"]
        if info.get("sparse"):
            values = stored[f"{name}::values"]
            n = int(np.prod(shape, dtype=np.int64))
            where = torch.from_numpy(np.unpackbits(stored[f"{name}::bitmask"].numpy(), count=n).astype(bool))
            t = torch.zeros(n, dtype=values.dtype)
            t[where] = values
            t = t.reshape(shape)
        else:
            t = stored[name]
        if "quantized" in info:
            scales, zeros = stored[f"{name}::scales"], stored[f"{name}::zero_points"].float()
            if "axis" in info:  # one scale per slice along the axis
                view = [1] * len(shape)
                view[info["axis"]] = -1
                scales, zeros = scales.reshape(view), zeros.reshape(view)
            t = (t.float() - zeros) * scales
        tensors[name] = t
    return tensors
