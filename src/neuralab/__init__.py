"""neuralab: correct, readable, fast reference implementations of the deep-learning curriculum."""

from __future__ import annotations

from typing import Any

__all__ = ["create_model", "list_recipes", "load", "train"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The API functions, imported on first use: `import neuralab` (and `neuralab --version`) stays free of
    torch until something needs it."""
    if name in __all__:
        from neuralab import api

        return getattr(api, name)
    raise AttributeError(f"module 'neuralab' has no attribute {name!r}")
