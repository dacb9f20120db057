"""Recipes, one file per family; importing this package registers them all."""

from neuralab.recipes import activations, approximation, cnn, initialization, mlp  # noqa: F401
