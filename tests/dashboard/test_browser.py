"""The real dashboard in a real browser: ``streamlit run`` + headless Debian Chromium.

Needs ``/usr/bin/chromium`` (``make test`` installs it) and the ``playwright`` Python
package, driven against the system browser: never ``playwright install``.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from analytics.enrich.redact import redact

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_COPY = Path("/tmp/dashboard_overview.png")
STARTUP_TIMEOUT_S = 60.0
UI_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit not healthy after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}")


@contextmanager
def streamlit_server(warehouse_path: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free loopback port; always terminated."""
    port = _free_port()
    env = dict(os.environ)
    env["CALLSCOPE_WAREHOUSE"] = str(warehouse_path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    log_path = tmp_path / "streamlit.log"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard" / "app.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with log_path.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log_path)
        yield url
    except BaseException:
        log.error("streamlit log:\n%s", log_path.read_text())
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _require_browser() -> None:
    """Fail (never skip) when the browser or its driver is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run make test (it installs chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the playwright package is missing: run make test (it installs the dev deps)")


@contextmanager
def chromium_page(profile_dir: Path) -> Iterator[Any]:
    """A page in a fresh headless Debian Chromium (own temp profile), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def test_overview_and_call_detail_in_chromium(warehouse, tmp_path: Path) -> None:
    _require_browser()
    with (
        streamlit_server(warehouse.path, tmp_path) as url,
        chromium_page(tmp_path / "chromium-profile") as page,
    ):
        _check_pages(page, url, warehouse, tmp_path)


def _check_pages(page: Any, dashboard_url: str, warehouse: Any, tmp_path: Path) -> None:
    """Overview shows the call count and the cost; call detail shows the conversation,
    categories, insights and the transcript in time order."""
    from playwright.sync_api import expect

    page.goto(f"{dashboard_url}/", wait_until="domcontentloaded")
    calls_metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Calls", exact=True)
    )
    expect(calls_metric.get_by_test_id("stMetricValue")).to_have_text(
        str(warehouse.n_calls), timeout=UI_TIMEOUT_MS
    )
    expect(page.get_by_text("Calls per day")).to_be_visible(timeout=UI_TIMEOUT_MS)
    cost_metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Total cost", exact=True)
    )
    expect(cost_metric.get_by_test_id("stMetricValue")).to_have_text("$0.0022")
    expect(page.get_by_text("Calls per category")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.wait_for_timeout(1500)  # let the chart and table finish drawing for the screenshot
    shot = tmp_path / "dashboard_overview.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)

    page.goto(
        f"{dashboard_url}/call_detail?call_id={warehouse.STEREO_ID}",
        wait_until="domcontentloaded",
    )
    # The transcript's own box: summaries and action items above quote the same words.
    transcript = page.locator(".st-key-transcript")
    # stored redacted: "this is Dana." is shown as "this is [NAME]."
    texts = [redact(line[5]).text for line in warehouse.STEREO_LINES]
    for text in texts:
        expect(transcript.get_by_text(text)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("heading", name=warehouse.STEREO_ID)).to_be_visible()
    expect(page.get_by_role("heading", name="Conversation")).to_be_visible()
    expect(page.get_by_text("offline (rules, not an LLM)")).to_be_visible()
    expect(page.get_by_text("Outcome: resolved")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shown = [
        t
        for t in transcript.get_by_test_id("stMarkdownContainer").all_inner_texts()
        if t.startswith("[")
    ]
    assert [t.split(": ", 1)[1] for t in shown] == texts, "utterances in time order"
    assert shown[0].startswith("[00:00] AGENT (ch0)")
    page.screenshot(path=str(tmp_path / "dashboard_call_detail.png"), full_page=True)
    # The page scrolls inside Streamlit's main area: one screenshot per section.
    for section in ("Conversation", "Insights"):
        page.get_by_role("heading", name=section).evaluate("e => e.scrollIntoView()")
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / f"dashboard_call_detail_{section.lower()}.png"))
