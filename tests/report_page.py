"""Read back a page of `neuralab report` or `neuralab serve`: its images, links, chart specs and text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
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
