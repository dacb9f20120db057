"""Hostile inputs found by the fuzzing campaign (scripts/fuzz_campaign.py), kept as regression tests: each crashed a
reader with an exception other than a one-line `UserError`, or would have allocated what its header claimed. The
huge claims run in a subprocess under an address-space limit (RLIMIT_AS), so a reader that allocates before it
checks fails with MemoryError instead of passing on a machine with memory to spare."""

from __future__ import annotations

import gzip
import json
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from neuralab.errors import DataError, UnsafeFileError, UserError
from tests.conftest import cli_env
from tests.fuzz.readers import (
    BY_NAME,
    checkpoint_sample,
    coco_doc,
    config_sample,
    dump_json,
    forged_png,
    outcome,
    png_bytes,
    with_matching_digest,
    write_files,
)

ROOT = Path(__file__).resolve().parents[2]
HEADROOM_MIB = 256  # address space the subprocess may add to what it holds after its imports

UNDER_LIMIT = f"""
import resource, sys, tempfile
from pathlib import Path
from tests.fuzz.readers import BY_NAME, READERS, huge_claims, outcome, write_files
cases = huge_claims()
for reader in READERS:  # imports and caches before the limit
    with tempfile.TemporaryDirectory() as tmp:
        try:
            reader.read(Path(tmp))
        except Exception:
            pass
size = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize:")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + ({HEADROOM_MIB} << 20), resource.RLIM_INFINITY))
for name, (reader, files) in cases.items():
    with tempfile.TemporaryDirectory() as tmp:
        write_files(Path(tmp), files)
        try:
            result = outcome(BY_NAME[reader], Path(tmp))
            print(name + "\\t" + ("ok" if result == "ok" else "error " + result))
        except BaseException as exc:
            print(name + "\\tcrash", type(exc).__name__, exc)
"""


def test_huge_claims_are_refused_before_allocating_under_an_address_space_limit():
    done = subprocess.run([sys.executable, "-c", UNDER_LIMIT], capture_output=True, text=True, cwd=ROOT,
                          env=cli_env(str(ROOT), OMP_NUM_THREADS="1"), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = dict(line.split("\t", 1) for line in done.stdout.splitlines())
    assert len(results) == 10
    crashed = {name: result for name, result in results.items() if not result.startswith("error")}
    assert not crashed, crashed
    assert "needs 931 GiB" in results["gzipped idx claims 10^12 items"]
    assert "inflates past" in results["gzip bomb in a pickle"]


def _read(reader: str, files: dict[str, bytes], tmp_path: Path) -> str:
    write_files(tmp_path, files)
    return outcome(BY_NAME[reader], tmp_path)


def test_idx_empty_array_with_dimensions_past_numpy_indexing(tmp_path):
    raw = bytes([0, 0, 0x08, 5]) + b"".join(d.to_bytes(4, "big") for d in (65535, 0, 2**31, 3, 65535))
    assert "too large for an array" in _read("idx", {"data-idx3-ubyte": raw}, tmp_path)


def test_gzipped_idx_of_255_dimensions_each_near_2_to_32(tmp_path):
    raw = gzip.compress(bytes([0, 0, 0x08, 255]) + (2**32 - 1).to_bytes(4, "big") * 255)
    line = _read("idx", {"data-idx3-ubyte": raw}, tmp_path)
    assert "needs more than" in line and "..." in line and len(line) < 400


def test_idx_claiming_many_small_dimensions_is_one_short_line(tmp_path):
    """Found by the hypothesis campaign (2026-12-01): 180 dimensions of 3 claim 3^180 items, a size of 86 digits
    that made the truncation error line 1,179 characters long."""
    raw = bytes([0, 0, 0x08, 180]) + (3).to_bytes(4, "big") * 180 + bytes(100)
    line = _read("idx", {"data-idx3-ubyte": raw}, tmp_path)
    assert "truncated IDX file" in line and "more than 2^" in line, line


@pytest.mark.parametrize("program", [
    # found by the hypothesis campaign: bytes(str, encoding) with an encoding that does not exist (LookupError)
    b"\x80\x02c__builtin__\nbytes\n(X\x01\x00\x00\x00xX\x00\x00\x00\x00tR.",
    # found by atheris: a dtype spec numpy parses as a comma string and fails on with a SyntaxError
    b"\x80\x02cnumpy\ndtype\n(X\x01\x00\x00\x00,tR.",
])
def test_pickle_calls_that_raise_unusual_exceptions_are_one_line(tmp_path, program):
    assert "not a readable array pickle" in _read("safe_pickle", {"mnist.pkl.gz": program}, tmp_path)


@pytest.mark.parametrize("body, refused", [
    (b"cnumpy\nndarray\n(K\x03tR.", DataError),  # numpy.ndarray called as a constructor
    (b"cnumpy\ndtype\n(X\x01\x00\x00\x00OtR.", UnsafeFileError),  # object arrays hold anything the pickle makes
    (b"c_codecs\nencode\n(X\x01\x00\x00\x00aX\x04\x00\x00\x00zlibtR.", DataError),  # a codec other than latin1
])
def test_pickle_callables_are_checked(tmp_path, body, refused):
    from neuralab.data.safe_pickle import load_arrays_pickle

    (tmp_path / "x.pkl").write_bytes(b"\x80\x02" + body)
    with pytest.raises(refused):
        load_arrays_pickle(tmp_path / "x.pkl")


@pytest.mark.parametrize("raw, message", [
    # BYTEARRAY8 claiming 2.9e16 bytes: pickle's own unpickler allocates them before reading (MemoryError)
    (b"\x96\x10\x98\x8f\x80\x05\x95f\x00\x00\x00\x00\x96\x10\x98\x8f\x00\x00\x00\x8c\x16numpy.\x00\x00\x00\x01"
     b"\x00\x00\x00\x00", "a bytearray of 28874298488756240 bytes where 26 remain"),
    # a dtype state with two fields left out: numpy's dtype.__setstate__ crashed the interpreter (SIGSEGV)
    (b"\x80\x02cnumpy._core.multiarray\nscalar\nq\x00cnumpy\ndtype\nq\x01X\x02\x00\x00\x00f4q\x02\x89\x88\x87q\x03R"
     b"q\x04(K\x03X\x01\x00\x00\x00<q\x05NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x06bc_codecs\nencode\nq\x07X"
     b"\x05\x00\x00\x00\x00\x00\xc3\x80?q\x08X\x06\x00\x00\x00latin1q\t\x86q\nRq\x0b\x86q\x0cRq\r.",
     "a state numpy does not write"),
    (b"\x80\x03cnumpy._core.multiarray\nscalar\nq\x00cnumpy\ndtype\nq\x01X\x02\x00\x00\x00f4q\x02\x89\x88\x87q\x03R"
     b"q\x04(NNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x06bC\x04\x00\x00\xc0?q\x07\x86q\x08Rq\t.",
     "a state numpy does not write"),
    # a persistent id: pickle's message has a line break
    (b"P\xab\x80\x02cnumpy\nload\n(X\x00\x00\x00\x00q\x00cnumpy\nload\n(tRtRcnumpy\nload\n(tRb.", "persistent IDs"),
])
def test_pickles_found_by_the_campaign(tmp_path, raw, message):
    line = _read("safe_pickle", {"mnist.pkl.gz": raw}, tmp_path)
    assert message in line


def test_pickle_of_arrays_still_loads(tmp_path):
    import numpy as np

    from neuralab.data.safe_pickle import load_arrays_pickle

    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=">i8")), np.float64(2.5))
    for protocol in (2, 4, 5):
        (tmp_path / "x.pkl").write_bytes(pickle.dumps(arrays, protocol=protocol))
        (a, b), c = load_arrays_pickle(tmp_path / "x.pkl")
        assert a.tolist() == arrays[0][0].tolist() and b.tolist() == [1, 2] and c == 2.5


