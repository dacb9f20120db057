"""Every reader of an untrusted file, each with a hypothesis strategy of hostile inputs and the call that reads them.

An input is a small folder: {relative path: bytes}. The strategies start from valid files (built here, tiny) and
break them the ways damaged and crafted files are broken: cut short, bytes flipped or inserted, size fields set to
0, 2^31, 2^32 - 1 or 10^12, JSON values swapped for the wrong type, NaN, huge numbers, long strings, odd unicode or
nesting thousands deep. The contract every reader keeps on every input: it returns a result or raises
`neuralab.errors.UserError` with one line; never another exception, within a time limit, and without allocating
much more than the input's own size (`tests/fuzz/test_hostile_inputs.py` runs the huge claims under `RLIMIT_AS`).

The same table drives the seeded CI sample (`tests/fuzz/test_fuzz_readers.py`) and the campaign
(`scripts/fuzz_campaign.py`).
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import pickle
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from neuralab.errors import UserError

Files = dict[str, bytes]
MAX_MESSAGE = 1000  # characters: an error line longer than this quotes too much of the file
EXTREME_INTS = (0, 1, 2, 255, 256, 65535, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 10**12, -1, -(2**31))


@dataclass(frozen=True)
class Reader:
    """One reader: the hostile folders it is given and the call that reads one (its result is discarded)."""

    name: str
    inputs: Callable[[], st.SearchStrategy[Files]]
    read: Callable[[Path], Any]


def write_files(folder: Path, files: Files) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def outcome(reader: Reader, folder: Path) -> str:
    """"ok" or the one-line `UserError` message; any other exception propagates, as does an error line that is not
    one line of at most MAX_MESSAGE characters (raised as AssertionError)."""
    try:
        reader.read(folder)
    except UserError as exc:
        message = str(exc)
        if "\n" in message or not message or len(message) > MAX_MESSAGE:
            raise AssertionError(f"{reader.name}: error is not one short line ({len(message)} characters, "
                                 f"{message.count(chr(10)) + 1} lines): {message[:200]!r}") from exc
        return message
    return "ok"


# ---------------------------------------------------------------------------------------------------------------
# Generic mutations

@st.composite
def mutated(draw: st.DrawFn, data: bytes, max_edits: int = 4) -> bytes:
    """`data` with up to `max_edits` edits: cut, bytes flipped, inserted, deleted, or a 4/8-byte field overwritten
    with an extreme integer."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, max_edits))):
        kind = draw(st.sampled_from(["cut", "flip", "insert", "delete", "int32", "int64", "repeat"]))
        pos = draw(st.integers(0, len(out)))
        if kind == "cut":
            del out[pos:]
        elif kind == "flip" and pos < len(out):
            out[pos] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del out[pos:pos + draw(st.integers(1, 16))]
        elif kind in ("int32", "int64"):
            width, fmt = (4, "I") if kind == "int32" else (8, "Q")
            value = draw(st.sampled_from(EXTREME_INTS)) % (1 << (8 * width))
            order = draw(st.sampled_from("<>"))
            out[pos:pos + width] = struct.pack(order + fmt, value)
        elif kind == "repeat":
            out[pos:pos] = bytes(out[pos:pos + 64]) * draw(st.integers(1, 50))
    return bytes(out)


RAW_TOKEN = "\x00raw{}\x00"  # a JSON string standing for raw text spliced in after dumping (deep nesting)


def hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(EXTREME_INTS), st.integers(-(2**70), 2**70),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 0.5, 1e-320]),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
        st.sampled_from(["", " ", "x" * 5000, "\u202e\u0000\ud7ff", "\U0001f600", "../../etc/passwd", "NaN", "1e999",
                         "\t\n"]))


def hostile_values() -> st.SearchStrategy[Any]:
    return st.recursive(hostile_scalars(), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)


