"""For the tests of `neuralab report` and `neuralab serve`: a folder of runs, and a page read back (its images,
links, chart specs and text)."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any


class ReportPage(HTMLParser):
    """The parts of a report page the tests check, gathered from its HTML."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []  # every <img src>
        self.references: list[str] = []  # every src= and href= of any element
        self.scripts: list[dict[str, str]] = []  # attributes of each <script>
        self.charts: list[dict[str, Any]] = []
        self.text_parts: list[str] = []
        self._in_chart_data = False
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.references += [attributes[k] for k in ("src", "href") if k in attributes]
        if tag == "img":
            self.images.append(attributes.get("src", ""))
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
            self._in_chart_data = attributes.get("id") == "chart-data"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = self._in_chart_data = False

    def handle_data(self, data: str) -> None:
        if self._in_chart_data:
            self.charts = json.loads(data)
        elif not self._in_script:
            self.text_parts.append(data)

    @property
    def text(self) -> str:
        """The page's visible text (scripts left out), as a reader sees it: entities decoded."""
        return " ".join(" ".join(self.text_parts).split())


HOSTILE = "<script>alert(1)</script>"
TINY = {"steps": 30, "log_every": 5, "device": "cpu", "threads": 1}


def runs_folder(root: Path) -> Path:
    """ROOT/runs: two mlp-digits runs differing in learning rate, an adaline-and run (another family), and
    `hostile`, a copy of the first whose config holds a script tag and whose plots folder holds symlinks out of
    the folder (to a system file and to an image)."""
    import neuralab

    runs = root / "runs"
    neuralab.train("mlp-digits", {"run": TINY, "method": {"lr": "0.003"}}, out=runs / "mlp-a")
    neuralab.train("mlp-digits", {"run": TINY, "method": {"lr": "0.01"}}, out=runs / "mlp-b")
    neuralab.train("adaline-and", {"run": {**TINY, "steps": 10}}, out=runs / "nested" / "adaline")
    hostile = runs / "hostile"
    shutil.copytree(runs / "mlp-a", hostile)
    config = json.loads((hostile / "config.json").read_text())
    config["overrides"]["method"]["optimizer"] = HOSTILE
    config["sections"]["method"]["optimizer"] = HOSTILE
    (hostile / "config.json").write_text(json.dumps(config))
    outside = root / "outside.png"
    shutil.copy(runs / "mlp-a" / "plots" / "curves.png", outside)
    (hostile / "plots" / "leak.png").symlink_to("/etc/passwd")
    (hostile / "plots" / "outside.png").symlink_to(outside)
    shutil.copytree(runs / "mlp-b", root / "elsewhere")
    (runs / "escape").symlink_to(root / "elsewhere")  # a run folder symlinked from outside the runs folder
    return runs
