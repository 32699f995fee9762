"""``hpadvisor schedule RUN.yaml --out lr.csv``: the run's per-step learning rate, as its trainer computes it.

Peak lr, warmup, final lr, cooldown fraction and total steps come from the run file where it
plans them, and otherwise from the advice (``recommend``); each choice is printed with where it
came from.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded


@app.command("schedule")
@guarded
def schedule_command(
    run_file: Annotated[Path, typer.Argument(help="Run file (YAML), as for `recommend`.")],
    out: Annotated[Optional[Path], typer.Option(help="Write step,lr CSV here (default: print the plot and a summary only).")] = None,
    every: Annotated[int, typer.Option(help="Write every k-th step (1 = every step).")] = 1,
    convention: Annotated[str, typer.Option(help="Trainer convention: megatron, hf or nanogpt.")] = "megatron",
    decay_shape: Annotated[str, typer.Option(help="WSD cooldown: linear, 1-sqrt, cosine, exponential.")] = "linear",
    plot: Annotated[Optional[Path], typer.Option(help="Also save a PNG/SVG plot (needs matplotlib).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out / --plot if they exist.")] = False,
) -> None:
    """Write the per-step lr of the planned run (CSV step,lr) and show it as a plot."""
    import numpy as np

    from hpadvisor import schedules, yamlio
    from hpadvisor.advisor import recommend
    from hpadvisor.api import load_spec
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.plot import text_plot

    if every < 1:
        raise InvalidInputError("--every must be >= 1.")
    spec = load_spec(run_file)
    advice = recommend(spec)
    sch = spec.schedule
    notes = []

    def advised(name):
        v = advice.value(name)
        if v is None:
            raise InvalidInputError(f"the advice gives no {name} for this run; plan it in the run file.")
        return v

    total = int(advised("total_steps"))
    notes.append(f"total steps {total} (advice: tokens / batch).")
    if spec.optimizer.lr is not None:
        peak = spec.optimizer.lr
        notes.append(f"peak lr {peak:g} (run file).")
    else:
        peak = advised("peak_lr")
        notes.append(f"peak lr {peak:.3g} (advice: {advice['peak_lr'].law}).")
    if sch.warmup_steps is not None:
        warm = sch.warmup_steps
    elif sch.warmup_fraction is not None:
        warm = sch.warmup_fraction * total
    elif sch.warmup_tokens is not None and spec.batch_tokens:
        warm = sch.warmup_tokens / spec.batch_tokens
    else:
        warm = advised("warmup_steps")
        notes.append(f"warmup from the advice ({advice['warmup_steps'].law}).")
    warm = int(min(round(warm), total))
    min_lr = sch.min_lr
    ratio = sch.min_lr_ratio
    if min_lr is None and ratio is None and sch.shape not in ("constant", "linear"):
        rec = advice.get("min_lr")
        if rec is not None and rec.value is not None:
            min_lr = min(rec.value, peak)
            notes.append(f"min lr {min_lr:.3g} (advice: {rec.law}).")
    frac = sch.decay_fraction
    if sch.shape == "wsd" and frac is None:
        frac = advice.value("decay_fraction") or 0.2
    s = schedules.build(sch.shape, peak=peak, total_steps=total, warmup_steps=warm, min_lr=min_lr,
                        min_lr_ratio=ratio, decay_fraction=frac, decay_shape=decay_shape, convention=convention)
    steps = np.arange(0, total + 1, every)
    if steps[-1] != total:
        steps = np.append(steps, total)
    lr = s.lr(steps)
    if out is not None:
        text = "step,lr\n" + "".join(f"{int(a)},{b:.9g}\n" for a, b in zip(steps, lr, strict=True))
        yamlio.write_atomic(out, text, force=force)
        sys.stderr.write(f"wrote {out} ({steps.size} rows)\n")
    if plot is not None:
        from hpadvisor.plot import save_plot

        save_plot(plot, {s.describe(): (steps, lr)}, ylabel="learning rate", force=force)
        sys.stderr.write(f"wrote {plot}\n")
    pick = np.unique(np.linspace(0, steps.size - 1, 400).round().astype(int))
    sys.stdout.write(f"{s.describe()}\n" + text_plot({"lr": (steps[pick], lr[pick])}, ylabel="lr"))
    sys.stdout.write("".join(f"note: {n}\n" for n in notes))
