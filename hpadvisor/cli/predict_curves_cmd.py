"""``hpadvisor predict CURVE-LAW.yaml ...``: the loss curve of any schedule under a fitted curve law.

JSON output (a stable interface): ``{"points": [{"step": s, "loss": l}, ...]}`` at the trace's
steps, at ``--at`` steps, or at 200 evenly spaced steps of a ``--schedule``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def parse_at(text: str) -> list[int]:
    from hpadvisor import units
    from hpadvisor.errors import HpAdvisorError, InvalidInputError

    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(units.parse_steps(part, name="--at"))
        except HpAdvisorError:
            raise InvalidInputError(f"--at: '{part}' is not a step number (e.g. --at 1000,24000).") from None
    if not out:
        raise InvalidInputError("--at gives no steps (e.g. --at 1000,24000).")
    return out


def predict_curve(law, *, schedule, steps, lr, warmup, min_lr, min_lr_ratio, decay_fraction, decay_shape,
                  lr_trace, at, plot, force, format, mapping=None, cooldowns=None, config=None) -> None:
    import numpy as np

    from hpadvisor import schedules
    from hpadvisor.cli.options import OutputFormat
    from hpadvisor.errors import InvalidInputError

    notes: list[str] = []
    if sum(x is not None for x in (schedule, lr_trace, config)) != 1:
        raise InvalidInputError("give one of --schedule (with --steps), --lr-trace FILE or --config TRAINER-CONFIG.")
    if config is not None:
        from hpadvisor.formats.base import read_config

        given = [f for f, v in (("--steps", steps), ("--lr", lr), ("--warmup", warmup), ("--min-lr", min_lr),
                                ("--min-lr-ratio", min_lr_ratio), ("--decay-fraction", decay_fraction),
                                ("--cooldowns", cooldowns)) if v is not None]
        if given:
            raise InvalidInputError(f"--config gives the whole schedule: drop {', '.join(given)} (or use --schedule).")
        eta, label, more = schedules.from_trainer(read_config(config))
        notes += more
        T = eta.size - 1
        from hpadvisor.laws.curves import warmup_end

        query = np.unique(np.linspace(max(1, min(T, warmup_end(eta) or 1)), T, 200).round().astype(int))
    elif lr_trace is not None:
        from hpadvisor.tables import parse_map

        ts, tv = schedules.read_trace(str(lr_trace), mapping=parse_map(mapping))
        eta = schedules.interpolate_trace(ts, tv, warmup_steps=warmup)
        if ts[0] > 0:
            notes.append(f"trace starts at step {int(ts[0])}: assumed a linear warmup from 0 "
                         + (f"over the given {warmup} steps before it." if warmup and warmup < ts[0] else "before it."))
        query = ts[ts >= 1].astype(int)
        label = str(lr_trace)
    else:
        if steps is None:
            raise InvalidInputError("--steps is required with --schedule (the run's total optimizer steps).")
        from hpadvisor import units
        from hpadvisor.cli.options import SCHEDULE_FLAGS
        from hpadvisor.curve_advice import planned

        sched, more = planned(law, schedule, units.parse_steps(steps), peak=lr, warmup=warmup, min_lr=min_lr,
                              min_lr_ratio=min_lr_ratio, decay_fraction=decay_fraction, decay_shape=decay_shape,
                              cooldowns=cooldowns, set_by=SCHEDULE_FLAGS)
        notes += more
        eta = sched.sequence()
        T = sched.total_steps
        query = np.unique(np.linspace(max(1, min(T, sched.warmup_steps or 1)), T, 200).round().astype(int))
        label = sched.describe()
    if at is not None:
        query = np.asarray(parse_at(at))
    from hpadvisor.curve_advice import predict

    points, more = predict(law, eta, query)
    notes += more
    loss = [p["loss"] for p in points]
    if plot is not None:
        from hpadvisor.plot import save_plot

        save_plot(plot, {label: (query, loss)}, ylabel="predicted loss", title=law.registry_key, force=force)
        sys.stderr.write(f"wrote {plot}\n")
    if format in (OutputFormat.json, OutputFormat.yaml):
        # stdout stays {"points": [...]}, the stable interface; the notes go to stderr
        sys.stderr.write("".join(f"note: {n}\n" for n in notes))
        if format is OutputFormat.json:
            sys.stdout.write(json.dumps({"points": points}, allow_nan=False) + "\n")
        else:
            from hpadvisor import yamlio

            sys.stdout.write(yamlio.dumps({"points": points}))
        return
    _print_table(law, label, points, notes, markdown=format is OutputFormat.markdown)


def _print_table(law, label: str, points: list[dict[str, Any]], notes: list[str], *, markdown: bool) -> None:
    from hpadvisor.plot import text_plot

    out = [f"{law.registry_key}: predicted loss for {label}"]
    if not markdown:
        out.append(text_plot({"predicted": ([p["step"] for p in points], [p["loss"] for p in points])},
                             ylabel="loss"))
    pick = points if len(points) <= 12 else [points[int(i)] for i in
                                             sorted({round(j * (len(points) - 1) / 10) for j in range(11)})]
    out.append("| step | loss |" if markdown else f"{'step':>10}  {'loss':>8}")
    if markdown:
        out.append("|---:|---:|")
    for p in pick:
        out.append(f"| {p['step']} | {p['loss']:.4f} |" if markdown else f"{p['step']:>10}  {p['loss']:>8.4f}")
    out += [f"note: {n}" for n in notes]
    sys.stdout.write("\n".join(out) + "\n")