@st.composite
def mutated_tree(draw: st.DrawFn, doc: Any, max_edits: int = 3) -> tuple[Any, list[str]]:
    """A deep copy of the JSON tree `doc` with up to `max_edits` nodes replaced, deleted or added, and the raw
    texts (nesting thousands deep, numbers of thousands of digits) to splice in for RAW_TOKEN strings."""
    doc = copy.deepcopy(doc)
    raws: list[str] = []
    for _ in range(draw(st.integers(1, max_edits))):
        parent, key, node = None, None, doc
        while isinstance(node, dict | list) and node and draw(st.integers(0, 3)):
            key = draw(st.sampled_from(sorted(node, key=str))) if isinstance(node, dict) else \
                draw(st.integers(0, len(node) - 1))
            parent, node = node, node[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "raw"]))
        if action == "raw":
            depth = draw(st.sampled_from([100, 3000, 50000]))
            raws.append(draw(st.sampled_from(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth,
                                              "9" * 5000, "-" + "1" * 20, "1e400", "NaN", "-Infinity"])))
            value: Any = RAW_TOKEN.format(len(raws) - 1)
        else:
            value = draw(hostile_values())
        if parent is None:
            doc = value if action != "add" else [doc, value]
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(node, dict):
            node[draw(st.sampled_from(["id", "name", "__tensor__", "__pairs__", "__tuple__", "step", "size", "x"]))] \
                = value
        elif action == "add" and isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), value)
        else:
            parent[key] = value
    return doc, raws


def dump_json(doc: Any, raws: list[str]) -> bytes:
    text = json.dumps(doc, allow_nan=True)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(RAW_TOKEN.format(i)), raw)
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def hostile_json(draw: st.DrawFn, doc: Any) -> bytes:
    """`doc` as JSON bytes: valid, tree-mutated, and/or byte-mutated."""
    if draw(st.integers(0, 9)) == 0:
        return dump_json(doc, [])
    tree, raws = draw(mutated_tree(doc))
    text = dump_json(tree, raws)
    return draw(mutated(text, 2)) if draw(st.integers(0, 3)) == 0 else text


# ---------------------------------------------------------------------------------------------------------------
# Images

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def forged_png(width: int, height: int) -> bytes:
    """A PNG whose header (with a correct CRC) claims width x height pixels, followed by a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(bytes(64))) + \
        _png_chunk(b"IEND", b"")


@cache
def sample_images() -> tuple[tuple[str, bytes], ...]:
    """(suffix, bytes) of small valid images in the formats Pillow reads, in several modes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for fmt, suffix, mode in [("PNG", ".png", "L"), ("PNG", ".png", "RGBA"), ("PNG", ".png", "P"),
                              ("PNG", ".png", "I;16"), ("JPEG", ".jpg", "RGB"), ("GIF", ".gif", "P"),
                              ("BMP", ".bmp", "RGB"), ("TIFF", ".tif", "RGB"), ("TIFF", ".tiff", "F"),
                              ("WEBP", ".webp", "RGB"), ("PPM", ".pgm", "L"), ("PPM", ".ppm", "RGB")]:
        size = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        base = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
        img = base.convert(mode) if mode not in ("I;16", "F") else base.convert("L").convert(mode)
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out.append((suffix, buf.getvalue()))
    return tuple(out)


