"""Recurrent-network lessons (curriculum S1, S5): gradients through time in Elman, LSTM and GRU cells, and Elman's
letter-prediction experiment (the methods are `neuralab.experiments.vanishing_gradients_rnn` and
`neuralab.experiments.elman_letters`)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="vanishing-gradients-rnn", family="rnn", curriculum="S1",
    summary="||dLoss/dh_t|| against distance from the end for Elman, LSTM and GRU cells on 200-step random "
            "sequences, with the product of Jacobian norms and 0.9^k (no training).",
    model="srn", method="vanishing-gradients-rnn", data="random-tokens",
    model_config=dict(hidden_size=32),
    data_config=dict(length=200, batch_size=32, batches=5),
    run=RunConfig(steps=5, log_every=1, threads=1),
    # Measured over seeds 0-2: elman 1e-12..5e-11 at k = 50, lstm_forget1 2e-5..5e-5; per step 0.59-0.63 and 0.84-0.86.
    expect={"elman/ratio_50": ("<=", 1e-8), "lstm_forget1/ratio_50": (">=", 1e-6), "elman/per_step": ("<=", 0.75),
            "lstm_forget1/per_step": (">=", 0.8)},
))

register(Recipe(
    name="elman-letters", family="rnn", curriculum="S5",
    summary="Elman 1990: an Elman net predicts the next letter of grammar sentences written without spaces; "
            "its error peaks at word onsets, and its hidden states group words by class.",
    model="srn", method="elman-letters", data="elman-sentences",
    model_config=dict(cell="elman", hidden_size=32),
    data_config=dict(sentences=3000, window=32, batch_size=16),
    run=RunConfig(steps=1500, eval_every=500, log_every=50, threads=1),
    # Measured over seeds 0-2: onset/within 12.6-12.8 (untrained 0.98-1.01), nearest word of the same class
    # 0.56-0.67 (untrained 0.11-0.28), class silhouette 0.13-0.18 (untrained -0.15 to -0.10).
    expect={"test/onset_over_within": (">=", 5.0), "test/nearest_same_class": (">=", 0.45),
            "test/class_silhouette": (">=", 0.05)},
))
