"""A seeded sample of the fuzzing campaign (scripts/fuzz_campaign.py): every reader of tests/fuzz/readers.py on
EXAMPLES hostile inputs, derandomised so CI sees the same inputs each run. Each input must give a result or one
short `UserError` line within SECONDS; any other exception fails the test and hypothesis shrinks the input."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.readers import READERS, Files, Reader, outcome, write_files

EXAMPLES = 200
SECONDS = 30.0  # one input; the campaign's longest was under a second, but CI machines can stall


class Hang(BaseException):
    """An input read for longer than SECONDS (a BaseException, so no reader's `except OSError` can swallow it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no result within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("reader", [pytest.param(r, id=r.name) for r in READERS])
def test_reader_gives_a_result_or_one_line_error(reader: Reader) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(reader.inputs())
    def check(files: Files) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            write_files(Path(tmp), files)
            with time_limit(SECONDS):
                outcome(reader, Path(tmp))

    check()


def test_outcome_fails_on_a_crash_and_on_a_long_error() -> None:
    """The contract check itself can fail: another exception propagates, a many-line error is refused."""
    from neuralab.errors import DataError

    def crash(folder: Path) -> None:
        raise KeyError("x")

    def chatty(folder: Path) -> None:
        raise DataError("first line\nsecond line")

    with tempfile.TemporaryDirectory() as tmp:
        with pytest.raises(KeyError):
            outcome(Reader("crash", READERS[0].inputs, crash), Path(tmp))
        with pytest.raises(AssertionError, match="not one short line"):
            outcome(Reader("chatty", READERS[0].inputs, chatty), Path(tmp))
        with pytest.raises(Hang), time_limit(0.05):
            while True:
                pass
