"""Security rules of the lab, checked on its source code and on a started server.

- No ``unsafe_allow_html=True`` anywhere (so nothing a user typed or uploaded can become HTML).
- Every ``torch.load`` passes ``weights_only=True`` (no pickled code runs from a checkpoint).
- Pages and UI helpers never write files: uploads stay in memory, so an uploaded file's name can never
  become a path (core writes only under the data folder, the torch cache and MLflow's store).
- The app binds to localhost unless told otherwise: the shipped config says so, ``ui.launch`` does not
  override it, and a started server listens on loopback addresses only.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for d in ("core", "ui", "pages") for p in (ROOT / d).rglob("*.py")) + [ROOT / "app.py"]
FILE_WRITERS = {"write_bytes", "write_text", "mkdir", "touch", "savefig", "rename", "unlink"}


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def test_the_scan_sees_the_whole_code():
    assert len(SOURCES) > 100 and ROOT / "ui" / "upload.py" in SOURCES and ROOT / "core" / "tracking.py" in SOURCES


def test_no_unsafe_html():
    found = [f"{p.relative_to(ROOT)}:{c.lineno}" for p in SOURCES for c in _calls(p)
             for kw in c.keywords if kw.arg == "unsafe_allow_html" and not (isinstance(kw.value, ast.Constant)
                                                                            and kw.value.value is False)]
    assert found == []
    assert not any("st.html(" in p.read_text(encoding="utf-8") for p in SOURCES)


def test_every_torch_load_is_weights_only():
    loads = [(p, c) for p in SOURCES for c in _calls(p) if _name(c.func) == "torch.load"]
    assert len(loads) >= 2  # the scan finds them (tracking's artifacts, the GAN's classifier)
    bad = [f"{p.relative_to(ROOT)}:{c.lineno}" for p, c in loads
           if not any(kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                      for kw in c.keywords)]
    assert bad == []
    # torch hub's loader too
    hub = [(p, c) for p in SOURCES for c in _calls(p) if _name(c.func).endswith("load_state_dict_from_url")]
    assert hub and all(any(kw.arg == "weights_only" and kw.value.value is True for kw in c.keywords) for _, c in hub)


def test_pages_and_ui_never_write_files():
    offenders = []
    for p in SOURCES:
        if p.parts[-2] not in ("ui", "pages") and p.name != "app.py":
            continue
        for c in _calls(p):
            name = _name(c.func)
            writes_csv = name.endswith("to_csv") and (any(k.arg == "path_or_buf" for k in c.keywords) or any(
                isinstance(a, (ast.Constant, ast.JoinedStr, ast.BinOp)) for a in c.args))  # DataFrame.to_csv(path)
            if name == "open" or name.split(".")[-1] in FILE_WRITERS or writes_csv:
                offenders.append(f"{p.relative_to(ROOT)}:{c.lineno} {name}")
            if name.endswith(".save") and not any(isinstance(a, ast.Name) and a.id in ("buf", "out") for a in c.args):
                offenders.append(f"{p.relative_to(ROOT)}:{c.lineno} {name}")
    assert offenders == []


def test_uploaded_file_names_are_only_shown():
    """``UploadedFile.name`` is only ever passed on as a display name, never into a path or ``open``."""
    for p in SOURCES:
        if p.parts[-2] not in ("ui", "pages"):
            continue
        for c in _calls(p):
            name = _name(c.func)
            of_this_file = any(isinstance(n, ast.Name) and n.id == "__file__" for a in c.args for n in ast.walk(a))
            if name in ("Path", "open", "os.path.join", "pathlib.Path") and not of_this_file:
                raise AssertionError(f"{p.relative_to(ROOT)}:{c.lineno} builds a path in the UI layer")


def test_the_shipped_config_binds_to_localhost():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert "address" not in (ROOT / "ui" / "launch.py").read_text()  # the launcher passes the user's options only


def _listeners(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc writes them


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
def test_a_started_server_listens_on_loopback_only(tmp_path):
    server = Server(tmp_path, address=None)  # as `make run` starts it: the address comes from the config
    try:
        listening = _listeners(server.port)
        assert listening and listening <= LOOPBACK, listening
    finally:
        server.stop()
