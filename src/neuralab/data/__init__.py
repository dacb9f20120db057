"""Data readers and sources; importing this package registers the sources (one import per line)."""

import neuralab.data.envs
import neuralab.data.function1d
import neuralab.data.mnist1d
import neuralab.data.sources
import neuralab.data.tweets
import neuralab.data.worked_example  # noqa: F401
