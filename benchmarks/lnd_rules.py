"""Score candidate `--law auto` rules that add Kaplan's form (benchmarks/lnd_rules.md, rule 2).

Usage:
    python benchmarks/lnd_rules.py [--only NAMES] [--porian-setups all|tuned] [--json PATH]

For every protocol of benchmarks/lnd_extrapolate.py: the inner split and scores of `select-margin`
(hpadvisor.fitting.lnd_forms), Kaplan's inner-split error on the same split, the form each rule
chooses, and the held-out error of every form refitted on all the fit runs through
``fit_final(form=...)`` with the command's defaults (the outlier rule, no bootstrap), as
``--law auto`` refits its choice.  The baseline is lnd_extrapolate.baseline_fit (the Epoch way).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
FORMS = ("chinchilla", "chinchilla-ndexp", "kaplan")
MARGIN = 0.75


def _load(name: str):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = mod
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return sys.modules[name]


def kaplan_loss(c, N, D) -> np.ndarray:
    """Kaplan's L = [(N_c/N)^(aN/aD) + D_c/D]^aD for constants (N_c, D_c, alpha_N, alpha_D)."""
    nc, dc, an, ad = (float(x) for x in c)
    with np.errstate(all="ignore"):
        return ((nc / np.asarray(N, float)) ** (an / ad) + dc / np.asarray(D, float)) ** ad


def rule_current(s: dict[str, float], values: int) -> str:
    return "chinchilla-ndexp" if values >= 2 and s["chinchilla-ndexp"] <= MARGIN * s["chinchilla"] else "chinchilla"


def rule_r2a(s: dict[str, float], values: int) -> str:
    """The lower-scoring of chinchilla-ndexp and kaplan, if <= 0.75x Chinchilla's on >= 2 values."""
    best = min(("chinchilla-ndexp", "kaplan"), key=lambda f: s[f])
    return best if values >= 2 and s[best] <= MARGIN * s["chinchilla"] else "chinchilla"


def rule_r2b(s: dict[str, float], values: int) -> str:
    """select-margin as now; kaplan replaces its choice if <= 0.75x the lower of the other two's."""
    if values >= 2 and s["kaplan"] <= MARGIN * min(s["chinchilla"], s["chinchilla-ndexp"]):
        return "kaplan"
    return rule_current(s, values)


RULES = {"current": rule_current, "R2a": rule_r2a, "R2b": rule_r2b}


def score_protocol(proto) -> dict[str, Any]:
    from hpadvisor.errors import DataError, FitError
    from hpadvisor.fitting import lnd_forms
    from hpadvisor.fitting.final import Ladder, _fit_kaplan, fit_final

    bench, lnd = _load("lnd_extrapolate"), _load("lnd_default")
    m = proto.fit
    N, D, L = proto.N[m], proto.D[m], proto.loss[m]
    sel = lnd_forms.select_margin(N, D, L, proto.axis)
    valid = lnd_forms.inner_split(lnd_forms.axis_values(N, D, proto.axis))
    scores = dict(sel.scores)
    scores["kaplan"] = lnd_forms._inner_error(_fit_kaplan, kaplan_loss, N, D, L, valid)
    ladder = Ladder(N=N, D=D, loss=L, source={"file": proto.name, "sha256": "0" * 64, "rows": int(m.sum())})
    held: dict[str, dict[str, Any]] = {}
    for form in FORMS:
        try:
            fit = fit_final(ladder, form=form, bootstrap=0)
        except (FitError, DataError) as exc:
            held[form] = {"refused": str(exc)}
            continue
        err = lnd.held_out_errors(fit.law, proto)
        held[form] = {"mean": float(err.mean()), "worst": float(err.max()),
                      "left_out": len(fit.ladder.source.get("outliers", []))}
    berr = lnd.held_out_errors(bench.baseline_fit(N, D, L), proto)
    choice = {}
    for name, rule in RULES.items():
        form = rule(scores, sel.valid_values)
        if "refused" in held[form]:  # --law auto falls back to chinchilla
            form = "chinchilla"
        choice[name] = form
    return {"name": proto.name, "fit_runs": int(m.sum()), "heldout_runs": int((~m).sum()),
            "values": sel.valid_values, "inner": scores, "held_out": held, "choice": choice,
            "baseline": {"mean": float(berr.mean()), "worst": float(berr.max())}}


def pct(x: float) -> str:
    return f"{100 * x:.2f}" if math.isfinite(x) else "inf"


def format_row(r: dict[str, Any]) -> str:
    inner = " / ".join(pct(r["inner"][f]) for f in FORMS)
    held = " / ".join(pct(r["held_out"][f].get("mean", math.inf)) for f in FORMS)
    picks = "  ".join(f"{k}={v}" for k, v in r["choice"].items())
    return (f"{r['name']:<58} base {pct(r['baseline']['mean'])}  inner chin/ndexp/kaplan {inner}  "
            f"held-out {held}  ({r['values']} values)  {picks}")


def summary(rows: list[dict[str, Any]]) -> str:
    lines = []
    cur = {r["name"]: r["held_out"][r["choice"]["current"]]["mean"] for r in rows}
    for name in RULES:
        means = [r["held_out"][r["choice"][name]]["mean"] for r in rows]
        base = [r["baseline"]["mean"] for r in rows]
        vs_cur = [mm / cur[r["name"]] - 1 for mm, r in zip(means, rows, strict=True)]
        met = sum(mm <= 0.75 * b for mm, b in zip(means, base, strict=True))
        worst = max(range(len(rows)), key=lambda i: vs_cur[i])
        lines.append(f"{name:<8} sum of means {100 * sum(means):7.2f}%  met {met}/{len(rows)}  worst vs current "
                     f"{100 * vs_cur[worst]:+.0f}% ({rows[worst]['name']}); kaplan chosen on "
                     f"{sum(r['choice'][name] == 'kaplan' for r in rows)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = _load("lnd_extrapolate").protocols_parser(__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    def body(protos) -> list[dict[str, Any]]:
        rows = []
        for proto in protos:
            rows.append(score_protocol(proto))
            print(format_row(rows[-1]), flush=True)
        print(summary(rows))
        return rows

    return _load("lnd_extrapolate").over_protocols(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