@st.composite
def hostile_image(draw: st.DrawFn) -> tuple[str, bytes]:
    """(suffix, bytes): a valid small image, damaged, forged with a huge size, or plain garbage."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        side = st.sampled_from([0, 1, 2**14, 2**16, 10**5, 2**31 - 1, 2**32 - 1])
        return ".png", forged_png(draw(side), draw(side))
    if kind == 1:
        return draw(st.sampled_from([".png", ".jpg", ".gif", ".bmp"])), draw(st.binary(max_size=64))
    suffix, data = draw(st.sampled_from(sample_images()))
    return suffix, draw(mutated(data)) if kind > 5 else data


# ---------------------------------------------------------------------------------------------------------------
# IDX

_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@st.composite
def idx_files(draw: st.DrawFn) -> Files:
    code = draw(st.one_of(st.sampled_from(sorted(_IDX_TYPES)), st.integers(0, 255)))
    shape = draw(st.lists(st.integers(0, 5), max_size=4))
    if draw(st.integers(0, 3)) == 0:  # a size field that claims far more than the file holds
        shape = draw(st.lists(st.one_of(st.integers(0, 5), st.sampled_from(EXTREME_INTS).filter(lambda v: v >= 0)
                                        .map(lambda v: v % 2**32)), min_size=1, max_size=5))
    dtype = np.dtype(_IDX_TYPES.get(code, "u1"))
    count = int(np.prod([min(d, 5) for d in shape]))
    data = np.random.default_rng(draw(st.integers(0, 99))).integers(0, 256, count * dtype.itemsize,
                                                                    dtype=np.uint8).tobytes()
    raw = bytes([0, 0, code, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape) + data
    raw = draw(mutated(raw))
    if draw(st.booleans()):
        raw = gzip.compress(raw)
        if draw(st.integers(0, 2)) == 0:
            raw = draw(mutated(raw, 2))
    return {"data-idx3-ubyte": raw}


def read_idx_file(folder: Path) -> Any:
    from neuralab.data.idx import read_idx

    return read_idx(folder / "data-idx3-ubyte")


# ---------------------------------------------------------------------------------------------------------------
# Packaged pickle (restricted unpickler)

_GLOBALS = ["numpy._core.multiarray\n_reconstruct", "numpy.core.multiarray\n_reconstruct", "numpy\nndarray",
            "numpy\ndtype", "numpy._core.multiarray\nscalar", "numpy._core.numeric\n_frombuffer", "_codecs\nencode",
            "builtins\nbytes", "__builtin__\nbytes", "builtins\neval", "os\nsystem", "numpy\nload"]


def _push(value: Any) -> bytes:
    """Pickle opcodes that push `value` (protocol 2 framing stripped)."""
    return pickle.dumps(value, protocol=2)[2:-1]


@st.composite
def pickle_expression(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Opcodes that push one value: a plain value, or an allowed (or forbidden) global called with expressions,
    or an object given a state (BUILD)."""
    kind = draw(st.integers(0, 3 if depth < 3 else 0))
    if kind == 0:
        return _push(draw(st.one_of(
            st.sampled_from(EXTREME_INTS), st.sampled_from(["latin1", "utf-8", "hex", "zlib", "b", "f4", "O", "V8",
                                                           "V1000000000000", "<f8", "|u1", "(1000000000)u1"]),
            st.binary(max_size=24), st.tuples(st.sampled_from(EXTREME_INTS)), st.none(), st.booleans(),
            st.tuples(st.integers(0, 3), st.integers(0, 3)), st.text(max_size=8))))
    if kind == 3:  # obj state BUILD
        return draw(pickle_expression(depth + 1)) + draw(pickle_expression(depth + 1)) + pickle.BUILD
    glob = pickle.GLOBAL + draw(st.sampled_from(_GLOBALS)).encode() + b"\n"
    args = draw(st.lists(pickle_expression(depth + 1), max_size=4))
    return glob + pickle.MARK + b"".join(args) + pickle.TUPLE + pickle.REDUCE


@st.composite
def pickle_files(draw: st.DrawFn) -> Files:
    if draw(st.integers(0, 2)) == 0:
        raw = pickle.PROTO + bytes([2]) + draw(pickle_expression()) + pickle.STOP
    else:
        rng = np.random.default_rng(draw(st.integers(0, 99)))
        dtype = draw(st.sampled_from(["u1", "i2", "<f4", ">f8", "?", "<c8", "V3", "i8"]))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        array = rng.integers(0, 256, int(np.prod(shape)) * np.dtype(dtype).itemsize,
                             dtype=np.uint8).view(dtype).reshape(shape)
        obj = draw(st.sampled_from([lambda a: a, lambda a: ((a, a.reshape(-1)[:1]), (a, a), (a, a)),
                                    lambda a: [a, 3, "x", None], lambda a: {"x": a, 1: 2.5},
                                    lambda a: np.float32(1.5)]))(array)
        raw = pickle.dumps(obj, protocol=draw(st.integers(2, 5)))
    raw = draw(mutated(raw))
    if draw(st.booleans()):
        raw = draw(mutated(gzip.compress(raw), 1))
    return {"mnist.pkl.gz": raw}


