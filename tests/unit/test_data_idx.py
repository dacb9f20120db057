"""IDX reader: round trips through `write_idx`, big-endian types, and one clear error per kind of bad file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from neuralab.data.idx import read_idx, write_idx
from neuralab.data.mnist import from_idx_folder
from neuralab.errors import DataError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_uint8_images(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    path = tmp_path / name
    write_idx(path, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    got = read_idx(path)
    assert got.dtype == torch.uint8 and got.shape == (7, 28, 28)
    assert torch.equal(got, torch.from_numpy(images))


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_int8_labels_and_explicit_compression(tmp_path, compress):
    labels = np.array([-3, 0, 5, 127, -128], dtype=np.int8)
    path = tmp_path / "labels.bin"
    write_idx(path, labels, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    assert read_idx(path).tolist() == labels.tolist()


@pytest.mark.parametrize(("code", "dtype"), [(0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_big_endian_types_are_read_in_native_order(tmp_path, code, dtype):
    values = np.array([[1, -2, 300], [40000 if dtype != ">i2" else 7, 5, -6]]).astype(dtype)
    raw = bytes([0, 0, code, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + values.tobytes()
    path = tmp_path / "x.idx"
    path.write_bytes(raw)
    assert read_idx(path).tolist() == values.astype(values.dtype.newbyteorder("=")).tolist()


def test_write_idx_refuses_other_dtypes(tmp_path):
    with pytest.raises(ValueError, match="uint8 and int8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.float32))


def _error(path) -> str:
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert "file not found" in _error(tmp_path / "nope-idx1-ubyte")


@pytest.mark.parametrize("raw", [b"\x01\x02\x08\x01\x00\x00\x00\x01\x07",  # not 0000
                                 b"\x00\x00\x07\x01\x00\x00\x00\x01\x07",  # unknown type code
                                 b"PK\x03\x04 a zip file"])
def test_wrong_magic(tmp_path, raw):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    message = _error(path)
    assert "wrong IDX magic number" in message and raw[:4].hex() in message


def test_empty_file_is_a_wrong_magic(tmp_path):
    path = tmp_path / "empty-idx1-ubyte"
    path.write_bytes(b"")
    assert "(empty file)" in _error(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big") + b"\x00\x00")  # 3 dims, 1.5 given
    message = _error(path)
    assert "truncated IDX header" in message and "3 dimensions" in message


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    full = tmp_path / "full-idx3-ubyte"
    write_idx(full, np.ones((10, 4, 4), dtype=np.uint8))
    raw = full.read_bytes()[:-5]  # 155 of the 160 data bytes
    path = tmp_path / ("cut-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    message = _error(path)
    assert "truncated IDX file" in message and "155 data bytes" in message and "(10, 4, 4)" in message


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut-idx3-ubyte.gz"
    write_idx(path, np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:2000])
    assert "corrupt or truncated gzip data" in _error(path)


def test_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "bad-idx3-ubyte.gz"
    write_idx(path, np.random.default_rng(2).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    raw = bytearray(path.read_bytes())
    raw[100:400] = bytes(300)  # zero a stretch of the deflate stream
    path.write_bytes(bytes(raw))
    assert "corrupt or truncated gzip data" in _error(path)


def _write_set(folder, n_train, n_train_labels):
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((n_train, 28, 28), dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(n_train_labels, dtype=np.uint8))  # raw works too
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(3, dtype=np.uint8))


def test_idx_folder_reads_gzipped_and_raw_files(tmp_path):
    _write_set(tmp_path / "set", 5, 5)
    (xtr, ytr), (xte, yte) = from_idx_folder(tmp_path / "set")
    assert xtr.shape == (5, 28, 28) and ytr.dtype == torch.int64 and yte.tolist() == [0, 1, 2]


def test_idx_folder_with_images_and_labels_that_do_not_match(tmp_path):
    _write_set(tmp_path / "set", 5, 4)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: images \(5, 28, 28\) do not match labels \(4,\)"):
        from_idx_folder(tmp_path / "set")


def test_idx_folder_missing_a_file_is_not_there(tmp_path):
    _write_set(tmp_path / "set", 5, 5)
    (tmp_path / "set" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert from_idx_folder(tmp_path / "set") is None
