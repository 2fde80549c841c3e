"""Export as code in headless Chromium: the playground's set-up downloads as a notebook that opens as one."""

import json

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def test_the_playground_downloads_as_a_notebook(page, app_url, tmp_path):
    page.goto(f"{app_url}/basics?data=spirals&classes=3&layers=6&act=ReLU&feat=0,1,5")
    wait_idle(page)
    page.get_by_role("tab", name="Playground").click()
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Playground")
    panel.get_by_text("Share, download, tracking").click()
    button = panel.get_by_role("button", name="Download as a notebook (.ipynb)")
    button.wait_for(timeout=30_000)
    with page.expect_download(timeout=30_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "playground_spirals.ipynb"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert nb["nbformat"] == 4 and any("make_toy('spirals'" in s for s in sources)
    assert any("EPOCHS = 100" in s for s in sources)  # nothing trained yet: the export offers 100 epochs
    panel.get_by_role("button", name="Download as Python (.py)").scroll_into_view_if_needed()
    no_exception(page)
    shot(page, "export-playground")
