"""The character stream for language models: vocabulary and ids, the held-out tail, both batch layouts and their
resumable positions, and the user's own text file."""

from __future__ import annotations

import pytest
import torch

from neuralab.data.text_stream import TextStreamConfig, build_shakespeare_chars, char_ids, char_vocabulary
from neuralab.data.vocab import UNK, Vocabulary
from neuralab.errors import DataError

TEXT = "".join(f"ROMEO {i}: what light through yonder window breaks? {'ay' * (i % 3)}\n" for i in range(60))


def _stream(tmp_path, text=TEXT, **changes):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    return build_shakespeare_chars(TextStreamConfig(path=str(path), **changes), seed=0)


def test_vocabulary_and_ids_agree_with_the_shared_vocabulary_layer():
    text = "abracadabra, Zz!"
    vocab = char_vocabulary(text)
    assert vocab.tokens == Vocabulary.build([text], "char").tokens  # most frequent first, ties first seen first
    assert char_ids(text + "\u00e9q", vocab).tolist() == vocab.encode(text + "\u00e9q")
    assert char_ids("\u00e9q", vocab).tolist() == [UNK, UNK]  # never seen in training


def test_the_last_tenth_is_validation_and_limits_cut_both_parts(tmp_path):
    data = _stream(tmp_path)
    cut = len(TEXT) - int(len(TEXT) * 0.1)
    vocab = data.meta.vocabulary()
    assert data.train.tolist() == vocab.encode(TEXT[:cut]) and data.val.tolist() == vocab.encode(TEXT[cut:])
    assert data.meta.kind == "text" and data.meta.tokenizer == "char" and len(data.meta.vocab) == len(vocab)
    small = _stream(tmp_path, train_limit=300, test_limit=50)
    assert len(small.train) == 300 and len(small.val) == 50
    assert set(small.meta.vocab) < set(data.meta.vocab)  # the vocabulary is the used training text's


def test_streams_continue_row_by_row_and_start_again_after_a_pass(tmp_path):
    data = _stream(tmp_path, batch_size=4, seq_len=10, layout="streams")
    steps = data.steps_per_epoch
    batches = [data.next_batch() for _ in range(steps + 1)]
    assert [b.reset for b in batches] == [True] + [False] * (steps - 1) + [True]
    length = (len(data.train) - 1) // 4
    for row in range(4):  # each row reads its own contiguous stretch of the text, one chunk after another
        start = row * length
        xs = torch.cat([b.x[row] for b in batches[:steps]])
        assert torch.equal(xs, data.train[start:start + steps * 10])
        assert torch.equal(torch.cat([b.y[row] for b in batches[:steps]]), data.train[start + 1:start + 1 + steps * 10])
    assert torch.equal(batches[-1].x, batches[0].x)


def test_random_windows_are_contiguous_seeded_and_resume_where_they_stopped(tmp_path):
    data = _stream(tmp_path, batch_size=8, seq_len=16, layout="windows")
    first = [data.next_batch() for _ in range(3)]
    text = data.train.tolist()
    for b in first:
        assert b.x.shape == (8, 16) and torch.equal(b.x[:, 1:], b.y[:, :-1]) and not b.reset
        for row in b.x.tolist():  # a window is a stretch of the text
            assert any(text[i:i + 16] == row for i in range(len(text) - 16))
    assert not torch.equal(first[0].x, first[1].x)
    again = _stream(tmp_path, batch_size=8, seq_len=16, layout="windows")
    again.load_state_dict({"pos": 2, "epoch": 0})
    assert torch.equal(again.next_batch().x, first[2].x)


def test_a_short_text_gives_shorter_sequences_and_too_little_is_one_clear_error(tmp_path):
    data = _stream(tmp_path, text="abcdefghij" * 3, seq_len=100, batch_size=64)
    assert data.seq_len == len(data.train) - 1 and data.batch_size == 1
    with pytest.raises(DataError, match="too little text"):
        _stream(tmp_path, text="ab")


def test_a_missing_or_binary_file_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        build_shakespeare_chars(TextStreamConfig(path=str(tmp_path / "none.txt")), seed=0)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00abc" * 10)
    with pytest.raises(DataError, match="not UTF-8"):
        build_shakespeare_chars(TextStreamConfig(path=str(bad)), seed=0)
