"""neuralab: correct, readable, fast reference implementations of the deep-learning curriculum."""

from neuralab.api import create_model, list_recipes, load, train

__all__ = ["create_model", "list_recipes", "load", "train"]
__version__ = "0.1.0"
