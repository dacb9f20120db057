"""Architectures, one concept per file, registered by family."""

from neuralab.models.cnn import lenet5  # noqa: F401
from neuralab.models.linear import logistic  # noqa: F401
from neuralab.models.mlp import mlp  # noqa: F401
