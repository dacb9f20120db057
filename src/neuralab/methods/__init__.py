"""Learning rules; importing this package registers them all."""

from neuralab.methods import supervised, tabular  # noqa: F401
