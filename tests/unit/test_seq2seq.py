"""Sequence-pair data, the encoder-decoders' attention and step-by-step decoding, greedy and beam search."""

from __future__ import annotations

import math

import pytest
import torch

from neuralab.data.seq2seq import (
    AdditionConfig,
    ReversalConfig,
    VersePairsConfig,
    addition_pairs,
    build_addition,
    build_reversal,
    build_verse_pairs,
)
from neuralab.data.vocab import BOS, EOS, PAD
from neuralab.methods.seq2seq import reverse_sources, until_eos
from neuralab.models.seq2seq.rnn_encoder_decoder import RNNEncoderDecoder, RNNEncoderDecoderConfig
from neuralab.models.seq2seq.search import beam_search, greedy, sequence_log_prob
from neuralab.models.transformer.encoder_decoder import TransformerEncoderDecoder, TransformerEncoderDecoderConfig


def test_addition_questions_are_distinct_correct_and_held_out():
    pairs = addition_pairs(3, 5000, seed=5)
    assert pairs == addition_pairs(3, 5000, seed=5) and pairs != addition_pairs(3, 5000, seed=6)
    keys = [tuple(sorted(map(int, q.split("+")))) for q, _ in pairs]
    assert len(set(keys)) == len(keys)  # each unordered pair of numbers once, so test questions are unseen
    assert all(int(a) == sum(map(int, q.split("+"))) for q, a in pairs)
    assert max(max(k) for k in keys) >= 900 and min(min(k) for k in keys) <= 9  # 1 to 3 digits
    data = build_addition(AdditionConfig(n_train=200, n_test=50), seed=5)
    vocab = data.meta.vocabulary()
    questions = [vocab.decode(row) for row in data.x_train] + [vocab.decode(row) for row in data.x_test]
    assert questions == [q for q, _ in pairs[:250]]
    assert vocab.decode(data.y_test[0]) == pairs[200][1]
    assert data.y_train[:, 0].eq(BOS).all() and (data.x_train == EOS).sum(1).eq(1).all()


def test_reversal_targets_are_the_sources_backwards():
    data = build_reversal(ReversalConfig(n_train=300, n_test=40, min_length=2, max_length=6, alphabet=4), seed=0)
    vocab = data.meta.vocabulary()
    sources = [vocab.decode(x) for x in data.x_train]
    assert all(vocab.decode(y) == s[::-1] for s, y in zip(sources, data.y_train, strict=True))
    assert {len(s) for s in sources} == set(range(2, 7)) and set("".join(sources)) == set("abcd")
    assert not set(sources) & {vocab.decode(x) for x in data.x_test}


def test_verse_pairs_have_two_vocabularies_a_length_cap_and_a_split_fixed_across_seeds():
    cfg = VersePairsConfig(max_length=12, train_limit=500, test_limit=50)
    a, b = build_verse_pairs(cfg, seed=0), build_verse_pairs(cfg, seed=1)
    assert torch.equal(a.x_test, b.x_test) and a.references == b.references
    assert a.meta.vocab != a.meta.target_vocab and "dios" in a.meta.target_vocab and "god" in a.meta.vocab
    assert (a.x_train != PAD).sum(1).max() <= 12 + 1 and (a.y_train != PAD).sum(1).max() <= 12 + 2  # EOS; BOS, EOS
    assert len(a.x_train) == 500 and len(a.references) == 50


def test_reverse_sources_keeps_eos_last_and_padding_in_place():
    x = torch.tensor([[5, 6, 7, EOS, PAD], [8, EOS, PAD, PAD, PAD]])
    assert reverse_sources(x).tolist() == [[7, 6, 5, EOS, PAD], [8, EOS, PAD, PAD, PAD]]
    assert until_eos(torch.tensor([[4, 5, EOS, 6], [4, PAD, PAD, PAD]])) == [[4, 5, EOS], [4]]


def _rnn(**kw) -> RNNEncoderDecoder:
    torch.manual_seed(0)
    return RNNEncoderDecoder(RNNEncoderDecoderConfig(vocab_size=12, target_vocab_size=10, embed_dim=8, hidden=16,
                                                     attention_dim=8, **kw)).eval()


def _transformer() -> TransformerEncoderDecoder:
    torch.manual_seed(0)
    return TransformerEncoderDecoder(TransformerEncoderDecoderConfig(vocab_size=12, target_vocab_size=10, d_model=16,
                                                                     heads=2, d_ff=32, dropout=0.0)).eval()


