"""Foundations (curriculum F1-F3): the perceptron and Adaline on logic gates, a 2-2-1 MLP on XOR, and the
worked backpropagation example of seed 000."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

# Rosenblatt's online rule: one truth-table row per step (4 steps an epoch) in a seeded shuffled order,
# at most 100 epochs; a pass without a mistake ends the run.
for gate in ("and", "or"):
    register(Recipe(
        name=f"perceptron-{gate}", family="foundations", curriculum="F1",
        summary=f"Perceptron (sign unit, Rosenblatt's rule, no autograd) on {gate.upper()}: converges, 100%.",
        model="threshold-unit", method="perceptron", data="synthetic",
        method_config=dict(lr=1.0),
        data_config=dict(kind=gate, batch_size=1, normalize="none"),
        run=RunConfig(epochs=100, log_every=4, checkpoint_every=40),
        expect={"test/acc": (">=", 1.0), "train/converged": ("==", 1)},
    ))

register(Recipe(
    name="perceptron-xor", family="foundations", curriculum="F1",
    summary="Perceptron on XOR: never converges (not linearly separable); the pocket keeps the best 75%.",
    model="threshold-unit", method="perceptron", data="synthetic",
    method_config=dict(lr=1.0, pocket=True),
    data_config=dict(kind="xor", batch_size=1, normalize="none"),
    run=RunConfig(epochs=100, log_every=4, checkpoint_every=40),
    expect={"test/acc": (">=", 0.75), "train/converged": ("==", 0)},
))

# The delta rule on the whole truth table per step: batch gradient descent to the least-squares line, from a
# random start (from zero, XOR would start on its least-squares solution w = 0, b = 0 and stop at once).
for gate, acc in (("and", (">=", 1.0)), ("or", (">=", 1.0)), ("xor", ("<=", 0.75))):
    register(Recipe(
        name=f"adaline-{gate}", family="foundations", curriculum="F2",
        summary=f"Adaline (Widrow-Hoff delta rule) on {gate.upper()}: reaches the least-squares solution"
                + ("." if gate != "xor" else ", which cannot classify XOR."),
        model="threshold-unit", method="adaline", data="synthetic",
        model_config=dict(init="random", init_scale=0.5),
        method_config=dict(lr=0.1, tol=1e-7),
        data_config=dict(kind=gate, batch_size=4, normalize="none"),
        run=RunConfig(epochs=1000, eval_every=50, log_every=10, checkpoint_every=500),
        expect={"train/lstsq_distance": ("<=", 1e-4), "test/acc": acc},
        monitor="train/lstsq_distance", mode="min",
    ))

register(Recipe(
    name="mlp-xor", family="foundations", curriculum="F3",
    summary="2-2-1 sigmoid MLP learns XOR by backpropagation (full-batch gradient descent); 18 of seeds 0-19 do.",
    model="mlp", method="supervised", data="synthetic",
    model_config=dict(in_features=2, hidden=(2,), num_classes=1, activation="sigmoid"),
    method_config=dict(optimizer="sgd", lr=1.0, loss="bce"),
    data_config=dict(kind="xor", batch_size=4, normalize="standardize"),
    run=RunConfig(steps=3000, eval_every=100, log_every=100, checkpoint_every=1000, threads=1),
    expect={"test/acc": (">=", 1.0)},
))

# Seed 000 "Backpropagation on an ANN": inputs (2, 3), target 1, identity units, no biases, eta 0.05.
register(Recipe(
    name="backprop-example", family="foundations", curriculum="F3",
    summary="The slides' worked example: 2-2-1 linear net, prediction 0.191, one step of hand-derived backprop.",
    model="mlp", method="manual-backprop", data="worked-example",
    model_config=dict(in_features=2, hidden=(2,), num_classes=1, activation="identity", bias=False),
    method_config=dict(lr=0.05, init={"net.1.weight": [[0.11, 0.21], [0.12, 0.08]],
                                                      "net.3.weight": [[0.14, 0.15]]}),
    data_config=dict(x=(2.0, 3.0), y=(1.0,)),
    run=RunConfig(steps=1, log_every=1),
    expect={"example/prediction_before": ("==", 0.191), "example/se_before": ("==", 0.6545),
            "example/new_prediction": ("==", 0.2557)},
))
