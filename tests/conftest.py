"""Shared fixtures: the shared data folder, a CLI runner with a pinned terminal width."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CONFIGS = ROOT / "configs"

# Pin the terminal so rendered tables do not depend on the machine running the tests.
os.environ.setdefault("COLUMNS", "160")
os.environ.setdefault("TERMINAL_WIDTH", "160")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} (the ../shared folder beside the project)")
    return path


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
