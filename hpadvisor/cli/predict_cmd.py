"""``hpadvisor predict LAW.yaml ...``: use a (fitted) law file; dispatches on the law's form.

``HANDLERS`` maps a law form (``law:`` in the file) to the function that handles it, as
"module:function"; each handler module registers its forms with one line here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import CONFIG_FORMAT_HELP, FORMAT_HELP, OutputFormat, trainer_names

HANDLERS: dict[str, str] = {}
HANDLERS.update(dict.fromkeys(("chinchilla", "chinchilla-nonemb", "chinchilla-ndexp", "chinchilla-ndexp-nonemb", "kaplan",
                              "kaplan-fit", "kaplan-fit-total"),
                            "hpadvisor.cli.fit_final_cmd:predict_final"))
HANDLERS.update(dict.fromkeys(("steplaw", "steplaw-fit", "steplaw-fit-total"), "hpadvisor.cli.predict_fit_cmd:predict_sweep"))
HANDLERS.update(dict.fromkeys(("cbs-fit", "cbs-fit-nonemb"), "hpadvisor.cli.predict_fit_cmd:predict_batch"))
HANDLERS.update(dict.fromkeys(("multipower", "multipower-peak-warmup", "multipower-paper-warmup", "annealing", "annealing-as-run-warmup", "noise-convolution"),
                            "hpadvisor.cli.predict_curves_cmd:predict_curve"))

_SCHED = "Schedule (curve laws)"
#: predict's options by handler argument, to name those a law's handler does not take.
FLAGS = {"schedule": "--schedule", "steps": "--steps", "lr": "--lr", "warmup": "--warmup", "min_lr": "--min-lr",
         "min_lr_ratio": "--min-lr-ratio", "decay_fraction": "--decay-fraction", "decay_shape": "--decay-shape",
         "cooldowns": "--cooldowns", "lr_trace": "--lr-trace", "mapping": "--map", "config": "--config",
         "format_in": "--format-in", "at": "--at", "plot": "--plot", "force": "--force", "params": "--params",
         "tokens": "--tokens"}
#: Options whose default is a value rather than None/False.
_DEFAULTS = {"format_in": "auto", "decay_shape": "linear"}


@app.command()
@guarded
def predict(
    law_files: Annotated[list[str], typer.Argument(
        help="A law file (from `hpadvisor fit ...`) or a registry key; several curve laws are predicted side by side.",
        metavar="LAW...")],
    schedule: Annotated[Optional[str], typer.Option(help="Schedule shape: cosine, wsd, linear, d2z, constant, multistep, inverse_sqrt.", rich_help_panel=_SCHED)] = None,
    steps: Annotated[Optional[str], typer.Option(help="Total optimizer steps of the schedule (e.g. 72000 or 72k).", rich_help_panel=_SCHED)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak lr (default: the law's fitted peak lr).", rich_help_panel=_SCHED)] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Warmup steps (default: the law's fitted warmup).", rich_help_panel=_SCHED)] = None,
    min_lr: Annotated[Optional[float], typer.Option(help="Final lr, absolute.", rich_help_panel=_SCHED)] = None,
    min_lr_ratio: Annotated[Optional[float], typer.Option(help="Final lr as a fraction of the peak (default 0.1; 0 for linear).", rich_help_panel=_SCHED)] = None,
    decay_fraction: Annotated[Optional[float], typer.Option(help="WSD: fraction of the run in the cooldown (default 0.2).", rich_help_panel=_SCHED)] = None,
    decay_shape: Annotated[str, typer.Option(help="WSD cooldown: linear, 1-sqrt, cosine, exponential, geometric.", rich_help_panel=_SCHED)] = "linear",
    cooldowns: Annotated[Optional[int], typer.Option(help="WSD: number of cooldowns, evenly spaced (WSD-S; default 1).", rich_help_panel=_SCHED)] = None,
    lr_trace: Annotated[Optional[Path], typer.Option(help="A (step, lr) CSV/TSV/JSONL trace of the planned lr (sparse is interpolated).", rich_help_panel=_SCHED)] = None,
    map: Annotated[Optional[list[str]], typer.Option("--map", help="Name a trace column: step=it, lr=LR (repeatable).", rich_help_panel=_SCHED)] = None,
    config: Annotated[Optional[Path], typer.Option(help=f"A trainer config ({trainer_names()}): predict the lr schedule it runs.", rich_help_panel=_SCHED)] = None,
    format_in: Annotated[str, typer.Option("--format-in", help=CONFIG_FORMAT_HELP, rich_help_panel=_SCHED)] = "auto",
    at: Annotated[Optional[str], typer.Option(help="Steps to predict at, e.g. 1000,24000 (default: the trace's steps, or 200 points).")] = None,
    params: Annotated[Optional[str], typer.Option(help="N for final-loss and sweep laws (the count the law was fitted on).")] = None,
    tokens: Annotated[Optional[str], typer.Option(help="D (tokens) for final-loss and sweep laws.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Also save a PNG/SVG plot (needs matplotlib).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --plot if it exists.")] = False,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
) -> None:
    """Predict with a law file: the loss curve of a schedule (curve laws), ..."""
    import importlib
    import inspect

    from hpadvisor.errors import InvalidInputError
    from hpadvisor.io import lawfile

    law_file = law_files[0]
    law = lawfile.find(law_file)
    form = type(law).key
    others = [lawfile.find(f) for f in law_files[1:]]
    curve = HANDLERS["multipower"]
    if others and (HANDLERS.get(form) != curve or any(HANDLERS.get(type(o).key) != curve for o in others)):
        raise InvalidInputError("several law files are predicted side by side only when all are curve laws "
                                "(noise-convolution, multi-power or LR-annealing); give one law file otherwise.")
    if form not in HANDLERS:
        raise InvalidInputError(
            f"predict does not handle '{form}' laws yet (it handles: {', '.join(sorted(set(HANDLERS)))})."
        )
    module, _, func = HANDLERS[form].partition(":")
    handler = getattr(importlib.import_module(module), func)
    offered = dict(schedule=schedule, steps=steps, lr=lr, warmup=warmup, min_lr=min_lr,
                   min_lr_ratio=min_lr_ratio, decay_fraction=decay_fraction, decay_shape=decay_shape, cooldowns=cooldowns,
                   lr_trace=lr_trace, mapping=map, config=config, format_in=format_in, at=at, plot=plot, force=force, format=format,
                   params=params, tokens=tokens, law_file=law_file, others=others)
    accepted = inspect.signature(handler).parameters
    named = {k for k, p in accepted.items() if p.kind is not p.VAR_KEYWORD}
    unused = [FLAGS[k] for k, v in offered.items()
              if k in FLAGS and k not in named and v not in (None, False, []) and v != _DEFAULTS.get(k)]
    if unused:
        raise InvalidInputError(f"{', '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to a '{form}' "
                                f"law; it takes {', '.join(FLAGS[k] for k in FLAGS if k in named)}.")
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        offered = {k: v for k, v in offered.items() if k in accepted}
    if not others:
        offered.pop("others", None)
    handler(law, **offered)
