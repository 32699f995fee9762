"""``hpadvisor compare-schedules CURVE-LAW.yaml --steps N``: rank schedules by predicted final loss,
and search the WSD cooldown fraction and shape ("best cooldown for my run").  The numbers come from
:func:`hpadvisor.fitting.curve_advice.compare`; this module parses and renders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import CONFIG_FORMAT_HELP, FORMAT_HELP, OutputFormat


@app.command("compare-schedules")
@guarded
def compare_schedules(
    law_files: Annotated[list[str], typer.Argument(
        help="Fitted curve law files (from `hpadvisor fit curves`) or registry keys (mpl-400m). The first ranks; "
             "the others rank the same candidates beside it.", metavar="LAW...")],
    steps: Annotated[Optional[str], typer.Option(help="Total optimizer steps of the run (e.g. 72000 or 72k).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        help="A trainer config: its schedule is ranked too, and its steps, peak lr and warmup are the candidates'.")] = None,
    format_in: Annotated[str, typer.Option("--format-in", help=CONFIG_FORMAT_HELP)] = "auto",
    lr: Annotated[Optional[float], typer.Option(help="Peak lr (default: the law's fitted peak lr).")] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Warmup steps (default: the law's fitted warmup).")] = None,
    min_lr_ratio: Annotated[float, typer.Option(
        help="Floor / peak of the 'cosine to Nx' candidate (a 'cosine to 0' and linear-to-0 are always ranked).")] = 0.1,
    cooldown_min_lr_ratio: Annotated[float, typer.Option(
        help="Floor / peak the WSD candidates and the cooldown search decay to (default 0).")] = 0.0,
    search: Annotated[bool, typer.Option(help="Also search WSD cooldown fractions x shapes.")] = True,
    plot: Annotated[Optional[Path], typer.Option(help="Save a PNG/SVG of the candidates' curves (needs matplotlib).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --plot if it exists.")] = False,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
) -> None:
    """Cosine vs WSD 10/20% vs linear-to-zero vs constant... ranked by the law's predicted final loss."""
    from hpadvisor.cli.options import config_schedule, require_config
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.fitting import curve_advice
    from hpadvisor.io import lawfile, outputs
    from hpadvisor.spec import units

    outputs.check_outputs({"--plot": plot}, force=force)
    from hpadvisor.fitting.curve_intervals import basis_of

    law, fit = lawfile.find_document(law_files[0])
    laws = [law, *(lawfile.find(f) for f in law_files[1:])]
    options = dict(min_lr_ratio=min_lr_ratio, cooldown_min_lr_ratio=cooldown_min_lr_ratio, search=search,
                   basis=basis_of(law, fit, law_files[0]))
    own = None
    require_config(config, format_in)
    if config is not None:
        eta, label, more = config_schedule(config, "--config sets the run's steps, peak lr and warmup: drop {flags}.",
                                           {"--steps": steps, "--lr": lr, "--warmup": warmup}, format_in)
        own = ("this config", eta)
        result = curve_advice.compare_given(laws, eta, label=own[0], **options)
        result["notes"] = [f"this config: {label}.", *more, *result["notes"]]
    elif steps is None:
        raise InvalidInputError("give --steps (the run's total optimizer steps), or --config TRAINER-CONFIG.")
    else:
        result = curve_advice.compare_laws(laws, units.parse_steps(steps, name="--steps"), peak=lr, warmup=warmup, **options)
    from hpadvisor.cli.flags import cli_data

    result = cli_data(result)
    if plot is not None:
        from hpadvisor.io.plot import save_plot

        series = curve_advice.candidate_curves(law, result, own=own)
        save_plot(plot, series, ylabel="predicted loss", title=law.registry_key, force=force)
        sys.stderr.write(f"wrote {plot}\n")
    from hpadvisor.cli.options import data_text

    sys.stdout.write(data_text(result, format) or _render(result, markdown=format is OutputFormat.markdown))


def _render(result: dict, *, markdown: bool) -> str:
    head = (f"{result['law']}: predicted final loss at step {result['steps']} "
            f"(peak lr {result['peak_lr']:g}, warmup {result['warmup_steps']})")
    others = [o["law"] for o in result.get("other_laws", ())]

    def other_cells(r):  # each other law's final loss and its rank of this schedule
        return [f"{r['other'][k]['final_loss']:.4f} ({r['other'][k]['rank']})" for k in others]

    tied = {r["schedule"] for r in result["ranking"][:2]} if result.get("tie") else set()

    def band(r):  # the stated 90% interval of the final loss, and the tie mark of the top two
        return (f"{r['low']:.4f}-{r['high']:.4f}" if "low" in r else "") + (" tie" if r["schedule"] in tied else "")

    if markdown:
        lines = [f"**{head}**", "", "| schedule | final loss | 90% interval | gap | gap % |"
                 + "".join(f" {k} (rank) |" for k in others), "|---|---:|---:|---:|---:|" + "---:|" * len(others)]
        lines += [f"| {r['schedule']} | {r['final_loss']:.4f} | {band(r)} | {r['gap']:+.4f} | {r['gap_percent']:+.3f} |"
                  + "".join(f" {c} |" for c in other_cells(r)) for r in result["ranking"]]
        lines.append("")
    else:
        width = [max(len(k), 15) for k in others]
        lines = [head, f"  {'schedule':<26} {'final loss':>10} {'90% interval':>19} {'gap':>9} {'gap %':>7}"
                 + "".join(f"  {k:>{w}}" for k, w in zip(others, width))]
        lines += [f"  {r['schedule']:<26} {r['final_loss']:>10.4f} {band(r):>19} {r['gap']:>+9.4f} {r['gap_percent']:>+7.3f}"
                  + "".join(f"  {c:>{w}}" for c, w in zip(other_cells(r), width)) for r in result["ranking"]]

    cd = result["cooldown_search"]
    if cd:
        b = cd[0]
        lines.append(f"best WSD cooldown: {b['decay_shape']} over the last {b['decay_fraction']:.0%} "
                     f"(final loss {b['final_loss']:.4f}); next: " + ", ".join(
                         f"{r['decay_shape']} {r['decay_fraction']:.0%} (+{r['gap']:.4f})" for r in cd[1:4]))
    lines += [f"note: {n}" for n in (*result["notes"], *result.get("interval_notes", ()))]
    for o in result.get("other_laws", ()):
        lines.append(f"{o['law']}: same best schedule: {'yes' if o['same_best'] else 'no'}; "
                     f"rank agreement with {result['law']} (Kendall tau) {o['kendall_tau']:+.2f}")
        lines += [f"note: {n}" for n in o["notes"]]
    return "\n".join(lines) + "\n"
