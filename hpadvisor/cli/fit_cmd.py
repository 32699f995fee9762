"""``hpadvisor fit {sweep,batch} FILE --out LAW.yaml``: fit laws to your own runs.

Each command reads a table (CSV/TSV/JSONL/JSON/Parquet; columns found by name, ``--map`` to
name them), fits, prints the constants with bootstrap intervals, the held-out error
(``--holdout 'N >= 1e9'``) and writes a law file that ``recommend --laws``, ``predict`` and
``check`` use.  ``fit curves`` (fit_curves_cmd.py) and ``fit final`` (fit_final_cmd.py) register themselves on
``fit_app`` from their own modules.
The stable interface (``--format json``) is documented in docs/fit.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.flags import cli_data, cli_text, law_file_text
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat, data_text, plain

fit_app = typer.Typer(help="Fit a law to your own runs and save it as a law file (YAML).",
                      no_args_is_help=True)
app.add_typer(fit_app, name="fit")

_DATA = "Data in"
_FIT = "Fit"

FileArg = Annotated[Path, typer.Argument(help="The table: CSV, TSV, JSONL, JSON or Parquet.")]
OutOpt = Annotated[Path, typer.Option(help="Write the fitted law file here (YAML).")]
HoldoutOpt = Annotated[Optional[str], typer.Option(
    help="Fit on the other rows and report the error on these, e.g. 'N >= 1e9'.", rich_help_panel=_FIT)]
MapOpt = Annotated[Optional[list[str]], typer.Option(
    "--map", help="Name a column: N=model_size (repeatable).", rich_help_panel=_DATA)]
ParamOpt = Annotated[Optional[str], typer.Option(
    help="What N counts: non-embedding or total (default: the law's convention; recorded in the file).",
    rich_help_panel=_DATA)]
BootOpt = Annotated[Optional[int], typer.Option(help="Bootstrap resamples for the intervals (0 = none).",
                                                rich_help_panel=_FIT)]
SeedOpt = Annotated[int, typer.Option(help="Bootstrap random seed.", rich_help_panel=_FIT)]
NameOpt = Annotated[Optional[str], typer.Option(help="Name of the fitted law (default: <form>@<out stem>).")]
ForceOpt = Annotated[bool, typer.Option(help="Overwrite --out if it exists.")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)]
SeqOpt = Annotated[Optional[str], typer.Option(help="Tokens per sequence when batch counts sequences (e.g. 2048 or 4k).",
                                               rich_help_panel=_DATA)]
UnitOpt = Annotated[Optional[str], typer.Option(help="Batch column unit: seqs or tokens.", rich_help_panel=_DATA)]


PlotOpt = Annotated[Optional[Path], typer.Option(help="Also save a fit plot (PNG/SVG; needs matplotlib).")]


def _progress(total: int, what: str):
    """A one-line bootstrap counter on stderr when it is a terminal (None otherwise)."""
    if total <= 0 or not sys.stderr.isatty():
        return None
    step = max(1, total // 50)

    def tick(i: int) -> None:
        if i % step == 0 or i == total:
            bar = "#" * int(30 * i / total)
            sys.stderr.write(f"\r{what} [{bar:<30}] {i}/{total}")
            if i == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return tick


def _prepare(out: Path, force: bool, holdout: Optional[str], plot: Optional[Path] = None,
             data: Optional[Path] = None, name: Optional[str] = None) -> None:
    """Refuse, before any fitting, outputs that exist (without --force) and an empty --holdout."""
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.io import outputs

    outputs.check_outputs({"--out": out, "--plot": plot}, force=force, inputs=[data])
    from hpadvisor.io.lawfile import check_new_name

    check_new_name(name)  # a published law's key: the law file would be refused
    if holdout is not None and not holdout.strip():
        raise InvalidInputError("--holdout is empty; give e.g. 'N >= 1e9'.")


def _seq_len(text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    from hpadvisor.spec import units

    return float(units.parse_seq_len(text, name="--seq-len"))


def _read_table(file: Path, out: Path, force: bool, holdout: Optional[str], plot: Optional[Path],
                name: Optional[str], map: Optional[list[str]], param_count: Optional[str],
                seq_len: Optional[str], batch_unit: Optional[str], *, need: list[str], what: str,
                default_param_count: str):
    """The checks before any fitting, then the table: (table, the --holdout rows' mask or None, seq_len)."""
    from hpadvisor.fitting.data import holdout_mask, read_fit_table
    from hpadvisor.io.tables import parse_map

    _prepare(out, force, holdout, plot, data=file, name=name)
    mapping = parse_map(map)
    sl = _seq_len(seq_len)
    table = read_fit_table(file, need=need, mapping=mapping, what=what, param_count=param_count,
                           default_param_count=default_param_count, seq_len=sl, batch_unit=batch_unit,
                           need_batch=True)
    mask = holdout_mask(table.frame, holdout) if holdout else None
    return table, mask, sl


def _write(out: Path, law, fit_info: dict[str, Any], data: list[dict[str, Any]], force: bool) -> None:
    from hpadvisor.io import outputs

    info = {"data": data, **fit_info}
    outputs.write_atomic(out, law_file_text(law, plain(info)), force=force)
    sys.stderr.write(f"wrote {out}\n")


def _emit(summary: dict[str, Any], lines: list[str], fmt: OutputFormat) -> None:
    summary = plain(cli_data(summary))
    sys.stdout.write(data_text(summary, fmt) or "\n".join(map(cli_text, lines)) + "\n")


def _constant_lines(constants: dict[str, float], intervals: dict[str, tuple[float, float]]) -> list[str]:
    out = []
    for k, v in constants.items():
        ci = intervals.get(k)
        out.append(f"  {k:>10} = {v:<12.6g}" + (f" 95% [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else ""))
    return out


def _pct(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.3%}"


@fit_app.command("sweep")
@guarded
def fit_sweep_command(
    file: FileArg,
    out: OutOpt,
    holdout: HoldoutOpt = None,
    method: Annotated[str, typer.Option(help="near-best (Step Law's procedure) or surface (local-surface optima).",
                                        rich_help_panel=_FIT)] = "near-best",
    tolerance: Annotated[float, typer.Option(help="near-best: keep runs within this fraction of the best loss.",
                                             rich_help_panel=_FIT)] = 0.0025,
    window: Annotated[float, typer.Option(help="Local surface: runs within this fraction of the best loss.",
                                          rich_help_panel=_FIT)] = 0.02,
    diverged_factor: Annotated[float, typer.Option(help="A run with loss above this x its setting's best is diverged.",
                                                   rich_help_panel=_DATA)] = 1.5,
    seq_len: SeqOpt = None,
    batch_unit: UnitOpt = None,
    map: MapOpt = None,
    param_count: ParamOpt = None,
    bootstrap: BootOpt = None,
    seed: SeedOpt = 0,
    name: NameOpt = None,
    force: ForceOpt = False,
    format: FormatOpt = OutputFormat.table,
    plot: PlotOpt = None,
) -> None:
    """Fit lr* = a N^alpha D^beta and B* = b D^gamma (Step Law's form) to an lr x batch sweep."""
    from hpadvisor.fitting.sweep import fit_sweep

    table, mask, _ = _read_table(file, out, force, holdout, plot, name, map, param_count, seq_len, batch_unit,
                                 need=["N", "D", "lr", "loss"], what="sweep", default_param_count="non-embedding")
    n_boot = 1000 if bootstrap is None else bootstrap
    key = "steplaw-fit" if table.param_count == "non-embedding" else "steplaw-fit-total"
    result = fit_sweep(table, method=method, tolerance=tolerance, window=window, diverged_factor=diverged_factor,
                       n_boot=n_boot, seed=seed, holdout=mask, name=name or f"{key}@{out.stem}",
                       progress=_progress(n_boot, "bootstrap"))
    _write(out, result.law, result.info(), [table.source()], force)
    law = result.law
    if plot is not None:
        _plot_sweep(plot, result, force)
    sens = {"lr_2x_high": law.lr_2x_high(), "lr_2x_low": law.lr_2x_low(),
            "batch_2x_high": law.batch_2x_high(), "batch_2x_low": law.batch_2x_low(),
            "source": result.sensitivity_source}
    summary = {"law": law.registry_key, "form": type(law).key, "out": str(out), "param_count": table.param_count,
               "method": result.method, "constants": {k: float(getattr(law, k)) for k in
                                                      ("lr_coef", "lr_exp_n", "lr_exp_d", "bs_coef", "bs_exp_d")},
               "interval_95": {k: list(v) for k, v in result.intervals.items()},
               "sensitivity": sens, "comparison_with_steplaw_paper": result.comparison(),
               "settings": [s.to_dict() for s in result.settings], "holdout": result.holdout,
               "rows_used": result.rows_used, "rows_excluded": result.rows_excluded, "notes": result.notes,
               "warnings": list(result.warnings)}
    held = sum(x.held_out for x in result.settings)
    lines = [f"{law.registry_key}: lr* = a N^alpha D^beta, B* = b D^gamma tokens "
             f"(N = {table.param_count} params; {result.method}; "
             f"{len(result.settings) - held} settings{f' + {held} held out' if held else ''}, "
             f"{result.rows_used} {'runs' if result.method == 'near-best' else 'optima'} used)"]
    lines += _constant_lines(summary["constants"], result.intervals)
    lines.append("  Step Law paper: lr* = 1.79 N^-0.713 D^0.307, B* = 0.58 D^0.571; paper value inside "
                 "the 95% interval: " + ", ".join(f"{k} {'yes' if v.get('paper_inside_interval') else 'no'}"
                                                  for k, v in result.comparison().items()
                                                  if "paper_inside_interval" in v))
    lines.append(f"  sensitivity: lr 2x high +{sens['lr_2x_high']:.3%}, 2x low +{sens['lr_2x_low']:.3%}; "
                 f"batch 2x +{sens['batch_2x_high']:.3%}, half +{sens['batch_2x_low']:.3%} ({sens['source']})")
    lines.append(f"  {'N':>9} {'D':>9} {'runs':>5} {'div':>4} {'best lr':>9} {'best B':>9} "
                 f"{'surf lr*':>9} {'surf B*':>9} {'lr plateau 0.25%':>19}")
    for s in result.settings:
        sd = s.to_dict().get("surface", {})
        pl = sd.get("plateau_0.25%", {}).get("lr")
        lines.append(f"  {s.N:>9.3g} {s.D:>9.3g} {s.runs:>5} {s.diverged:>4} {s.best_lr:>9.3g} {s.best_batch:>9.3g} "
                     f"{sd.get('lr_opt', float('nan')):>9.3g} {sd.get('batch_tokens_opt') or float('nan'):>9.3g} "
                     + (f"{pl[0]:>9.3g}-{pl[1]:<9.3g}" if pl else f"{'n/a':>19}") + (" held out" if s.held_out else ""))
    for h in result.holdout:
        lines.append(f"  holdout N={h['N']:.3g} D={h['D']:.3g}: predicted lr {h['predicted']['lr']:.3g}, "
                     f"B {h['predicted']['batch_tokens']:.3g}; loss regret on its surface {_pct(h['loss_regret'])}")
    lines += [f"  note: {n}" for n in result.notes] + [f"  warning: {w}" for w in result.warnings]
    _emit(summary, lines, format)


@fit_app.command("batch")
@guarded
def fit_batch_command(
    file: FileArg,
    out: OutOpt,
    holdout: HoldoutOpt = None,
    overhead: Annotated[float, typer.Option(help="Critical batch: steps this fraction above linear scaling (Zhang et al.: 0.2).",
                                            rich_help_panel=_FIT)] = 0.2,
    reference_batch: Annotated[Optional[str], typer.Option(
        help="Linear scaling is measured from this batch: '256 seqs' (default, Zhang et al.), '131072 tokens', "
        "or 0 (the small-batch asymptote).", rich_help_panel=_FIT)] = None,
    tokens_per_param: Annotated[Optional[float], typer.Option(help="D = this x N when the table has no tokens column.",
                                                              rich_help_panel=_DATA)] = None,
    seq_len: SeqOpt = None,
    batch_unit: UnitOpt = None,
    map: MapOpt = None,
    param_count: ParamOpt = None,
    bootstrap: BootOpt = None,
    seed: SeedOpt = 0,
    name: NameOpt = None,
    force: ForceOpt = False,
    format: FormatOpt = OutputFormat.table,
    plot: PlotOpt = None,
) -> None:
    """Fit steps(B) = S_min (1 + B_noise/B) per model and the critical batch's power law in D (and N)."""
    from hpadvisor.fitting.batch import fit_batch, model_labels

    table, mask, sl = _read_table(file, out, force, holdout, plot, name, map, param_count, seq_len, batch_unit,
                                  need=["N", "steps"], what="batch study", default_param_count="total")
    n_boot = 200 if bootstrap is None else bootstrap
    key = "cbs-fit" if table.param_count == "total" else "cbs-fit-nonemb"
    n_models = len(set(model_labels(table.frame)))
    result = fit_batch(table, overhead=overhead, reference_batch=reference_batch, tokens_per_param=tokens_per_param,
                       n_boot=n_boot, seed=seed, holdout=mask, name=name or f"{key}@{out.stem}", seq_len=sl,
                       progress=_progress(n_models if n_boot else 0, f"models ({n_boot} bootstraps each)"))
    sl = result.seq_len
    _write(out, result.law, result.info(), [table.source()], force)
    law = result.law
    if plot is not None:
        _plot_batch(plot, table, result, force)
    summary = {"law": law.registry_key, "form": type(law).key, "out": str(out), "param_count": table.param_count,
               "constants": {k: float(getattr(law, k)) for k in ("coef", "d_exp", "n_exp", "overhead")},
               "reference_batch_tokens": result.reference_batch_tokens,
               "interval_95": {k: list(v) for k, v in result.intervals.items()},
               "models": [m.to_dict(sl) for m in result.models], "holdout": result.holdout,
               "rows_used": result.rows_used, "notes": result.notes, "warnings": list(result.warnings)}
    lines = [f"{law.registry_key}: B_crit = coef (D/1e9)^d_exp (N/1e9)^n_exp tokens, "
             f"B_crit = {overhead:g} x B_noise + {1 + overhead:g} x B_ref of steps(B) = S_min (1 + B_noise/B), "
             f"B_ref = {result.reference_batch_tokens:.6g} tokens"]
    lines += _constant_lines({k: summary["constants"][k] for k in ("coef", "d_exp", "n_exp")}, result.intervals)
    unit = f"seqs of {int(sl)}" if sl else "tokens"
    div = sl or 1.0
    lines.append(f"  {'model':>8} {'N':>9} {'D':>9} {'S_min':>8} {'B_noise':>9} {'B_crit':>9} {'95% interval':>19}  ({unit})")
    for m in result.models:
        ci = m.b_crit_interval
        lines.append(f"  {m.label:>8} {m.N:>9.3g} {(m.D or float('nan')):>9.3g} {m.s_min:>8.4g} {m.b_noise / div:>9.4g} "
                     f"{m.b_crit / div:>9.4g} " + (f"{ci[0] / div:>9.4g}-{ci[1] / div:<9.4g}" if ci else f"{'n/a':>19}")
                     + (" held out" if m.held_out else ""))
    for h in result.holdout:
        lines.append(f"  holdout {h['model']}: predicted {h['predicted_critical_batch_tokens'] / div:.4g}, "
                     f"own fit {h['fitted_critical_batch_tokens'] / div:.4g} ({h['relative_error']:+.1%})")
    lines += [f"  note: {n}" for n in result.notes] + [f"  warning: {w}" for w in result.warnings]
    _emit(summary, lines, format)


def _plot_sweep(path: Path, result, force: bool) -> None:
    """Each setting's measured optimum (best run; local-surface optimum) against the fitted law's."""
    import numpy as np

    from hpadvisor.io import plot as plotting

    law = result.law
    settings = result.settings
    pred = np.array([float(law.lr(s.N, s.D)) for s in settings])
    best = np.array([s.best_lr for s in settings])
    surf = np.array([s.surface.lr_opt if s.surface is not None else np.nan for s in settings])
    span = [float(np.nanmin([pred.min(), best.min()])), float(np.nanmax([pred.max(), best.max()]))]
    plotting.save_plot(path, {"measured = fitted": (span, span)},
                       observed={"best run": (pred, best), "local-surface optimum": (pred, surf)},
                       ylabel="measured optimal lr", xlabel="fitted lr* at the setting's (N, D)", xlog=True, ylog=True,
                       title=f"{law.registry_key}: optimum lr per (N, D) setting", force=force)
    sys.stderr.write(f"wrote {path}\n")


def _plot_batch(path: Path, table, result, force: bool) -> None:
    """Steps to the target against batch for every model, with the fitted S_min (1 + B_noise / B)."""
    import numpy as np

    from hpadvisor.io import plot as plotting

    df = table.frame
    lines, observed = {}, {}
    for m in result.models:
        rows = df[np.isclose(df["N"].to_numpy(float), m.N)]
        B = rows["batch_tokens"].to_numpy(float)
        observed[m.label] = (B, rows["steps"].to_numpy(float))
        grid = np.logspace(np.log10(B.min()), np.log10(B.max()), 100)
        lines[f"{m.label} fit"] = (grid, m.s_min * (1 + m.b_noise / grid))
    plotting.save_plot(path, lines, observed=observed, ylabel="steps to the target loss",
                       xlabel="batch (tokens)", xlog=True, ylog=True, title=f"{result.law.registry_key}",
                       force=force)
    sys.stderr.write(f"wrote {path}\n")