def read_pickle_file(folder: Path) -> Any:
    from neuralab.data.safe_pickle import load_arrays_pickle

    return load_arrays_pickle(folder / "mnist.pkl.gz")


# ---------------------------------------------------------------------------------------------------------------
# CSV (the user's table; also what `predict` reads)

_CELLS = st.one_of(st.integers(-1000, 1000).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.sampled_from(["", "NA", "n/a", "?", "null", "nan", "inf", "-inf", "1e400", "1e-400", "0x10",
                                    "1_000", "\u0661\u0662", "\uff11", " 3 ", "a", "cat", "\x00", '"', "1,5", "9" * 400,
                                    "\u00a0", "\ufeff1"]),
                   st.text(max_size=6))


@st.composite
def csv_files(draw: st.DrawFn) -> Files:
    """A table of numbers with a label column, its header and cells then made hostile in places."""
    n_features = draw(st.integers(1, 3))
    header = [f"x{j}" for j in range(n_features)] + ["label"]
    rows = [[str(draw(st.integers(-9, 9))) for _ in range(n_features)] + [draw(st.sampled_from(["a", "b", "1"]))]
            for _ in range(draw(st.integers(1, 6)))]
    for _ in range(draw(st.integers(0, 3))):  # hostile cells, header names, or rows of another length
        r = draw(st.integers(0, len(rows)))
        row = header if r == len(rows) else rows[r]
        if row and draw(st.integers(0, 4)):
            row[draw(st.integers(0, len(row) - 1))] = draw(_CELLS)
        elif row and draw(st.booleans()):
            row.pop()
        else:
            row.append(draw(_CELLS))
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerow(header)
    writer.writerows(rows)
    raw = buf.getvalue().encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        raw = draw(st.sampled_from([b"\xef\xbb\xbf", b"", b"\xff\xfe"])) + draw(mutated(raw))
    if draw(st.integers(0, 19)) == 0:
        raw += b"1," + b"2" * 200000 + b"\n"  # a cell longer than the csv module's field limit
    return {"table.csv": raw}


def read_csv_file(folder: Path) -> Any:
    """The table read with or without a label column and under each missing-cell policy (chosen by its size)."""
    from neuralab.data.user import MISSING_CHOICES, read_csv_features

    path = folder / "table.csv"
    size = path.stat().st_size
    return read_csv_features(path, "label" if size % 4 else None, missing=MISSING_CHOICES[size % 3])


# ---------------------------------------------------------------------------------------------------------------
# Image folder

@st.composite
def image_folder_files(draw: st.DrawFn) -> Files:
    files: Files = {}
    for c in range(draw(st.integers(1, 3))):
        for i in range(draw(st.integers(0, 3))):
            suffix, data = draw(hostile_image())
            files[f"images/class{c}/{i}{suffix}"] = data
    if not files or draw(st.integers(0, 4)) == 0:
        files["images/.hidden/x.png"] = forged_png(10**5, 10**5)
    return files


def read_image_folder_files(folder: Path) -> Any:
    from neuralab.data.user import read_image_folder

    root = folder / "images"
    root.mkdir(exist_ok=True)
    return read_image_folder(root, 8, 3 if len(list(root.rglob("*"))) % 2 else 1)


# ---------------------------------------------------------------------------------------------------------------
# COCO-style JSON

def coco_doc(width: int, height: int) -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": width, "height": height},
                   {"id": 2, "file_name": "b.png", "width": width, "height": height}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 3],
             "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]]},
            {"id": 11, "image_id": 2, "category_id": 7, "bbox": [0, 0, 2, 2],
             "segmentation": {"size": [height, width], "counts": [0, 2, width - 2, 2, height * width - width - 2]}},
            {"id": 12, "image_id": 2, "category_id": 3, "bbox": [2, 2, 3, 3], "iscrowd": 0,
             "segmentation": {"size": [height, width],
                              "counts": rle_string([width * 2 + 2, 3, height * width - 5 - width * 2])}},
            {"id": 13, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1], "iscrowd": 1}],
        "categories": [{"id": 3, "name": "square"}, {"id": 7, "name": "dot"}]}


