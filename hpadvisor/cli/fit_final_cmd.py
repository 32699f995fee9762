"""``hpadvisor fit final``: fit L(N, D) to final losses; ``predict`` for final-loss law files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from hpadvisor.cli.base import guarded
from hpadvisor.cli.fit_cmd import fit_app
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat


def summary_rows(fit: Any) -> list[list[str]]:
    intervals = fit.intervals()
    rows = []
    for name, value in zip(fit.names, fit.estimate, strict=True):
        lo, hi = intervals.get(name, [None, None])
        rows.append([name, f"{value:.5g}", "-" if lo is None else f"[{lo:.4g}, {hi:.4g}]"])
    return rows


def print_summary(title: str, rows: list[list[str]], lines: list[str]) -> None:
    from hpadvisor.cli import render

    render.print_simple_table(title, ("parameter", "estimate", "95% interval"), rows, lines)


LAW_HELP = ("auto (the default: Chinchilla, or Chinchilla with an N-dependent data exponent when your own largest "
            "runs show it extrapolates clearly better), chinchilla (Epoch's way), chinchilla-ndexp or kaplan.")


@fit_app.command("final")
@guarded
def fit_final_cmd(
    file: Annotated[Path, typer.Argument(help="CSV/TSV/JSONL/Parquet of runs: N (params), D (tokens) or C (FLOPs), loss.")],
    out: Annotated[Optional[Path], typer.Option(help="Write the fitted law file (YAML) here.")] = None,
    law: Annotated[str, typer.Option("--law", help=LAW_HELP)] = "auto",
    split_along: Annotated[str, typer.Option(help="--law auto: the axis your target is larger along, N (model size) "
                                             "or C (compute, for an isoFLOP ladder).")] = "N",
    holdout: Annotated[Optional[str], typer.Option(help="Rows to hold out and score, e.g. 'N >= 1e9'.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals (0 = none).")] = 200,
    drop_highest_loss: Annotated[int, typer.Option(help="Drop the K highest-loss runs (Epoch dropped 5).")] = 0,
    outlier_sigma: Annotated[Optional[float], typer.Option(
        help="Leave out the runs that stand apart from a first fit (log residual above this many robust sd, "
        "1.4826 MAD, and at least 1.5x the largest kept), then refit; 0 keeps every run. Default 10, or 0 with "
        "--drop-highest-loss.")] = None,
    param_count: Annotated[Optional[str], typer.Option(help="What N counts: total or non-embedding (default: from the column name).")] = None,
    map_: Annotated[Optional[list[str]], typer.Option("--map", help="canonical=column, e.g. loss='smooth loss'.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Registry key of the fitted law (default LAW@FILE).")] = None,
    compute: Annotated[Optional[str], typer.Option(help="Also report the compute-optimal split at this budget (FLOPs).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Save a fit and residual plot (PNG/SVG; needs matplotlib).")] = None,
    residuals: Annotated[bool, typer.Option("--residuals", help="Print a residual plot in the terminal.")] = False,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Fit L(N, D) to final losses (by default the form your own split favours), with bootstrap intervals."""
    from hpadvisor.cli.flags import cli_data, law_file_text
    from hpadvisor.fitting import final

    budget, ladder, held = _read(file, out=out, plot=plot, force=force, name=name, param_count=param_count,
                                 bootstrap=bootstrap, compute=compute, map_=map_, holdout=holdout,
                                 drop_highest_loss=drop_highest_loss)
    from hpadvisor.cli.fit_cmd import _progress

    fit = final.fit_final(ladder, form=law, bootstrap=bootstrap, seed=seed, name=name or f"{law}@{file.stem}",
                          holdout=held, progress=_progress(bootstrap, "bootstrap"), split_along=split_along,
                          outlier_sigma=(0.0 if drop_highest_loss else final.OUTLIER_SIGMA) if outlier_sigma is None
                          else outlier_sigma)
    if plot is not None or residuals:  # the terminal plot goes to stderr when stdout is JSON or YAML
        _plots(fit, held, plot, residuals, force,
               stream=sys.stderr if format in (OutputFormat.json, OutputFormat.yaml) else sys.stdout)
    info = cli_data(fit.fit_info())
    if holdout:
        info["holdout"] = {"expression": holdout, **(fit.holdout or {"rows": 0})}
    if budget is not None:
        info["allocation"] = fit.allocation(budget)
    if out is not None:
        from hpadvisor.io import outputs

        outputs.write_atomic(out, law_file_text(fit.law, info), force=force)
        sys.stderr.write(f"wrote {out}\n")
    data = {"law": fit.law.registry_key, "form": fit.form, "constants": fit.law.constants(), **info}
    data["bootstrap"] = {k: v for k, v in info["bootstrap"].items() if k != "samples"}
    data.pop("residuals", None)
    from hpadvisor.cli.options import data_text

    text = data_text(data, format)
    if text is not None:
        sys.stdout.write(text)
    else:
        print_summary(f"{fit.law.registry_key}: {fit.law.formula}", summary_rows(fit), _lines(fit, info, holdout))