def _coco(tmp_path: Path, edit) -> str:
    doc = coco_doc(8, 8)
    raws = edit(doc) or []
    return _read("coco_json", {"ann.json": dump_json(doc, raws), "a.png": png_bytes(8, 8), "b.png": png_bytes(8, 8)},
                 tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda d: (d.update(images="\x00raw0\x00"), ["[" * 50000 + "]" * 50000])[1], "nested too deeply"),
    (lambda d: (d["images"][0].update(id="\x00raw0\x00"), ["9" * 5000])[1], "integer string conversion"),
    (lambda d: d["annotations"][0].update(image_id={"a": 1}), "image_id {'a': 1} is not the id of any image"),
    (lambda d: d["annotations"][0].update(category_id=[3]), "category_id [3] is not the id of any category"),
    (lambda d: d["categories"][0].update(id="x" * 5000), "categories[0] id is 'xxxx"),
    (lambda d: d["annotations"][2]["segmentation"].update(counts="o" * 10000), "a run longer than any image"),
    (lambda d: d["images"][1].update(file_name="y" * 5000 + ".png"), "not found in"),
])
def test_coco_hostile_json(tmp_path, edit, message):
    line = _coco(tmp_path, edit)
    assert message in line and len(line) < 400


@pytest.mark.parametrize("reader", ["detect_image", "predict_input"])
def test_damaged_png_header_is_one_line(tmp_path, reader):
    png = bytearray(forged_png(4, 4))
    png[20] ^= 1  # height changed, CRC not: Pillow raises SyntaxError
    assert "unreadable image" in _read(reader, {"input.png": bytes(png)}, tmp_path)


def test_csv_header_with_a_line_break_is_quoted_on_one_line(tmp_path):
    line = _read("csv", {"table.csv": b'x0,"a\nb"\n1,2\n3,4\n'}, tmp_path)
    assert "no label column 'label'; columns are x0, 'a\\nb'" in line