def rle_string(counts: list[int]) -> str:
    """Run lengths as COCO's compressed string (pycocotools' `rleToString`), the inverse of `decode_rle_string`."""
    out = []
    for i, x in enumerate(counts):
        x -= counts[i - 2] if i > 2 else 0
        more = True
        while more:
            c, x = x & 0x1F, x >> 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(c + 48 + (0x20 if more else 0)))
    return "".join(out)


@cache
def png_bytes(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (40, 80, 120)).save(buf, format="PNG")
    return buf.getvalue()


@st.composite
def coco_files(draw: st.DrawFn) -> Files:
    width, height = draw(st.integers(6, 10)), draw(st.integers(6, 10))
    files = {"ann.json": draw(hostile_json(coco_doc(width, height))), "a.png": png_bytes(width, height),
             "b.png": png_bytes(width, height)}
    if draw(st.integers(0, 5)) == 0:
        suffix, files["b.png"] = draw(hostile_image())
    return files


def read_coco_file(folder: Path) -> Any:
    from neuralab.data.coco_json import read_coco

    return read_coco(folder / "ann.json", channels=3)


# ---------------------------------------------------------------------------------------------------------------
# Text corpora: the tweets CSV, the verse-pair cache, and the tweets encoded as word ids

_TWEETS = [("I love this", "positive"), ("meh", "neutral"), ("awful day :(", "negative"), ("ok then", "neutral"),
           ("best. day. ever!!", "positive"), ("worst", "negative")]


@st.composite
def tweets_files(draw: st.DrawFn) -> Files:
    rows = list(_TWEETS) + draw(st.lists(st.tuples(st.one_of(st.text(max_size=30), _CELLS),
                                                   st.sampled_from(["positive", "neutral", "negative", "", "POSITIVE",
                                                                    "x"])), max_size=6))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(draw(st.sampled_from([["text", "sentiment"], ["sentiment", "text"], ["text"], ["txt", "sentiment"],
                                          ["text", "sentiment", "extra"]])))
    writer.writerows(rows)
    return {"tweets.csv": draw(mutated(buf.getvalue().encode("utf-8", errors="surrogatepass")))}


def read_tweets_file(folder: Path) -> Any:
    from neuralab.data.corpora import read_tweets

    return read_tweets(folder / "tweets.csv")


def read_encoded_tweets(folder: Path) -> Any:
    from neuralab.data.corpora import read_tweets
    from neuralab.data.tweets import encode_rows

    return encode_rows(read_tweets(folder / "tweets.csv"), test_fraction=0.3, min_count=1, max_size=50, max_length=8)


@st.composite
def verse_pair_files(draw: st.DrawFn) -> Files:
    doc = [["In the beginning", "En el principio"], ["Jesus wept.", "Y lloró Jesús."]]
    return {"pairs.json": draw(hostile_json(doc))}


def read_verse_pair_file(folder: Path) -> Any:
    from neuralab.data.corpora import read_verse_pairs

    return read_verse_pairs(folder / "pairs.json")


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints: the JSON half and the safetensors half

@cache
def checkpoint_sample() -> tuple[tuple[str, bytes], ...]:
    """The files of a small valid checkpoint directory: tensors, an optimiser-like state with int keys, tuples."""
    import torch

    from neuralab import checkpoint

    state = {"model": {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(3, dtype=torch.float64)},
             "optim": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(2)}}, "groups": [{"lr": 0.1}]},
             "rng": (1, 2, [3, 4]), "data": {"epoch": 2, "order": torch.arange(5)}, "note": None}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint.save(tmp, 3, state)
        return tuple(sorted((p.name, p.read_bytes()) for p in Path(tmp).iterdir()))


@st.composite
def checkpoint_json_files(draw: st.DrawFn) -> Files:
    files = dict(checkpoint_sample())
    name = draw(st.sampled_from(["latest.json", "step-000000003.json", "step-000000003.json"]))
    files[name] = draw(hostile_json(json.loads(files[name])))
    return files