def _read(file: Path, *, out: Path | None, plot: Path | None, force: bool, name: str | None, param_count: str | None,
          bootstrap: int, compute: str | None, map_: list[str] | None, holdout: str | None,
          drop_highest_loss: int) -> tuple[float | None, Any, Any]:
    """Every flag checked and the ladder read, before the fit (which may take seconds):
    (budget, ladder to fit, held-out ladder or None)."""
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.fitting import final
    from hpadvisor.fitting import holdout as ho
    from hpadvisor.io import outputs, tables
    from hpadvisor.io.lawfile import check_new_name
    from hpadvisor.spec import units

    # the second plot beside --plot is checked too, before the fit; a --plot without a name ('.')
    # has none, and fails on --plot's own check, which comes first
    resid = _residual_plot(plot) if plot is not None and plot.name else None
    outputs.check_outputs({"--out": out, "--plot": plot, "--plot (its residuals)": resid}, force=force, inputs=[file],
                          plots=("--plot", "--plot (its residuals)"))
    check_new_name(name)  # a published law's key: the law file would be refused
    if param_count not in (None, "total", "non-embedding"):
        raise InvalidInputError("--param-count must be total or non-embedding.")
    if bootstrap < 0:
        raise InvalidInputError("--bootstrap must be >= 0.")
    budget = None if compute is None else units.parse_quantity(compute, name="--compute", units=("FLOPs",))[0]
    ladder = final.read_ladder(str(file), mapping=tables.parse_map(map_), drop_highest_loss=drop_highest_loss,
                               param_count=param_count)
    if not holdout:
        return budget, ladder, None
    m = ho.mask(holdout, {"N": ladder.N, "D": ladder.D, "C": 6 * ladder.N * ladder.D, "loss": ladder.loss})
    if m.all():
        raise InvalidInputError(f"--holdout '{holdout}' holds out every run: nothing is left to fit.")
    fitted = final.dataclasses.replace(ladder.subset(~m), dropped={**ladder.dropped, f"held out ({holdout})": int(m.sum())})
    return budget, fitted, ladder.subset(m)


def _lines(fit: Any, info: dict[str, Any], holdout: str | None) -> list[str]:
    """The text output's lines under the constants' table."""
    from hpadvisor.cli.flags import cli_text
    from hpadvisor.spec import units

    q = fit.quality
    used = fit.ladder
    lines = [f"fitted on {used.source['rows_used']} of {used.source['rows']} runs "
             f"(N = {used.param_count} parameters); left out: "
             + (cli_text(", ".join(f"{v} {k}" for k, v in used.dropped.items())) or "none"),
             f"mean relative error {q['mean_relative_error']:.3%}, max {q['max_relative_error']:.3%}, "
             f"R^2 {q['r2']:.4f}; {len(fit.samples)} bootstrap resamples ({fit.failed_resamples} failed)"]
    if fit.selection:
        s = fit.selection
        lines.append(f"form {s['chosen']} (--law auto, split along {s['split_along']}): {cli_text(s['reason'])}"
                     + (f"; {cli_text(s['fallback'])}" if "fallback" in s else ""))
    for o in used.source.get("outliers", []):
        lines.append(f"outlier left out: N = {units.format_si(o['N'])}, D = {units.format_si(o['D'])}, "
                     f"loss {o['loss']:.4g} ({o['robust_sd']:+.1f} robust sd from the first fit)")
    if "including_outliers" in q:
        lines.append(f"with the outliers: mean relative error {q['including_outliers']['mean_relative_error']:.3%} "
                     f"on all {q['including_outliers']['points']} runs")
    if fit.holdout:
        h = fit.holdout
        lines.append(f"holdout ({holdout}): {h['rows']} runs, mean relative error {h['mean_relative_error']:.3%}, "
                     f"max {h['max_relative_error']:.3%}")
    if "allocation" in info and info["allocation"]:
        a = info["allocation"]
        lines.append(f"compute-optimal at C = {a['compute']:.3g}: N = {units.format_si(a['params'])}, "
                     f"D = {units.format_si(a['tokens'])} ({a['tokens_per_param']:.3g} tokens/param)")
    return lines + [f"warning: {cli_text(w)}" for w in fit.warnings]


