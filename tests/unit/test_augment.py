"""Batched augmentations: shape and dtype kept, seeded, effective, exact identities, no per-example loops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from neuralab.errors import UserError
from neuralab.methods import augment
from neuralab.methods.augment import AUGMENTATIONS, Augmenter


def images(b: int = 8, c: int = 1, h: int = 12, w: int = 10) -> torch.Tensor:
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(1))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_keeps_shape_and_dtype_changes_inputs_and_is_seeded(name):
    x = images(c=3)
    out = AUGMENTATIONS[name](x, gen(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.allclose(out, x), f"{name} left the batch unchanged"
    assert torch.equal(out, AUGMENTATIONS[name](x, gen(0)))  # same generator state -> same batch
    assert not torch.equal(out, AUGMENTATIONS[name](x, gen(1)))


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_examples_get_their_own_random_draw(name):
    x = images(b=1).repeat(16, 1, 1, 1)  # 16 copies of one image
    out = AUGMENTATIONS[name](x, gen(0))
    assert len({tuple(o.flatten().tolist()) for o in out}) >= 2  # not one transform for the whole batch


def test_flip_twice_is_identity_and_flip_mirrors_columns():
    x = images()
    once = augment.flip(x, gen(), p=1.0)
    assert torch.equal(once[..., 0], x[..., -1])
    assert torch.equal(augment.flip(once, gen(), p=1.0), x)
    assert torch.equal(augment.flip(x, gen(), p=0.0), x)


def test_zero_magnitude_is_identity():
    x = images()
    torch.testing.assert_close(augment.shift(x, gen(), max_fraction=0.0), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(augment.rotate(x, gen(), max_degrees=0.0), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(augment.noise(x, gen(), std=0.0), x)


def test_crop_returns_a_window_of_the_border_padded_image():
    x = images(b=6)
    out = augment.crop(x, gen(3), pad_fraction=0.25)
    pad = round(0.25 * 10)
    padded = F.pad(x, (pad,) * 4, mode="replicate")
    offsets = [(t, left) for t in range(2 * pad + 1) for left in range(2 * pad + 1)]
    for b in range(len(x)):
        assert any(torch.equal(out[b], padded[b, :, t:t + 12, left:left + 10]) for t, left in offsets)


def test_rotation_by_90_degrees_matches_rot90():
    x = images(b=4, h=9, w=9)
    theta = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]).repeat(4, 1, 1)
    torch.testing.assert_close(augment._warp(x, theta), torch.rot90(x, 1, (2, 3)), atol=1e-5, rtol=0)


def test_noise_has_the_documented_standard_deviation():
    x = torch.zeros(64, 1, 28, 28)
    assert abs(float(augment.noise(x, gen()).std()) - augment.NOISE_STD) < 0.005


class CountCalls(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_torch_calls_do_not_grow_with_the_batch_so_there_is_no_loop_over_examples(name):
    counts = []
    for b in (2, 64):
        with CountCalls() as mode:
            AUGMENTATIONS[name](images(b=b), gen())
        counts.append(mode.calls)
    assert counts[0] == counts[1] > 0


def test_augmenter_applies_names_in_order_and_resumes_from_its_state():
    x = images()
    a = Augmenter(("shift", "noise"), (1, 12, 10), seed=5)
    first = a(x)
    state = a.state_dict()
    second = a(x)
    b = Augmenter(("shift", "noise"), (1, 12, 10), seed=99)
    b.load_state_dict(state)
    assert torch.equal(b(x), second)
    assert not torch.equal(first, second)
    g = gen(5)
    torch.testing.assert_close(first, augment.noise(augment.shift(x, g), g))


def test_augmenter_refuses_image_augmentations_of_feature_vectors():
    with pytest.raises(UserError, match="rotate needs images"):
        Augmenter(("rotate",), (2,), seed=0)
    assert Augmenter(("noise",), (2,), seed=0)(torch.zeros(4, 2)).shape == (4, 2)
