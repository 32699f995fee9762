"""README.md is the user's manual: it must name every run-file key and every law that exists."""

from __future__ import annotations

import re

from hpadvisor.laws import REGISTRY
from hpadvisor.spec import field_paths
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_install_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert blocks[0].strip().startswith("pip install -e . && hpadvisor recommend configs/")
    assert blocks[1].strip() == "pip install -e '.[test]' && python -m pytest -n auto"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[test,dev]'" in ci and "python -m pytest -q -p no:cacheprovider -n auto" in ci


def test_every_run_file_key_is_documented():
    for dotted in field_paths():
        leaf = dotted.split(".")[-1]
        assert f"`{dotted}`" in README or f".{leaf}`" in README or f"`{leaf}`" in README, dotted


def test_every_registry_law_is_documented():
    for key in REGISTRY:
        assert f"`{key}`" in README, key


def test_the_example_named_in_the_first_command_exists():
    first = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[0]
    path = re.search(r"(configs/\S+\.yaml)", first).group(1)
    assert (ROOT / path).exists()
