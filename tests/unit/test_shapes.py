"""Conv/pool arithmetic (curriculum C1) against what torch's layers actually produce."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from neuralab.errors import UserError
from neuralab.flops import layer_table
from neuralab.models.cnn.lenet5 import LeNet5, LeNet5Config
from neuralab.nn.shapes import ShapeError, conv_output_size, output_shape, trace_shapes, window_fits

GRID = list(itertools.product(range(1, 12), range(1, 6), range(1, 4), range(3), range(1, 3)))


def _torch_size(layer: nn.Module, size: int) -> int:
    """Output height torch gives for an input of height `size` (0 when torch refuses the input)."""
    try:
        with torch.no_grad():
            return layer(torch.zeros(1, 1, size, 3)).shape[2]
    except RuntimeError:
        return 0


def test_the_formula_matches_conv2d_over_a_grid_of_sizes():
    checked = 0
    for size, k, s, p, d in GRID:
        conv = nn.Conv2d(1, 1, (k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1), bias=False)
        expected = _torch_size(conv, size)
        assert max(conv_output_size(size, k, s, p, d), 0) == expected, (size, k, s, p, d)
        checked += expected > 0
    assert checked > 500  # most of the grid fits: the comparison is not between two refusals


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_the_formula_matches_max_and_average_pooling_with_floor_and_ceil(ceil_mode):
    for size, k, s, p, d in GRID:
        if p > k // 2:
            continue  # torch allows padding up to half the window only
        pool = nn.MaxPool2d((k, 1), (s, 1), (p, 0), dilation=(d, 1), ceil_mode=ceil_mode)
        assert max(conv_output_size(size, k, s, p, d, ceil_mode), 0) == _torch_size(pool, size), (size, k, s, p, d)
        if d == 1:
            avg = nn.AvgPool2d((k, 1), (s, 1), (p, 0), ceil_mode=ceil_mode)
            assert max(conv_output_size(size, k, s, p, 1, ceil_mode), 0) == _torch_size(avg, size)


def test_the_course_example_w2_is_w1_plus_2p_minus_k_over_s_plus_1():
    assert conv_output_size(227, 11, 4) == 55  # AlexNet's first layer as usually quoted
    assert conv_output_size(32, 5, 1, 2) == 32  # "same" padding for a 5x5 kernel
    assert conv_output_size(110, 3, 2, ceil_mode=True) == 55  # ZFNet's Caffe-style pooling


def test_a_window_larger_than_its_input_is_named_with_the_sizes():
    net = nn.Sequential(nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(4, 4, 3))
    assert output_shape(net, (1, 12, 12)) == (4, 1, 1)
    with pytest.raises(ShapeError, match=r"^2 \(MaxPool2d k=3 s=2\): input 2x2 is smaller than its 3x3 window"):
        trace_shapes(net, (1, 6, 6))
    assert issubclass(ShapeError, UserError)  # the CLI prints it as one line
    with pytest.raises(ShapeError, match="input 4x4 is smaller than its 5x5 window"):  # dilation 2 reaches 5
        window_fits("c", nn.Conv2d(1, 1, 3, dilation=2), (1, 1, 4, 4))


def test_trace_reports_every_layer_without_computing():
    rows = trace_shapes(LeNet5(LeNet5Config()), (1, 28, 28))
    outputs = {r.name: r.output for r in rows}
    assert outputs["features.0"] == (6, 28, 28) and outputs["features.2"] == (6, 14, 14)
    assert outputs["features.5"] == (16, 5, 5) and outputs["classifier.3"] == (10,)
    huge = nn.Conv2d(64, 64, 3, padding=1)
    example = torch.zeros(1, 1, 1, 1).expand(1, 64, 4096, 4096)  # a view: the 4 GB are never allocated
    [row] = layer_table(huge, example)  # counted from shapes: computing it would take minutes and 4 GB more
    assert row.output == (64, 4096, 4096) and row.macs == 4096 ** 2 * 64 * 64 * 9


class _PackedReader(nn.Module):
    """Word vectors read by an LSTM over packed sequences (as the tweet classifiers read texts), then a linear head:
    packing refuses an empty batch."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(20, 4), nn.LSTM(4, 6, batch_first=True), nn.Linear(6, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((len(tokens),), tokens.shape[1])
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(tokens), lengths, batch_first=True)
        _, (h, _) = self.lstm(packed)
        return self.head(h[-1])


class _LatentReshape(nn.Module):
    """A generator's first layer: a code projected and reshaped with an inferred axis, which an empty batch leaves
    undetermined."""

    def __init__(self) -> None:
        super().__init__()
        self.project, self.conv = nn.Linear(5, 8 * 3 * 3), nn.Conv2d(8, 2, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv(self.project(z).view(len(z), -1, 3, 3))


def test_a_model_that_cannot_take_an_empty_batch_is_traced_on_one_example():
    rows = {r.name: r for r in trace_shapes(_PackedReader(), (7,), torch.long)}
    assert list(rows) == ["embed", "lstm", "head"]  # the LSTM over packed sequences is listed with its sizes
    assert (rows["embed"].output, rows["lstm"].input, rows["lstm"].output, rows["head"].output) == \
        ((7, 4), (4,), (6,), (3,))
    assert output_shape(_LatentReshape(), (5,)) == (2, 1, 1)
    with pytest.raises(ShapeError, match="smaller than its 3x3 window"):  # a window that does not fit still says so
        trace_shapes(nn.Sequential(nn.Linear(5, 8), nn.Unflatten(1, (2, 2, 2)), nn.Conv2d(2, 1, 3)), (5,))
