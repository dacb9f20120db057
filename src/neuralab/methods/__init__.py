"""Learning rules; importing this package registers them all."""

from neuralab.methods import delta_rule, manual_backprop, perceptron, supervised  # noqa: F401
