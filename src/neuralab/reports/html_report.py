"""`neuralab report`: one self-contained HTML file for a run, or for several runs compared.

Everything the page needs is inside the file: plotly.js, the style, the script and every image (as a
data: URI), so it opens from disk, offline, and can be mailed or archived as it is.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from neuralab.atomic import write_text_atomic
from neuralab.errors import UserError
from neuralab.reports.run_record import IMAGE_TYPES, RunRecord, inside, is_run_dir, read_run
from neuralab.reports.views import compare_context, run_context


@functools.cache
def templates() -> jinja2.Environment:
    """The page templates, escaping every value they are given."""
    return jinja2.Environment(loader=jinja2.PackageLoader("neuralab.reports", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def static_text(name: str) -> str:
    return resources.files("neuralab.reports").joinpath("static", name).read_text()


@functools.cache
def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package (no network)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise UserError("reports need the plotly package: pip install plotly") from None
    return get_plotlyjs()


def _inline_assets() -> dict[str, Any]:
    from markupsafe import Markup

    # trusted code of this package and of plotly, placed raw inside <style> and <script>: only a closing tag
    # could end them early, and none of them holds one
    assets = {"css": static_text("style.css"), "js": static_text("pages.js"), "plotly": plotly_js()}
    for name, text in assets.items():
        if "</style" in text.lower() or "</script" in text.lower():
            raise RuntimeError(f"{name} holds a closing tag and cannot be inlined")
    return {name: Markup(text) for name, text in assets.items()}


def data_uri(record: RunRecord, relative: str) -> str:
    path = inside(record.path, relative)
    if path is None or not path.is_file():
        return ""
    mime = IMAGE_TYPES[path.suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _load(run_dir: str | Path) -> RunRecord:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    if not is_run_dir(run_dir):
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    return read_run(run_dir)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of one run (default RUN_DIR/report.html) and return its path."""
    record = _load(run_dir)
    html = templates().get_template("run.html.j2").render(
        **run_context(record, data_uri), inline=_inline_assets(), live_url=None)
    path = Path(out) if out else record.path / "report.html"
    write_text_atomic(path, html)
    return path


def write_comparison(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write one page that overlays the runs' curves and tabulates how their configs and metrics differ."""
    if len(run_dirs) < 2:
        raise UserError("report --compare: give two or more run directories")
    records = [_load(d) for d in run_dirs]
    names = [r.name for r in records]
    for record in records:  # two runs of the same folder name (runs/a/seed-0, runs/b/seed-0) told apart
        if names.count(record.name) > 1:
            record.name = record.path.as_posix()
    html = templates().get_template("compare.html.j2").render(**compare_context(records), inline=_inline_assets(),
                                                              live_url=None)
    path = Path(out) if out else Path("compare.html")
    write_text_atomic(path, html)
    return path
