"""``hpadvisor schedule [RUN.yaml] --out lr.csv``: the run's per-step learning rate, as its trainer
computes it.

Each value comes from a flag, else from the run file's plan, else from the advice for the run
(``recommend``); every choice is printed with where it came from.  Without a run file the flags
give the whole schedule (``--schedule``, ``--lr`` and ``--steps`` at least).  The schedule itself
is :func:`hpadvisor.recommend.advisor.planned_schedule`; this module parses and renders.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import CONFIG_FORMAT_HELP, conventions_help, refuse_wsd_flags, trainer_names


@app.command("schedule")
@guarded
def schedule_command(
    run_file: Annotated[Optional[Path], typer.Argument(help="Run file (YAML), as for `recommend` (optional when the flags give the schedule).")] = None,
    schedule: Annotated[Optional[str], typer.Option(help="Shape: constant, cosine, linear, d2z, wsd, wsd_restarts, multistep, inverse_sqrt.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak lr.")] = None,
    steps: Annotated[Optional[str], typer.Option(help="Total optimizer steps (e.g. 72000 or 72k).")] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Warmup steps.")] = None,
    warmup_init: Annotated[float, typer.Option(help="Warmup starts at this fraction of the peak (default 0).")] = 0.0,
    min_lr: Annotated[Optional[float], typer.Option(help="Final lr (absolute).")] = None,
    min_lr_ratio: Annotated[Optional[float], typer.Option(help="Final lr as a fraction of the peak.")] = None,
    decay_fraction: Annotated[Optional[float], typer.Option(help="WSD: fraction of the run spent cooling down.")] = None,
    decay_shape: Annotated[Optional[str], typer.Option(help="WSD cooldown: linear, 1-sqrt, cosine, exponential (default: the run file's, else linear).")] = None,
    cooldowns: Annotated[Optional[int], typer.Option(help="WSD: number of cooldowns, evenly spaced (WSD-S; default 1).")] = None,
    convention: Annotated[Optional[str], typer.Option(help=f"Trainer convention: {conventions_help()} (default: the run file's schedule.trainer, else megatron).")] = None,
    config: Annotated[Optional[Path], typer.Option(help=f"A trainer config ({trainer_names()}): "
                                                        "write the lr it runs with, as that trainer computes it.")] = None,
    format_in: Annotated[str, typer.Option("--format-in", help=CONFIG_FORMAT_HELP)] = "auto",
    out: Annotated[Optional[Path], typer.Option(help="Write step,lr CSV here (default: print the plot and a summary only).")] = None,
    every: Annotated[int, typer.Option(help="Write every k-th step (1 = every step).")] = 1,
    plot: Annotated[Optional[Path], typer.Option(help="Also save a PNG/SVG plot (needs matplotlib).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out / --plot if they exist.")] = False,
) -> None:
    """Write the per-step lr of the planned run (CSV step,lr) and show it as a plot."""
    from hpadvisor.cli.options import SCHEDULE_FLAGS_OR_RUN, config_schedule, require_config
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.recommend.advisor import planned_schedule, recommend
    from hpadvisor.spec import units

    if every < 1:
        raise InvalidInputError("--every must be >= 1.")
    from hpadvisor.io import outputs

    outputs.check_outputs({"--out": out, "--plot": plot}, force=force, inputs=[config, run_file])
    spec = advice = None
    require_config(config, format_in)
    if config is not None:
        eta, label, notes = config_schedule(
            config, "--config gives the whole schedule: drop {flags}.",
            {"a run file": run_file, "--schedule": schedule, "--lr": lr, "--steps": steps, "--warmup": warmup,
             "--min-lr": min_lr, "--min-lr-ratio": min_lr_ratio, "--decay-fraction": decay_fraction,
             "--decay-shape": decay_shape, "--cooldowns": cooldowns}, format_in)
        keep = _every(eta.size - 1, every)
        _emit(keep, eta[keep], label, notes, out=out, plot=plot, force=force)
        return
    if run_file is not None:
        from hpadvisor.recommend.api import load_spec

        spec = load_spec(run_file)
        advice = recommend(spec)
    elif schedule is None or lr is None or steps is None:
        raise InvalidInputError("give a run file, or the schedule by flags: --schedule, --lr and --steps at least.")
    total = units.parse_steps(steps, name="--steps") if steps is not None else None
    shape = schedule or (spec.schedule.shape if spec is not None else None)
    refuse_wsd_flags(shape, {"--decay-fraction": decay_fraction, "--decay-shape": decay_shape, "--cooldowns": cooldowns},
                     f"the {shape} schedule")
    s, notes = planned_schedule(spec, advice, shape=schedule, peak=lr, total_steps=total, warmup_steps=warmup,
                                min_lr=min_lr, min_lr_ratio=min_lr_ratio, decay_fraction=decay_fraction,
                                decay_shape=decay_shape, convention=convention, warmup_init=warmup_init,
                                cooldowns=cooldowns, set_by=SCHEDULE_FLAGS_OR_RUN)
    keep = _every(s.total_steps, every)
    _emit(keep, s.lr(keep), s.describe(), notes, out=out, plot=plot, force=force)


def _every(total: int, every: int):
    """Steps 0, every, 2 every, ... and the last."""
    import numpy as np

    keep = np.arange(0, total + 1, every)
    return keep if keep[-1] == total else np.append(keep, total)


def _emit(steps_out, lr_out, label: str, notes: list[str], *, out, plot, force: bool) -> None:
    """The step,lr CSV, a plot file, and the terminal plot with the notes."""
    import numpy as np

    from hpadvisor.io import outputs
    from hpadvisor.io.plot import text_plot

    if out is not None:
        text = "step,lr\n" + "".join(f"{int(a)},{b:.9g}\n" for a, b in zip(steps_out, lr_out, strict=True))
        outputs.write_atomic(out, text, force=force)
        sys.stderr.write(f"wrote {out} ({steps_out.size} rows)\n")
    if plot is not None:
        from hpadvisor.io.plot import save_plot

        save_plot(plot, {label: (steps_out, lr_out)}, ylabel="learning rate", force=force)
        sys.stderr.write(f"wrote {plot}\n")
    pick = np.unique(np.linspace(0, steps_out.size - 1, 400).round().astype(int))
    sys.stdout.write(f"{label}\n" + text_plot({"lr": (steps_out[pick], lr_out[pick])}, ylabel="lr"))
    from hpadvisor.cli.flags import cli_text

    sys.stdout.write("".join(f"note: {cli_text(n)}\n" for n in notes))
