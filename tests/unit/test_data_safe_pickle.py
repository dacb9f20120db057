"""No file is unpickled unrestricted: crafted pickles are refused before they run, checkpoints never unpickle."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from neuralab import checkpoint
from neuralab.data.safe_pickle import load_arrays_pickle
from neuralab.errors import DataError, UnsafeFileError, UserError
from tests.conftest import record_digest


class RunsShell:
    """Unpickling this runs a shell command that writes `target` (what a malicious file would do)."""

    def __init__(self, target) -> None:
        self.target = str(target)

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.target}",)


class CallsEval:
    def __reduce__(self):
        return eval, ("__import__('os').getcwd()",)


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("gz", [False, True])
def test_arrays_round_trip(tmp_path, protocol, gz):
    data = ((np.arange(12, dtype=np.float32).reshape(3, 4), np.array([5, 0, 4], dtype=np.int64)),
            [np.float64(2.5), np.zeros((0, 2), dtype=np.uint8)], {"n": 3})
    raw = pickle.dumps(data, protocol=protocol)
    path = tmp_path / ("a.pkl.gz" if gz else "a.pkl")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    (x, y), (scalar, empty), extra = load_arrays_pickle(path)
    assert np.array_equal(x, data[0][0]) and x.dtype == np.float32
    assert y.tolist() == [5, 0, 4] and scalar == 2.5 and empty.shape == (0, 2) and extra == {"n": 3}


@pytest.mark.parametrize("gz", [False, True])
def test_pickle_that_runs_a_command_is_refused_and_does_not_run(tmp_path, gz):
    marker = tmp_path / "pwned"
    raw = pickle.dumps(((np.zeros(3), RunsShell(marker)),), protocol=2)
    path = tmp_path / ("evil.pkl.gz" if gz else "evil.pkl")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(UnsafeFileError) as info:
        load_arrays_pickle(path)
    message = str(info.value)
    assert str(path) in message and f"refusing to load {os.system.__module__}.system" in message
    assert not marker.exists()
    os.system(f"echo control > {marker}")  # the same command does write the file: the check above can fail
    assert marker.exists()


@pytest.mark.parametrize("payload", [CallsEval(), torch.nn.Linear(2, 2), __import__("collections").OrderedDict()])
def test_any_global_outside_the_allow_list_is_refused(tmp_path, payload):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UnsafeFileError, match="refusing to load"):
        load_arrays_pickle(path)


@pytest.mark.parametrize(("raw", "problem"), [(b"", "not a readable array pickle"),
                                              (pickle.dumps([1, 2, 3])[:-4], "not a readable array pickle"),
                                              (b"\x1f\x8b\x08\x00garbage", "corrupt gzip data")])
def test_broken_pickles_are_data_errors(tmp_path, raw, problem):
    path = tmp_path / "broken.pkl"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=problem) as info:
        load_arrays_pickle(path)
    assert not isinstance(info.value, UnsafeFileError) and str(path) in str(info.value)


def test_missing_pickle(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_arrays_pickle(tmp_path / "nope.pkl")


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_checkpoint_whose_tensors_file_is_a_pickle_is_refused(tmp_path, how):
    directory = tmp_path / "checkpoints"
    checkpoint.save(directory, 3, {"w": torch.ones(2), "n": 1})
    assert checkpoint.load(directory)[1]["n"] == 1
    marker = tmp_path / "pwned"
    weights = directory / "step-000000003.safetensors"
    if how == "torch.save":
        torch.save({"w": RunsShell(marker)}, weights)
    else:
        weights.write_bytes(pickle.dumps({"w": RunsShell(marker)}))
    record_digest(weights)
    with pytest.raises(UserError) as info:
        checkpoint.load(directory)
    message = str(info.value)
    assert str(weights) in message and "not a readable safetensors file" in message and "\n" not in message
    assert not marker.exists()
