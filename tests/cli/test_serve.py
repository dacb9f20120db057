"""`neuralab serve` over a folder of runs: over HTTP (safety: paths out of the folder, escaping, the headers) and
in a real browser, headless Chromium driven by selenium: the list loads, a filter narrows it, a run's page draws
its curves and images, a run that is still training gains points, runs compare. The browser tests are skipped,
with the reason, where Chromium, chromedriver or selenium is missing (CI installs Debian's chromium and
chromium-driver). NEURALAB_SCREENSHOTS=FOLDER keeps the screenshots there (`make reports-docs`: docs/img)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import assert_png_drawn, popen_cli, run_cli
from tests.report_support import HOSTILE, ReportPage, runs_folder

START_S = 120  # the server imports the registry before it listens; slow on a loaded 2-core machine


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return runs_folder(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def server(runs):
    """The address of `neuralab serve RUNS --port 0`, running for this module's tests."""
    proc = popen_cli("serve", runs, "--port", "0", read_stdout=True)
    line = proc.stdout.readline()  # blocks until the server listens (or exits)
    if not line.startswith("serving "):
        proc.kill()
        pytest.fail(f"serve did not start: {line!r} {proc.stderr.read()}")
    yield line.split(" at ")[1].split()[0].rstrip("/")
    proc.terminate()
    proc.wait(timeout=30)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_the_list_holds_every_run_in_the_folder_and_none_outside_it(server):
    status, headers, body = get(f"{server}/api/runs")
    assert status == 200
    listed = {run["name"]: run for run in json.loads(body)}
    assert set(listed) == {"mlp-a", "mlp-b", "nested/adaline", "hostile"}  # not `escape`, a symlink out
    assert listed["nested/adaline"]["family"] == "foundations" and listed["mlp-a"]["recipe"] == "mlp-digits"
    assert listed["mlp-b"]["status"] in ("passed", "missed") and listed["mlp-b"]["step"] == 30


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "hostile/plots/leak.png",
                                  "hostile/plots/outside.png", "escape/plots/curves.png", "mlp-a/config.json",
                                  "mlp-a/checkpoints/latest.json", "mlp-a/../../outside.png"])
def test_files_outside_the_folder_or_not_images_are_refused(server, path):
    status, _, body = get(f"{server}/file?path={path if '%' in path else quote(path)}")
    assert status == 404 and b"root:" not in body and not body.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["..", "../..", "/etc", "escape", "mlp-a/../../elsewhere"])
def test_runs_outside_the_folder_are_refused(server, name):
    assert get(f"{server}/run?name={quote(name)}")[0] == 404
    assert get(f"{server}/api/live?name={quote(name)}")[0] == 404


def test_an_image_of_a_run_is_served_as_an_image(server):
    status, headers, body = get(f"{server}/file?path=mlp-a/plots/curves.png")
    assert status == 200 and headers["content-type"] == "image/png" and body.startswith(b"\x89PNG")


def test_a_hostile_run_is_shown_as_text_under_a_strict_policy(server):
    status, headers, body = get(f"{server}/run?name=hostile")
    html = body.decode()
    assert status == 200 and HOSTILE not in html and HOSTILE in ReportPage(html).text
    assert "script-src 'self';" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_another_address_than_loopback_is_served_with_a_warning(runs):
    proc = popen_cli("serve", runs, "--host", "0.0.0.0", "--port", "0", read_stdout=True)
    try:
        assert proc.stdout.readline().startswith("serving ")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning: serving on 0.0.0.0: anyone who can reach this machine can read the runs" in err


