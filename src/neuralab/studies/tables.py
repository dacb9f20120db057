"""Result tables written twice, as CSV for programs and as a markdown table for people and the docs."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuralab.atomic import write_text_atomic


def cell(value: Any) -> str:
    """Floats to 4 significant digits (small ones in scientific notation); None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_table(folder: Path, stem: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
                footer: str = "") -> tuple[Path, Path]:
    """Write FOLDER/STEM.csv (full precision) and FOLDER/STEM.md (the markdown table, then `footer`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    csv_path, md_path = folder / f"{stem}.csv", folder / f"{stem}.md"
    write_text_atomic(csv_path, buf.getvalue())
    write_text_atomic(md_path, markdown_table(header, rows) + (f"\n\n{footer}" if footer else "") + "\n")
    return csv_path, md_path
