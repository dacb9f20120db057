"""The shared text layer: tokenisers, vocabulary ids, unknown tokens, padding and prompts."""

import pytest
import torch

from neuralab.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary, tokenize
from neuralab.errors import UserError


def test_word_tokens_are_lower_cased_and_keep_punctuation_and_inner_apostrophes():
    assert tokenize("Don't stop, ROMEO!", "word") == ["don't", "stop", ",", "romeo", "!"]
    assert tokenize("ab c", "char") == ["a", "b", " ", "c"]


def test_ids_put_specials_first_then_tokens_by_frequency():
    vocab = Vocabulary.build(["b a b", "c b a"], "word")
    assert vocab.tokens[:4] == list(SPECIALS) and (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    assert vocab.tokens[4:] == ["b", "a", "c"]
    assert vocab.encode("a c", bos=True, eos=True) == [BOS, 5, 6, EOS]
    assert vocab.decode([BOS, 5, 6, EOS, 4]) == "a c"  # stops at the end mark


def test_unseen_tokens_map_to_unk_and_limits_apply():
    vocab = Vocabulary.build(["aab"], "char", min_count=2)
    assert vocab.tokens[4:] == ["a"]
    assert vocab.encode("abz") == [4, UNK, UNK] and vocab.unknown("abz") == ["b", "z"]
    assert len(Vocabulary.build(["a b c d"], "word", max_size=2)) == 6


def test_padding_is_right_aligned_and_cuts_long_sequences():
    vocab = Vocabulary("ab", "char")
    assert torch.equal(vocab.pad([[4, 5, 4], [5]]), torch.tensor([[4, 5, 4], [5, PAD, PAD]]))
    assert vocab.pad([[4, 5, 4]], length=2).tolist() == [[4, 5]]


@pytest.mark.parametrize("text, message", [("", "empty"), ("zzz", "no token")])
def test_a_prompt_that_is_empty_or_all_unknown_is_refused_in_one_line(text, message):
    with pytest.raises(UserError, match=message):
        Vocabulary("ab", "char").encode_prompt(text)


def test_a_vocabulary_round_trips_through_its_token_list():
    vocab = Vocabulary.build(["the cat sat"], "word")
    again = Vocabulary(vocab.tokens[len(SPECIALS):], "word")
    assert again.tokens == vocab.tokens and again.encode("cat dog") == vocab.encode("cat dog")


def test_words_are_joined_back_with_punctuation_attached():
    from neuralab.data.vocab import detokenize

    assert detokenize(tokenize("\u00bfQu\u00e9 es (esto)? La tierra, y el mar.", "word"), "word") == \
        "\u00bfqu\u00e9 es (esto)? la tierra, y el mar."
