"""Data readers and sources; importing this package registers the sources."""

from neuralab.data import envs, sources  # noqa: F401
