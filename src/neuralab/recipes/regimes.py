"""The recurrent regimes of curriculum S3 (Karpathy, "The unreasonable effectiveness of recurrent neural
networks", 2015, draws the five): many-to-one (classify a sequence), many-to-many aligned (one tag per step)
and one-to-many (a sequence from one vector), each trained by the supervised rule. Seq2seq is in its own file.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="gru-mnist1d", family="rnn", curriculum="S3",
    summary="Many-to-one: a GRU reads each MNIST-1D sequence as 40 steps of one value and classifies it from its "
            "final hidden state; compare the 1-D CNN of cnn1d-mnist1d.",
    model="sequence-classifier", method="supervised", data="mnist1d",
    model_config=dict(cell="gru", hidden=128),
    method_config=dict(optimizer="adam", lr=1e-2, clip_grad_norm=1.0),
    data_config=dict(batch_size=100),
    run=RunConfig(steps=1000, eval_every=250, log_every=50, threads=1),
    expect={"test/acc": (">=", 0.94)},  # measured 0.968 at step 500, 0.975 at step 1,000 (seed 0)
))

register(Recipe(
    name="lstm-bracket-depth", family="rnn", curriculum="S3",
    summary="Many-to-many aligned: an LSTM tags every token of a '(', ')', 'x' string with its nesting depth "
            "(0-5), which only counting over the whole prefix decides; padding is ignored.",
    model="sequence-tagger", method="supervised", data="bracket-depth",
    method_config=dict(optimizer="adam", lr=3e-3, clip_grad_norm=1.0),
    run=RunConfig(steps=600, eval_every=200, log_every=50, threads=1),
    # Measured 1.000 from step 400 (seed 0); tagging each token by its symbol alone reaches 0.29.
    expect={"test/acc": (">=", 0.99)},
))

register(Recipe(
    name="gru-sine-waves", family="rnn", curriculum="S3",
    summary="One-to-many: a GRU generates 50 values of a sine from one vector (amplitude, frequency, cos and sin "
            "of the phase) that sets its first state and feeds every step.",
    model="sequence-generator", method="supervised", data="sine-waves",
    method_config=dict(optimizer="adam", lr=3e-3, loss="mse", clip_grad_norm=1.0, schedule="cosine"),
    run=RunConfig(steps=1500, eval_every=300, log_every=50, threads=1),
    # The mean training wave as the answer to every vector scores 0.568 (test MSE).
    expect={"test/loss": ("<=", 0.02)},
    mode="min",
))