def _sources() -> torch.Tensor:
    torch.manual_seed(1)
    src = torch.randint(4, 12, (5, 7))
    src[:, -1] = EOS
    src[1, 4:], src[1, 3] = PAD, EOS
    src[3, 2:], src[3, 1] = PAD, EOS
    return src


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bahdanau_weights_sum_to_one_over_real_tokens_and_ignore_padding(cell):
    model, src = _rnn(cell=cell), _sources()
    tgt = torch.randint(4, 10, (5, 4))
    logits = model(src, tgt)
    weights = model.attention  # (B, T, S)
    assert weights.shape == (5, 4, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(5, 4), atol=1e-6)
    assert (weights.masked_select((src == PAD)[:, None].expand_as(weights)) == 0).all()
    assert (weights.masked_select((src != PAD)[:, None].expand_as(weights)) > 0).all()
    # More padding columns change nothing: packing and the mask hide them.
    wider = torch.cat([src, torch.full((5, 3), PAD)], 1)
    assert torch.allclose(model(wider, tgt), logits, atol=1e-5)


@pytest.mark.parametrize("make", [_rnn, lambda: _rnn(attention="none", bidirectional=False, layers=2), _transformer],
                         ids=["bahdanau", "no-attention", "transformer"])
def test_stepwise_decoding_matches_teacher_forcing_and_beam_of_one_is_greedy(make):
    model, src = make(), _sources()
    out, _ = greedy(model, src, max_len=6)
    tgt_in = torch.cat([torch.full((5, 1), BOS), out[:, :-1]], 1)
    memory, = [model.encode(src)]
    state, logits = model.start(memory), []
    for t in range(out.shape[1]):  # feeding the greedy tokens back one at a time ...
        step_logits, state, _ = model.step(memory, state, tgt_in[:, t])
        logits.append(step_logits)
    with torch.no_grad():  # ... gives the logits of one teacher-forced pass over them
        assert torch.allclose(torch.stack(logits, 1), model(src, tgt_in), atol=1e-5)
    beam, score = beam_search(model, src, max_len=6, width=1)
    assert torch.equal(beam, out)
    assert torch.allclose(score, sequence_log_prob(model, src, out), atol=1e-4)


class _Tree:
    """A decoder with fixed next-token probabilities: first A (0.6) or B (0.4); after A, EOS 0.3 and three other
    tokens 0.7/3 each; after B, EOS 0.9 and <unk> 0.1. Greedy picks A then EOS (0.18); the best output is B EOS
    (0.36)."""

    A, B = 4, 5

    def encode(self, src):
        return {"src": src}

    def start(self, memory):
        return memory["src"].new_zeros(len(memory["src"]), 0)

    def step(self, memory, state, tokens):
        probs = torch.full((len(tokens), 8), 1e-9)
        for i, token in enumerate(tokens.tolist()):
            if token == BOS:
                probs[i, self.A], probs[i, self.B] = 0.6, 0.4
            elif token == self.A:
                probs[i, EOS], probs[i, 6:8], probs[i, 1] = 0.3, 0.7 / 3, 0.7 / 3
            elif token == self.B:
                probs[i, EOS], probs[i, 1] = 0.9, 0.1
            else:
                probs[i, EOS] = 1.0
        return probs.log(), torch.cat([state, tokens[:, None]], 1), None

    @staticmethod
    def reorder(state, index):
        return state.index_select(0, index)


def test_beam_search_finds_the_likelier_output_greedy_misses():
    src = torch.zeros(2, 3, dtype=torch.long)
    out, _ = greedy(_Tree(), src, max_len=4)
    assert until_eos(out) == [[_Tree.A, EOS]] * 2
    beam, score = beam_search(_Tree(), src, max_len=4, width=2, length_penalty=0.0)
    assert until_eos(beam) == [[_Tree.B, EOS]] * 2
    assert torch.allclose(score, torch.full((2,), math.log(0.4 * 0.9)), atol=1e-5)
    assert score[0] > math.log(0.6 * 0.3)


def test_transformer_outputs_do_not_depend_on_later_target_tokens():
    model, src = _transformer(), _sources()
    tgt = torch.randint(4, 10, (5, 6))
    changed = tgt.clone()
    changed[:, 4:] = 7
    with torch.no_grad():
        assert torch.allclose(model(src, tgt)[:, :4], model(src, changed)[:, :4], atol=1e-6)
