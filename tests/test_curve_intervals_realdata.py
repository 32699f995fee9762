"""The curve laws' intervals and next-run advice on the Multi-Power-Law runs (100M): what ``fit
curves`` says about constant + cosine alone, that the run it advises (as the MPL data has it:
wsdcon_3, a step drop to 0.1x the peak lr held for 8000 steps) lowers the held-out error, and the
stated 90% interval's coverage on the cross-lab protocols (a) and (b) at this size.

The full coverage table (every protocol, size and dataset; PKU's and the sweep's fits take minutes
each) is printed by ``python benchmarks/curves_intervals.py`` and written in
benchmarks/curves_intervals.md; the figures asserted here are the same computation on a subset.
"""

from __future__ import annotations

import numpy as np
import pytest

from hpadvisor.fitting import curve_advice
from hpadvisor.fitting import curve_intervals as ci
from hpadvisor.fitting.curves import Curve, fit_curves
from hpadvisor.schedules import luo_schedule
from tests.conftest import shared_data

pytestmark = pytest.mark.realdata

LAWS = ("multipower", "annealing", "noise-convolution")
RUNS = ("constant_24000", "constant_72000", "cosine_24000", "cosine_72000", "wsd_20000_24000",
        "wsdld_20000_24000", "wsdcon_3", "wsdcon_9", "wsdcon_18")


@pytest.fixture(scope="module")
def mpl100() -> dict[str, Curve]:
    """The nine 100M runs, every logged point, with the exact per-step lr of their schedule."""
    folder = shared_data("mpl_schedules", "csv_100")
    out = {}
    for name in RUNS:
        data = np.genfromtxt(folder / f"{name}.csv", delimiter=",", names=True)
        out[name] = Curve(name, luo_schedule(name).sequence(), data["step"].astype(int), data["loss"])
    return out


def _final_errors(law, runs: dict[str, Curve], names) -> np.ndarray:
    return np.array([law.curve(runs[n].lr, [runs[n].steps[-1]])[0] / runs[n].loss[-1] - 1 for n in names])


@pytest.mark.slow
def test_fit_curves_on_constant_and_cosine_says_what_is_loose_and_the_run_that_pins_it(cli, tmp_path):
    folder = shared_data("mpl_schedules", "csv_100")
    out = tmp_path / "law.yaml"
    r = cli("fit", "curves", str(folder / "constant_24000.csv"), str(folder / "cosine_24000.csv"), "--law", "annealing",
            "--no-intervals", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert "loose: C, lam (the drop shape: what a decay buys, how fast and how it saturates)" in text
    assert ("next run: from constant_24000's checkpoint at step 11,968, a step drop to 0.1x the peak, held for 2,394 "
            "steps (2,394 steps in all)") in text
    assert "wsd linear 10% to 0, wsd linear 20% to 0, wsd 1-sqrt 20% to 0, multistep (DeepSeek) (4 schedules" in text
    # the law file carries the interval's basis: predict reads it back
    p = cli("predict", str(out), "--schedule", "wsd", "--steps", "24000", "--at", "24000", "-f", "json")
    assert p.exit_code == 0, p.stderr
    assert "no fitted run lowers its lr as steeply" in p.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("law", "before", "after"), [("multipower", 0.0038, 0.0024), ("annealing", 0.0018, 0.0015)])
def test_adding_the_advised_run_lowers_the_held_out_error(mpl100, law, before, after):
    """fit curves on constant + cosine advises a step drop to 0.1x from the constant run (above);
    MPL's wsdcon_3 is such a run.  Fitted with it, the other six runs' final losses are predicted
    better (mean |error|, 100M; the noise-convolution law goes 0.30% -> 0.19%, benchmarks)."""
    held = ("constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_9", "wsdcon_18")
    two = fit_curves([mpl100["constant_24000"], mpl100["cosine_24000"]], law)
    three = fit_curves([mpl100["constant_24000"], mpl100["cosine_24000"], mpl100["wsdcon_3"]], law)
    e2, e3 = np.abs(_final_errors(two.law, mpl100, held)), np.abs(_final_errors(three.law, mpl100, held))
    assert e2.mean() == pytest.approx(before, abs=2e-4)
    assert e3.mean() == pytest.approx(after, abs=2e-4)
    assert e3.mean() < e2.mean()
    # and the plan agrees: with wsdcon_3 among the runs, no schedule compare-schedules ranks is unanswered
    basis = ci.basis_for([(n, mpl100[n].lr, int(mpl100[n].steps[-1])) for n in ("constant_24000", "cosine_24000",
                                                                                  "wsdcon_3")])
    assert curve_advice.plan_runs(three.law, basis)["unanswered"] == []


@pytest.fixture(scope="module")
def fits100(mpl100):
    """The three laws fitted on the training runs of the cross-lab protocols (a) and (b) at 100M."""
    train = {"a": ("cosine_24000", "constant_24000", "wsdcon_9"), "b": ("constant_24000", "cosine_24000")}
    return {k: {law: fit_curves([mpl100[n] for n in t], law).law for law in LAWS} for k, t in train.items()}, train


@pytest.mark.slow
def test_the_stated_90_percent_interval_covers_the_held_out_finals(mpl100, fits100):
    """Protocols (a) and (b) at 100M: 13 held-out runs x each law as the point law = 39 intervals.
    Measured: 37 hold the actual final loss (94.9%; the misses: (b) cosine_72000 by the
    noise-convolution law, -0.647% against +-0.646%, and (b) wsd_20000_24000 by the multi-power law,
    -0.58% against +-0.57%); median half-width +-0.51%.  Over all of (a)-(d): 87.5% of 144 (re-measured
    after the annealing warmup fix; 88.9% before),
    benchmarks/curves_intervals.md."""
    fits, train = fits100
    covered, halves = [], []
    for key, names in train.items():
        basis_runs = [(n, mpl100[n].lr, int(mpl100[n].steps[-1])) for n in names]
        for target in (n for n in RUNS if n not in names):
            c = mpl100[target]
            for law in LAWS:
                basis = ci.basis_for(basis_runs, [fits[key][o] for o in LAWS if o != law])
                low, high, _ = ci.intervals(fits[key][law], basis, c.lr, [c.steps[-1]])
                covered.append(low[0] <= c.loss[-1] <= high[0])
                halves.append((high[0] - low[0]) / (high[0] + low[0]))
    assert len(covered) == 39
    assert np.mean(covered) >= 0.80
    assert np.mean(covered) == pytest.approx(37 / 39, abs=1.5 / 39)  # 37 measured; one more or less on a refit
    assert np.median(halves) == pytest.approx(0.0051, abs=5e-4)
