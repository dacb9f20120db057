"""What each page shows, as template contexts shared by the static report and the local server.

The templates (`templates/*.html.j2`) escape every string; chart specs reach the page as JSON inside a
`<script type="application/json">` element, with `<`, `>` and `&` escaped so no text from a run can close it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from neuralab.reports.charts import compare_charts, run_charts
from neuralab.reports.run_record import RunRecord

# How a page refers to an image of a run: a data: URI in a self-contained report, a URL on the server.
ImageSource = Callable[[RunRecord, str], str]


def script_json(value: Any) -> Markup:
    """JSON safe to place inside a <script> element."""
    text = json.dumps(value, allow_nan=False, default=str)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def _finite(value: Any) -> Any:
    """NaN and infinities as null (a gap in a curve), since JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def fmt(value: Any) -> str:
    """A metric or config value as a table shows it."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(fmt, value)) or "-"
    return str(value)


def steps_text(record: RunRecord) -> str:
    """`1,200 of 3,000`: the newest step logged, of the run's total when known."""
    total = record.config.get("total_steps")
    return f"{record.last_step:,} of {total:,}" if isinstance(total, int) else f"{record.last_step:,}"


def run_context(record: RunRecord, image_src: ImageSource) -> dict[str, Any]:
    metrics = record.metrics
    return {
        "run": record,
        "charts": script_json(_finite(run_charts(record))),
        "images": [(rel, image_src(record, rel)) for rel in record.images],
        "metrics": sorted((k, fmt(v)) for k, v in metrics.items()),
        # the run's own time when it finished, the time of its newest row while it trains
        "seconds": metrics.get("time/seconds", record.rows[-1].get("time") if record.rows else None),
        "steps": steps_text(record),
        "report_text": (record.summary or {}).get("report", ""),
        "fmt": fmt,
    }


def live_context(record: RunRecord, known: str) -> dict[str, Any]:
    """What the page of a training run polls for: its status and progress, and its charts when it has logged rows
    since the page's `known` count (infinities as gaps: JSON has none)."""
    changed = known != str(len(record.rows))
    return {"status": record.status, "rows": len(record.rows), "steps": steps_text(record),
            "charts": _finite(run_charts(record)) if changed else None}


def config_differences(records: list[RunRecord]) -> list[tuple[str, list[str]]]:
    """The config fields whose values differ between the runs (recipe included), with each run's value."""
    flats = [{"recipe": r.recipe, **r.flat_config()} for r in records]
    keys = sorted({k for flat in flats for k in flat}, key=lambda k: (k != "recipe", k))
    rows = []
    for key in keys:
        values = [fmt(flat.get(key, "-")) for flat in flats]
        if len(set(values)) > 1:
            rows.append((key, values))
    return rows


def compare_context(records: list[RunRecord]) -> dict[str, Any]:
    metric_keys = sorted({k for r in records for k in r.metrics})
    return {
        "runs": records,
        "charts": script_json(_finite(compare_charts(records))),
        "differences": config_differences(records),
        "metrics": [(k, [fmt(r.metrics.get(k, "-")) for r in records]) for k in metric_keys],
        "fmt": fmt,
    }


def index_context(records: list[RunRecord]) -> dict[str, Any]:
    return {
        "runs": records,
        "families": sorted({r.family for r in records}),
        "recipes": sorted({r.recipe for r in records}),
        "fmt": fmt,
    }
