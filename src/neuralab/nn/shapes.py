"""Convolution and pooling arithmetic (curriculum C1): the output-size rule, and every layer's output shape
for a given input, found without computing anything.

Along each spatial axis a convolution or pooling window of size K, stride S, zero padding P and dilation D
turns W1 positions into

    W2 = floor((W1 + 2P - D(K - 1) - 1) / S) + 1      (= (W1 + 2P - K) / S + 1 when D = 1 and S divides),

as torch computes it. `trace_shapes` runs the model once on a batch of zero examples (torch propagates and
checks every shape but computes nothing, so a VGG-16 at 224x224 costs a millisecond) and checks every window
against its padded input before torch sees it: a configuration that cannot fit fails with one line naming
the layer and the sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from neuralab.errors import UserError

WINDOWED = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Positions along one axis after a convolution or pooling window (torch's rule, 0 or less: no fit).

    With `ceil_mode` (pooling) the division rounds up, but a last window that would start in the right
    padding is dropped, as torch does.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


class ShapeError(UserError):
    """A layer whose window does not fit its input: the model cannot run at this input size."""


@dataclass(frozen=True)
class LayerShape:
    name: str  # dotted module name, e.g. features.3
    kind: str  # class name, e.g. Conv2d
    input: tuple[int, ...]  # per example, without the batch axis: (C, H, W)
    output: tuple[int, ...]


def _per_axis(value: int | str | Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, Sequence) else (value,) * n


def _text(values: tuple[int, ...]) -> str:
    """3 for (3, 3), 3x5 for (3, 5)."""
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def describe_window(module: nn.Module) -> str:
    """A convolution or pooling layer in short, e.g. `Conv2d k=11 s=4 p=2` or `MaxPool2d k=3 s=2 ceil`."""
    n = len(module.kernel_size) if isinstance(module.kernel_size, Sequence) else 1
    parts = [type(module).__name__, f"k={_text(_per_axis(module.kernel_size, n))}"]
    for key, attr, default in (("s", "stride", 1), ("p", "padding", 0), ("d", "dilation", 1)):
        value = getattr(module, attr, default)
        if isinstance(value, str):
            parts.append(f"{key}={value}")
        elif _per_axis(value, n) != (default,) * n:
            parts.append(f"{key}={_text(_per_axis(value, n))}")
    if getattr(module, "ceil_mode", False):
        parts.append("ceil")
    return " ".join(parts)


def window_fits(name: str, module: nn.Module, shape: Sequence[int]) -> tuple[int, ...]:
    """The spatial output sizes of a conv/pool `module` on an input of `shape` (B, C, *spatial); raises
    `ShapeError` naming the layer when its window is larger than the padded input along some axis."""
    spatial = tuple(shape[2:])
    n = len(spatial)
    kernel, stride = _per_axis(module.kernel_size, n), _per_axis(module.stride, n)
    padding = getattr(module, "padding", 0)
    dilation = _per_axis(getattr(module, "dilation", 1), n)
    ceil_mode = getattr(module, "ceil_mode", False)
    if isinstance(padding, str):  # "same" keeps the size, "valid" is no padding
        if padding == "same":
            return spatial
        padding = 0
    padding = _per_axis(padding, n)
    out = tuple(conv_output_size(*args, ceil_mode) for args in zip(spatial, kernel, stride, padding, dilation,
                                                                   strict=True))
    if min(out) < 1:
        reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
        raise ShapeError(f"{name} ({describe_window(module)}): input {'x'.join(map(str, spatial))} is smaller "
                         f"than its {'x'.join(map(str, reach))} window (padding {_text(padding)}), so it has no output")
    return out


def trace_shapes(model: nn.Module, input_shape: Sequence[int],
                 dtype: torch.dtype = torch.float32) -> list[LayerShape]:
    """Input and output shape of every leaf layer, in the order they run, for one example of `input_shape`
    (without the batch axis; `dtype` for inputs that are indices). Runs on zero examples where the model takes
    them (no arithmetic, no memory for activations), else on one. Raises `ShapeError` at the first convolution or
    pooling window that does not fit its input."""
    return _trace(model, input_shape, dtype)[0]


def output_shape(module: nn.Module, input_shape: Sequence[int], prefix: str = "") -> tuple[int, ...]:
    """The shape (without the batch axis) `module` gives for one example of `input_shape`: how a network sizes
    the layer after its convolutional part. Raises `ShapeError` when some window does not fit, naming the
    layer `prefix.name` (`prefix`: where `module` sits in the network, e.g. "features")."""
    return _trace(module, input_shape, torch.float32, prefix)[1]


def has_windows(model: nn.Module) -> bool:
    """True when `model` has a convolution or pooling layer whose fit depends on the input size."""
    return any(isinstance(m, WINDOWED) for m in model.modules())


def _tensor(value: object) -> object:
    """A packed sequence's steps (total steps, features): a recurrent layer over packed sequences is listed with
    its feature sizes; anything else as it is."""
    return value.data if isinstance(value, PackedSequence) else value


def _trace(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype,
           prefix: str = "") -> tuple[list[LayerShape], tuple[int, ...]]:
    shapes: list[LayerShape] = []
    hooks = []

    def before(name: str):
        def fn(module: nn.Module, args: tuple) -> None:
            if args and isinstance(args[0], torch.Tensor):
                where = ".".join(p for p in (prefix, name) if p) or type(module).__name__
                window_fits(where, module, args[0].shape)
        return fn

    def after(name: str):
        def fn(module: nn.Module, args: tuple, output: object) -> None:
            out = _tensor(output[0] if isinstance(output, tuple) else output)
            x = _tensor(args[0]) if args else None
            if isinstance(out, torch.Tensor) and isinstance(x, torch.Tensor):
                shapes.append(LayerShape(name, type(module).__name__, tuple(x.shape[1:]), tuple(out.shape[1:])))
        return fn

    for name, module in model.named_modules():
        if isinstance(module, WINDOWED):
            hooks.append(module.register_forward_pre_hook(before(name)))
        if not list(module.children()):
            hooks.append(module.register_forward_hook(after(name)))
    # A batch of zero examples: torch checks and propagates every shape but computes nothing (a meta-device
    # pass would too, but its first use imports torch's meta kernels, seconds on a loaded machine). A forward pass
    # that cannot take an empty batch (packing sequences, a reshape with an inferred axis) runs on one example.
    param = next(model.parameters(), None)
    device = None if param is None else param.device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            try:
                out = model(torch.empty(0, *input_shape, dtype=dtype, device=device))
            except RuntimeError:  # torch's refusal; a window that does not fit is a ShapeError and propagates
                shapes.clear()
                out = model(torch.zeros(1, *input_shape, dtype=dtype, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out = out[0] if isinstance(out, tuple) else out
    return shapes, tuple(out.shape[1:])
