"""Learning rules; importing this package registers them all."""

from neuralab.methods import optimizer_comparison, second_order_compare, supervised  # noqa: F401
