"""``hpadvisor compare-schedules CURVE-LAW.yaml --steps N``: rank schedules by predicted final loss,
and search the WSD cooldown fraction and shape ("best cooldown for my run")."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat

FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
SHAPES = ("linear", "1-sqrt", "cosine", "exponential")


@app.command("compare-schedules")
@guarded
def compare_schedules(
    law_file: Annotated[str, typer.Argument(help="A fitted curve law file (from `hpadvisor fit curves`).")],
    steps: Annotated[str, typer.Option(help="Total optimizer steps of the run (e.g. 72000 or 72k).")],
    lr: Annotated[Optional[float], typer.Option(help="Peak lr (default: the law's fitted peak lr).")] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Warmup steps (default: the law's fitted warmup).")] = None,
    min_lr_ratio: Annotated[float, typer.Option(help="Final lr / peak for cosine and WSD (default 0.1).")] = 0.1,
    search: Annotated[bool, typer.Option(help="Also search WSD cooldown fractions x shapes.")] = True,
    plot: Annotated[Optional[Path], typer.Option(help="Save a PNG/SVG of the candidates' curves (needs matplotlib).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --plot if it exists.")] = False,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
) -> None:
    """Cosine vs WSD 10/20% vs linear-to-zero vs constant... ranked by the law's predicted final loss."""
    from hpadvisor import lawfile, schedules
    from hpadvisor.cli.predict_curves_cmd import law_defaults
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.laws.curves import FORMS, cooldown_search, rank_schedules

    law = lawfile.find(law_file)
    if not isinstance(law, FORMS):
        raise InvalidInputError(f"'{law_file}' is a {type(law).key} law, not a curve law: fit one with `hpadvisor fit curves`.")
    from hpadvisor import units

    total = int(units.parse_count(steps, name="--steps"))
    d = law_defaults(law)
    peak = lr if lr is not None else d.get("peak")
    if peak is None:
        raise InvalidInputError("the law file records no fitted peak lr: give --lr.")
    w = min(warmup if warmup is not None else d.get("warmup", 0), total - 1)

    def mk(shape, **kw):
        return schedules.build(shape, peak=peak, total_steps=total, warmup_steps=w, **kw)

    cands = {
        f"cosine to {min_lr_ratio:g}x": mk("cosine", min_lr_ratio=min_lr_ratio),
        "cosine to 0": mk("cosine", min_lr_ratio=0.0),
        "linear to 0 (D2Z)": mk("linear", min_lr_ratio=0.0),
        "wsd linear 10%": mk("wsd", decay_fraction=0.1, min_lr_ratio=0.0),
        "wsd linear 20%": mk("wsd", decay_fraction=0.2, min_lr_ratio=0.0),
        "wsd 1-sqrt 20%": mk("wsd", decay_fraction=0.2, decay_shape="1-sqrt", min_lr_ratio=0.0),
        "multistep (DeepSeek)": mk("multistep"),
        "constant": mk("constant"),
    }
    ranked = rank_schedules(law, cands)
    best_cd = []
    if search:
        best_cd = cooldown_search(law, lambda f, s: mk("wsd", decay_fraction=f, decay_shape=s, min_lr_ratio=0.0),
                                  FRACTIONS, SHAPES)
    result = {"law": law.registry_key, "steps": total, "peak_lr": peak, "warmup_steps": w,
              "ranking": ranked, "cooldown_search": best_cd[:10]}
    if plot is not None:
        import numpy as np

        from hpadvisor.plot import save_plot

        q = np.unique(np.linspace(max(w, 1), total, 200).round().astype(int))
        series = {k: (q, law.curve(s.sequence(), q)) for k, s in cands.items()}
        save_plot(plot, series, ylabel="predicted loss", title=law.registry_key, force=force)
        sys.stderr.write(f"wrote {plot}\n")
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps(result, indent=2, allow_nan=False) + "\n")
        return
    if format is OutputFormat.yaml:
        from hpadvisor import yamlio

        sys.stdout.write(yamlio.dumps(result))
        return
    lines = [f"{law.registry_key}: predicted final loss at step {total} (peak lr {peak:g}, warmup {w})",
             f"  {'schedule':<24} {'final loss':>10} {'gap':>9} {'gap %':>7}"]
    for r in ranked:
        lines.append(f"  {r['schedule']:<24} {r['final_loss']:>10.4f} {r['gap']:>+9.4f} {r['gap_percent']:>+7.3f}")
    if best_cd:
        b = best_cd[0]
        lines.append(f"best WSD cooldown: {b['decay_shape']} over the last {b['decay_fraction']:.0%} "
                     f"(final loss {b['final_loss']:.4f}); next: " + ", ".join(
                         f"{r['decay_shape']} {r['decay_fraction']:.0%} (+{r['gap']:.4f})" for r in best_cd[1:4]))
    rng = law.provenance.range_dict()
    if "steps" in rng and total > rng["steps"][1]:
        lines.append(f"note: {total} steps is x{total / rng['steps'][1]:.2g} the longest fitted run: extrapolation.")
    sys.stdout.write("\n".join(lines) + "\n")
