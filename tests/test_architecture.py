"""The package's layering (docs/design.md §8): every module imports only from its own layer
or lower ones, and no group of modules imports itself back (no import cycles).

Imports are read from the source with ``ast`` (inside functions too), so a lazy upward
import is caught like a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wsgm

ROOT = Path(wsgm.__file__).parent

# Bottom to top. A module belongs to the deepest entry that is its name or a package above it
# ("wsgm" itself is only the top-level package's __init__).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("wsgm", "wsgm.errors", "wsgm.fileio", "wsgm.cpu"),
    (
        "wsgm.wavelets",
        "wsgm.sde",
        "wsgm.grids",
        "wsgm.samplers",
        "wsgm.losses",
        "wsgm.nn",
        "wsgm.sampling",
    ),
    ("wsgm.gaussian",),
    ("wsgm.metrics",),
    ("wsgm.data",),
    ("wsgm.models",),
    ("wsgm.training",),
    ("wsgm.experiments",),
    ("wsgm.commands", "wsgm.cli"),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _layer(module: str) -> int:
    best, depth = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            inside = module.startswith(name + ".") and name != "wsgm"
            if (module == name or inside) and name.count(".") > depth:
                best, depth = i, name.count(".")
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and docs/design.md)")
    return best


def _imports(module: str, path: Path) -> set[str]:
    """The wsgm modules ``module`` imports (``from . import x`` resolved to the module x)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "wsgm"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "wsgm":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    out.discard(module)
    return {m for m in out if m in MODULES}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module: str) -> None:
    mine = _layer(module)
    upward = sorted(m for m in GRAPH[module] if _layer(m) > mine)
    assert not upward, f"{module} (layer {mine}) imports higher layers: {upward}"


def test_no_import_cycles() -> None:
    # Tarjan's strongly connected components; a component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_upward_and_cyclic_imports(tmp_path: Path) -> None:
    """The rules above are not vacuous: a lazy upward import is found and ranked upward."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from ..experiments.sweep import sweep\n")
    found = _imports("wsgm.metrics.m", src)
    assert found == {"wsgm.experiments.sweep"}
    assert _layer("wsgm.experiments.sweep") > _layer("wsgm.metrics.m")
