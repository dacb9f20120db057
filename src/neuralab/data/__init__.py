"""Data readers and sources; importing this package registers the sources."""

from neuralab.data import function1d, sources  # noqa: F401
