"""`neuralab play`: episodes side by side without recording, every frame with --record, bad requests refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import neuralab
from neuralab.cli import main
from neuralab.play import write_gif


@pytest.fixture(scope="module")
def cliff_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("play") / "cliff"
    neuralab.train("qlearning-cliffwalking", {"run": {"steps": 300}}, out=out, progress=False)
    return out


def test_play_prints_each_episode_and_the_mean(cliff_run, capsys):
    assert main(["play", str(cliff_run), "--episodes", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["episode 0: return -13, length 13", "episode 1: return -13, length 13",
                     "episode 2: return -13, length 13", "mean return -13.00 +- 0.00 over 3 episodes, mean length 13.0"]


def test_max_steps_cuts_every_episode(cliff_run, capsys):
    assert main(["play", str(cliff_run), "--episodes", "2", "--max-steps", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["episode 0: return -5, length 5", "episode 1: return -5, length 5"]


@pytest.mark.parametrize("args, message", [(["--episodes", "0"], "argument --episodes: 0 is below 1"),
                                           (["--max-steps", "-1"], "argument --max-steps: -1 is below 0"),
                                           (["--record", "out.png"], "give a path ending in .gif")])
def test_bad_requests_get_one_line(cliff_run, capsys, tmp_path, args, message):
    assert main(["play", str(cliff_run), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_gif_keeps_every_frame_at_the_frame_rate(tmp_path):
    frames = [np.full((8, 10, 3), 40 * k, dtype=np.uint8) for k in range(6)]
    path = write_gif(frames, tmp_path / "a.gif", frames_per_second=50)
    with Image.open(path) as im:
        assert im.n_frames == 6 and im.size == (10, 8) and im.info["duration"] == 20
