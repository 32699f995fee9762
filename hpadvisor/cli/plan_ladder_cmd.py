"""``hpadvisor plan-ladder --budget 1e21 --target 7B --tokens 2T``: which sizes and token counts to
run so that ``fit final`` predicts the target run's loss best.  The plan comes from
:func:`hpadvisor.fitting.ladder.plan_ladder`; this module parses and renders."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from hpadvisor.cli.base import app, guarded
from hpadvisor.cli.options import FORMAT_HELP, OutputFormat


@app.command("plan-ladder")
@guarded
def plan_ladder(
    budget: Annotated[str, typer.Option(help="FLOPs the whole ladder may use (C = 6 N D summed over its runs), e.g. 1e21.")],
    target: Annotated[str, typer.Option(help="Parameters of the run to predict (total, as fit final counts them), e.g. 7B.")],
    tokens: Annotated[str, typer.Option(help="Training tokens of the run to predict, e.g. 2T.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.table,
) -> None:
    """Plan a ladder of small runs whose fit predicts the target run's loss with the least error."""
    from hpadvisor.fitting.ladder import plan_ladder as plan
    from hpadvisor.spec import units

    result = plan(units.parse_count(budget, name="--budget"),
                  units.parse_size(target, name="--target", of="parameters"),
                  units.parse_size(tokens, name="--tokens", of="tokens")).to_dict()
    from hpadvisor.cli.flags import cli_data
    from hpadvisor.cli.options import data_text

    result = cli_data(result)
    sys.stdout.write(data_text(result, format) or _render(result, markdown=format is OutputFormat.markdown))


def _si(x: float) -> str:
    from hpadvisor.spec.units import format_si

    return format_si(x)


def _render(r: dict[str, Any], *, markdown: bool) -> str:
    t, e = r["target"], r["predicted_error"]
    head = (f"ladder for a {_si(t['params'])}-parameter run on {_si(t['tokens'])} tokens "
            f"({t['tokens_per_param']:.3g} tokens per parameter), budget {r['budget']:.3g} FLOPs")
    summary = (f"{len(r['ladder'])} sizes, {r['runs']} runs, {r['flops']:.3g} FLOPs ({100 * r['budget_fraction']:.3g}% of the budget); "
               f"predicted error of the target's loss: {e['median']:.2%} (80% of ladders: {e['p10']:.2%}-{e['p90']:.2%})")
    rows = [[_si(s["params"]), ", ".join(_si(d) for d in s["tokens"]),
             ", ".join(f"{m:.3g}" for m in s["tokens_per_param"]), f"{s['flops']:.3g}"] for s in r["ladder"]]
    alt = [f"{a['sizes']} sizes ({_si(a['smallest'])}-{_si(a['largest'])}, {a['runs_per_size']} per size): "
           f"{a['predicted_error']:.2%} for {a['flops']:.3g} FLOPs" for a in r["alternatives"]]
    c = r["error_model"]["constants"]
    model = ("error model: ln|error| = " + f"{c['intercept']:+.3f}"
             + "".join(f" {v:+.3f} {k}" for k, v in c.items() if k not in ("intercept", "sigma"))
             + f", sigma {c['sigma']:.3f}; fitted on {r['error_model']['fitted_on']}")
    cols = ("params", "tokens", "tokens per param", "FLOPs")
    if markdown:
        lines = [f"**{head}**", "", "| " + " | ".join(cols) + " |", "|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines += ["", summary, ""]
        lines += [f"- other sizes: {a}" for a in alt]
        lines += [f"- note: {n}" for n in r["notes"]] + [f"- {model}", ""]
        return "\n".join(lines)
    w = [max(len(cols[i]), *(len(row[i]) for row in rows)) for i in range(4)]
    lines = [head, "  " + "  ".join(f"{c:>{w[i]}}" for i, c in enumerate(cols))]
    lines += ["  " + "  ".join(f"{v:>{w[i]}}" for i, v in enumerate(row)) for row in rows]
    lines += [summary] + [f"other sizes: {a}" for a in alt] + [f"note: {n}" for n in r["notes"]] + [model]
    return "\n".join(lines) + "\n"
