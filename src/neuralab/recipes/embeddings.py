"""Word-embedding recipes (curriculum S6): word2vec's skip-gram and CBOW with negative sampling on Penn Treebank
(Mikolov et al. 2013, "Efficient Estimation of Word Representations in Vector Space" and "Distributed
Representations of Words and Phrases and their Compositionality").

Penn Treebank is small for word2vec (887k training words against the papers' billions), so the recipes take the
settings the paper recommends for small data: more negatives, a milder subsampling threshold, several epochs.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

PTB = dict(batch_size=1024, window=5, negatives=10, subsample=1e-4)
RUN = RunConfig(epochs=5, log_every=50, threads=1)

register(Recipe(
    name="skipgram-ptb", family="embedding", curriculum="S6",
    summary="Skip-gram with negative sampling (100-d, window 5, 10 negatives, subsampling 1e-4) on Penn Treebank; "
            "nearest neighbours, analogies and a 2-D map of the frequent words.",
    model="skipgram", method="negative-sampling", data="ptb-words",
    method_config=dict(optimizer="sparse_adam", lr=0.005), data_config=PTB, run=RUN,
    # Measured 0.027 (28 of 1,026 questions; seed 0, 250 s on 2 cores shared with 5 other jobs; chance is about
    # 1 in 10,000); related pairs' mean cosine 0.56 against 0.36 for random pairs.
    expect={"eval/analogy_acc": (">=", 0.015)},
))

register(Recipe(
    name="cbow-ptb", family="embedding", curriculum="S6",
    summary="CBOW with negative sampling (100-d, window 5, 10 negatives, subsampling 1e-4) on Penn Treebank; "
            "nearest neighbours, analogies and a 2-D map of the frequent words.",
    model="cbow", method="negative-sampling", data="ptb-words",
    method_config=dict(optimizer="sparse_adam", lr=0.005), data_config=PTB, run=RUN,
    # Measured 0.024 (25 of 1,026; seed 0, 170 s on 2 shared cores); related pairs 0.54 against 0.30 for random.
    expect={"eval/analogy_acc": (">=", 0.015)},
))
