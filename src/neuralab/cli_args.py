"""Numbers on the command line, each with the range its option accepts, declared where the option is defined.

argparse refuses a malformed or out-of-range value in one line before any command runs (`neuralab predict RUN x.png
--top 0` -> "argument --top: 0 is below 1: show at least one probability"), and the CLI misuse battery
(tests/cli/test_cli_misuse.py) reads the declared ranges of every option of every subcommand to try values outside
them. Upper bounds keep a typo from asking for a workload that would not finish (`--n 10000000000`).
"""

from __future__ import annotations

import argparse
import math

SEED_MAX = 2**63 - 1  # torch.manual_seed takes any integer below 2**64; a signed 64-bit seed also fits numpy's


class Bounded:
    """An argparse `type`: text -> int or float, refused unless finite and inside [minimum, maximum] (or, with
    `above`, strictly greater than it)."""

    def __init__(self, kind: type, minimum: float | None = None, maximum: float | None = None, *,
                 above: float | None = None, why: str = "") -> None:
        self.kind, self.minimum, self.maximum, self.above, self.why = kind, minimum, maximum, above, why
        self.__name__ = "integer" if kind is int else "number"  # argparse names the type in its messages

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if self.kind is int else 'a number'}"
                                             ) from None
        why = f": {self.why}" if self.why else ""
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number{why}")
        if self.minimum is not None and value < self.minimum:
            raise argparse.ArgumentTypeError(f"{text} is below {self.minimum:g}{why}")
        if self.above is not None and value <= self.above:
            raise argparse.ArgumentTypeError(f"{text} must be above {self.above:g}{why}")
        if self.maximum is not None and value > self.maximum:
            raise argparse.ArgumentTypeError(f"{text} is above {self.maximum:g}{why}")
        return value


def integer(minimum: int | None = None, maximum: int | None = None, why: str = "") -> Bounded:
    return Bounded(int, minimum, maximum, why=why)


def number(minimum: float | None = None, maximum: float | None = None, *, above: float | None = None,
           why: str = "") -> Bounded:
    return Bounded(float, minimum, maximum, above=above, why=why)


def seed() -> Bounded:
    return integer(0, SEED_MAX, "a seed is a non-negative 64-bit integer")
