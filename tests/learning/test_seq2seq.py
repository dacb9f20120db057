"""Learning sanity of the seq2seq method: an attention encoder-decoder learns to reverse short strings within a few
hundred steps, and `neuralab translate` on that run handles unseen characters, over-long and empty text."""

from __future__ import annotations

import pytest

import neuralab
from neuralab.cli import main

TINY = {"run": {"steps": 300, "eval_every": 300, "device": "cpu", "threads": 1},
        "data": {"min_length": 2, "max_length": 5, "alphabet": 5, "n_train": 2000, "n_test": 200, "batch_size": 64},
        "model": {"embed_dim": 16, "hidden": 32, "attention_dim": 32}}


@pytest.fixture(scope="module")
def reversal(tmp_path_factory):
    out = tmp_path_factory.mktemp("reversal") / "run"
    return neuralab.train("reversal-seq2seq", TINY, out=out), out


def test_reversal_is_learned_in_a_few_hundred_steps(reversal):
    run, _ = reversal
    assert run.metrics["test/exact"] >= 0.9, run.metrics  # chance: about 5^-3.5
    assert run.metrics["test/loss"] < 0.5


def test_translate_reverses_a_typed_string_and_notes_what_it_changed(reversal, capsys):
    _, out = reversal
    assert main(["translate", str(out), "abcd"]) == 0
    printed, err = capsys.readouterr()
    assert printed == "dcba\n" and err == ""
    assert main(["translate", str(out), "abzd"]) == 0  # z is not among the 5 letters trained on
    printed, err = capsys.readouterr()
    assert len(printed.splitlines()) == 1 and "<unk>" in err and "z" in err
    assert main(["translate", str(out), "abcdeabc", "--beam", "2"]) == 0  # longer than the 5 letters trained on
    printed, err = capsys.readouterr()
    assert printed == "edcba\n" and "first 5" in err
    for bad in ("", "zzz"):
        assert main(["translate", str(out), bad]) == 2
        printed, err = capsys.readouterr()
        assert printed == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1
