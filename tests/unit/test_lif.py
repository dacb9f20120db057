"""The leaky integrate-and-fire neuron against its closed forms: the exact rate of a constant current, the
rheobase, the refractory bound, and the spike-count rate."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from neuralab.data.currents import Currents, CurrentsConfig
from neuralab.models.neuro.lif import LIF, LIFConfig, lif_rate, rheobase, spike_count_rate
from neuralab.neuro.tuning import orientation_distance


def _constant(currents: torch.Tensor, ms: float, dt: float) -> torch.Tensor:
    return currents.to(torch.float64)[:, None].expand(-1, round(ms / dt)).contiguous()


def _mean_isi_rate(spikes: torch.Tensor, dt: float) -> torch.Tensor:
    """1 / mean inter-spike interval (Hz) of each train (B, T), from the first to the last spike."""
    rates = []
    for train in spikes:
        times = torch.nonzero(train).flatten().double() * dt
        rates.append(1000.0 * (len(times) - 1) / (times[-1] - times[0]))
    return torch.stack(rates)


def test_the_exact_rate_is_the_worked_example():
    # I = 2 nA: V_inf = -65 + 20 = -45 mV, period 2 + 10 ln(20 / 5) ms
    assert float(lif_rate(LIFConfig(), torch.tensor([2.0], dtype=torch.float64))) == \
        pytest.approx(1000 / (2 + 10 * math.log(4)))
    assert rheobase(LIFConfig()) == pytest.approx(1.5)


def test_the_simulated_f_i_curve_matches_the_exact_rate_within_the_discretisation_error():
    cfg, ms = LIFConfig(dt=0.1), 400.0
    currents = torch.linspace(0.0, 5.0, 41, dtype=torch.float64)
    rates = spike_count_rate(LIF(cfg)(_constant(currents, ms, cfg.dt)), cfg.dt)
    exact = lif_rate(cfg, currents)
    # counting spikes in T misses at most one period; a spike can fall up to a step late, and the leak's Euler
    # factor (1 - dt/tau) shortens the climb to threshold by about dt/2 per tau: two steps per period bound both
    bound = 1000.0 / ms + exact.pow(2) * 2 * cfg.dt / 1000.0
    assert ((rates - exact).abs() <= bound).all(), (rates - exact).abs().max()
    assert (rates[currents <= rheobase(cfg)] == 0).all()
    assert (rates[currents > rheobase(cfg) + 0.2] > 0).all()


def test_the_rate_error_shrinks_with_the_time_step():
    currents = torch.linspace(2.0, 5.0, 31, dtype=torch.float64)
    errors = []
    for dt in (0.2, 0.05):
        cfg = LIFConfig(dt=dt)
        rates = _mean_isi_rate(LIF(cfg)(_constant(currents, 200.0, dt)), dt)
        errors.append(float((rates - lif_rate(cfg, currents)).abs().mean()))
    # first order: a quarter of the step, about a quarter of the error (averaged over currents, since each period is
    # a whole number of steps and one current's error jumps about as dt changes)
    assert errors[1] < errors[0] / 3, errors


def test_the_measured_rheobase_is_within_one_current_step_of_the_formula():
    cfg = LIFConfig(v_th=-52.0, r_m=8.0)  # I_th = 13 / 8 = 1.625 nA, between two grid currents
    step = 0.01
    currents = torch.arange(150, 176, dtype=torch.float64) * step
    fired = LIF(cfg)(_constant(currents, 300.0, cfg.dt)).sum(1) > 0
    measured = float(currents[fired].min())
    assert rheobase(cfg) < measured <= rheobase(cfg) + step
    assert not fired[currents < rheobase(cfg)].any()


def test_the_refractory_period_bounds_the_rate_at_one_over_t_ref():
    huge = torch.tensor([1e4], dtype=torch.float64)
    for t_ref in (2.0, 5.0):
        cfg = LIFConfig(t_ref=t_ref)
        spikes = LIF(cfg)(_constant(huge, 100.0, cfg.dt))
        assert float(spike_count_rate(spikes, cfg.dt)) <= 1000.0 / t_ref
        # every period is one integration step to threshold, then t_ref held at reset
        assert float(_mean_isi_rate(spikes, cfg.dt)) == pytest.approx(1000.0 / (t_ref + cfg.dt))
    no_ref = LIFConfig(t_ref=0.0)
    assert float(spike_count_rate(LIF(no_ref)(_constant(huge, 100.0, no_ref.dt)), no_ref.dt)) > 1000.0 / 2.0


def test_after_a_spike_the_potential_is_held_at_reset_for_the_refractory_period():
    cfg = LIFConfig(t_ref=1.0, v_reset=-70.0)
    trace = LIF(cfg).simulate(_constant(torch.tensor([3.0]), 60.0, cfg.dt))
    first = int(torch.nonzero(trace.spikes[0]).flatten()[0])
    held = round(cfg.t_ref / cfg.dt)
    assert (trace.voltage[0, first:first + held + 1] == cfg.v_reset).all()
    assert trace.voltage[0, first + held + 1] > cfg.v_reset
    assert (trace.voltage[0] < cfg.v_th).all()


def test_a_protocol_simulated_block_by_block_equals_one_piece():
    model = LIF(LIFConfig())
    current = _constant(torch.tensor([1.6, 2.5, 4.0]), 100.0, 0.1) + 0.3 * torch.randn(3, 1000, dtype=torch.float64)
    whole = model.simulate(current)
    first = model.simulate(current[:, :370])
    second = model.simulate(current[:, 370:], first.state)
    assert torch.equal(torch.cat([first.spikes, second.spikes], 1), whole.spikes)
    assert torch.equal(torch.cat([first.voltage, second.voltage], 1), whole.voltage)


def test_spike_count_rate_is_n_over_t():
    spikes = torch.zeros(2, 500)  # 250 ms at dt 0.5
    spikes[0, [3, 80, 200, 201, 499]] = 1
    assert spike_count_rate(spikes, 0.5).tolist() == [5 / 0.25, 0.0]


def test_a_reset_at_or_above_threshold_is_refused():
    from neuralab.errors import UserError

    with pytest.raises(UserError, match="v_reset"):
        LIF(dataclasses.replace(LIFConfig(), v_reset=-50.0))


def test_tuned_currents_peak_at_each_neurons_preferred_orientation():
    cfg = CurrentsConfig(protocol="tuning", low=0.0, high=170.0, points=18, neurons=6, baseline=1.0, peak=3.0,
                         kappa=2.0)
    data = Currents(cfg)
    current = data.mean_current()  # (P, N)
    assert current.shape == (18, 6)
    assert torch.allclose(data.stimuli[current.argmax(0)], data.preferred)
    assert torch.allclose(current.max(0).values, torch.full((6,), 3.0, dtype=torch.float64))
    orthogonal = data.mean_current(data.preferred + 90.0).diagonal()
    assert torch.allclose(orthogonal, torch.full((6,), 1.0 + 2.0 * math.exp(-4.0), dtype=torch.float64))
    # a bar is the same bar turned by 180 degrees
    assert torch.allclose(data.mean_current(data.stimuli + 180.0), current)
    assert orientation_distance(torch.tensor([170.0, 10.0]), torch.tensor([10.0, 100.0])).tolist() == [20.0, 90.0]
