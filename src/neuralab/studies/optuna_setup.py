"""Optuna (Akiba et al., "Optuna: A Next-generation Hyperparameter Optimization Framework", 2019), imported on
first use with a one-line install hint when it is missing, and kept quiet so that only the CLI reports."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from neuralab.errors import UserError

INSTALL = 'hyper-parameter search needs Optuna: pip install "neuralab[search]"'


def import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UserError(INSTALL) from None
    return optuna


@contextlib.contextmanager
def quiet(optuna: Any) -> Iterator[None]:
    """Optuna's per-trial log lines and experimental-feature warnings off (heartbeats, retried trials)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)
