"""The one mapping from the library's Python parameter names to the command-line flags.

Library functions name their parameters in backticks in what they raise and in their notes
(``fit_sweep(n_boot=-1)`` raises "`n_boot` must be >= 0 (0 = no intervals), not -1.").  Before
the command line prints such a text it goes through :func:`cli_text`, which writes each
`` `name` `` this mapping knows as the flag of the running command ("--bootstrap must be >= 0 ...").
A name is a parameter (``seq_len``) or one value of a dict parameter (``base['width']``).

``FLAGS`` holds the flag a name has in every command that has it; ``COMMAND_FLAGS`` the commands
where the same name is another flag (``total_steps`` is ``--steps`` in ``schedule`` but
``--total-steps`` in ``fit curves``).  ``NOT_FLAGS`` lists the names the library puts in backticks
that are not parameters (a run file's section, an output key): printed as they are.
``tests/test_python_api.py`` fails on a backticked name in a library message that is in neither.
"""

from __future__ import annotations

import re
from typing import Any

FLAGS: dict[str, str] = {
    # fitting: fit sweep, fit batch, fit final, fit curves
    "n_boot": "--bootstrap",
    "bootstrap": "--bootstrap",
    "method": "--method",
    "tolerance": "--tolerance",
    "window": "--window",
    "holdout": "--holdout",
    "overhead": "--overhead",
    "reference_batch": "--reference-batch",
    "tokens_per_param": "--tokens-per-param",
    "seq_len": "--seq-len",
    "batch_unit": "--batch-unit",
    "param_count": "--param-count",
    "mapping": "--map",
    "law": "--law",
    "lam": "--lambda",
    "max_points": "--max-points",
    "from_step": "--from-step",
    "drop_highest_loss": "--drop-highest-loss",
    "outlier_sigma": "--outlier-sigma",
    "split_along": "--split-along",
    # schedules: schedule, predict, compare-schedules, fit curves
    "shape": "--schedule",
    "schedule": "--schedule",
    "peak": "--lr",
    "total": "--steps",
    "total_steps": "--steps",
    "warmup": "--warmup",
    "warmup_steps": "--warmup",
    "warmup_init": "--warmup-init",
    "min_lr": "--min-lr",
    "min_lr_ratio": "--min-lr-ratio",
    "cooldown_min_lr_ratio": "--cooldown-min-lr-ratio",
    "decay_fraction": "--decay-fraction",
    "decay_steps": "--decay-fraction",
    "config": "--config",
    # a run's sizes (recommend, check), trainer configs
    "params": "--params",
    "tokens": "--tokens",
    "batch": "--batch",
    "model_config": "--model",
    "format": "--format-in",
    # transfer: plan_from_values(base, target, param=, optimizer=), emit(plan, fmt)
    "param": "--param",
    "optimizer": "--optimizer",
    "fmt": "--emit",
    "base['lr']": "--lr",
    "base['width']": "--base-width",
    "base['depth']": "--base-depth",
    "target['width']": "--width",
    "target['depth']": "--depth",
    # recommend --emit
    "trainer": "--emit",
    # outputs: write_atomic(path, force=), save_plot
    "path": "--out",
    "force": "--force",
    "plot": "--plot",
}

#: Where a name is another flag than ``FLAGS`` says, by command (as typed: "fit curves").
COMMAND_FLAGS: dict[str, dict[str, str]] = {
    "fit curves": {"total_steps": "--total-steps"},
    "predict": {"steps": "--at"},
    "plan-ladder": {"budget": "--budget", "target": "--target"},
}

#: Backticked names in library messages that are not parameters: kept as they are.
NOT_FLAGS = frozenset({"multiplier", "proxy"})

#: A backticked name: an identifier, or one key of a dict parameter (``base['width']``).
NAME = re.compile(r"`([a-z_][a-z0-9_]*(?:\['[a-z_]+'\])?)`")


def flag(name: str, command: str | None = None) -> str | None:
    """The flag ``name`` is in ``command`` (None: the running one), or None when it is none."""
    if command is None:
        command = current_command()
    return COMMAND_FLAGS.get(command or "", {}).get(name) or FLAGS.get(name)


def flags_for(names: tuple[str, ...], command: str) -> dict[str, str]:
    """{name: its flag in ``command``} for each of ``names`` that has one (``schedules.build``'s
    ``set_by``, which names the flag that set a bad value)."""
    return {n: f for n in names if (f := flag(n, command)) is not None}


def cli_text(text: str, command: str | None = None) -> str:
    """``text`` with every `` `name` `` the mapping knows written as its flag in ``command`` (None:
    the running command); other text, byte for byte as it was."""
    if "`" not in text:
        return text
    if command is None:
        command = current_command()
    return NAME.sub(lambda m: flag(m.group(1), command) or m.group(0), text)


def cli_data(obj: Any, command: str | None = None) -> Any:
    """:func:`cli_text` over every string (dict keys too) in nested dicts, lists and tuples."""
    if command is None:
        command = current_command()
    if isinstance(obj, str):
        return cli_text(obj, command)
    if isinstance(obj, dict):
        return {cli_data(k, command): cli_data(v, command) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(cli_data(v, command) for v in obj)
    return obj


def current_command() -> str:
    """The running command as typed after ``hpadvisor`` ("fit curves"), or "" outside one."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def law_file_text(law: Any, fit: Any = None, command: str | None = None) -> str:
    """A law file as the command line writes it: :func:`hpadvisor.io.lawfile.dumps` with the
    names in the law's notes and in ``fit`` written as flags (before the YAML is laid out)."""
    from hpadvisor.io import lawfile, yamlio

    return yamlio.dumps(cli_data(lawfile.to_dict(law, fit), command))
