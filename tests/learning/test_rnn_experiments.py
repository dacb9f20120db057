"""The recurrent lessons: gradients through time (`vanishing-gradients-rnn`) and Elman's letter prediction
(`elman-letters`), on small settings that run in seconds."""

from __future__ import annotations

import math

import pytest
import torch

from neuralab.build import build, resolve
from neuralab.experiments.elman_letters import LEXICON, TEMPLATES, WORD_CLASS, WORDS, sentences
from neuralab.experiments.vanishing_gradients_rnn import power_text
from neuralab.registry import RECIPES
from tests.conftest import assert_png_drawn


def make(name: str, **sections):
    recipe = RECIPES.get(name)
    overrides = {"run": {"device": "cpu", "threads": 1}} | sections
    return build(recipe, resolve(recipe, overrides))


@pytest.fixture(scope="module")
def gradients():
    """vanishing-gradients-rnn on 2 batches of 6 sequences of 80 steps (the Jacobian bound sees all 6)."""
    run = make("vanishing-gradients-rnn", data={"length": 80, "batch_size": 6})
    for _ in range(2):
        run.method.step(run.data.next_batch())
    return run


def test_the_elman_gradient_vanishes_within_its_jacobian_bound(gradients):
    method = gradients.method
    ratio = method.log_ratio("elman")
    bound = [b / method.trials for b in method.log_bound]
    assert ratio[0] == 0 and bound[0] == 0
    # ||dL/dh_(T-k)|| <= ||dL/dh_T|| * prod ||J||: on the same sequences, for every k
    assert all(r <= b + 1e-9 for r, b in zip(ratio, bound, strict=True))
    assert ratio[50] < -6  # less than a millionth of the gradient is left 50 steps back
    assert all(later < earlier for earlier, later in zip(ratio[1::10], ratio[11::10], strict=False))


def test_a_forget_gate_bias_keeps_orders_of_magnitude_more_gradient(gradients):
    m = gradients.method.evaluate()
    assert m["lstm_forget1/ratio_50"] > 1e3 * m["elman/ratio_50"]
    assert m["lstm_forget1/per_step"] > m["lstm/per_step"]
    far = gradients.method.log_ratio("elman")[-1]
    assert m["elman/per_step"] == pytest.approx(10 ** (far / 79))


def test_the_report_states_the_notes_number_and_the_plot_is_drawn(gradients, tmp_path):
    report = gradients.method.report()
    assert "0.9^1000 = 1.7e-46" in report
    assert report.count("\n| ") >= 7  # header, 4 cells, the bound and the 0.9^k row
    [png] = gradients.method.plot(tmp_path)
    assert_png_drawn(png, min_size=(600, 400))


def test_power_text_writes_numbers_that_underflow_a_float():
    assert power_text(1000 * math.log10(0.9)) == "1.7e-46"
    assert power_text(-400.5) == "3.2e-401"
    assert power_text(2) == "1.0e+2"


def test_sentences_follow_the_templates_and_the_lexicon():
    for sentence in sentences(200, seed=3):
        classes = tuple(WORD_CLASS[w] for w in sentence)
        assert classes in TEMPLATES
    assert set(WORD_CLASS) == set(WORDS) and len(WORDS) == sum(len(w) for w in LEXICON.values())


def test_the_stream_is_read_in_contiguous_lanes_and_the_state_is_carried():
    run = make("elman-letters", data={"sentences": 200, "test_sentences": 20, "window": 8, "batch_size": 4})
    data = run.data
    x1, y1, first1 = data.next_batch()
    x2, y2, first2 = data.next_batch()
    assert torch.equal(x1[:, 1:], y1[:, :-1]) and torch.equal(x2[:, 0], y1[:, -1])  # each lane continues
    assert first1.all() and not first2.any()
    run.method.step((x1, y1, first1))
    state = run.method.state
    assert state is not None and not state.requires_grad and state.shape == (1, 4, 32)
    data.pos = data.steps_per_epoch  # the next batch starts the lanes again: the carried state is reset there
    assert data.next_batch()[2].all()


def test_elman_letters_error_peaks_at_word_onsets_and_words_group_by_class(tmp_path):
    run = make("elman-letters", data={"sentences": 600})
    for _ in range(400):
        run.method.step(run.data.next_batch())
    m = run.method.evaluate()
    assert m["untrained/onset_over_within"] < 1.5
    assert m["test/onset_over_within"] > 4  # the first letter of a word is much harder to guess than the rest
    assert m["test/nearest_same_class"] > m["untrained/nearest_same_class"]
    assert "bits at word onsets" in run.method.report()
    [png] = run.method.plot(tmp_path)
    assert_png_drawn(png, min_size=(900, 300))
