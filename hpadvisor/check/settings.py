"""Rule configuration for ``hpadvisor check``: disable rules or re-grade them, per project.

Read from ``.hpadvisor.yaml`` (key ``check``) or ``pyproject.toml`` (table ``[tool.hpadvisor.check]``),
whichever is found first walking up from the working directory (``.hpadvisor.yaml`` wins within one
directory), or from the file given with ``--config``::

    [tool.hpadvisor.check]
    disable = ["wd-on-embeddings"]
    severity = { "tokens-off-compute-optimal" = "warning" }
    fail-on = "warning"
    allow-incomplete = false   # true: a law-based rule that could not run does not fail the check
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError, did_you_mean

KEYS = ("disable", "severity", "fail-on", "allow-incomplete")


@dataclass(frozen=True)
class RuleConfig:
    disabled: tuple[str, ...] = ()
    severity: Mapping[str, str] = field(default_factory=dict)
    fail_on: str | None = None
    allow_incomplete: bool = False
    source: str = ""  # the file it came from ("" = built-in defaults)


def _validate(raw: Any, source: str) -> RuleConfig:
    from hpadvisor.check.rules import RULES, SEVERITIES

    if raw is None:
        return RuleConfig(source=source)
    if not isinstance(raw, Mapping):
        raise DataError(f"{source}: the check settings must be a table of keys ({', '.join(KEYS)}), "
                        f"not {type(raw).__name__}.")
    for key in raw:
        if key not in KEYS and key.replace("_", "-") not in KEYS:
            raise InvalidInputError(f"{source}: unknown check setting '{key}'.{did_you_mean(str(key), KEYS)}")

    def rule_id(x: Any) -> str:
        if not isinstance(x, str) or x not in RULES:
            raise InvalidInputError(f"{source}: unknown rule '{x}'.{did_you_mean(str(x), RULES)} "
                                    "List them with `hpadvisor check --list-rules`.")
        return x

    disable = raw.get("disable", [])
    if isinstance(disable, str) or not isinstance(disable, list):
        raise InvalidInputError(f"{source}: 'disable' must be a list of rule ids, not {disable!r}.")
    severity = raw.get("severity", {})
    if not isinstance(severity, Mapping):
        raise InvalidInputError(f"{source}: 'severity' must map rule ids to error, warning or info.")
    grades = {}
    for rid, grade in severity.items():
        if grade not in SEVERITIES:
            raise InvalidInputError(f"{source}: severity of '{rid}' must be error, warning or info; "
                                    f"got {grade!r}.")
        grades[rule_id(rid)] = grade
    fail_on = raw.get("fail-on", raw.get("fail_on"))
    if ("fail-on" in raw or "fail_on" in raw) and fail_on not in SEVERITIES:
        raise InvalidInputError(f"{source}: 'fail-on' must be error, warning or info; got {fail_on!r}.")
    allow = raw.get("allow-incomplete", raw.get("allow_incomplete", False))
    if not isinstance(allow, bool):
        raise InvalidInputError(f"{source}: 'allow-incomplete' must be true or false; got {allow!r}.")
    return RuleConfig(tuple(rule_id(x) for x in disable), grades, fail_on, allow, source)


def _misplaced(table: Mapping[Any, Any], source: str, right: str) -> None:
    """A check setting written beside the ``check`` key instead of under it is refused, not ignored."""
    stray = [str(k) for k in table if str(k).replace("_", "-") in KEYS]
    if stray:
        raise InvalidInputError(f"{source}: '{stray[0]}' is a check setting: put it under {right}; "
                                "outside it nothing reads it.")


def _from_yaml(path: Path) -> RuleConfig:
    from hpadvisor.io import yamlio

    data, _lines = yamlio.load(path, what="hpadvisor settings")
    if data is not None and not isinstance(data, Mapping):
        raise DataError(f"{path}: must be a mapping with a 'check' key.")
    _misplaced(data or {}, str(path), "the 'check:' key (indented under a line 'check:')")
    return _validate((data or {}).get("check"), str(path))


def _toml_table(path: Path) -> Any:
    from hpadvisor.io.inputs import read_input_text
    from hpadvisor.io.jsonio import parse_toml

    # read as every input is (a regular file, at most 20 MB); a 5000-digit number is one line too
    data, _ = parse_toml(read_input_text(path, what="settings file"), str(path))
    tool = data.get("tool", {})
    return tool.get("hpadvisor") if isinstance(tool, Mapping) else None


def _from_pyproject(path: Path) -> RuleConfig | None:
    table = _toml_table(path)
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise DataError(f"{path}: [tool.hpadvisor] must be a table.")
    _misplaced(table, f"{path} [tool.hpadvisor]", "[tool.hpadvisor.check]")
    return _validate(table.get("check"), f"{path} [tool.hpadvisor.check]")


def load(explicit: str | os.PathLike[str] | None = None, start: str | os.PathLike[str] | None = None
         ) -> RuleConfig:
    """The rule configuration: ``explicit`` file, else the nearest one above ``start`` (cwd)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise DataError(f"{path}: no such settings file.")
        if path.name == "pyproject.toml" or path.suffix == ".toml":
            found = _from_pyproject(path)
            return found if found is not None else RuleConfig(source=str(path))
        return _from_yaml(path)
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        yml = folder / ".hpadvisor.yaml"
        if yml.is_file():
            return _from_yaml(yml)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            found = _from_pyproject(pyproject)
            if found is not None:
                return found
    return RuleConfig()
