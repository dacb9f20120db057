"""torchvision's MNIST dataset with `ToTensor` (and `Normalize`) as the pytorch/examples peers read it, one example
at a time, written out step by step because torchvision cannot be installed beside this torch build.

What torchvision does per example, and so what `TorchvisionMNIST` does (torchvision's datasets/mnist.py
`MNIST.__getitem__`, transforms/transforms.py `Compose`, `ToTensor`, `Normalize`, transforms/functional.py
`to_tensor`, `normalize`, transforms/_functional_tensor.py `normalize`, utils.py `_log_api_usage_once`):

- index the uint8 image tensor (N, 28, 28) and the int64 label tensor, `int()` of the label;
- `PIL.Image.fromarray(image.numpy(), mode="L")`;
- each transform in turn (`Compose`), each function first logging its API use through
  `torch._C._log_api_usage_once`; `Normalize` is a module, so its call goes through `nn.Module.__call__`;
- ToTensor: check that it is a PIL image, `np.array(pic, uint8, copy=True)`, view as (H, W, bands), permute to
  (C, H, W), make contiguous, convert to the default float type, divide by 255;
- Normalize: check that it is a float image tensor, clone it, make mean and std tensors, check that no std is 0, view
  them as (C, 1, 1), subtract and divide in place.

An earlier version of this file did only the PIL round trip, the float conversion and the arithmetic, from numpy
arrays: 18.5 us an example against 26 us for these steps on an Intel Xeon (2026-12-02), in the peer's favour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)  # the normalisation pytorch/examples' mnist/main.py uses


def _log_api_usage(name: str) -> None:
    """What torchvision's functional transforms do first, outside TorchScript."""
    if not torch.jit.is_scripting() and not torch.jit.is_tracing():
        torch._C._log_api_usage_once(f"torchvision.transforms.functional.{name}")


def to_tensor(pic: Image.Image) -> torch.Tensor:
    """torchvision's `ToTensor` on a PIL image: (H, W) uint8 -> (C, H, W) float in [0, 1]."""
    _log_api_usage("to_tensor")
    if not isinstance(pic, Image.Image):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    # MNIST's images are all mode "L"; the mode lookups stay because torchvision makes them for every example.
    dtype = torch.get_default_dtype()
    modes = {"I": np.int32, "I;16": np.int16, "F": np.float32}
    img = torch.from_numpy(np.array(pic, modes.get(pic.mode, np.uint8), copy=True))
    if pic.mode == "1":
        img = 255 * img
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))  # (H, W, C)
    img = img.permute((2, 0, 1)).contiguous()  # (C, H, W)
    return img.to(dtype=dtype).div(255) if isinstance(img, torch.ByteTensor) else img


def normalize_image(tensor: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """torchvision's `Normalize` on a (C, H, W) float tensor, not in place."""
    _log_api_usage("normalize")
    if not isinstance(tensor, torch.Tensor) or tensor.ndim < 3 or not tensor.is_floating_point():
        raise TypeError("expected a float tensor image (C, H, W)")
    tensor = tensor.clone()
    mean_t = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std_t = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if (std_t == 0).any():
        raise ValueError("std evaluated to zero, leading to division by zero")
    return tensor.sub_(mean_t.view(-1, 1, 1)).div_(std_t.view(-1, 1, 1))


class Normalize(nn.Module):
    """torchvision's `Normalize` transform, a module (so each call goes through `nn.Module.__call__`)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return normalize_image(tensor, self.mean, self.std)


class TorchvisionMNIST(Dataset):
    """`datasets.MNIST(..., transform=ToTensor())`, or `Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])`
    when `normalize`: each example built as torchvision builds it, from the same uint8 tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, normalize: bool = True) -> None:
        self.data, self.targets = images, labels  # (N, 28, 28) uint8, (N,) int64, as torchvision holds them
        self.transforms: list[Callable] = [to_tensor]
        if normalize:
            self.transforms.append(Normalize(MNIST_MEAN, MNIST_STD))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")
        for transform in self.transforms:  # Compose
            img = transform(img)
        return img, target
