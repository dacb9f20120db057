"""neuralab: correct, readable, fast reference implementations of the deep-learning curriculum.

The API functions load on first use, so `import neuralab` and the command line's `--help`, `list` and
`--version` answer without importing torch.
"""

from __future__ import annotations

import os
from typing import Any

# Plots are written as files: the Agg backend, chosen before anything imports pyplot (a user's MPLBACKEND wins).
os.environ.setdefault("MPLBACKEND", "Agg")

__all__ = ["create_model", "list_models", "list_recipes", "load", "model_info", "train"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from neuralab import api

        return getattr(api, name)
    raise AttributeError(f"module 'neuralab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
