"""The house's layout rules, read from the source: the engine never draws, core/plots is imported only
by ui/ and pages/, and no two modules import each other (counting imports inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ui")
DRAWING = ("matplotlib", "plotly", "core.plots", "core.artifacts", "PIL.ImageDraw", "PIL.ImageFont")
# Where drawing is the job: the renderer of every PNG a run logs, and the UI's charts. core/tracking.py hands
# the renderer to each run without drawing; two data generators paint their synthetic pictures (training
# data, not figures).
MAY_DRAW = ("core/artifacts.py", "core/plots/", "core/tracking.py", "core/style/patterns.py", "core/transfer/data.py")


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    for path in (ROOT / "pages").glob("*.py"):
        found[f"pages.{path.stem}"] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _imports(m, p) if i in mods and i != m} for m, p in mods.items()}


def test_the_engine_never_draws() -> None:
    offenders = []
    for module, path in _modules().items():
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith("core/") or rel.startswith(MAY_DRAW):
            continue
        drawn = sorted(i for i in _imports(module, path) if i.startswith(DRAWING))
        if drawn:
            offenders.append(f"{rel}: {', '.join(drawn)}")
    assert not offenders, "engine modules that draw:\n" + "\n".join(offenders)


def test_core_plots_is_imported_only_by_ui_and_pages() -> None:
    offenders = [m for m, deps in _graph().items()
                 if not m.startswith(("ui.", "pages.", "core.plots")) and any(d.startswith("core.plots") for d in deps)]
    assert not offenders, f"modules outside ui/ and pages/ that import core.plots: {offenders}"


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_every_page_has_its_ui_package() -> None:
    """One ``ui/<topic>/`` per page of the course (the shell's own pieces stay at the top of ui/)."""
    pages = sorted(p.stem for p in (ROOT / "pages").glob("*.py") if p.stem != "home")
    missing = [p for p in pages if not (ROOT / "ui" / p / "__init__.py").exists()]
    assert not missing, f"pages without a ui/<topic>/ package: {missing}"
    loose = sorted(p.name for p in (ROOT / "ui").glob("*_*.py") if not p.name.startswith("_"))
    assert not loose, f"topic modules still loose in ui/: {loose}"
