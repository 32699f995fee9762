"""``hpadvisor check``: a trainer config in, graded findings with line numbers out (a CI gate).

Exit codes: 0 clean, 1 a finding at or above --fail-on (default error), 2 unreadable input.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, fail, guarded
from hpadvisor.cli.options import config_files_help, format_keys

_IN = "Input"
_RULES = "Rules"
_OUT = "Output"


class CheckFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class Grade(str, enum.Enum):
    error = "error"
    warning = "warning"
    info = "info"


@app.command()
@guarded
def check(
    files: Annotated[Optional[list[Path]], typer.Argument(
        help=f"Trainer config file(s): {config_files_help()}.", show_default=False)] = None,
    format_in: Annotated[str, typer.Option(
        "--format-in", help=f"auto, {', '.join(format_keys())}.", rich_help_panel=_IN)] = "auto",
    model: Annotated[Optional[Path], typer.Option(
        help="The model's HF config.json (architecture).", rich_help_panel=_IN)] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Training tokens, e.g. 300B, when the config does not state its run "
                                                  "length (one that contradicts it is an error).", rich_help_panel=_IN)] = None,
    params: Annotated[Optional[str], typer.Option(
        help="Total parameters, e.g. 7B (overrides the architecture's).", rich_help_panel=_IN)] = None,
    data_parallel: Annotated[Optional[int], typer.Option(
        help="Data-parallel size, when the launcher decides it.", min=1, rich_help_panel=_IN)] = None,
    seq_len: Annotated[Optional[int], typer.Option("--seq-len", help="Sequence length in tokens, when the config does not "
                                                   "state it (TrainingArguments hold none).", min=1, rich_help_panel=_IN)] = None,
    run: Annotated[Optional[Path], typer.Option(help="hpadvisor run file: fills what the config lacks; every value it "
                                                "states must agree with the config.", rich_help_panel=_IN)] = None,
    laws: Annotated[Optional[list[Path]], typer.Option("--laws", help="A fitted law file (YAML); leads the advice. "
                                                       "Repeatable.", rich_help_panel=_RULES)] = None,
    fail_on: Annotated[Optional[Grade], typer.Option(help="Exit 1 on a finding of this grade or worse (default error, "
                                                     "or the settings file's fail-on).", rich_help_panel=_RULES)] = None,
    allow_incomplete: Annotated[bool, typer.Option(
        "--allow-incomplete", help="Accept a partial check: a law-based rule that could not run for lack of an input "
        "is info, not an error (settings: allow-incomplete).", rich_help_panel=_RULES)] = False,
    config: Annotated[Optional[Path], typer.Option(help="Rule settings (.hpadvisor.yaml or pyproject.toml); default: the "
                                                   "nearest one above the working directory.", rich_help_panel=_RULES)] = None,
    list_rules: Annotated[bool, typer.Option(
        "--list-rules", help="List the rules and exit.", rich_help_panel=_RULES)] = False,
    format: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="text (default), json, sarif or github.", rich_help_panel=_OUT)] = CheckFormat.text,
) -> None:
    """Check a trainer config before launch: lr, batch, warmup, decay, beta2, weight decay, muP."""
    from hpadvisor.check import rules as chk
    from hpadvisor.check import settings as check_config
    from hpadvisor.errors import InvalidInputError

    if list_rules:
        for rule in chk.RULES.values():
            sys.stdout.write(f"{rule.id:<28} {rule.severity:<8} {rule.title}\n")
        return
    if not files:
        raise InvalidInputError("give a config file to check (hpadvisor check FILE).")
    settings = check_config.load(config)
    level = fail_on.value if fail_on is not None else (settings.fail_on or "error")
    partial = allow_incomplete or settings.allow_incomplete
    kwargs = _inputs(tokens, params, laws, run, format_in)
    overrides = {k: v for k, v in (("data_parallel", data_parallel), ("seq_len", seq_len)) if v} or None
    reports, unreadable = _check_files(files, kwargs, model, overrides, settings, partial)
    _emit(reports, format, unreadable)
    if unreadable:
        raise typer.Exit(2)
    if any(r.fails(level) for r in reports):
        raise typer.Exit(1)


def _check_files(files: list[Path], kwargs: dict, model: Path | None, overrides: dict | None, settings,
                 partial: bool) -> tuple[list, int]:
    """(a report per readable file, how many were unreadable); with several files an unreadable
    one is one line on stderr and the others are still checked."""
    from hpadvisor.check import rules as chk
    from hpadvisor.errors import DataError, HpAdvisorError
    from hpadvisor.formats._common import FieldError
    from hpadvisor.formats.registry import read_config
    from hpadvisor.io.yamlio import read_text

    reports, unreadable = [], 0
    for path in files:
        try:
            cfg = read_config(path, format=kwargs["fmt"], model_config=model, overrides=overrides)
            text = read_text(path, what="config file")
            why = chk.nothing_read(cfg)
            if why:
                raise DataError(why)
        except FieldError as exc:  # a value of the wrong type: an error on its line, not unreadable input
            reports.append(chk.field_error(exc))
            continue
        except HpAdvisorError as exc:
            if len(files) == 1:
                raise
            fail(str(exc))  # one line on stderr; go on with the other files
            unreadable += 1
            continue
        ctx, notes = chk.build_context(cfg, params=kwargs["params"], tokens=kwargs["tokens"],
                                       laws=kwargs["laws"], preferred=kwargs["preferred"],
                                       reference=kwargs["reference"], base_values=kwargs["base"],
                                       allow_incomplete=partial)
        found = chk.run_rules(ctx, disabled=settings.disabled, severity=settings.severity,
                              extra=chk.empty_values(cfg, text))
        reports.append(chk.Report(cfg.path, cfg.format, tuple(found), tuple(cfg.notes) + tuple(notes)))
    return reports, unreadable


def _inputs(tokens, params, laws, run, format_in) -> dict:
    """Validated flag values (bad ones raise our errors: one line, exit 2)."""
    from hpadvisor.cli.options import trainer_format
    from hpadvisor.io import lawfile
    from hpadvisor.laws import REGISTRY
    from hpadvisor.spec import units

    fmt = trainer_format(format_in)
    all_laws, preferred = lawfile.merge(REGISTRY, [str(p) for p in (laws or [])])
    reference = base = None
    if run is not None:
        from hpadvisor.formats.registry import read_config
        from hpadvisor.recommend.api import load_values

        reference = read_config(run, format="hpadvisor")
        base = load_values(str(run), None)
    return {
        "fmt": fmt,
        "tokens": None if tokens is None else units.parse_count(tokens, name="--tokens"),
        "params": None if params is None else units.parse_size(params, name="--params", of="parameters"),
        "laws": all_laws, "preferred": preferred, "reference": reference, "base": base,
    }


def _emit(reports, format: CheckFormat, unreadable: int = 0) -> None:
    from hpadvisor.check import output as check_output
    from hpadvisor.cli.flags import cli_text

    if format is CheckFormat.json:
        sys.stdout.write(cli_text(check_output.to_json(reports)))
    elif format is CheckFormat.sarif:
        from hpadvisor import __version__

        sys.stdout.write(cli_text(check_output.to_sarif(reports, __version__)))
    elif format is CheckFormat.github:
        sys.stdout.write(cli_text(check_output.to_github(reports)))
    else:
        from hpadvisor.cli import render

        render.print_check(reports, unreadable=unreadable)
