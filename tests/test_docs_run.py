"""Every fenced ```bash block of README.md and docs/*.md runs as printed.

Each document's blocks run in order (a later block may use a file an earlier one wrote, as a reader
following the page would) through ``bash -e``, from the root of a temporary copy of the repository
(configs/, data/, docs/, tests/data/, pyproject.toml: what the examples read), with the installed
``hpadvisor`` first on PATH.  Each document gets its own copy, so documents run in parallel safely.

Markers, in a line's trailing comment:

- ``# your file``: the line needs a file of the reader's own (a sweep nobody ships); it is not run;
- ``# exits 1``: the command must exit with 1 (``hpadvisor check`` finding an error);

and ``pip install`` lines are not run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: What the examples read, copied into each document's temporary repository.
COPIED = ("configs", "data", "docs", "tests/data", "pyproject.toml")
YOUR_FILE = "# your file"
EXITS_1 = "# exits 1"

BLOCK = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)


def bash_blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text())


def commands(block: str) -> list[tuple[str, str]]:
    """The block's commands (a line and its ``\\`` continuations), each with how to run it:
    ``run``, ``skip`` (pip install, or needs the reader's own file) or ``exit1``."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in block.splitlines():
        pending += line
        if line.endswith("\\"):
            pending += "\n"
            continue
        text, pending = pending, ""
        first = text.strip()
        if not first or first.startswith("#"):
            continue
        if first.startswith("pip install") or YOUR_FILE in text:
            out.append((text, "skip"))
        elif EXITS_1 in text:
            out.append((text[: text.rindex(EXITS_1)].rstrip(), "exit1"))
        else:
            out.append((text, "run"))
    return out


def script(doc: Path) -> str:
    """One bash script for the document's blocks; a failing command names its block and line."""
    lines = ["set -e", "trap 'echo \"failed: $BASH_COMMAND\" >&2' ERR"]
    for b, block in enumerate(bash_blocks(doc), 1):
        for text, how in commands(block):
            label = f"{doc.name} block {b}: {text.splitlines()[0][:90]}"
            lines.append(f"echo {shlex.quote('>>> ' + label)} >&2")
            if how == "run":
                lines.append(text)
            elif how == "exit1":
                lines.append(f"if {text}\nthen echo 'expected exit code 1, got 0' >&2; exit 97\n"
                             "else rc=$?; [ $rc -eq 1 ] || { echo \"expected exit code 1, got $rc\" >&2; exit 97; }\nfi")
    return "\n".join(lines) + "\n"


def _copy_repo(dest: Path) -> None:
    for rel in COPIED:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _env() -> dict[str, str]:
    bindir = Path(sys.executable).parent
    assert (bindir / "hpadvisor").exists(), f"hpadvisor is not installed beside {sys.executable}"
    env = dict(os.environ)
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg", COLUMNS="120",
               PYTHONDONTWRITEBYTECODE="1")
    return env


DOCS_WITH_BLOCKS = [d for d in DOCS if bash_blocks(d)]


def test_the_documents_have_runnable_blocks_and_few_skipped_lines():
    assert ROOT / "README.md" in DOCS_WITH_BLOCKS
    kinds = [how for d in DOCS_WITH_BLOCKS for b in bash_blocks(d) for _, how in commands(b)]
    assert kinds.count("run") >= 40
    # Lines skipped as needing the reader's own file stay rare: every other example uses shipped data.
    skipped = [(d.name, t) for d in DOCS_WITH_BLOCKS for b in bash_blocks(d) for t, how in commands(b)
               if how == "skip" and not t.strip().startswith("pip install")]
    assert len(skipped) <= 4, skipped


def test_markers_are_understood():
    block = ("pip install -e .\nhpadvisor laws   # every law\nhpadvisor fit sweep mine.csv  # your file: a sweep\n"
             "hpadvisor check x.yml \\\n  --tokens 2T   # exits 1: an error\n# a comment\n")
    assert commands(block) == [("pip install -e .", "skip"), ("hpadvisor laws   # every law", "run"),
                               ("hpadvisor fit sweep mine.csv  # your file: a sweep", "skip"),
                               ("hpadvisor check x.yml \\\n  --tokens 2T", "exit1")]


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS_WITH_BLOCKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bash_block_runs(doc, tmp_path):
    repo = tmp_path / "repo"
    _copy_repo(repo)
    (tmp_path / "run.sh").write_text(script(doc))
    done = subprocess.run(["bash", "-e", str(tmp_path / "run.sh")], cwd=repo, env=_env(),
                          capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-25:])
        pytest.fail(f"{doc.name}: a command failed (exit {done.returncode}):\n{tail}")
