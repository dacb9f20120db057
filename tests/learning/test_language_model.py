"""Learning sanity of the character language models: the loss at initialisation is about ln V, a tiny
repetitive text is learnt and sampled back, sampling is seeded, and the hidden state carried by truncated BPTT
changes training and survives a resume."""

from __future__ import annotations

import math

import pytest
import torch

import neuralab
from neuralab.cli import main
from neuralab.errors import UserError
from tests.conftest import final_tensors

TINY_LSTM = {"hidden_size": 48, "embed_dim": 16, "layers": 1}
TINY_GPT = {"layers": 1, "heads": 2, "d_model": 32, "block_size": 32}
RUN = {"device": "cpu", "threads": 1, "log_every": 1000}


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "hello.txt"
    path.write_text("hello world! " * 200, encoding="utf-8")
    return path


def _train(recipe, text_file, out, steps, model, data=None, method=None, eval_every=None, **kw):
    return neuralab.train(recipe, {"run": {**RUN, "steps": steps, "eval_every": eval_every or steps}, "model": model,
                                   "data": {"path": str(text_file), **(data or {})}, "method": method or {}},
                          out=out, **kw)


@pytest.mark.parametrize("recipe, model", [("lstm-shakespeare", TINY_LSTM), ("gpt-shakespeare", TINY_GPT)])
def test_loss_at_initialisation_is_about_ln_vocabulary(recipe, model, text_file, tmp_path):
    # One step at a learning rate too small to change anything: the metrics are those of the initial weights.
    run = _train(recipe, text_file, tmp_path / "run", 1, model, {"seq_len": 32}, {"lr": 1e-9})
    vocab = len(neuralab.load(run.run_dir).meta.vocab)
    assert run.metrics["val/loss"] == pytest.approx(math.log(vocab), abs=0.15)
    assert run.metrics["val/bpc"] == pytest.approx(run.metrics["val/loss"] / math.log(2))


@pytest.mark.parametrize("recipe, model, data", [
    ("lstm-shakespeare", TINY_LSTM, {"batch_size": 8, "seq_len": 32}),
    ("gpt-shakespeare", TINY_GPT, {"batch_size": 8, "seq_len": 32}),
])
def test_a_repetitive_text_is_learnt_and_sampled_back(recipe, model, data, text_file, tmp_path):
    # The recipe's own cosine schedule: at a constant rate Muon keeps this 1-layer GPT bouncing near 0.05 nats.
    run = _train(recipe, text_file, tmp_path / "run", 150, model, data, {"lr": 1e-2})
    assert run.metrics["val/loss"] < 0.1  # nats per character: the text is (almost) certain
    method = neuralab.load(run.run_dir, with_data=False).run.method
    out = method.sample("hello", 39, temperature=0.5, seed=3)
    assert out.text == ("hello world! " * 4)[:44] and not out.notes
    assert method.sample("hello", 39, temperature=0.5, seed=3) == out  # seeded: the same text again


def test_sampling_reads_unseen_characters_as_unknown_and_refuses_text_it_cannot_read(text_file, tmp_path, capsys):
    run = _train("gpt-shakespeare", text_file, tmp_path / "run", 1, TINY_GPT, {"seq_len": 32})
    for flag, value in (("--prompt", ""), ("--prompt", "\u00e9"), ("--temperature", "0"), ("--temperature", "-1"),
                        ("--temperature", "nan"), ("--length", "0"), ("--top-k", "-2")):
        args = {"--prompt": "hello", "--temperature": "0.8", "--length": "5", flag: value}
        assert main(["sample", str(run.run_dir), *[a for kv in args.items() for a in kv]]) == 2, (flag, value)
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
    assert main(["sample", str(run.run_dir), "--prompt", "hello\u00e9", "--length", "5"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("hello\u00e9") and err.startswith("note: ") and "<unk>" in err
    method = neuralab.load(run.run_dir, with_data=False).run.method
    out = method.sample("hello\u00e9", 5, seed=0)
    assert out.text.startswith("hello\u00e9") and "never occurred in training" in out.notes[0]
    long = method.sample("hello " * 20, 3, seed=0)  # 120 tokens, context 32
    assert "last 32" in long.notes[0] and len(long.text) == 123
    for prompt in ("", "\u00e9\u00e8"):
        with pytest.raises(UserError, match="prompt"):
            method.sample(prompt, 5)


def test_the_carried_hidden_state_changes_training_and_survives_a_resume(text_file, tmp_path):
    """Streams of 4 chunks a pass: chunks 2-4 start from the state the chunk before ended with."""
    data, plain = {"batch_size": 4, "seq_len": 16}, {"schedule": "none"}  # a schedule's plan would need 6 steps
    whole = _train("lstm-shakespeare", text_file, tmp_path / "whole", 6, TINY_LSTM, data, plain)
    reset = _train("lstm-shakespeare", text_file, tmp_path / "reset", 6, TINY_LSTM, data,
                   {**plain, "carry_state": False})
    a, b = final_tensors(whole.run_dir), final_tensors(reset.run_dir)
    assert "method.hidden.0" in a and "method.hidden.0" not in b  # the LSTM's (h, c) is checkpointed
    assert not torch.equal(a["method.model.head.weight"], b["method.model.head.weight"])

    # the evaluation schedule of the whole run (a resume may not change it)
    half = _train("lstm-shakespeare", text_file, tmp_path / "half", 3, TINY_LSTM, data, plain, eval_every=6)
    _train("lstm-shakespeare", text_file, half.run_dir, 6, TINY_LSTM, data, plain, eval_every=6, resume=True)
    resumed = final_tensors(half.run_dir)
    assert resumed.keys() == a.keys()
    for key in a:
        assert torch.equal(a[key], resumed[key]), key
