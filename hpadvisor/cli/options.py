"""Options shared by commands, and the one place output is written (stdout or an atomic file)."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Any

from hpadvisor.cli.flags import flags_for
from hpadvisor.formats.registry import TRAINERS


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    markdown = "markdown"


FORMAT_HELP = "table (default), json, yaml or markdown."

#: The flag that sets each schedule value, for error messages (``schedules.build(set_by=...)``):
#: the one mapping's (cli/flags.py), as ``schedule``, ``predict`` and ``compare-schedules`` name them.
SCHEDULE_FIELDS = ("peak", "total_steps", "warmup_steps", "min_lr", "min_lr_ratio", "warmup_init", "decay_steps",
                   "decay_fraction")
SCHEDULE_FLAGS = flags_for(SCHEDULE_FIELDS, "schedule")
#: ``hpadvisor schedule`` also reads a run file.
SCHEDULE_FLAGS_OR_RUN = {**SCHEDULE_FLAGS, "peak": "--lr or optimizer.lr", "warmup_steps": "--warmup or schedule.warmup",
                         "min_lr": "--min-lr or schedule.min_lr", "min_lr_ratio": "--min-lr-ratio or schedule.min_lr_ratio",
                         "decay_steps": "--decay-fraction or schedule.decay_fraction",
                         "decay_fraction": "--decay-fraction or schedule.decay_fraction"}
#: ``fit curves`` names the run length --total-steps.
FIT_SCHEDULE_FLAGS = flags_for(SCHEDULE_FIELDS, "fit curves")


# -- help texts that list the trainers: every list read from the trainer registry ---------------------

def _or(words: list[str]) -> str:
    """'a, b or c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def format_keys() -> list[str]:
    """Every format --format-in / --emit takes (the trainers', then the run file's), in listing order."""
    return list(TRAINERS)


def trainer_names() -> str:
    """The trainers by their own names: 'Megatron-LM, GPT-NeoX, ...' (the run file left out)."""
    return ", ".join(t.name for t in TRAINERS.values() if not t.run_file)


def config_files_help() -> str:
    """The config files ``check`` reads: each trainer's, then the run file."""
    files = [f"{t.name} {t.files}" for t in TRAINERS.values() if not t.run_file]
    run = [f"an {t.name} {t.files}" for t in TRAINERS.values() if t.run_file]
    return ", ".join(files) + "".join(f", or {r}" for r in run)


def conventions_help() -> str:
    """The lr conventions, each with the trainers that compute their lr with another's:
    'megatron (also nanotron), neox, ...'."""
    also: dict[str, list[str]] = {}
    for key, t in TRAINERS.items():
        if t.convention is not None:
            also.setdefault(t.convention, [])
            if key != t.convention:
                also[t.convention].append(key)
    return _or([c + (f" (also {', '.join(more)})" if more else "") for c, more in also.items()])


CONFIG_FORMAT_HELP = f"The trainer --config is written for: auto (detected from its keys), {_or(format_keys())}."


def trainer_format(format_in: str) -> str | None:
    """``--format-in``: None for auto-detection, else a format ``read_config`` knows (checked)."""
    from hpadvisor.errors import InvalidInputError, did_you_mean

    if format_in == "auto":
        return None
    if format_in not in TRAINERS:
        raise InvalidInputError(f"--format-in '{format_in}' is not a trainer hpadvisor reads."
                                + did_you_mean(format_in, ("auto", *TRAINERS)))
    return format_in


def require_config(config: Path | None, format_in: str) -> None:
    """``--format-in`` without ``--config`` is refused (it would silently do nothing)."""
    from hpadvisor.errors import InvalidInputError

    if config is None and format_in != "auto":
        raise InvalidInputError("--format-in names the trainer of --config: give --config FILE too.")


def config_schedule(config: Path, clash: str, given: dict[str, Any], format_in: str = "auto"):
    """The per-step lr a trainer config runs, its label and notes (``schedules.from_trainer``).

    ``given`` maps each flag that would set the schedule a second way to its value (None when not
    given); if any is given, the error is ``clash`` with ``{flags}`` filled in.  ``format_in`` names
    the trainer (``--format-in``).
    """
    from hpadvisor import schedules
    from hpadvisor.formats.registry import read_config

    fmt = trainer_format(format_in)
    refuse_flags(clash, given)
    return schedules.from_trainer(read_config(config, format=fmt))


def refuse_flags(clash: str, given: dict[str, Any]) -> None:
    """InvalidInputError ``clash`` (``{flags}`` filled in) if any flag in ``given`` has a value: flags
    that the way the schedule is given would ignore."""
    from hpadvisor.errors import InvalidInputError

    flags = [flag for flag, value in given.items() if value is not None]
    if flags:
        raise InvalidInputError(clash.format(flags=", ".join(flags)))


def refuse_wsd_flags(shape: str | None, given: dict[str, Any], named: str) -> None:
    """refuse_flags for a WSD cooldown's own flags (``given``) when ``shape`` is a schedule without
    one; ``named`` is how the message names that schedule."""
    if shape is not None and shape not in ("wsd", "wsd_restarts"):
        refuse_flags(f"{{flags}}: a WSD cooldown's settings; {named} has none.", given)


def plain(obj: Any) -> Any:
    """numpy scalars and tuples to plain YAML/JSON data; NaN/inf to None."""
    import math

    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(data: Any, indent: int | None = 2) -> str:
    """Strict JSON (no NaN) of ``data`` after :func:`plain`, with a final newline."""
    return json.dumps(plain(data), indent=indent, allow_nan=False) + "\n"


def data_text(data: Any, fmt: OutputFormat, *, indent: int | None = 2) -> str | None:
    """``data`` as JSON or YAML text when ``fmt`` is one of those (the stable interface), else None:
    the caller renders its own table or Markdown."""
    if fmt is OutputFormat.json:
        return json_text(data, indent=indent)
    if fmt is OutputFormat.yaml:
        from hpadvisor.io import yamlio

        return yamlio.dumps(data)
    return None


def to_text(obj: Any, fmt: OutputFormat, kind: str, *, width: int | None = None) -> str:
    """Render ``obj`` (an Advice, a law listing...) in ``fmt``."""
    from hpadvisor.cli import render
    from hpadvisor.cli.flags import cli_data

    text = data_text(cli_data(obj.to_dict() if hasattr(obj, "to_dict") else obj), fmt)
    if text is not None:
        return text
    if fmt is OutputFormat.markdown:
        return render.markdown(kind, obj)
    return render.table_text(kind, obj, width=width)


def emit(obj: Any, fmt: OutputFormat, *, out: Path | None = None, force: bool = False,
         kind: str = "advice") -> None:
    """Write to ``out`` atomically (refusing to overwrite without ``force``) or print."""
    if out is not None:
        from hpadvisor.io import outputs

        text = to_text(obj, fmt, kind, width=120)
        outputs.write_atomic(out, text, force=force)
        sys.stderr.write(f"wrote {out}\n")
        return
    if fmt is OutputFormat.table:
        from hpadvisor.cli import render

        render.print_table(kind, obj)
        return
    sys.stdout.write(to_text(obj, fmt, kind))
