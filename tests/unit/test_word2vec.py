"""word2vec's data, loss and queries against hand-worked examples and closed forms (neuralab.data.word_context,
neuralab.methods.word2vec)."""

from __future__ import annotations

import math

import pytest
import torch

from neuralab.data.vocab import PAD, Vocabulary
from neuralab.data.word_context import (
    WordContextConfig,
    WordContextStream,
    keep_probability,
    noise_distribution,
    windows,
)
from neuralab.errors import UserError
from neuralab.methods.word2vec import analogy_correct, arrange, nearest, sgns_loss, three_cos_add, unit_rows, word_id


def _stream(tokens: list[int], sentences: list[int], vocab: Vocabulary, **cfg) -> WordContextStream:
    t, s = torch.tensor(tokens), torch.tensor(sentences)
    return WordContextStream((t, s), (t, s), vocab, WordContextConfig(**cfg), seed=0, source="test")


def test_windows_take_the_words_within_each_centres_reach_and_sentence():
    tokens = torch.tensor([10, 11, 12, 13, 14, 15, 16])
    sentences = torch.tensor([0, 0, 0, 0, 1, 1, 1])  # a sentence ends after 13
    centers, reach = torch.tensor([0, 2, 3, 5]), torch.tensor([2, 1, 2, 2])
    got = windows(tokens, sentences, centers, reach, window=2)  # offsets -2, -1, 1, 2
    assert got.tolist() == [[PAD, PAD, 11, 12],  # nothing before the corpus starts
                            [PAD, 11, 13, PAD],  # reach 1: only the neighbours
                            [11, 12, PAD, PAD],  # 14 lies in the next sentence
                            [PAD, 14, 16, PAD]]  # 13 lies in the previous one; the corpus ends after 16


def test_skipgram_rows_are_one_per_context_word_and_cbow_rows_one_per_centre():
    vocab = Vocabulary([f"w{i}" for i in range(8)], "word")
    data = _stream(list(range(4, 12)) * 20, [0] * 160, vocab, batch_size=16, window=3, negatives=4, subsample=0)
    batch = data.next_batch()
    pairs = arrange(batch, "skipgram")
    valid = batch.context != PAD
    assert pairs.shape == (int(valid.sum()), 2 + 4)
    assert pairs[:, 0].tolist() == batch.center.repeat_interleave(valid.sum(1)).tolist()
    assert pairs[:, 1].tolist() == batch.context[valid].tolist()
    cbow = arrange(batch, "cbow")
    assert cbow.shape == (len(batch.center), 2 * 3 + 1 + 4)
    assert torch.equal(cbow[:, 6], batch.center) and torch.equal(cbow[:, :6], batch.context)


def test_keep_probability_is_the_papers_sqrt_t_over_f_capped_at_one():
    counts = torch.tensor([0, 1000, 10, 1])
    p = keep_probability(counts, t=1e-3)
    freq = counts.double() / 1011
    assert p[0] == 0 and p[3] == 1.0  # a word seen once is rarer than t: always kept
    assert p[1].item() == pytest.approx(math.sqrt(1e-3 / freq[1].item()))
    assert p[2].item() == pytest.approx(min(1.0, math.sqrt(1e-3 / freq[2].item())))
    assert keep_probability(counts, t=0).tolist() == [0, 1, 1, 1]


def test_subsampling_keeps_each_word_at_its_probability_and_the_same_seed_keeps_the_same_words():
    vocab = Vocabulary(["a", "b", "c"], "word")
    tokens = [4] * 6000 + [5] * 1500 + [6] * 100
    data = _stream(tokens, list(range(len(tokens))), vocab, subsample=1e-2)
    kept = data._subsampled(data.tokens, data.sentences, key=0)[0]
    for word, n in ((4, 6000), (5, 1500), (6, 100)):
        p = float(data.keep[word])
        share = float((kept == word).sum()) / n
        assert share == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n) + 1e-9), word
    assert torch.equal(kept, data._subsampled(data.tokens, data.sentences, key=0)[0])
    assert not torch.equal(kept, data._subsampled(data.tokens, data.sentences, key=1)[0])


