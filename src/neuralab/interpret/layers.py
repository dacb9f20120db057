"""Layers of a network by name, their outputs captured with forward hooks, and class scores: what every
interpretability method shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from neuralab.errors import UserError

MAX_LISTED = 30  # layer names an error message lists before pointing at `neuralab info`


def conv2d_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The 2-D convolutions of `model` as (name, module), in the order `named_modules` gives (definition order)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def layer_names(model: nn.Module) -> list[str]:
    """Every named sub-module, as `--layer` takes it (e.g. `features.3`)."""
    return [name for name, _ in model.named_modules() if name]


def _listing(model: nn.Module) -> str:
    names = layer_names(model)
    if len(names) <= MAX_LISTED:
        return ", ".join(names)
    convs = [name for name, _ in conv2d_layers(model)]
    shown = convs[:MAX_LISTED] if convs else names[:MAX_LISTED]
    return f"{', '.join(shown)} and {len(names) - len(shown)} more (neuralab info RECIPE shows every layer)"


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called `name`; a `UserError` listing the names there are otherwise."""
    module = dict(model.named_modules()).get(name) if name else None
    if module is None:
        raise UserError(f"--layer {name}: no such layer in this {type(model).__name__}; its layers: {_listing(model)}")
    return module


def require_conv(model: nn.Module, what: str) -> list[tuple[str, nn.Conv2d]]:
    """The model's 2-D convolutions; a `UserError` naming `what` needs one when there are none."""
    convs = conv2d_layers(model)
    if not convs:
        raise UserError(f"{what} needs a convolutional layer and this {type(model).__name__} has none "
                        "(saliency and occlusion work on any image classifier)")
    return convs


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in evaluation mode (dropout off, batch-norm running statistics), its modes restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


@contextmanager
def captured(layer: nn.Module) -> Iterator[list[torch.Tensor]]:
    """A list that receives `layer`'s output on every forward pass while the context is open (a forward hook)."""
    outputs: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _module, _inputs, output: outputs.append(output))  # returns None
    try:
        yield outputs
    finally:
        handle.remove()


def single_output(outputs: list, name: str) -> torch.Tensor:
    """The one tensor a layer produced in a forward pass; a `UserError` for a layer used twice or a tuple."""
    if len(outputs) != 1:
        raise UserError(f"--layer {name} runs {len(outputs)} times in one forward pass (a shared module); "
                        "choose a layer that runs once")
    if not isinstance(outputs[0], torch.Tensor):
        raise UserError(f"--layer {name} returns a {type(outputs[0]).__name__}, not one tensor; choose another layer")
    return outputs[0]


def class_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class scores (B, K) before the softmax. A single-logit binary model z becomes (0, z): its softmax is
    (1 - sigmoid(z), sigmoid(z)), the probabilities the model was trained to give."""
    out = model(x)
    return torch.cat([torch.zeros_like(out), out], -1) if out.shape[-1] == 1 else out


def default_spatial_layer(model: nn.Module, example: torch.Tensor, what: str) -> str:
    """The last 2-D convolution whose output map is larger than 1x1: Grad-CAM needs a map with a place in
    it (LeNet-5's last convolution, C5, has 1x1 outputs, so its default is C3)."""
    convs = require_conv(model, what)
    sizes: dict[str, tuple[int, ...]] = {}

    def record(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:  # None: the output is kept
            sizes.setdefault(name, tuple(output.shape[2:]))
        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in convs]
    try:
        with torch.no_grad(), evaluating(model):
            model(example[:1])
    finally:
        for handle in handles:
            handle.remove()
    spatial = [name for name, _ in convs if name in sizes and max(sizes[name]) > 1]
    return (spatial or [convs[-1][0]])[-1]
