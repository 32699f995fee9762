"""Machine outputs of ``hpadvisor check``: JSON, SARIF 2.1.0 and GitHub Actions annotations.

Pure functions of :class:`hpadvisor.check.rules.Report` objects to text (the rich text lives in
``cli/render.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePath

from hpadvisor.check.rules import RULES, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def to_json(reports: Sequence[Report]) -> str:
    """One file: ``{"file", "format", "findings": [...]}``; several: a JSON array of those."""
    data = [r.to_dict() for r in reports]
    return json.dumps(data[0] if len(data) == 1 else data, indent=2, allow_nan=False) + "\n"


def _uri(path: str) -> str:
    """A repository-relative URI where possible (what code scanning matches against)."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path(os.getcwd()).resolve())
        except ValueError:
            return p.resolve().as_uri()
    return PurePath(p).as_posix()


def _text(finding) -> str:
    return f"{finding.message} Fix: {finding.suggestion}" if finding.suggestion else finding.message


def to_sarif(reports: Sequence[Report], version: str) -> str:
    ids = list(RULES)
    results = []
    for report in reports:
        for f in report.findings:
            loc: dict = {"physicalLocation": {"artifactLocation": {"uri": _uri(report.file)}}}
            if f.line is not None:
                loc["physicalLocation"]["region"] = {"startLine": int(f.line)}
            result = {
                "ruleId": f.rule,
                "ruleIndex": ids.index(f.rule),
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": _text(f)},
                "locations": [loc],
            }
            if f.field:
                result["properties"] = {"field": f.field, "suggestion": f.suggestion}
            results.append(result)
    rules = [{
        "id": r.id,
        "name": "".join(w.capitalize() for w in r.id.split("-")),
        "shortDescription": {"text": r.title},
        "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
        "help": {"text": "See docs/check.md (rules and thresholds) in the hpadvisor sources."},
    } for r in RULES.values()]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "hpadvisor", "version": version, "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _escape_data(text: str) -> str:
    # GitHub Actions workflow-command escaping (actions/toolkit, command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(reports: Sequence[Report]) -> str:
    """``::warning file=F,line=N,title=RULE::message`` lines, one per finding."""
    out = []
    for report in reports:
        for f in report.findings:
            props = [f"file={_escape_property(_uri(report.file))}"]
            if f.line is not None:
                props.append(f"line={int(f.line)}")
            props.append(f"title={_escape_property(f'hpadvisor {f.rule}')}")
            out.append(f"::{_GITHUB_COMMAND[f.severity]} {','.join(props)}::{_escape_data(_text(f))}")
    return "".join(line + "\n" for line in out)
