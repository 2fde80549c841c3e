"""Real app, real browser: a Streamlit server on a free port and headless Chromium."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-device-for-media-stream",  # a test-pattern camera for st.camera_input ...
    "--use-fake-ui-for-media-stream",  # ... allowed without a prompt
]


def find_chromium() -> str | None:
    for cand in (
        os.environ.get("DLL_CHROMIUM"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


@pytest.fixture(scope="session")
def app_data(tmp_path_factory) -> Path:
    """The served app's data folder (its tracking store is ``mlflow.db`` in there)."""
    return tmp_path_factory.mktemp("browser-data")


@pytest.fixture(scope="session")
def app_server(app_data):
    server = Server(app_data)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server.url


@pytest.fixture(scope="session")
def browser():
    exe = find_chromium()
    if exe is None:
        pytest.skip("no Chromium found: install Debian's 'chromium' or run '.venv/bin/playwright install chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def wait_idle(page, timeout: float = 90_000, quiet_ms: int = 1500) -> None:
    """Wait until Streamlit has finished running: the page has content and its status widget
    ("running…") has stayed away for ``quiet_ms`` (it appears only ~1 s after a run starts)."""
    deadline = time.time() + timeout / 1000
    quiet_since = None
    while time.time() < deadline:
        busy = page.locator('[data-testid="stStatusWidget"]').count() > 0
        has_content = page.locator('[data-testid="stMain"] h1, [data-testid="stMain"] [data-testid="stMarkdown"]').count() > 0
        if busy or not has_content:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif (time.time() - quiet_since) * 1000 >= quiet_ms:
            return
        page.wait_for_timeout(100)
    raise TimeoutError("the app was still running after the timeout")


def no_exception(page) -> None:
    """Fail with the app's own error text when the page shows an exception box."""
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, exc.first.inner_text()
    assert "Traceback" not in page.locator('[data-testid="stMain"]').inner_text()


def shot(page, name: str) -> Path:
    """Screenshot of the whole page: Streamlit scrolls inside its main block, so the
    viewport is stretched to the content's height for the picture, then put back."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(600)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
