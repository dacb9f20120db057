"""A small word-analogy test set for Penn Treebank's vocabulary, in the manner of Mikolov et al.'s
questions-words.txt ("Efficient Estimation of Word Representations in Vector Space", 2013).

Each category lists word pairs (a, b) that stand in one relation (man -> woman, big -> bigger); every ordered
choice of two different pairs of a category makes one question a : b :: c : d, answered correctly when d is the
word nearest b - a + c. The pairs are lower-case (Penn Treebank has no capitals) and every word occurs at least
25 times in Penn Treebank's training text: 83 pairs, 1,026 questions, against Mikolov's 19,544 questions on a
corpus about 1,000 times larger. Read the accuracy on Penn Treebank (887k training words) as a sanity check
that relations are learnt at all, not as a figure comparable with the paper's.
"""

from __future__ import annotations

from itertools import permutations

ANALOGY_PAIRS: dict[str, tuple[str, ...]] = {
    "family": ("man woman", "he she", "his her", "men women", "father mother", "husband wife", "mr. mrs."),
    "capital": ("japan tokyo", "britain london", "france paris", "china beijing"),
    "nationality": ("japan japanese", "germany german", "china chinese", "britain british", "france french",
                    "canada canadian", "europe european", "america american", "india indian",
                    "australia australian", "korea korean", "poland polish", "switzerland swiss", "africa african",
                    "asia asian"),
    "plural": ("year years", "day days", "week weeks", "month months", "company companies", "bank banks",
               "market markets", "price prices", "share shares", "stock stocks", "car cars", "plant plants",
               "bond bonds", "investor investors", "child children"),
    "comparative": ("big bigger", "small smaller", "high higher", "low lower", "large larger", "long longer",
                    "strong stronger", "old older", "good better", "bad worse", "weak weaker", "cheap cheaper",
                    "easy easier", "hard harder", "young younger"),
    "past-tense": ("buy bought", "sell sold", "go went", "say said", "take took", "make made", "rise rose",
                   "fall fell", "pay paid", "grow grew", "find found", "give gave", "think thought", "come came",
                   "tell told"),
    "present-participle": ("buy buying", "sell selling", "go going", "say saying", "take taking", "make making",
                           "rise rising", "fall falling", "pay paying", "grow growing", "trade trading",
                           "run running"),
}


def pairs(category: str | None = None) -> list[tuple[str, str]]:
    """The (a, b) pairs of one category, or of all of them."""
    names = [category] if category else list(ANALOGY_PAIRS)
    return [tuple(p.split()) for name in names for p in ANALOGY_PAIRS[name]]  # type: ignore[misc]


def questions() -> dict[str, list[tuple[str, str, str, str]]]:
    """{category: [(a, b, c, d), ...]}: a is to b as c is to d, for every ordered choice of two pairs."""
    return {name: [(a, b, c, d) for (a, b), (c, d) in permutations(pairs(name), 2)] for name in ANALOGY_PAIRS}