def test_negatives_follow_the_unigram_distribution_to_the_three_quarters():
    counts = torch.tensor([0, 0, 0, 0, 810, 160, 10, 0])
    q = noise_distribution(counts, 0.75)
    expected = torch.tensor([0, 0, 0, 0, 810 ** 0.75, 160 ** 0.75, 10 ** 0.75, 0], dtype=torch.float64)
    assert torch.allclose(q, expected / expected.sum())
    vocab = Vocabulary(["a", "b", "c", "d"], "word")
    tokens = [4] * 810 + [5] * 160 + [6] * 10
    data = _stream(tokens, [i // 10 for i in range(len(tokens))], vocab, batch_size=len(tokens), window=5,
                   negatives=20, subsample=0)
    drawn = data.next_batch().negatives.flatten()
    share = torch.bincount(drawn, minlength=8).double() / len(drawn)
    assert len(drawn) > 100_000 and share[7] == 0 and share[:4].sum() == 0
    assert torch.allclose(share, q, atol=0.01)


def test_a_resumed_stream_serves_the_same_batches():
    vocab = Vocabulary([f"w{i}" for i in range(20)], "word")
    g = torch.Generator().manual_seed(1)
    tokens = (4 + torch.randint(0, 20, (500,), generator=g)).tolist()
    a = _stream(tokens, [i // 13 for i in range(500)], vocab, batch_size=64, subsample=0.05)
    for _ in range(5):
        a.next_batch()
    b = _stream(tokens, [i // 13 for i in range(500)], vocab, batch_size=64, subsample=0.05)
    b.load_state_dict(a.state_dict())
    for _ in range(6):  # across an epoch boundary
        for x, y in zip(a.next_batch(), b.next_batch(), strict=True):
            assert torch.equal(x, y)


def test_sgns_loss_and_its_gradient_match_the_closed_form():
    torch.manual_seed(0)
    v = torch.randn(5, dtype=torch.float64, requires_grad=True)  # centre's input vector
    u = torch.randn(4, 5, dtype=torch.float64)  # output vectors: the true context word, then 3 negatives
    loss = sgns_loss((u @ v)[None])
    s = (u @ v).detach()
    sig = torch.sigmoid
    assert loss.item() == pytest.approx(-(math.log(sig(s[0])) + sum(math.log(sig(-x)) for x in s[1:])))
    loss.backward()
    # d/dv of -[log sigma(u_o.v) + sum_k log sigma(-u_k.v)] = -(1 - sigma(u_o.v)) u_o + sum_k sigma(u_k.v) u_k
    closed = -(1 - sig(s[0])) * u[0] + (sig(s[1:])[:, None] * u[1:]).sum(0)
    assert torch.allclose(v.grad, closed)


def test_three_cos_add_answers_a_planted_analogy_and_never_a_query_word():
    vocab = Vocabulary(["man", "woman", "king", "queen", "apple"], "word")
    # royalty on axis 0, gender on axis 1, fruit on axis 2; "king" is so near "man" that without excluding the
    # query words the nearest vector to king - man + woman would be "woman" itself.
    vectors = torch.tensor([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0],
                            [0.1, 1, 0], [0.1, -1, 0], [0.3, 1, 0], [1, -1, 0], [0, 0, 1]], dtype=torch.float)
    unit = unit_rows(vectors)
    ids = {w: vocab.index[w] for w in ["man", "woman", "king", "queen", "apple"]}
    scores = three_cos_add(unit, *(torch.tensor([ids[w]]) for w in ("man", "king", "woman")))
    assert scores[0].argmax() == ids["queen"]
    assert torch.isinf(scores[0, [0, 1, 2, 3, ids["man"], ids["king"], ids["woman"]]]).all()
    questions = torch.tensor([[ids["man"], ids["king"], ids["woman"], ids["queen"]],
                              [ids["man"], ids["king"], ids["woman"], ids["apple"]]])
    assert analogy_correct(unit, questions).tolist() == [True, False]
    best = nearest(unit, unit[ids["king"]] - unit[ids["man"]] + unit[ids["woman"]],
                   [ids["man"], ids["king"], ids["woman"]], top=2)
    assert [vocab.tokens[i] for i, _ in best] == ["queen", "apple"]


def test_a_word_outside_the_vocabulary_is_refused_with_close_matches():
    vocab = Vocabulary(["king", "kings", "queen"], "word")
    assert word_id(vocab, "King") == vocab.index["king"]  # word tokens are lower-cased
    with pytest.raises(UserError, match="'kingg' is not in this run's vocabulary .*close ones: king"):
        word_id(vocab, "kingg")
    with pytest.raises(UserError, match="not in this run's vocabulary"):
        word_id(vocab, "<pad>")  # special tokens have no trained vector
