"""benchmarks/torchvision_mnist.py, the per-example loading the pytorch/examples peers read their data through:
it must hand out what torchvision's MNIST + ToTensor (+ Normalize) would, from the same uint8 images."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from torchvision_mnist import MNIST_MEAN, MNIST_STD, TorchvisionMNIST, normalize_image  # noqa: E402


@pytest.fixture
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8, generator=g), torch.tensor([3, 1, 4, 1, 5])


def test_to_tensor_gives_the_image_over_255_in_channel_first_floats(digits) -> None:
    images, labels = digits
    data = TorchvisionMNIST(images, labels, normalize=False)
    x, y = data[2]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and isinstance(y, int) and y == 4
    assert torch.equal(x[0], images[2].float() / 255)


def test_normalize_subtracts_the_mean_and_divides_by_the_std_without_touching_its_input(digits) -> None:
    images, labels = digits
    x, _ = TorchvisionMNIST(images, labels)[0]
    assert torch.allclose(x[0], (images[0].float() / 255 - MNIST_MEAN[0]) / MNIST_STD[0], atol=1e-6)
    plain = images[0].float()[None] / 255
    before = plain.clone()
    normalize_image(plain, MNIST_MEAN, MNIST_STD)
    assert torch.equal(plain, before)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        normalize_image(plain, (0.0,), (0.0,))


def test_a_data_loader_collates_batches_as_the_examples_read_them(digits) -> None:
    images, labels = digits
    x, y = next(iter(DataLoader(TorchvisionMNIST(images, labels, normalize=False), batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and torch.equal(y, labels[:4])
    assert torch.equal(x[:, 0], images[:4].float() / 255)
