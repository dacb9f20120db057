"""Learning rules; importing this package registers them all."""

from neuralab.methods import activation_compare, init_depth, init_symmetry, supervised, width_sweep  # noqa: F401
