"""``hpadvisor fit curves FILE... --law {noise-convolution,multipower,annealing} --out LAW.yaml``.

Fits a schedule-aware loss-curve law to logged training curves and writes a law file that records
the law, its parameters, the data (file names, sha256 hashes, step ranges) and the fit quality
(R^2, mean and max relative error per run).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import guarded
from hpadvisor.cli.fit_cmd import fit_app
from hpadvisor.cli.options import CONFIG_FORMAT_HELP, FORMAT_HELP, OutputFormat

_SCHED = "Schedule (for logs without an lr column)"


@fit_app.command("curves")
@guarded
def fit_curves_command(
    files: Annotated[list[Path], typer.Argument(help="Training logs (CSV, TSV, JSONL, JSON, Parquet, TensorBoard event files or run directories) with step, loss and lr.")],
    out: Annotated[Path, typer.Option(help="Write the fitted law file here (YAML).")],
    law: Annotated[str, typer.Option(help="noise-convolution (the functional scaling law's form, extended by hpadvisor: "
                                          "the lowest error across three labs' held-out runs, docs/curves.md), multipower "
                                          "(Luo et al. 2025; the default of 0.1.0) or annealing (Tissue et al. 2024).")] = "noise-convolution",
    warmup_mode: Annotated[Optional[str], typer.Option("--warmup-mode", help="as-run, peak, skip, or auto (the one that best predicts each run's last third when fitted on the rest). "
                                                                                  "Default: as-run for multipower (its authors' code) and noise-convolution, auto for annealing.")] = None,
    method: Annotated[str, typer.Option(help="converged (least squares to convergence, several starts) or luo "
                                          "(with --law multipower: its authors' early-stopped procedure, which reproduces their published fits; "
                                          "its step sizes suit peak lr ~3e-4).")] = "converged",
    lam: Annotated[Optional[str], typer.Option("--lambda", help="annealing: lambda, a number (default 0.999) or 'fit'.")] = None,
    map: Annotated[Optional[list[str]], typer.Option("--map", help="Name a column: loss=train/lm_loss (repeatable).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for parameter intervals (0 = none).")] = 0,
    name: Annotated[Optional[str], typer.Option(help="Name of the fitted law (default: <form>@<out stem>).")] = None,
    max_points: Annotated[Optional[int], typer.Option(help="Fit a run on at most this many points: its first and last, "
                                                            "and means of consecutive points between (default 320: for "
                                                            "logs with the loss at every step); 0 keeps all.")] = None,
    from_step: Annotated[Optional[int], typer.Option(help="Fit the loss from this step on (the lr before it still counts): "
                                                          "for a log kept from step 0, whose first steps fall from the "
                                                          "initial loss, outside every curve law's range.")] = None,
    holdout: Annotated[Optional[list[str]], typer.Option(help="Leave this run out of the fit and report how well the law predicts it "
                                                      "(run name, repeatable or comma-separated).")] = None,
    intervals: Annotated[bool, typer.Option(help="Also fit the two other curve laws on the same runs and record them for "
                                                 "predict's 90% intervals (their disagreement is one of the interval's "
                                                 "terms); --no-intervals fits one law, and the interval then takes a "
                                                 "typical spread among the laws.")] = True,
    schedule: Annotated[Optional[str], typer.Option(help="Schedule shape for logs without lr.", rich_help_panel=_SCHED)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak lr for --schedule.", rich_help_panel=_SCHED)] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Warmup steps: of --schedule, or of logs whose lr column starts after the warmup.")] = None,
    total_steps: Annotated[Optional[int], typer.Option(help="Total steps for --schedule.", rich_help_panel=_SCHED)] = None,
    min_lr_ratio: Annotated[Optional[float], typer.Option(help="Final lr / peak for --schedule.", rich_help_panel=_SCHED)] = None,
    decay_fraction: Annotated[Optional[float], typer.Option(help="WSD cooldown fraction for --schedule.", rich_help_panel=_SCHED)] = None,
    decay_shape: Annotated[str, typer.Option(help="WSD cooldown shape for --schedule.", rich_help_panel=_SCHED)] = "linear",
    cooldowns: Annotated[Optional[int], typer.Option(help="WSD-S: number of evenly spaced cooldowns for --schedule wsd.",
                                                     rich_help_panel=_SCHED)] = None,
    config: Annotated[Optional[Path], typer.Option(help="A trainer config whose lr schedule the logs without lr ran "
                                                        "(instead of --schedule).", rich_help_panel=_SCHED)] = None,
    format_in: Annotated[str, typer.Option("--format-in", help=CONFIG_FORMAT_HELP, rich_help_panel=_SCHED)] = "auto",
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
) -> None:
    """Fit the noise-convolution (default), multi-power or LR-annealing law to loss curves; save it for `predict` and `compare-schedules`."""
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.fitting.curves import MAX_FIT_POINTS, curves_from_logs, fit_curves
    from hpadvisor.io import outputs
    from hpadvisor.io.lawfile import check_new_name
    from hpadvisor.io.tables import parse_map

    outputs.check_outputs({"--out": out}, force=force, inputs=[*files, config])  # before any work
    check_new_name(name)  # a published law's key: the law file would be refused
    if bootstrap < 0:
        raise InvalidInputError(f"--bootstrap must be >= 0 (0 = no intervals), not {bootstrap}.")
    lam_value = _lambda_value(lam, law)
    _check_files_once(files)
    sched, notes = _given_schedule(config, format_in, schedule, warmup, {
        "--lr": lr, "--total-steps": total_steps, "--min-lr-ratio": min_lr_ratio, "--decay-fraction": decay_fraction,
        "--decay-shape": decay_shape if decay_shape != "linear" else None, "--cooldowns": cooldowns})
    curves, log_notes = curves_from_logs([str(f) for f in files], mapping=parse_map(map), schedule=sched,
                                         warmup=warmup if sched is None else None)
    _check_logs_differ(curves)
    notes += log_notes
    held = [n.strip() for item in holdout or () for n in item.split(",") if n.strip()]
    points = MAX_FIT_POINTS if max_points is None else (max_points or None)
    result = fit_curves(curves, law, warmup=warmup_mode, lam=lam_value, n_boot=bootstrap,
                        name=name or f"{law}@{out.stem}", method=method, holdout=held, max_points=points,
                        from_step=from_step)
    advice, basis_notes = _write_law_file(out, result, curves, law, held, notes, intervals, points, force,
                                          from_step)
    summary = _summary(result, out, notes + basis_notes, advice)
    _render(summary, result, advice, format)


def _lambda_value(lam: str | None, law: str) -> float | None:
    """--lambda as the fit takes it: 0.999 when not given, None for 'fit', else the number."""
    from hpadvisor.errors import InvalidInputError

    if lam is not None and law != "annealing":
        raise InvalidInputError(f"--lambda is the annealing law's constant; the {law} law has none (use --law annealing).")
    if lam is None:
        return 0.999
    if lam.strip().lower() == "fit":
        return None
    try:
        return float(lam)
    except ValueError:
        raise InvalidInputError(f"--lambda must be a number in (0, 1) or 'fit', not '{lam}'.") from None


def _check_files_once(files: list[Path]) -> None:
    from hpadvisor.errors import InvalidInputError

    seen: dict[str, str] = {}
    for f in files:
        key = str(f.resolve())
        if key in seen:
            raise InvalidInputError(f"'{f}' is given twice (as '{seen[key]}'): each log once, or its runs would count double.")
        seen[key] = str(f)


def _check_logs_differ(curves) -> None:
    """The same bytes under two names would count their runs twice."""
    from hpadvisor.errors import InvalidInputError

    first_of: dict[str, str] = {}
    for c in curves:
        digest, source = str(c.source.get("sha256")), str(c.source.get("file"))
        if first_of.setdefault(digest, source) != source:
            raise InvalidInputError(f"'{source}' holds the same bytes as '{first_of[digest]}' (sha256 {digest[:12]}...): "
                                    "the same log given twice would count its runs twice; give it once.")


def _given_schedule(config: Path | None, format_in: str, schedule: str | None, warmup: int | None,
                    shape_flags: dict) -> tuple[object | None, list[str]]:
    """The schedule of logs without an lr column (--config, or --schedule with its flags; None when
    neither is given), and the notes about it."""
    from hpadvisor import schedules
    from hpadvisor.cli.options import config_schedule, refuse_flags, refuse_wsd_flags, require_config
    from hpadvisor.errors import InvalidInputError

    require_config(config, format_in)
    if warmup is not None and warmup < 0:
        raise InvalidInputError(f"--warmup must be a whole number of steps >= 0, not {warmup}.")
    if config is not None:
        from hpadvisor.fitting.curve_advice import Given

        eta, label, more = config_schedule(config, "give the lr schedule once: --config, or --schedule with its "
                                           "flags; drop {flags}.", {"--schedule": schedule, "--warmup": warmup,
                                                                    **shape_flags}, format_in)
        return Given(eta), [f"the given schedule (--config): {label}.", *more]
    if schedule is None:
        refuse_flags("{flags}: these set the --schedule of logs without an lr column; give --schedule too, or "
                     "drop them.", shape_flags)
        return None, []
    if shape_flags["--lr"] is None or shape_flags["--total-steps"] is None:
        raise InvalidInputError("--schedule needs --lr (peak) and --total-steps.")
    refuse_wsd_flags(schedule, {k: shape_flags[k] for k in ("--decay-fraction", "--decay-shape", "--cooldowns")},
                     f"--schedule {schedule}")
    from hpadvisor.cli.options import FIT_SCHEDULE_FLAGS

    return schedules.build(schedule, peak=shape_flags["--lr"], total_steps=shape_flags["--total-steps"],
                           warmup_steps=warmup or 0, min_lr_ratio=shape_flags["--min-lr-ratio"],
                           decay_fraction=shape_flags["--decay-fraction"],
                           decay_shape=shape_flags["--decay-shape"] or "linear",
                           cooldowns=shape_flags["--cooldowns"], set_by=FIT_SCHEDULE_FLAGS), []


def _write_law_file(out: Path, result, curves, law: str, held: list[str], notes: list[str], intervals: bool,
                    points: int | None, force: bool, from_step: int | None = None) -> tuple[dict, list[str]]:
    """Fit the interval basis (the other laws), plan the next run, write the law file; returns
    (the plan, the basis's notes)."""
    from hpadvisor.cli.flags import law_file_text
    from hpadvisor.fitting.curve_advice import plan_runs
    from hpadvisor.fitting.curve_intervals import fit_basis
    from hpadvisor.io import outputs

    basis, basis_notes = fit_basis(curves, law, others=intervals, holdout=held, max_points=points, from_step=from_step)
    advice = plan_runs(result.law, basis)
    fit_info = result.info()
    fit_info["data"] = [dict(c.source, held_out=True) if c.name in held else c.source for c in curves]
    if notes:  # with the basis's notes, as the law file has always carried them
        fit_info["data_notes"] = [*notes, *basis_notes]
    fit_info["interval"] = basis.to_dict()
    outputs.write_atomic(out, law_file_text(result.law, fit_info), force=force)
    sys.stderr.write(f"wrote {out}\n")
    return advice, basis_notes


def _summary(result, out: Path, notes: list[str], advice: dict) -> dict:
    """What the command reports (the JSON/YAML output): the law, its constants, the runs, notes, warnings, plan."""
    from hpadvisor.cli.flags import cli_data
    from hpadvisor.fitting.curves import AUTO_SPLIT

    sel = result.selection
    if sel.get("validation_mre"):
        notes.append(f"warmup convention {sel['chosen']}: fitted on each run's first {AUTO_SPLIT:.0%} of steps, it "
                     "predicted the runs' later steps best (mean rel error " + ", ".join(
                         f"{k} {v:.3%}" for k, v in sel["validation_mre"].items()) + ").")
    elif sel:
        notes.append(f"warmup convention {sel['chosen']}: {sel['reason']}.")
    notes += [f"{n}." for n in result.notes] + [f"{c}." for c in result.caveats]
    summary = {"law": result.law.registry_key, "form": type(result.law).key, "out": str(out),
               "constants": {k: float(v) for k, v in result.law.constants().items()},
               "runs": [r.to_dict() for r in result.runs], "notes": cli_data(notes),
               "warnings": cli_data(list(result.warnings))}
    if result.intervals:
        summary["interval_95"] = {k: list(v) for k, v in result.intervals.items()}
    if result.holdout:
        summary["holdout"] = result.holdout_summary()
    summary["plan"] = advice
    return summary


def _render(summary: dict, result, advice: dict, format: OutputFormat) -> None:
    from hpadvisor.fitting.curve_intervals import describe_plan
    from hpadvisor.io import yamlio

    plan_lines = describe_plan(advice)
    if format is OutputFormat.json:
        from hpadvisor.cli.options import json_text

        sys.stdout.write(json_text(summary))
        return
    if format is OutputFormat.yaml:
        sys.stdout.write(yamlio.dumps(summary))
        return
    if format is OutputFormat.markdown:
        sys.stdout.write(_markdown(summary, result) + "".join(f"- open: {x}\n" for x in plan_lines))
        return
    lines = [f"{summary['law']} ({type(result.law).title})"]
    lines += [f"  {k:>6} = {v:.6g}" + (f"   95% [{result.intervals[k][0]:.4g}, {result.intervals[k][1]:.4g}]"
                                        if k in result.intervals else "") for k, v in summary["constants"].items()]
    lines.append(f"  {'run':<28} {'points':>6} {'R^2':>8} {'mean rel':>9} {'max rel':>8} {'final':>8}")
    lines += [_run_line(r) for r in result.runs]
    if result.holdout:
        h = summary["holdout"]
        lines.append(f"  held out (predicted from their lr alone): mean rel error {h['mean_rel_error']:.3%}, "
                     f"worst final {h['worst_final_rel_error']:+.3%} ({h['worst_final_run']})")
        lines += [_run_line(r) for r in result.holdout]
    lines += [f"  note: {n}" for n in summary["notes"]]
    lines += [f"  warning: {w}" for w in summary["warnings"]]
    if plan_lines:
        lines.append(f"  what these runs leave open (the schedules compare-schedules ranks at {advice['steps']:,} steps):")
        lines += [f"    {x}" for x in plan_lines]
    sys.stdout.write("\n".join(lines) + "\n")


def _run_line(r) -> str:
    r2 = f"{r.r2:>8.5f}" if r.r2 == r.r2 else f"{'n/a':>8}"
    return (f"  {r.name[:28]:<28} {r.points:>6} {r2} {r.mean_rel_error:>9.3%} "
            f"{r.max_rel_error:>8.3%} {r.final_rel_error:>+8.3%}")


def _markdown(summary: dict, result) -> str:
    out = [f"**{summary['law']}** ({type(result.law).title})", "", "| constant | value | 95% interval |", "|---|---:|---|"]
    for k, v in summary["constants"].items():
        iv = result.intervals.get(k)
        out.append(f"| {k} | {v:.6g} | {f'[{iv[0]:.4g}, {iv[1]:.4g}]' if iv else ''} |")
    out += ["", "| run | points | R^2 | mean rel | max rel | final |", "|---|---:|---:|---:|---:|---:|"]
    for held, runs in ((False, result.runs), (True, result.holdout)):
        for r in runs:
            r2 = f"{r.r2:.5f}" if r.r2 == r.r2 else "n/a"
            out.append(f"| {r.name}{' (held out)' if held else ''} | {r.points} | {r2} | {r.mean_rel_error:.3%} | "
                       f"{r.max_rel_error:.3%} | {r.final_rel_error:+.3%} |")
    if result.holdout:
        h = summary["holdout"]
        out += ["", f"Held out, predicted from their lr alone: mean rel error {h['mean_rel_error']:.3%}, "
                    f"worst final {h['worst_final_rel_error']:+.3%} ({h['worst_final_run']})."]
    out += [""] + [f"- note: {n}" for n in summary["notes"]] + [f"- warning: {w}" for w in summary["warnings"]]
    return "\n".join(out).rstrip() + "\n"
