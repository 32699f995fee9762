"""Shared fixtures: real data (the shipped data/ first), a CLI runner with a pinned terminal width."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The openly licensed datasets the project ships (data/README.md).
DATA = ROOT / "data"
#: Data without a licence to ship: read where the development checkout has it beside the project.
SHARED_DATA = ROOT.parent / "shared" / "data"
CONFIGS = ROOT / "configs"

# Pin the terminal so rendered tables do not depend on the machine running the tests.
os.environ.setdefault("COLUMNS", "160")
os.environ.setdefault("TERMINAL_WIDTH", "160")


def shared_data(*parts: str) -> Path:
    """A real-data path: under the shipped data/ when the dataset is shipped there, else under the
    unshipped development data beside the project; the test is skipped, with the reason, when
    neither has it (data without a stated licence is not shipped: data/README.md)."""
    shipped = DATA.joinpath(*parts)
    if shipped.exists():
        return shipped
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {'/'.join(parts)} is not shipped (no licence stated: "
                    "data/README.md) and the development data folder is not beside the project")
    return path


def benchmark_module(name: str, module: str | None = None):
    """benchmarks/NAME.py, loaded once from its path (benchmarks/ is not a package) and registered in
    sys.modules as ``module`` (default NAME), so a later call, or a benchmark importing it, gets the same one.
    benchmarks/ is put on sys.path (last: it shadows nothing), as running a benchmark as a script does: they
    import ``_data`` from there."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.append(str(ROOT / "benchmarks"))
    module = module or name
    if module not in sys.modules:
        spec = importlib.util.spec_from_file_location(module, ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        spec.loader.exec_module(mod)
    return sys.modules[module]


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def cli(runner):
    """Run the hpadvisor CLI; returns the click Result (stdout and stderr kept apart)."""
    from hpadvisor.cli.app import app

    def invoke(*args: str, **kwargs):
        return runner.invoke(app, list(args), catch_exceptions=False, **kwargs)

    return invoke
