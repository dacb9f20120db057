"""The deep belief net's greedy stacking, phases and classifier, on a tiny 6-5-4-3 net with 3 classes."""

import copy

import pytest
import torch
import torch.nn.functional as F

from neuralab.contracts import RunContext
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.methods.contrastive_divergence import cd_gradients
from neuralab.methods.dbn import GreedyPretraining, GreedyPretrainingConfig
from neuralab.models.energy.dbn import DBN, DBNConfig

N, BATCH, CLASSES = 40, 10, 3  # 4 steps per epoch: with one epoch per RBM the phases end at steps 4, 8 and 12
TOTAL = 16


def _data() -> SupervisedData:
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(N, 1, 2, 3, generator=g), torch.randint(CLASSES, (N,), generator=g)
    meta = DataMeta("images", [1, 2, 3], CLASSES, [str(i) for i in range(CLASSES)])
    return SupervisedData((x, y), (x[:12], y[:12]), meta, batch_size=BATCH, seed=0)


def _method(pretrain: bool = True, seed: int = 0) -> GreedyPretraining:
    torch.manual_seed(seed)
    model = DBN(DBNConfig(in_features=6, hidden=(5, 4, 3), num_classes=CLASSES, init_std=0.3))
    cfg = GreedyPretrainingConfig(pretrain=pretrain, pretrain_epochs=1, cd_lr=0.1, lr=0.05, gibbs_steps=5)
    ctx = RunContext(total_steps=TOTAL, device=torch.device("cpu"), seed=0, run_dir=None)
    return GreedyPretraining(cfg, model, _data(), ctx)


def _params(method: GreedyPretraining) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in method.model.state_dict().items()}


def _run(method: GreedyPretraining, steps: int) -> None:
    """`steps` training steps, evaluating at the end of every epoch as the engine does."""
    for _ in range(steps):
        method.step(method.data.next_batch())
        if method.steps % 4 == 0:
            method.evaluate()


def test_the_phases_split_the_run_into_one_block_per_rbm_then_fine_tuning():
    method = _method()
    assert [method.phase(s) for s in (0, 3, 4, 7, 8, 11, 12, 15)] == [0, 0, 1, 1, 2, 2, None, None]
    assert [_method(pretrain=False).phase(s) for s in (0, 15)] == [None, None]


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_each_rbm_takes_a_cd_step_on_the_hidden_probabilities_of_the_rbms_below(layer):
    """The first step of RBM `layer` equals one CD-1 momentum step computed by hand from the binarised batch pushed
    through the RBMs below by their `hidden_probs` (and joined with the one-hot labels at the top, whose persistent
    chains start at the data)."""
    method = _method()
    _run(method, 4 * layer)  # to the start of the layer's phase
    data_state, rng = method.data.state_dict(), torch.get_rng_state()
    before = copy.deepcopy(method.model)
    rbm = before.rbms[layer]
    method.step(method.data.next_batch())

    method.data.load_state_dict(data_state)
    torch.set_rng_state(rng)
    x, y = method.data.next_batch()
    v = torch.bernoulli(x.flatten(1))
    for below in before.rbms[:layer]:
        v = below.hidden_probs(v)
    if layer == 2:
        v = torch.cat([v, F.one_hot(y, CLASSES).float()], 1)
        v_model = before.top_gibbs(v, 1)  # the label units a softmax group
    else:
        v_model = rbm.gibbs(v, 1)
    with torch.no_grad():
        cd_gradients(rbm, v, v_model)
        wd, lr = method.cfg.cd_weight_decay, method.cfg.top_lr if layer == 2 else method.cfg.cd_lr
        rbm.weight -= lr * (rbm.weight.grad + wd * rbm.weight)  # first momentum step: the gradient
        rbm.visible_bias -= lr * rbm.visible_bias.grad
        rbm.hidden_bias -= lr * rbm.hidden_bias.grad
    for name, p in rbm.named_parameters():
        torch.testing.assert_close(getattr(method.model.rbms[layer], name), p, msg=name)


