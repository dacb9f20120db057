"""LeNet-5's paper layers (LeCun et al. 1998, section II.B): the C3 connection table of their Table I, the
trainable subsampling of S2/S4 and the Euclidean RBF output, each checked against what the paper defines."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuralab.models.cnn.lenet5 import LeNet5, LeNet5Config
from neuralab.models.cnn.lenet5_paper_layers import C3_TABLE, EuclideanRBF, SparseC3, TrainableSubsampling


def test_each_c3_map_depends_on_exactly_the_s2_maps_of_table_1():
    torch.manual_seed(0)
    c3 = SparseC3()
    x = torch.randn(1, 6, 10, 10, requires_grad=True)
    out = c3(x)  # (1, 16, 6, 6)
    assert out.shape == (1, 16, 6, 6)
    for j, inputs in enumerate(C3_TABLE):
        (grad,) = torch.autograd.grad(out[0, j].sum(), x, retain_graph=True)
        reads = {i for i in range(6) if grad[0, i].abs().sum() > 0}
        assert reads == set(inputs), j


def test_the_table_has_the_papers_60_connections_and_1516_parameters():
    assert sum(len(inputs) for inputs in C3_TABLE) == 60
    assert [len(inputs) for inputs in C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    assert sum(p.numel() for p in SparseC3().parameters()) == 60 * 25 + 16 == 1_516


def test_a_c3_map_is_the_sum_of_its_kernels_over_its_inputs():
    # Map 13 reads S2 maps 1, 2, 4 and 5: a plain convolution over those four channels with its own kernels.
    torch.manual_seed(0)
    c3 = SparseC3()
    x = torch.randn(2, 6, 9, 9)
    conv = c3.convs[c3.sizes.index(4)]
    row = [j for j, inputs in enumerate(C3_TABLE) if len(inputs) == 4].index(13)
    kernel = conv.weight[row].reshape(1, 4, 5, 5)
    expected = F.conv2d(x[:, [1, 2, 4, 5]], kernel, conv.bias[row:row + 1])
    torch.testing.assert_close(c3(x)[:, 13:14], expected)


def test_trainable_subsampling_is_coefficient_times_the_2x2_sum_plus_bias():
    s = TrainableSubsampling(3)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(s(x), F.avg_pool2d(x, 2))  # starts as average pooling
    with torch.no_grad():
        s.coefficient.copy_(torch.tensor([1.0, -2.0, 0.5]))
        s.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    sums = x.unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2))
    expected = sums * torch.tensor([1.0, -2.0, 0.5])[:, None, None] + torch.tensor([0.0, 1.0, -1.0])[:, None, None]
    torch.testing.assert_close(s(x), expected)


def test_rbf_logits_are_minus_squared_distances_to_fixed_plus_minus_one_codes():
    rbf = EuclideanRBF(84, 10)
    assert list(rbf.parameters()) == [] and set(rbf.codes.unique().tolist()) == {-1.0, 1.0}
    x = torch.randn(4, 84)
    torch.testing.assert_close(rbf(x), -torch.cdist(x, rbf.codes).pow(2), rtol=1e-4, atol=1e-3)
    assert rbf(rbf.codes[3:4]).argmax(1).item() == 3  # the code itself is nearest to its own class
    torch.testing.assert_close(EuclideanRBF(84, 10).codes, rbf.codes)  # the same codes in every run
    assert "classifier.3.codes" in LeNet5(LeNet5Config(output="rbf")).state_dict()  # saved with the weights


def test_the_paper_network_learns_a_batch():
    torch.manual_seed(0)
    model = LeNet5(LeNet5Config(c3="table", pool="trainable", output="rbf"))
    x, y = torch.randn(32, 1, 28, 28), torch.arange(32) % 10
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(x).argmax(1) == y).float().mean() == 1.0 and loss.item() < first / 4