def test_csv_cell_of_100000_characters_is_quoted_cut(tmp_path):
    line = _read("csv", {"table.csv": b"x0,x1,label\n1,2,a\n" + b"3," + b"z" * 100000 + b",b\n"}, tmp_path)
    assert "non-numeric cell 'zzz" in line and len(line) < 300


def test_tweets_csv_without_its_columns(tmp_path):
    assert "needs the columns text and sentiment" in _read("corpora_tweets", {"tweets.csv": b"txt,mood\nhi,x\n"},
                                                           tmp_path)


def test_damaged_verse_pair_cache_reads_as_absent(tmp_path):
    from neuralab.data.corpora import read_verse_pairs

    for content in (b"5", b"[[1, 2]]", b"[" * 100000, b'[["a", "b", "c"]]'):
        (tmp_path / "pairs.json").write_bytes(content)
        assert read_verse_pairs(tmp_path / "pairs.json") is None
    (tmp_path / "pairs.json").write_text('[["a", "b"]]')
    assert read_verse_pairs(tmp_path / "pairs.json") == (("a", "b"),)


def test_config_sections_of_the_wrong_type():
    from neuralab.config import RunConfig, from_dict

    with pytest.raises(UserError, match="RunConfig: expected an object of fields, got 3.5"):
        from_dict(RunConfig, 3.5)
    with pytest.raises(UserError, match="freeze: expected a list, got 7"):
        from_dict(RunConfig, {"freeze": 7})


@pytest.mark.parametrize("latest", [b"null", b'{"step": 3, "name": "../../../etc/passwd"}', b'{"step": NaN}',
                                    b"[" * 5000 + b"]" * 5000])
def test_checkpoint_pointer_hostile(tmp_path, latest):
    files = dict(checkpoint_sample())
    assert _read("checkpoint_json", {**files, "latest.json": latest}, tmp_path) != "ok"


@pytest.mark.parametrize("state", [{"__tensor__": "nope"}, {"__pairs__": [[1]]}, {"__tensor__": {"a": 1}}])
def test_checkpoint_state_not_matching_its_tensors(tmp_path, state):
    files = dict(checkpoint_sample())
    meta = json.dumps({"step": 3, "state": {"model": state}}).encode()
    assert _read("checkpoint_json", {**files, "step-000000003.json": meta}, tmp_path) != "ok"


@pytest.mark.parametrize("doc", [None, [1], {"recipe": {"a": 1}, "sections": {}}, {"recipe": "x" * 10000},
                                 {"recipe": "mlp-mnist", "sections": 0}])
def test_run_config_of_the_wrong_shape(tmp_path, doc):
    line = _read("config", {"config.json": json.dumps(doc).encode()}, tmp_path)
    assert "unreadable run configuration" in line or "not a neuralab run file" in line


def test_run_config_with_zero_attention_heads_is_one_line(tmp_path):
    """Found by atheris (2026-12-01): a transformer config with heads 0 divided by zero in its own check."""
    doc = config_sample("transformer-tweets")
    doc["sections"]["model"]["heads"] = 0
    line = _read("config", {"config.json": dump_json(doc, [])}, tmp_path)
    assert line == "ok" or "heads" in line


def test_run_config_sample_is_read():
    """The fuzzed config.json starts from a file `load_config` reads."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        assert _read("config", {"config.json": dump_json(config_sample("mlp-mnist"), [])}, Path(tmp)) == "ok"


@pytest.mark.parametrize("dtype", ["x" * 5000, "a\n\x08"])
def test_safetensors_error_quoting_the_header_is_one_short_line(tmp_path, dtype):
    files = dict(checkpoint_sample())
    header = json.dumps({"w": {"dtype": dtype, "shape": [1], "data_offsets": [0, 4]}}).encode()
    files["step-000000003.safetensors"] = struct.pack("<Q", len(header)) + header + bytes(4)
    assert "not a readable safetensors file" in _read("safetensors", with_matching_digest(files), tmp_path)


def test_unsafe_global_with_a_long_name_is_one_short_line(tmp_path):
    raw = b"\x80\x04\x8c\x05numpy\x94\x8c\x88" + b"x" * 136 + b"\x94\x93."  # STACK_GLOBAL numpy.xxx...
    assert "refusing to load numpy.xxx" in _read("safe_pickle", {"mnist.pkl.gz": raw}, tmp_path)


def test_safetensors_header_length_past_the_file(tmp_path):
    files = dict(checkpoint_sample())
    raw = files["step-000000003.safetensors"]
    files["step-000000003.safetensors"] = struct.pack("<Q", 2**63 - 1) + raw[8:]
    assert "not a readable safetensors file" in _read("safetensors", with_matching_digest(files), tmp_path)


def test_gzip_stream_inflating_past_its_limit(tmp_path):
    from neuralab.data.bounded import gunzip

    with pytest.raises(DataError, match="inflates past"):
        gunzip(zlib.compress(bytes(1 << 20), wbits=16 + zlib.MAX_WBITS), tmp_path, limit=1 << 16)
