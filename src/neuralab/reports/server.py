"""`neuralab serve`: a local results browser over a folder of runs (Starlette, served by uvicorn).

Pages: `/` lists the runs (filter by family and recipe, tick some to compare), `/run?name=RUN` shows one
(its curves follow a run that is still training), `/compare?run=A&run=B` overlays several. The server reads
only inside the runs folder (every path goes through `run_record.inside`), serves only image files from it,
escapes everything a run wrote, and sends a Content-Security-Policy that allows no script but its own.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

from neuralab.errors import UserError
from neuralab.reports.html_report import plotly_js, static_text, templates
from neuralab.reports.metric_rows import MetricRows
from neuralab.reports.run_record import IMAGE_TYPES, SKIPPED, RunRecord, find_runs, inside, is_run_dir, read_run
from neuralab.reports.views import compare_context, index_context, live_context, run_context

STATIC = {"style.css": "text/css", "pages.js": "text/javascript", "plotly.min.js": "text/javascript"}
# plotly.js adds <style> elements at run time, hence 'unsafe-inline' for styles (never for scripts)
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app(root: str | Path) -> Any:
    """The Starlette application serving the runs under `root`."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    root = Path(root).resolve()
    metric_rows = MetricRows()

    def readable(path: Path) -> RunRecord | None:
        """The run in `path`, or None while it cannot be read: a folder being copied in (its config.json not
        yet whole) or deleted as it is read."""
        try:
            return read_run(path, root, metric_rows.read)
        except (UserError, OSError):
            return None

    def record(name: str) -> RunRecord | None:
        path = inside(root, name)
        if path is None or not is_run_dir(path):
            return None
        return readable(path)

    def records() -> list[RunRecord]:
        return [r for r in map(readable, find_runs(root)) if r is not None]

    def page(template: str, **context: Any) -> HTMLResponse:
        html = templates().get_template(template).render(inline=None, **context)
        return HTMLResponse(html)

    def image_url(run: RunRecord, relative: str) -> str:
        from urllib.parse import quote

        return "/file?path=" + quote((Path(run.name) / relative).as_posix())

    async def index(request: Request) -> Response:
        return page("index.html.j2", root=str(root), live_url=None, family=request.query_params.get("family", ""),
                    recipe=request.query_params.get("recipe", ""), **index_context(records()))

    async def run_page(request: Request) -> Response:
        name = request.query_params.get("name", "")
        run = record(name)
        if run is None:
            return PlainTextResponse(f"no run {name!r} in this folder", status_code=404)
        from urllib.parse import quote

        return page("run.html.j2", live_url=f"/api/live?name={quote(run.name)}", **run_context(run, image_url))

    async def compare_page(request: Request) -> Response:
        names = request.query_params.getlist("run")
        runs = [record(n) for n in names]
        missing = [n for n, r in zip(names, runs, strict=True) if r is None]
        if missing or len(runs) < 2:
            why = f"no run {missing[0]!r} in this folder" if missing else "tick two or more runs to compare"
            return PlainTextResponse(why, status_code=404 if missing else 400)
        return page("compare.html.j2", live_url=None, **compare_context(runs))

    async def runs_api(request: Request) -> Response:
        return JSONResponse([{"name": r.name, "recipe": r.recipe, "family": r.family, "status": r.status,
                              "step": r.last_step, "expect": r.expect}
                             for r in records()])

    async def live_api(request: Request) -> Response:
        """A run's status, and its charts when it has logged rows the page has not seen (`known`)."""
        run = record(request.query_params.get("name", ""))
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(live_context(run, request.query_params.get("known", "")))

    async def file(request: Request) -> Response:
        relative = request.query_params.get("path", "")
        path = inside(root, relative)
        if (path is None or not path.is_file() or path.suffix.lower() not in IMAGE_TYPES
                or SKIPPED & set(path.relative_to(root).parts)):
            return PlainTextResponse("not found", status_code=404)
        # read whole at once: a plot is replaced by renaming a new file over it (`neuralab.atomic`), and a reply
        # streamed from the path after a stat of it would mix the two versions' sizes and be cut off
        try:
            data = path.read_bytes()
        except OSError:
            return PlainTextResponse("not found", status_code=404)
        return Response(data, media_type=IMAGE_TYPES[path.suffix.lower()])

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        text = plotly_js() if name == "plotly.min.js" else static_text(name)
        return Response(text, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600"})

    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return Starlette(routes=[
        Route("/", index), Route("/run", run_page), Route("/compare", compare_page),
        Route("/api/runs", runs_api), Route("/api/live", live_api), Route("/file", file),
        Route("/static/{name}", static),
    ], middleware=[Middleware(BaseHTTPMiddleware, dispatch=headers)])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or one clear error."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
    except OSError as exc:
        raise UserError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(root: str | Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the runs under `root` until interrupted; prints the address (the port chosen when `port` is 0)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder of runs")
    try:
        import uvicorn
    except ImportError:
        raise UserError("serve needs uvicorn and starlette: pip install uvicorn starlette") from None
    if not is_loopback(host):
        print(f"neuralab: warning: serving on {host}: anyone who can reach this machine can read the runs in "
              f"{root}", file=sys.stderr)
    app = create_app(root)
    sock = bind(host, port)
    address = sock.getsockname()
    shown = f"[{address[0]}]" if ":" in address[0] else address[0]
    print(f"serving the runs in {root} at http://{shown}:{address[1]}/ (Ctrl-C to stop)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])
