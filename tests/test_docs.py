"""The documentation is the project's own: docs/laws.md is the registry's current output, and no
user-facing text sends the reader to a file outside the repository."""

from __future__ import annotations

import re

import pytest
import yaml

from hpadvisor.laws import REGISTRY
from tests.conftest import ROOT

LAWS_MD = ROOT / "docs" / "laws.md"


def test_docs_laws_md_is_the_registrys_current_output(cli):
    result = cli("laws", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert LAWS_MD.read_text() == result.stdout, (
        "docs/laws.md is stale: regenerate it with `hpadvisor laws --format markdown > docs/laws.md`")


def test_laws_md_generation_is_deterministic(cli):
    assert cli("laws", "--format", "markdown").stdout == cli("laws", "--format", "markdown").stdout


def test_laws_md_has_a_section_per_registry_law_with_units_range_source_and_check():
    text = LAWS_MD.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    by_key = {s.split("\n", 1)[0].strip(): s for s in sections}
    assert list(by_key) == list(REGISTRY)
    for key, body in by_key.items():
        law = REGISTRY[key]
        assert f"`{type(law).formula}`" in body, key
        assert "- Citation: " in body and "- Checked against: " in body, key
        for sym, inp in type(law).inputs.items():
            assert f"| {sym} | " in body and f" | {inp.unit or '-'} | {inp.variable} | " in body, (key, sym)
    # The parameter count of N is stated per law: Step Law's is non-embedding, Chinchilla's total.
    assert "| N | non-embedding parameters | params | non_embedding_params |" in by_key["steplaw"]
    assert "| N | total parameters | params | params |" in by_key["chinchilla"]


def test_every_law_with_a_published_test_vector_says_what_it_was_checked_against():
    vectors = yaml.safe_load((ROOT / "tests" / "vectors.yaml").read_text())
    for key in sorted({v["law"] for v in vectors}):
        assert REGISTRY[key].provenance.checked_against.strip(), key


# -- no outside references ---------------------------------------------------------------------

#: Names of files and folders that exist only beside the development checkout, and phrases about
#: how the code was built: none belongs in what users read or in the package.
FORBIDDEN = [
    (re.compile(r"\.\./shared"), "the ../shared folder"),
    (re.compile(r"shared/data"), "the shared data folder"),
    (re.compile(r"\bLAWS\.md"), "LAWS.md (cite the paper or docs/laws.md)"),
    (re.compile(r"\bCONVENTIONS\.md"), "CONVENTIONS.md (docs/formats.md holds the trainer conventions)"),
    (re.compile(r"\bSTYLE\.md"), "STYLE.md"),
    (re.compile(r"issue's targets?|the issue's\b", re.I), "the issue's targets"),
    (re.compile(r"\bissues? \d+\b", re.I), "an issue number"),
    (re.compile(r"\b(this|that|the next|a helper|the fourth) session\b|\bsessions?'s? code\b", re.I),
     "session history"),
]


def _user_facing_files():
    files = [ROOT / "README.md", ROOT / "tests" / "vectors.yaml", ROOT / "benchmarks" / "README.md",
             ROOT / "data" / "README.md"]
    files += sorted((ROOT / "docs").glob("*.md"))
    files += sorted((ROOT / "hpadvisor").rglob("*.py"))
    return [f for f in files if f.exists()]


@pytest.mark.parametrize("path", _user_facing_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_outside_the_repository(path):
    text = path.read_text()
    found = []
    for pattern, what in FORBIDDEN:
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {m.group(0)!r}")
    assert not found, "\n".join(found)


def test_the_reference_check_catches_each_name():
    for sample in ("see ../shared/LAWS.md", "LAWS.md section 3", "CONVENTIONS.md", "STYLE.md",
                   "shared/data/steplaw", "meets the issue's targets", "(issue 4)", "in this session"):
        assert any(p.search(sample) for p, _ in FORBIDDEN), sample
