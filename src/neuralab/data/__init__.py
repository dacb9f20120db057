"""Data readers and sources; importing this package registers the sources."""

from neuralab.data import sources, worked_example  # noqa: F401
