"""JSON and TOML as data, with the 1-based line of every key.

Neither :mod:`json` nor :mod:`tomllib` reports positions, so lines come from a second, simple
pass over the text: for JSON, PyYAML's safe loader (JSON is a YAML flow document; only its key
positions are used, the values always come from :mod:`json`); for TOML, a scan of ``[table]``
headers and ``key =`` lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from hpadvisor.errors import DataError
from hpadvisor.io.inputs import digit_limit_error, is_digit_limit, read_input_text
from hpadvisor.io.yamlio import KeyPath


def _decode(loads: Callable[[str], Any], text: str, source: str, syntax: str,
            syntax_error: type[ValueError], where: Callable[[Any], str]) -> Any:
    """``loads(text)``, its failures as one DataError line: a syntax error (``where`` says where and
    what), nesting too deep, a whole number longer than Python reads."""
    try:
        return loads(text)
    except syntax_error as exc:
        raise DataError(f"{source}: invalid {syntax}{where(exc)}. Is the file complete?") from None
    except RecursionError:
        raise DataError(f"{source}: invalid {syntax}: nested too deeply.") from None
    except ValueError as exc:
        if is_digit_limit(exc):
            raise digit_limit_error(source) from None
        raise


def parse_json(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    data = _decode(json.loads, text, source, "JSON", json.JSONDecodeError,
                   lambda exc: f" at line {exc.lineno}, column {exc.colno}: {exc.msg}")
    return data, json_lines(text, source)


def json_lines(text: str, source: str) -> dict[KeyPath, int]:
    from hpadvisor.io import yamlio

    try:
        return yamlio.loads(text, source=source)[1]
    except DataError as exc:
        if "appears twice" in str(exc):
            raise  # json would silently keep the last one; say so instead
    # Some valid JSON is not YAML 1.1 (e.g. tabs as indentation): top-level keys by scanning.
    lines: dict[KeyPath, int] = {}
    for i, line in enumerate(text.splitlines(), start=1):
        for m in re.finditer(r'"((?:[^"\\]|\\.)*)"\s*:', line):
            lines.setdefault((m.group(1),), i)
    return lines


def load_json(path: str, *, what: str = "file") -> tuple[Any, dict[KeyPath, int]]:
    return parse_json(read_input_text(path, what=what), str(path))


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_dotted(key: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", key)
    return tuple(p.strip("\"'") for p in parts)


def parse_toml(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    import tomllib

    data = _decode(tomllib.loads, text, source, "TOML", tomllib.TOMLDecodeError,
                   lambda exc: ": " + " ".join(str(exc).split()))
    lines: dict[KeyPath, int] = {}
    table: tuple[str, ...] = ()
    in_multiline = False
    for i, line in enumerate(text.splitlines(), start=1):
        # Skip the inside of multi-line strings, whose lines may look like keys.
        if in_multiline:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = False
            continue
        m = _HEADER.match(line)
        if m:
            table = _split_dotted(m.group(1))
            lines.setdefault(table, i)
            continue
        m = _KEY.match(line)
        if m:
            lines.setdefault(table + _split_dotted(m.group(1)), i)
            rest = line[m.end():]
            if rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1:
                in_multiline = True
    return data, lines
