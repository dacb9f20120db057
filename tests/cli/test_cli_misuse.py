"""The CLI misuse battery (issue 15): generated from the parser itself over every subcommand and every option, so a
new command or option is covered with no new test code. Missing, malformed and out-of-range arguments, unknown
options, bad choices, options without their value and positionals that name nothing each end with exit 2 and one
line on stderr (`neuralab: error: ...`), never a traceback, nothing on stdout."""

from __future__ import annotations

import argparse

import pytest

from neuralab.cli import main, make_parser
from neuralab.cli_args import Bounded

PLACEHOLDER = "placeholder"  # a positional's value where parsing fails before any positional is looked at
NOWHERE = "/nonexistent/neuralab-misuse"  # what a positional names when it names nothing


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


SUBCOMMANDS = _subcommands()


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and a.nargs != 0]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _required_options(parser: argparse.ArgumentParser) -> list[str]:
    """A valid value of each required option (the first choice), so the case under test is the only mistake."""
    out = []
    for a in _options(parser):
        if a.required:
            out += [a.option_strings[0], str(a.choices[0]) if a.choices else PLACEHOLDER]
    return out


def _filled(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """Every positional given `value` (twice where it takes several), then the required options."""
    args = []
    for a in _positionals(parser):
        args += [value, value] if a.nargs in ("+", "*") else [] if a.nargs == "?" else [value]
    return args + _required_options(parser)


def _bad_values(action: argparse.Action) -> list[str]:
    """Values outside what `action` accepts: malformed, out of its declared range, not one of its choices."""
    if isinstance(action.type, Bounded):
        bounds = action.type
        values = ["abc", "1e999x"]
        if bounds.kind is float:
            values += ["nan", "inf"]
        if bounds.minimum is not None:
            values.append(str(bounds.kind(bounds.minimum) - 1))
        if bounds.above is not None:
            values.append(str(bounds.kind(bounds.above)))
        if bounds.maximum is not None:
            values.append(str(bounds.kind(bounds.maximum) + 1))
        return values
    if action.choices:
        return ["no-such-choice"]
    return []


def _cases() -> list[tuple[str, list[str]]]:
    cases = []
    for name, parser in SUBCOMMANDS.items():
        filled = _filled(parser, PLACEHOLDER)
        if any(a.nargs in (None, "+") for a in _positionals(parser)) or _required_options(parser):
            cases.append((f"{name}: nothing", [name]))
        cases.append((f"{name}: unknown option", [name, *filled, "--no-such-option", "1"]))
        for action in _options(parser):
            flag = action.option_strings[0]
            if action.nargs != 0:  # an option that takes a value, given without it
                cases.append((f"{name} {flag}: no value", [name, *filled, flag]))
            cases += [(f"{name} {flag} {v}", [name, *filled, flag, v]) for v in _bad_values(action)]
        if _positionals(parser):
            cases.append((f"{name}: names nothing", [name, *_filled(parser, NOWHERE)]))
    return cases


CASES = _cases()


def test_the_battery_covers_every_subcommand_and_every_bounded_option():
    covered = {case.split(":")[0].split(" ")[0] for case, _ in CASES}
    assert covered == set(SUBCOMMANDS)
    numeric = [(n, a.option_strings[0]) for n, p in SUBCOMMANDS.items() for a in _options(p)
               if a.type in (int, float)]
    assert not numeric, f"declare the range of these numeric options with neuralab.cli_args: {numeric}"
    assert sum(" abc" in case for case, _ in CASES) >= 30


@pytest.mark.parametrize(("case", "argv"), CASES, ids=[case for case, _ in CASES])
def test_a_mistake_is_one_line_and_exit_2(case, argv, capsys, tmp_path, monkeypatch):
    # In an empty folder: `serve` without RUNS_DIR serves ./runs, which a developer's checkout has after `make demo`
    # (the battery then started a real server and waited on it forever).
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, f"{case}: exit {code}\n{err}"
    assert out == "", f"{case}: printed {out!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuralab: error: "), f"{case}: {err}"
    assert "Traceback" not in err
