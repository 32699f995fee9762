"""``hpadvisor predict CURVE-LAW.yaml ...``: the loss curve of any schedule under a fitted curve law.

JSON output (a stable interface): ``{"points": [{"step": s, "loss": l, "low": a, "high": b}, ...]}``
at the trace's steps, at ``--at`` steps, or at 200 evenly spaced steps of a ``--schedule``; ``low``
and ``high`` bound the stated 90% interval of the loss (docs/curves.md: how it is built and what it
covered on held-out runs).
"""

from __future__ import annotations

import sys
from typing import Any


def parse_at(text: str) -> list[int]:
    from hpadvisor.errors import HpAdvisorError, InvalidInputError
    from hpadvisor.spec import units

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
                  lr_trace, at, plot, force, format, mapping=None, cooldowns=None, config=None, format_in="auto",
                  others=(), law_file=None) -> None:
    import numpy as np

    from hpadvisor.cli.options import require_config
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.io import outputs

    outputs.check_outputs({"--plot": plot}, force=force, inputs=[lr_trace, config])
    if sum(x is not None for x in (schedule, lr_trace, config)) != 1:
        raise InvalidInputError("give one of --schedule (with --steps), --lr-trace FILE or --config TRAINER-CONFIG.")
    require_config(config, format_in)
    if warmup is not None and warmup < 0:
        raise InvalidInputError(f"--warmup must be a whole number of steps >= 0, not {warmup}.")
    shape_flags = {"--decay-fraction": decay_fraction, "--decay-shape": decay_shape if decay_shape != "linear" else None,
                   "--cooldowns": cooldowns}
    if config is not None:
        eta, query, label, notes = _from_config(config, format_in, shape_flags, {
            "--steps": steps, "--lr": lr, "--warmup": warmup, "--min-lr": min_lr, "--min-lr-ratio": min_lr_ratio})
    elif lr_trace is not None:
        eta, query, label, notes = _from_trace(lr_trace, mapping, warmup, shape_flags, {
            "--steps": steps, "--lr": lr, "--min-lr": min_lr, "--min-lr-ratio": min_lr_ratio})
    else:
        eta, query, label, notes = _from_schedule(law, schedule, steps, lr, warmup, min_lr, min_lr_ratio,
                                                  decay_fraction, decay_shape, cooldowns, shape_flags)
    if at is not None:
        query = np.asarray(parse_at(at))
    points, side, more = _predict_all(law, others, eta, query, law_file)
    notes += more
    if plot is not None:
        from hpadvisor.io.plot import save_plot

        series = {law.registry_key: (query, [p["loss"] for p in points])}
        series.update({k: (query, [p["loss"] for p in v]) for k, v in side.items()})
        save_plot(plot, series, ylabel="predicted loss", title=label, force=force)
        sys.stderr.write(f"wrote {plot}\n")
    _output(law, label, points, side, notes, format)


def _from_config(config, format_in: str, shape_flags: dict, given: dict):
    """(per-step lr, query steps, label, notes) of a trainer config's schedule."""
    from hpadvisor.cli.options import config_schedule
    from hpadvisor.fitting.curve_advice import curve_steps
    from hpadvisor.laws.curves import warmup_end

    eta, label, more = config_schedule(
        config, "--config gives the whole schedule: drop {flags} (or use --schedule).",
        {**given, "--decay-fraction": shape_flags["--decay-fraction"], "--cooldowns": shape_flags["--cooldowns"],
         "--decay-shape": shape_flags["--decay-shape"]}, format_in)
    return eta, curve_steps(eta.size - 1, warmup_end(eta)), label, list(more)


def _from_trace(lr_trace, mapping, warmup, shape_flags: dict, given: dict):
    """(per-step lr, query steps, label, notes) of an lr trace file."""
    from hpadvisor import schedules
    from hpadvisor.cli.options import refuse_flags
    from hpadvisor.io.tables import parse_map

    refuse_flags("--lr-trace gives the whole schedule: drop {flags} (--warmup only places a warmup "
                 "before a trace's first step).", {**given, **shape_flags})
    notes = []
    ts, tv = schedules.read_trace(str(lr_trace), mapping=parse_map(mapping))
    jump = schedules.sparse_jumps(ts, tv)
    if jump:
        notes.append(f"{jump}: give the lr at every step around such changes.")
    eta = schedules.interpolate_trace(ts, tv, warmup_steps=warmup)
    if ts[0] > 0:
        notes.append(f"trace starts at step {int(ts[0])}: assumed a linear warmup from 0 "
                     + (f"over the given {warmup} steps before it." if warmup and warmup < ts[0] else "before it."))
    return eta, ts[ts >= 1].astype(int), str(lr_trace), notes