@st.composite
def safetensors_files(draw: st.DrawFn) -> Files:
    files = dict(checkpoint_sample())
    raw = files["step-000000003.safetensors"]
    n = int.from_bytes(raw[:8], "little")
    header, body = json.loads(raw[8:8 + n]), raw[8 + n:]
    kind = draw(st.integers(0, 2))
    if kind == 0:
        files["step-000000003.safetensors"] = draw(mutated(raw))
    else:
        tree, raws = draw(mutated_tree(header))
        text = dump_json(tree, raws)
        length = len(text) if kind == 1 else draw(st.sampled_from(EXTREME_INTS)) % 2**64
        files["step-000000003.safetensors"] = struct.pack("<Q", length) + text + draw(mutated(body, 1))
    return with_matching_digest(files)


def with_matching_digest(files: Files) -> Files:
    """`files` with the checkpoint JSON's SHA-256 and size recomputed for its (hostile) safetensors file, as a
    crafted checkpoint would have them: the digest check passes and the safetensors reader itself is tested."""
    from neuralab.checkpoint import digest

    meta = {**json.loads(files["step-000000003.json"]), **digest(files["step-000000003.safetensors"])}
    return {**files, "step-000000003.json": json.dumps(meta).encode()}


def read_checkpoint_dir(folder: Path) -> Any:
    from neuralab import checkpoint

    return checkpoint.load(folder)


# ---------------------------------------------------------------------------------------------------------------
# Run configuration (config.json of a run directory)

@cache
def config_sample(recipe: str) -> dict[str, Any]:
    from neuralab.config import to_dict
    from neuralab.registry import RECIPES

    sections = RECIPES.get(recipe).sections()
    return {"recipe": recipe, "sections": {k: to_dict(v) for k, v in sections.items()}, "overrides": {},
            "total_steps": 10, "data_meta": {"kind": "images", "input_shape": [1, 28, 28], "num_classes": 10}}


@st.composite
def config_files(draw: st.DrawFn) -> Files:
    recipe = draw(st.sampled_from(["mlp-mnist", "dqn-cartpole", "faster-rcnn-mnist-scenes", "transformer-tweets"]))
    return {"config.json": draw(hostile_json(config_sample(recipe)))}


def read_config_file(folder: Path) -> Any:
    from neuralab.build import load_config

    return load_config(folder)


# ---------------------------------------------------------------------------------------------------------------
# Images and texts given to `neuralab detect` and `neuralab predict`

@st.composite
def single_image_files(draw: st.DrawFn) -> Files:
    suffix, data = draw(hostile_image())
    return {f"input{suffix}": data}


def _the_input(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.name.startswith("input"))


def read_detect_image(folder: Path) -> Any:
    from neuralab.detect import read_picture

    path = _the_input(folder)
    return read_picture(path, 1 if len(path.name) % 2 else 3)


@st.composite
def predict_files(draw: st.DrawFn) -> Files:
    if draw(st.booleans()):
        return draw(single_image_files())
    text = draw(st.lists(st.one_of(st.text(max_size=40), st.sampled_from(["", "   ", "I love this", "\x00" * 5,
                                                                        "w " * 5000])), max_size=5))
    raw = "\n".join(text).encode("utf-8", errors="surrogatepass")
    return {"input.txt": draw(mutated(raw, 2))}


def read_predict_input(folder: Path) -> Any:
    from neuralab.data.tensors import DataMeta
    from neuralab.data.vocab import SPECIALS
    from neuralab.predict import read_inputs

    path = _the_input(folder)
    if path.suffix == ".txt":
        meta = DataMeta("text", [8], 3, ["negative", "neutral", "positive"], source="tweets",
                        vocab=[*SPECIALS, "i", "love", "this", "meh"], tokenizer="word")
    else:
        meta = DataMeta("images", [3, 8, 8], 2, ["a", "b"])
    return read_inputs([str(path)], meta)


