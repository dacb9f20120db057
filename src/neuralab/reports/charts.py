"""Metric curves as Plotly figure specs (JSON), drawn in the browser by plotly.js.

The panels are those of the run's own `plots/curves.png` (`neuralab.viz.curves.curve_layout`): one per metric,
one line per split (`train/loss` and `val/loss` share the panel `loss`). Compared runs get one line per run and
split. Text from a run goes into the specs HTML-escaped: plotly.js reads a few tags (links among them) in names
and titles, and a metric name is data, not markup.
"""

from __future__ import annotations

import html
from typing import Any

from neuralab.reports.run_record import RunRecord
from neuralab.viz.curves import SPLIT_ORDER, axis_label, curve_layout

SPARSE = 30  # fewer points than this: drawn with markers, as in curves.png
HEIGHT = 340  # pixels per panel, the legend below the plot included


def _order(split: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def _trace(name: str, points: list[tuple[float, float]]) -> dict[str, Any]:
    xs, ys = zip(*points, strict=True) if points else ((), ())
    return {"type": "scatter", "mode": "lines+markers" if len(xs) < SPARSE else "lines", "name": html.escape(name),
            "x": list(xs), "y": list(ys), "marker": {"size": 5}}


def _figure(metric: str, traces: list[dict[str, Any]]) -> dict[str, Any]:
    layout = {"title": {"text": html.escape(metric), "x": 0.02, "xanchor": "left"}, "height": HEIGHT,
              "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "template": "plotly_white",
              "xaxis": {"title": {"text": "step"}}, "yaxis": {"title": {"text": html.escape(axis_label(metric))}},
              "legend": {"orientation": "h", "y": -0.22, "yanchor": "top"}}
    return {"metric": metric, "data": traces, "layout": layout}


def run_charts(record: RunRecord) -> list[dict[str, Any]]:
    """One figure per metric panel of the run, one trace per split."""
    layout = curve_layout(record.rows)
    return [_figure(metric, [_trace(split, lines[split]) for split in sorted(lines, key=_order)])
            for metric, lines in layout.panels.items()]


def compare_charts(records: list[RunRecord]) -> list[dict[str, Any]]:
    """One figure per metric any of the runs logged, with a trace per run and split."""
    panels: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        for metric, lines in curve_layout(record.rows).panels.items():
            for split in sorted(lines, key=_order):
                panels.setdefault(metric, []).append(_trace(f"{record.name}: {split}", lines[split]))
    return [_figure(metric, traces) for metric, traces in sorted(panels.items())]
