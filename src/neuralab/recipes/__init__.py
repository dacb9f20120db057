"""Recipes, one file per family; importing this package registers them all."""

from neuralab.recipes import cnn, mlp, search  # noqa: F401