READERS = [
    Reader("idx", idx_files, read_idx_file),
    Reader("safe_pickle", pickle_files, read_pickle_file),
    Reader("csv", csv_files, read_csv_file),
    Reader("image_folder", image_folder_files, read_image_folder_files),
    Reader("coco_json", coco_files, read_coco_file),
    Reader("corpora_tweets", tweets_files, read_tweets_file),
    Reader("corpora_verse_pairs", verse_pair_files, read_verse_pair_file),
    Reader("tweets_encoded", tweets_files, read_encoded_tweets),
    Reader("checkpoint_json", checkpoint_json_files, read_checkpoint_dir),
    Reader("safetensors", safetensors_files, read_checkpoint_dir),
    Reader("config", config_files, read_config_file),
    Reader("detect_image", single_image_files, read_detect_image),
    Reader("predict_input", predict_files, read_predict_input),
]
BY_NAME = {r.name: r for r in READERS}


def huge_claims() -> dict[str, tuple[str, Files]]:
    """{case: (reader, files)}: inputs whose headers claim far more memory than the files hold, each of which must be
    refused with one line before the memory is allocated (run under RLIMIT_AS by test_hostile_inputs.py)."""
    idx_header = bytes([0, 0, 0x08, 3]) + (10**4).to_bytes(4, "big") * 3  # 10^12 uint8 items
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 512 MiB of zeros in half a megabyte
    zeros = bytes(1 << 24)
    bomb_bytes = b"".join(bomb.compress(zeros) for _ in range(32)) + bomb.flush()
    reconstruct = (pickle.PROTO + b"\x02" + pickle.GLOBAL + b"numpy._core.multiarray\n_reconstruct\n" + pickle.MARK
                   + pickle.GLOBAL + b"numpy\nndarray\n" + _push((10**12,)) + _push(b"b") + pickle.TUPLE
                   + pickle.REDUCE + pickle.STOP)
    bytes_call = (pickle.PROTO + b"\x02" + pickle.GLOBAL + b"builtins\nbytes\n" + pickle.MARK + _push(10**12)
                  + pickle.TUPLE + pickle.REDUCE + pickle.STOP)
    header = json.dumps({"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}).encode()
    files = dict(checkpoint_sample())
    coco = coco_doc(8, 8)
    for im in coco["images"]:
        im.update(width=10**5, height=10**5)
    return {
        "idx claims 10^12 items": ("idx", {"data-idx3-ubyte": idx_header + bytes(100)}),
        "gzipped idx claims 10^12 items": ("idx", {"data-idx3-ubyte": gzip.compress(idx_header + bytes(100))}),
        "gzip bomb in a pickle": ("safe_pickle", {"mnist.pkl.gz": bomb_bytes}),
        "pickle array of 10^12 bytes": ("safe_pickle", {"mnist.pkl.gz": reconstruct}),
        "pickle bytes(10^12)": ("safe_pickle", {"mnist.pkl.gz": bytes_call}),
        "png of 10^5 x 10^5 pixels": ("detect_image", {"input.png": forged_png(10**5, 10**5)}),
        "png whose chunk length asks for 700 MB": ("detect_image", {"input.png": (  # read by Pillow from the file
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x02\x10\x00\x00\x00\x00\x10o\x1erm\x00"
            b"\x00*IDATx\x9ccdhg\x00\x00\x00\x00\x00\x00\x00\x000\x8f\xe1\x1e\x83\x00\x0b\x83\x14\x83\x1a\x03+\xc3\n\x06"
            b"\x05\x86\x13\x0c\xe7\x19\xaa\x00n>\x06\xca\xdbzj,\x00\x00\x00\x00IEND\xaeB`\x82")}),
        "png of 2^31 x 2^31 pixels in a folder": ("image_folder", {
            "images/a/1.png": forged_png(2**31 - 1, 2**31 - 1), "images/b/1.png": png_bytes(4, 4)}),
        "coco images claimed 10^5 x 10^5": ("coco_json", {"ann.json": dump_json(coco, []), "a.png": png_bytes(8, 8),
                                                          "b.png": png_bytes(8, 8)}),
        "safetensors tensor of 10^12 floats": ("safetensors", {
            **files, "step-000000003.safetensors": struct.pack("<Q", len(header)) + header + bytes(64)}),
    }
