"""Counting operations (curriculum H2; notes 002 chapter 6): parameters, multiply-adds per layer, and the
FLOPs of a forward/backward pass by operation type.

Multiply-adds of matrix products and convolutions use torch's own formulas
(`torch.utils.flop_counter.flop_registry`, 2 FLOPs per multiply-add); every other arithmetic op is counted
as one FLOP per element it produces (pointwise ops) or reads (reductions, pooling, softmax). Views,
copies and memory ops count zero. The share of multiply-add FLOPs reproduces the notes' claim that
more than 90% of a network's operations are multiplications and additions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from neuralab.contracts import auxiliary_loss
from neuralab.nn.shapes import trace_shapes

# Non-pointwise ops that still do arithmetic on every element they read.
_READ_COUNTED = ("sum", "mean", "softmax", "log_softmax", "pool", "norm", "nll_loss", "amax", "max", "var",
                 "std", "_backward_data")


@dataclass
class LayerCount:
    name: str
    kind: str
    params: int
    macs: int  # multiply-adds of one forward pass of one example
    output: tuple[int, ...] = ()  # the layer's output shape for one example, without the batch axis
    input: tuple[int, ...] = ()


def layer_table(model: nn.Module, example: torch.Tensor) -> list[LayerCount]:
    """Parameters, forward multiply-adds and output shape per leaf layer, for one example of `example`'s
    shape. Counted from the shapes alone (a pass over zero examples, `neuralab.nn.shapes`): free at any input size."""
    modules = dict(model.named_modules())
    rows: list[LayerCount] = []
    for layer in trace_shapes(model, tuple(example.shape[1:]), example.dtype):
        module = modules[layer.name]
        per_example = math.prod(layer.output)
        if isinstance(module, nn.Linear):
            macs = per_example * module.in_features
        elif isinstance(module, nn.modules.conv._ConvNd):
            macs = per_example * math.prod(module.kernel_size) * module.in_channels // module.groups
        else:
            macs = 0
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerCount(layer.name, layer.kind, params, macs, layer.output, layer.input))
    return rows


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.by_op: dict[str, int] = defaultdict(int)
        self.multiply_add = 0
        self.other = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        name = packet.__name__
        if packet in flop_registry:
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            self.multiply_add += flops
        elif torch.Tag.pointwise in func.tags:
            flops = sum(t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor))
            self.other += flops
        elif any(key in name for key in _READ_COUNTED):
            flops = sum(t.numel() for t in tree_flatten(args)[0] if isinstance(t, torch.Tensor))
            self.other += flops
        else:
            flops = 0
        if flops:
            self.by_op[name] += flops
        return out


@dataclass
class FlopReport:
    by_op: dict[str, int]
    multiply_add: int
    other: int
    backward: bool = True  # False: the forward pass alone (a model with nothing to backpropagate into)

    @property
    def total(self) -> int:
        return self.multiply_add + self.other

    @property
    def multiply_add_share(self) -> float:
        return self.multiply_add / max(self.total, 1)


def count_training_flops(model: nn.Module, x: torch.Tensor | tuple[torch.Tensor, ...],
                         y: torch.Tensor | None = None) -> FlopReport:
    """FLOPs of one forward + backward pass of `model` on batch `x` (B, ...), or on the inputs of a model that takes
    several (a tuple: source and target tokens, a code and a label): cross-entropy against the labels `y`
    (B,) when given, over axis 1 of the logits (B, K, ...) with each label repeated over the other axes (a tagger's
    positions, a detector's anchors), else the mean square of the outputs. A model whose outputs do not depend on
    any trainable parameter (Hebbian, closed-form and tabular models) is counted for its forward pass alone."""
    counter = _OpCounter()
    with counter:
        def objective(out: torch.Tensor) -> torch.Tensor:
            if y is None:
                return out.pow(2).mean()
            return nn.functional.cross_entropy(out, y.view(-1, *[1] * (out.dim() - 2)).expand(
                len(out), *out.shape[2:]))

        # auxiliary classifiers train too
        out, aux = auxiliary_loss(model(*x) if isinstance(x, tuple) else model(x), objective)
        loss = objective(out) if aux is None else objective(out) + aux
        backward = loss.requires_grad
        if backward:
            loss.backward()
    model.zero_grad(set_to_none=True)
    return FlopReport(dict(sorted(counter.by_op.items(), key=lambda kv: -kv[1])), counter.multiply_add, counter.other,
                      backward)