def test_a_missing_folder_or_a_busy_port_is_one_line(runs, tmp_path):
    r = run_cli("serve", tmp_path / "none", "--port", "0")
    assert r.returncode == 2 and r.stderr.strip().endswith("no such folder of runs")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = run_cli("serve", runs, "--port", busy.getsockname()[1])
    assert r.returncode == 2 and "cannot listen there" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# -- in a real browser ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("the browser tests need selenium (pip install selenium)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.skip("the browser tests need Chromium and its driver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,1500"):
        options.add_argument(arg)
    options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _wait(condition, timeout=60.0, every=0.25):
    """The first truthy value of `condition()` within `timeout` seconds, else the last one."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def _screenshot(browser, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("NEURALAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(folder / name))
    assert_png_drawn(folder / name, min_size=(1000, 600))


def _no_page_errors(browser) -> None:
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_the_list_loads_and_a_filter_narrows_it(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server + "/")
    shown = lambda: [r.get_attribute("data-name") for r in browser.find_elements(By.CSS_SELECTOR, "tr.run")  # noqa: E731
                     if r.is_displayed()]
    assert sorted(shown()) == ["hostile", "mlp-a", "mlp-b", "nested/adaline"]
    _screenshot(browser, "reports-list.png", tmp_path)
    Select(browser.find_element(By.ID, "family")).select_by_visible_text("foundations")
    assert _wait(lambda: shown() == ["nested/adaline"]), shown()
    assert browser.find_element(By.ID, "shown").text == "1"
    Select(browser.find_element(By.ID, "family")).select_by_visible_text("all")
    Select(browser.find_element(By.ID, "recipe")).select_by_visible_text("mlp-digits")
    assert _wait(lambda: sorted(shown()) == ["hostile", "mlp-a", "mlp-b"]), shown()
    _no_page_errors(browser)


def _points(browser) -> list[int]:
    """The number of points of each line of the page's first chart, as plotly.js holds them."""
    return browser.execute_script(
        "const c = document.querySelector('#charts .chart');"
        "return c && c.data ? c.data.map(t => t.x.length) : [];")


def test_a_run_page_draws_its_curves_and_images(server, browser, runs, tmp_path):
    browser.get(f"{server}/run?name=mlp-a")
    rows = [json.loads(line) for line in (runs / "mlp-a" / "metrics.jsonl").read_text().splitlines()]
    assert _wait(lambda: _points(browser)) == [sum("train/acc" in r for r in rows), sum("test/acc" in r for r in rows)]
    assert browser.execute_script("return document.querySelectorAll('#charts .main-svg').length") > 0
    widths = browser.execute_script("return [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 2 and min(widths) > 300  # confusion.png and curves.png, loaded and decoded
    _screenshot(browser, "reports-run.png", tmp_path)
    _no_page_errors(browser)


def test_the_page_of_a_run_still_training_gains_points(server, browser, runs, tmp_path):
    live = runs / "live"
    trainer = popen_cli("train", "mlp-digits", "--out", live, "--run.steps", "1000000", "--run.log_every", "50",
                        "--run.eval_every", "1000000", "--run.checkpoint_every", "1000000", "--run.device", "cpu")
    try:
        assert _wait(lambda: (live / "metrics.jsonl").exists() and (live / "metrics.jsonl").read_text(), 120)
        browser.get(f"{server}/run?name=live")
        first = _wait(lambda: _points(browser))
        assert browser.find_element("id", "status").text == "running"
        later = _wait(lambda: (p := _points(browser)) and p[0] > first[0] and p, timeout=60)
        assert later and later[0] > first[0], (first, later)
        _screenshot(browser, "reports-live.png", tmp_path)
    finally:
        trainer.kill()
        trainer.wait()
    _no_page_errors(browser)


def test_runs_compared_overlay_their_curves(server, browser, tmp_path):
    browser.get(f"{server}/compare?run=mlp-a&run=mlp-b")
    names = _wait(lambda: browser.execute_script(
        "const c = document.querySelector('#charts .chart'); return c && c.data ? c.data.map(t => t.name) : null;"))
    assert names == ["mlp-a: train", "mlp-a: test", "mlp-b: train", "mlp-b: test"]
    assert "method.lr" in browser.find_element("css selector", "table.diff").text
    _screenshot(browser, "reports-compare.png", tmp_path)
    _no_page_errors(browser)