def _from_schedule(law, schedule, steps, lr, warmup, min_lr, min_lr_ratio, decay_fraction, decay_shape, cooldowns,
                   shape_flags: dict):
    """(per-step lr, query steps, label, notes) of a --schedule with its flags."""
    from hpadvisor.cli.options import SCHEDULE_FLAGS, refuse_wsd_flags
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.fitting.curve_advice import curve_steps, planned
    from hpadvisor.spec import units

    if steps is None:
        raise InvalidInputError("--steps is required with --schedule (the run's total optimizer steps).")
    refuse_wsd_flags(schedule, shape_flags, f"--schedule {schedule}")
    sched, more = planned(law, schedule, units.parse_steps(steps, name="--steps"), peak=lr, warmup=warmup, min_lr=min_lr,
                          min_lr_ratio=min_lr_ratio, decay_fraction=decay_fraction, decay_shape=decay_shape,
                          cooldowns=cooldowns, set_by=SCHEDULE_FLAGS)
    return sched.sequence(), curve_steps(sched.total_steps, sched.warmup_steps), sched.describe(), list(more)


def _predict_all(law, others, eta, query, law_file):
    """(the law's points with their interval, {other law: points}, notes)."""
    from hpadvisor.fitting.curve_advice import predict
    from hpadvisor.fitting.curve_intervals import basis_of
    from hpadvisor.io import lawfile

    fit = lawfile.find_document(law_file)[1] if law_file is not None else {}
    points, more = predict(law, eta, query, basis=basis_of(law, fit, str(law_file)))
    notes = list(more)
    side: dict[str, list[dict[str, Any]]] = {}  # the other laws' points, by law
    for other in others:
        key = other.registry_key if other.registry_key not in (law.registry_key, *side) else \
            f"{other.registry_key}#{len(side) + 2}"
        side[key], more = predict(other, eta, query, interval=False)
        notes += [f"{key}: {n}" for n in more]
    return points, side, notes


def _output(law, label: str, points, side: dict, notes: list[str], format) -> None:
    from hpadvisor.cli.flags import cli_data
    from hpadvisor.cli.options import OutputFormat
    from hpadvisor.io import yamlio

    notes = cli_data(notes)
    if format in (OutputFormat.json, OutputFormat.yaml):
        # stdout stays {"points": [...]}, the stable interface (other laws beside it); notes go to stderr
        sys.stderr.write("".join(f"note: {n}\n" for n in notes))
        out: dict[str, Any] = {"points": points}
        if side:
            out["other_laws"] = [{"law": k, "points": v} for k, v in side.items()]
        if format is OutputFormat.json:
            from hpadvisor.cli.options import json_text

            sys.stdout.write(json_text(out, indent=None))
        else:
            sys.stdout.write(yamlio.dumps(out))
        return
    _print_table(law, label, points, notes, markdown=format is OutputFormat.markdown, side=side)


def _print_table(law, label: str, points: list[dict[str, Any]], notes: list[str], *, markdown: bool,
                 side: dict[str, list[dict[str, Any]]] | None = None) -> None:
    from hpadvisor.io.plot import text_plot

    side = side or {}
    names = [law.registry_key, *side] if side else ["loss"]
    columns = [points, *side.values()]
    out = [f"{law.registry_key}: predicted loss for {label}" if not side else
           f"predicted loss for {label}, by {len(names)} laws"]
    if not markdown:
        out.append(text_plot({("predicted" if not side else n): ([p["step"] for p in c], [p["loss"] for p in c])
                              for n, c in zip(names, columns, strict=True)}, ylabel="loss"))
    rows = range(len(points)) if len(points) <= 12 else sorted({round(j * (len(points) - 1) / 10) for j in range(11)})
    width = [max(8, len(n)) for n in names]
    band = "low" in points[0]  # the first law's stated 90% interval

    def interval(p: dict[str, Any]) -> str:
        return f"{p['low']:.4f}-{p['high']:.4f}" if p["low"] == p["low"] else "n/a"

    if markdown:
        out += ["| step | " + " | ".join(names[:1] + ["90% interval"] * band + names[1:]) + " |",
                "|---:|" + "---:|" * (len(names) + band)]
        out += [f"| {points[i]['step']} | " + " | ".join([f"{points[i]['loss']:.4f}"] + [interval(points[i])] * band
                                                         + [f"{c[i]['loss']:.4f}" for c in columns[1:]]) + " |"
                for i in rows]
    else:
        out.append(f"{'step':>10}  {names[0]:>{width[0]}}" + f"  {'90% interval':>15}" * band
                   + "".join(f"  {n:>{w}}" for n, w in zip(names[1:], width[1:], strict=True)))
        out += [f"{points[i]['step']:>10}  {points[i]['loss']:>{width[0]}.4f}" + f"  {interval(points[i]):>15}" * band
                + "".join(f"  {c[i]['loss']:>{w}.4f}" for c, w in zip(columns[1:], width[1:], strict=True))
                for i in rows]
    out += [f"note: {n}" for n in notes]
    sys.stdout.write("\n".join(out) + "\n")