def predict_final(law: Any, *, law_file: str, params: str | None, tokens: str | None,
                  format: OutputFormat, **_: Any) -> None:
    """`predict` handler for final-loss laws: {"loss": l, "interval": [lo, hi], "level", "form", "extrapolation"...}."""
    from hpadvisor.cli.flags import cli_data
    from hpadvisor.cli.predict_fit_cmd import _sizes
    from hpadvisor.fitting.final import predict_with_fit
    from hpadvisor.io import lawfile
    from hpadvisor.spec import units

    N, D = _sizes(law, params, tokens, need_n=True)
    fit = lawfile.load_document(law_file)[1] if Path(law_file).exists() else {}
    result = cli_data(predict_with_fit(law, fit, N, D))
    result["param_count"] = fit.get("param_count", "as the law's source defines N")
    factor, reasons = law.extrapolation({"N": N, "D": D})
    result["extrapolation_factor"] = factor
    if format is OutputFormat.json:
        from hpadvisor.cli.options import json_text

        sys.stdout.write(json_text(result))
        return
    iv, x = result["interval"], result["extrapolation"]
    text = f"loss {result['loss']:.4f}" + (f" ({result['level']:.0%} prediction interval {iv[0]:.4f}-{iv[1]:.4f})"
                                           if iv else "")
    sys.stdout.write(text + f" at N = {units.format_si(N)} ({result['param_count']}), D = {units.format_si(D)}\n")
    sys.stdout.write(f"form {result['form']}; extrapolation: N {units.format_si(N)} vs largest fitted "
                     f"{units.format_si(x['largest_fitted_N'])}, D {units.format_si(D)} vs largest fitted "
                     f"{units.format_si(x['largest_fitted_D'])} (distance {x['distance']:.2f})\n")
    by_form = result.get("by_form", {})
    if len(by_form) > 1:  # where the forms disagree on the target, say so and show each
        gap = max(by_form.values()) / min(by_form.values()) - 1
        sys.stdout.write(("the forms disagree by " if gap > 0.01 else "the forms agree within ") + f"{gap:.1%} here: "
                         + ", ".join(f"{k} {v:.4f}" for k, v in by_form.items()) + "\n")
    for r in reasons:
        sys.stdout.write(f"extrapolation: {r}\n")
    if result.get("note"):
        sys.stderr.write(f"note: {result['note']}\n")


def _residual_plot(plot: Path) -> Path:
    """The residual plot written beside --plot FILE: FILE-residuals, same suffix."""
    return plot.with_name(plot.stem + "-residuals" + plot.suffix)


def _plots(fit: Any, held: Any, path: Path | None, terminal: bool, force: bool, stream: Any = None) -> None:
    """Observed and fitted loss against compute, and relative residuals (fitted and held out)."""
    import numpy as np

    from hpadvisor.io import plot as plotting

    lad = fit.ladder
    C = 6 * lad.N * lad.D
    res = {"fitted runs": (np.log10(C), 100 * fit.residuals)}
    if held is not None and held.loss.size:
        hC = 6 * held.N * held.D
        res["held out"] = (np.log10(hC), 100 * (np.asarray(fit.law.loss(held.N, held.D)) / held.loss - 1))
    if terminal:
        (stream or sys.stdout).write(plotting.text_plot(res, ylabel="relative residual, %", xlabel="log10 C (6ND)"))
    if path is not None:
        law = fit.law
        observed = {"runs": (C, lad.loss)}
        if hasattr(law, "optimal_params"):  # the fitted law's compute-optimal frontier
            grid = np.logspace(np.log10(C.min()), np.log10(C.max()), 200)
            n_opt, d_opt = law.optimal_params(grid), law.optimal_tokens(grid)
            lines = {"fitted compute-optimal frontier": (grid, np.asarray(law.loss(n_opt, d_opt)))}
        else:
            lines = {}
            observed["fit at each run"] = (C, np.asarray(law.loss(lad.N, lad.D)))
        plotting.save_plot(
            path, lines, observed=observed, ylabel="final loss", xlabel="training compute 6ND (FLOPs)",
            xlog=True, title=f"{fit.law.registry_key}: {fit.quality['mean_relative_error']:.2%} mean relative error",
            force=force)
        resid = _residual_plot(path)
        span = [float(10 ** min(v[0].min() for v in res.values())), float(10 ** max(v[0].max() for v in res.values()))]
        plotting.save_plot(resid, {"zero": (span, [0.0, 0.0])},
                           observed={k: (10 ** v[0], v[1]) for k, v in res.items()},
                           ylabel="relative residual (fit / run - 1), %", xlabel="training compute 6ND (FLOPs)",
                           xlog=True, force=force)
        sys.stderr.write(f"wrote {path} and {resid}\n")