def test_pretraining_changes_only_the_current_rbm_and_fine_tuning_only_the_classifier():
    method = _method()
    groups = {"rbm1": "rbms.0.", "rbm2": "rbms.1.", "rbm3": "rbms.2.", "classifier": ("layers.", "head.")}
    # the classifier changes in RBM 3's phase too: its last step copies the RBMs into it
    for expected in ({"rbm1"}, {"rbm2"}, {"rbm3", "classifier"}, {"classifier"}):
        before = _params(method)
        _run(method, 4)
        after = _params(method)
        moved = {group for group, prefix in groups.items()
                 if any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))}
        assert moved == expected


def test_the_last_pretraining_step_copies_the_rbms_into_the_classifier_whose_up_pass_is_their_hidden_probs_chain():
    method = _method()
    _run(method, 12)
    model = method.model.eval()
    x = torch.rand(7, 6)
    h = x
    for rbm in model.rbms[:-1]:
        h = rbm.hidden_probs(h)
    top = model.top
    h_top = top.hidden_probs(torch.cat([h, torch.zeros(7, CLASSES)], 1))  # the label units off
    # P(label | h_top) of the associative memory, from its energy over the K one-hot label states
    features = torch.zeros(CLASSES, 4)
    energies = torch.stack([top.energy(torch.cat([features, torch.eye(CLASSES)], 1), h_top[i].expand(CLASSES, -1))
                            for i in range(7)])  # (7, K); the feature term is the same for every label
    with torch.no_grad():
        torch.testing.assert_close(model(x).softmax(1), (-energies).softmax(1))


def test_random_initialisation_fine_tunes_from_the_first_step_and_leaves_the_rbms_alone():
    method = _method(pretrain=False)
    before = _params(method)
    _run(method, 3)
    after = _params(method)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("rbms."))
    assert not torch.equal(before["head.weight"], after["head.weight"])


@pytest.mark.parametrize("stop", [3, 4, 8, 10, 12, 13])  # 10: the persistent chains are running
def test_a_run_killed_at_or_around_a_phase_boundary_resumes_bit_for_bit(stop):
    whole = _method()
    torch.manual_seed(5)
    _run(whole, TOTAL)

    killed = _method()
    torch.manual_seed(5)
    _run(killed, stop)
    saved = copy.deepcopy({"method": killed.state_dict(), "data": killed.data.state_dict(),
                           "rng": torch.get_rng_state()})
    resumed = _method(seed=9)  # built afresh, differently initialised, then loaded
    resumed.load_state_dict(saved["method"])
    resumed.data.load_state_dict(saved["data"])
    torch.set_rng_state(saved["rng"])
    _run(resumed, TOTAL - stop)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert resumed.recon_errors == whole.recon_errors and len(whole.recon_errors) == 3


def test_draw_is_seeded_shaped_like_the_data_and_refuses_an_unknown_label():
    method = _method()
    _run(method, 12)
    a = method.draw(6, label=2, seed=1)
    assert a.images.shape == (6, 1, 2, 3) and 0 <= a.images.min() and a.images.max() <= 1
    assert torch.equal(a.images, method.draw(6, label=2, seed=1).images)
    assert not torch.equal(a.images, method.draw(6, label=2, seed=2).images)
    walk = method.draw(16, interpolate=True)
    assert walk.images.shape[0] == 16 and walk.nrow == 8
    with pytest.raises(UserError, match="--label 3"):
        method.draw(4, label=CLASSES)


def test_the_associative_memory_carries_its_chains_over_and_decays_its_rate_to_the_phase_end():
    method = _method()
    _run(method, 9)  # one step into the top RBM's phase (steps 8-11)
    chains = method.chains.clone()
    _run(method, 3)
    assert not torch.equal(chains, method.chains)
    assert method.cd_optimizers[2].param_groups[0]["lr"] == pytest.approx(method.cfg.top_lr / 4)
    labels = method.chains[:, 4:]  # one softmax group: exactly one label unit on in every chain
    assert torch.equal(labels.sum(1), torch.ones(BATCH)) and set(labels.unique().tolist()) == {0.0, 1.0}
