"""Post-training static int8 quantisation (Jacob et al., "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference", 2018) with PyTorch's eager-mode `torch.ao.quantization`.

Why torch.ao and not the `torchao` package: measured on 2026-11-30 with torch 2.13.0+cpu (AVX-512 CPU),
PyPI `torchao` 0.18.0 installs, but its compiled extensions fail to load on Python 3.11, its int8 tensors
(`Int8WeightOnlyConfig`, `Int8DynamicActivationInt8WeightConfig`) have no convolution (LeNet-5 fails with
"unimplemented operator aten.convolution") and its int8 Linear ran slower than fp32 (2.2 and 3.4 ms against
1.8 ms for a 784-512-256-10 MLP at batch 256, one thread): on this CPU build it emulates, it does not
speed up. `torch.ao.quantization` is marked deprecated in favour of torchao (it warns so) but still ships in
2.13 with real int8 kernels for convolutions and linear layers (fbgemm/oneDNN behind the `x86` engine).

Static quantisation (not dynamic): dynamic quantisation covers only linear layers, so it would leave
LeNet-5's convolutions in fp32. Static quantisation stores every conv/linear weight as int8 with one scale
per output channel (symmetric, so a pruned zero stays exactly zero) and runs activations as uint8 with
scales fixed by observers (histograms) on calibration batches from the training set. Conv/linear + ReLU
pairs are fused first, as fbgemm runs them in one kernel. Eager mode needs an architecture made of modules
that quantised kernels cover: a residual addition written as `x + y` needs FX or pt2e quantisation instead,
and such a model is refused with one line.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.ao.quantization as tq
from torch import nn

from neuralab.errors import UserError

ENGINES = ("x86", "fbgemm", "qnnpack")  # in order of preference; qnnpack is the ARM one
FUSABLE = ((nn.Conv2d, nn.BatchNorm2d, nn.ReLU), (nn.Conv2d, nn.BatchNorm2d), (nn.Conv2d, nn.ReLU),
           (nn.Conv1d, nn.ReLU), (nn.Linear, nn.ReLU))


def engine() -> str:
    """The quantised backend this CPU build offers, preferring x86 (fbgemm + oneDNN)."""
    supported = torch.backends.quantized.supported_engines
    for name in ENGINES:
        if name in supported:
            return name
    raise UserError(f"this PyTorch build has no int8 CPU backend (engines: {', '.join(supported)})")


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch.ao's deprecation notices and its observer's reduce_range note (said once, in the docs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*reduce_range.*")
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*deprecated.*")
        yield


def fusable_groups(model: nn.Module) -> list[list[str]]:
    """Names of consecutive (conv|linear[, batch norm][, ReLU]) children of every nn.Sequential, longest first."""
    groups = []
    for prefix, seq in model.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        i = 0
        while i < len(names):
            for pattern in FUSABLE:
                window = [seq._modules[n] for n in names[i:i + len(pattern)]]
                if len(window) == len(pattern) and all(type(m) is t for m, t in zip(window, pattern, strict=True)):
                    groups.append([f"{prefix}.{n}" if prefix else n for n in names[i:i + len(pattern)]])
                    i += len(pattern) - 1
                    break
            i += 1
    return groups


def quantize_int8(model: nn.Module, calibration: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """An int8 copy of `model` (evaluation mode, CPU): fused, observed on `calibration` inputs, converted.

    The copy takes float inputs and returns float outputs (quantise and dequantise stubs around the model)."""
    name = engine()
    torch.backends.quantized.engine = name  # the converted model runs on the engine it was packed for
    with _quiet():
        float_model = copy.deepcopy(model).cpu().eval()
        groups = fusable_groups(float_model)
        if groups:
            tq.fuse_modules(float_model, groups, inplace=True)
        wrapped = tq.QuantWrapper(float_model)
        wrapped.qconfig = tq.get_default_qconfig(name)
        prepared = tq.prepare(wrapped)
        with torch.no_grad():
            for chunk in calibration.cpu().split(batch_size):
                prepared(chunk)
        quantized = tq.convert(prepared)
        try:
            with torch.no_grad():
                quantized(calibration[:2].cpu())
        except NotImplementedError as exc:
            first = str(exc).strip().splitlines()[0]
            raise UserError(f"{type(model).__name__}: eager-mode int8 quantisation cannot run this architecture "
                            f"({first}); use --quantize none") from None
    return quantized
