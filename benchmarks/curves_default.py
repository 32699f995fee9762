"""The product default curve law, by the rule of 2026-12-08 (benchmarks/curves_crosslab.md, "The
product default (rule of 2026-12-08)"): each law's cross-lab score, computed from the table in
docs/curves.md ("Across labs"), with its arithmetic.  Run: python benchmarks/curves_default.py

The rule was written down after the cross-lab table had been seen (it is not blind): the default
is the single law (an average of laws, such as ``ann+nc``, is a benchmark rule, not a law a law
file can hold) with the lowest score, the mean over the six protocols (a)-(f) of each protocol's
mean final-loss error: (a)-(c) the mean over the three MPL sizes of their mean |final error|,
(d) the mean over the three PKU targets, (e) the mean over the 11 pairs (the table's figure), (f)
the mean of its same-lr and 2x-lr columns, each taken as the midpoint of its range.  Laws within
5% of the lowest score tie, and a tie goes to the cheaper fit.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE_DOC = ROOT / "docs" / "curves.md"
PROTOCOLS = "abcdef"
#: The laws a law file holds (``fit curves --law``); the table's other rows are averages.
LAWS = ("multipower", "annealing", "noise-convolution")
#: Cheapest fit first, for a tie: CPU of one fit of two 100M per-step logs (34k steps each), 2.5 s
#: annealing, 17 s multipower, 69 s noise-convolution, measured before the 320-point thinning.
BY_FIT_COST = ("annealing", "multipower", "noise-convolution")
TIE = 0.05


def table_rows(text: str) -> dict[str, list[str]]:
    """The cross-lab table's rows in ``text`` (the section "Across labs"): law -> its six cells."""
    section = text[text.index("## Across labs"):]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("law", "") or set(cells[0]) <= set("-"):
            continue
        rows[cells[0]] = cells[1:]
    return rows


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)]


def protocol_figures(cells: list[str]) -> dict[str, tuple[float, str]]:
    """Each protocol's figure (%) and how it was computed, from a row's six cells."""
    out: dict[str, tuple[float, str]] = {}
    for key, cell in zip(PROTOCOLS, cells, strict=True):
        if key in "abc":  # "mean / worst" per size
            means = [_numbers(part)[0] for part in cell.split(",")]
            out[key] = (sum(means) / len(means), f"({' + '.join(f'{m:.2f}' for m in means)}) / {len(means)}")
        elif key == "d":  # the three targets' errors
            errs = _numbers(cell)
            out[key] = (sum(errs) / len(errs), f"({' + '.join(f'{e:.2f}' for e in errs)}) / {len(errs)}")
        elif key == "e":  # mean over pairs / worst run
            out[key] = (_numbers(cell)[0], f"{_numbers(cell)[0]:.2f}")
        else:  # "lo-hi / lo-hi": same lr, a factor 2 away
            lo1, hi1, lo2, hi2 = _numbers(cell)
            mid1, mid2 = (lo1 + hi1) / 2, (lo2 + hi2) / 2
            out[key] = ((mid1 + mid2) / 2, f"((({lo1:.2f} + {hi1:.2f}) / 2 = {mid1:.3f}) + "
                                           f"(({lo2:.2f} + {hi2:.2f}) / 2 = {mid2:.3f})) / 2")
    return out


def scores(text: str | None = None) -> dict[str, float]:
    """Every row's score (%): the mean of its six protocol figures."""
    rows = table_rows(TABLE_DOC.read_text() if text is None else text)
    return {law: sum(v for v, _ in protocol_figures(cells).values()) / len(PROTOCOLS) for law, cells in rows.items()}


def choose(score: dict[str, float]) -> str:
    """The rule: the lowest-scoring law; laws within :data:`TIE` of it go to the cheapest fit."""
    eligible = {law: s for law, s in score.items() if law in LAWS}
    best = min(eligible.values())
    tied = [law for law in BY_FIT_COST if law in eligible and eligible[law] <= best * (1 + TIE)]
    return tied[0]


def main() -> int:
    rows = table_rows(TABLE_DOC.read_text())
    score = scores()
    for law, cells in rows.items():
        figs = protocol_figures(cells)
        print(f"{law}{'' if law in LAWS else ' (an average: not eligible)'}")
        for key, (value, how) in figs.items():
            print(f"  ({key}) {how} = {value:.4f}")
        print(f"  score ({' + '.join(f'{v:.4f}' for v, _ in figs.values())}) / 6 = {score[law]:.4f}")
    chosen = choose(score)
    print(f"default: {chosen} ({score[chosen]:.4f}; within {TIE:.0%}: "
          f"{', '.join(law for law in LAWS if score[law] <= score[chosen] * (1 + TIE))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
