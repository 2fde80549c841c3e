"""Home page and the app shell (navigation, sidebar)."""

from streamlit.testing.v1 import AppTest

from core import tracking
from tests.app.helpers import ROOT, page, texts


def test_home_shows_device_torch_store_and_run_count(fresh_store):
    with tracking.start_run("demo", {"a": 1}):
        pass
    at = page("home").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Device"] in ("CPU",) or "GPU" in metrics["Device"] or metrics["Device"]
    assert metrics["Tracked runs"] == "1"
    import torch

    assert metrics["PyTorch"] == torch.__version__.split("+")[0]
    assert "CPU threads" in metrics or "GPU memory" in metrics
    assert "mlflow.db" in texts(at)
    assert "Optimizers" in texts(at) and "Runs" in texts(at)


def test_app_navigation_lists_only_existing_pages_and_sidebar():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    seed = [n for n in at.sidebar.number_input if n.label == "Global seed"]
    assert seed and seed[0].value == 0
    assert any("Device:" in str(c.value) for c in at.sidebar.caption)
    from ui.shell import available_pages

    titles = [t for _, t in available_pages()]
    assert "Optimizers" in titles and "Runs" in titles
    assert all((ROOT / "pages").exists() for _ in titles)
    assert "CNNs" not in titles or (ROOT / "pages" / "cnn.py").exists()
    at.switch_page(str(ROOT / "pages" / "optimizers.py")).run()
    assert not at.exception
    assert at.title[0].value == "Optimizers"
