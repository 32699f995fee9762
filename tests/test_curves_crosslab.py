"""The cross-lab benchmark's figures for the default curve rule (issue 18) and for the product's
default law, asserted.

The default rule (benchmarks/curves_crosslab.md, "The default rule", written before it was scored):
the equal-weight mean of the LR-annealing law's (warmup auto) and the noise-convolution law's
predicted losses, each fitted with ``fit_curves``' defaults on the same runs.  The harness is the
benchmark's own (``benchmarks/curves_crosslab.py``: its loaders, protocols, fits and scoring);
this module runs the cheapest subsets that still assert real numbers: protocol (a) at 100M and
400M, (b) at 100M, and (e) on two lr_scheduling_sweep pairs (about 27 s of CPU in all), and the
product's default law (noise-convolution, the law ``fit curves`` fits; its fits are the ones the
average reuses) on (a) and (b) at 100M and, the fit that needs its continuation, (b) at 25M
(12 s).  The issue's targets: (a) mean final-loss error <= 0.15%, every final <= 0.6%; (b) mean
<= 0.20%, worst <= 0.50%; (e) mean <= 0.30%, no pair above 0.50%.  A target that is met is
asserted around the measured figure; one that is not is a strict xfail whose reason states the
figure.  Protocol (d) (PKU, not shipped) is not run here:
one noise-convolution fit of two PKU runs costs 8-48 s of CPU, beyond this module's budget; its
figures (0.14%, 0.80%, 0.42%: ->cosine and ->8-1-1 not within 0.40%) are in curves_crosslab.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import benchmark_module, shared_data

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = "ann+nc"


def _bench():
    return benchmark_module("curves_crosslab", "curves_crosslab_bench")


def _row(key: str, group: str, dataset: str) -> dict:
    shared_data(dataset)  # skips, with the reason, when the dataset is absent
    cx = _bench()
    (p,) = [p for p in cx.protocols(key) if p.group == group]
    return cx.run(p, DEFAULT)


def _xfail(measured: str):
    return pytest.mark.xfail(strict=True, reason=f"measured {measured}")


def test_the_default_rule_is_the_written_one():
    cx = _bench()
    assert cx.AVERAGES[DEFAULT] == ("annealing", "noise-convolution")
    runs = cx.load_mpl("100")
    fits = [cx.fit(next(p for p in cx.protocols("a") if p.group == "100M"), law)[0].law for law in cx.AVERAGES[DEFAULT]]
    c = runs["wsdcon_3"].curve
    assert cx.Averaged(fits).curve(c.lr, c.steps) == pytest.approx(
        (fits[0].curve(c.lr, c.steps) + fits[1].curve(c.lr, c.steps)) / 2, rel=1e-12)


# -- (a) the MPL authors' split -----------------------------------------------------------------------

def test_a_100m_meets_the_target():
    # measured 0.100% mean, 0.262% worst (wsd_20000_24000); targets 0.15% and 0.6%
    r = _row("a", "100M", "mpl_schedules")
    assert r["n"] == 6
    assert r["final_mean"] == pytest.approx(0.00100, abs=0.0002) and r["final_mean"] <= 0.0015
    assert r["final_worst"] == pytest.approx(0.00262, abs=0.0003) and r["final_worst"] <= 0.006


@_xfail("(a) 400M mean final error 0.190% (target <= 0.15%; worst 0.459%, within 0.6%): the annealing "
        "half (0.369%) pulls the noise-convolution law's 0.089% up")
def test_a_400m_mean_meets_the_target():
    r = _row("a", "400M", "mpl_schedules")
    assert r["final_worst"] == pytest.approx(0.00459, abs=0.0003)
    assert r["final_mean"] <= 0.0015


# -- (b) constant + cosine -> the other seven -------------------------------------------------------

def test_b_100m_meets_the_target():
    # measured 0.195% mean, 0.407% worst (wsd_20000_24000); targets 0.20% and 0.50%. At 25M 0.212 /
    # 0.395% and at 400M 0.341 / 0.695% (not met; not run here: the 400M noise-convolution fit
    # takes ~19 s of CPU)
    r = _row("b", "100M", "mpl_schedules")
    assert r["n"] == 7
    assert r["final_mean"] == pytest.approx(0.00195, abs=0.0001) and r["final_mean"] <= 0.0020
    assert r["final_worst"] == pytest.approx(0.00407, abs=0.0003) and r["final_worst"] <= 0.005


# -- the product default law (benchmarks/curves_crosslab.md, "The product default (rule of 2026-12-08)") --
# ``fit curves`` and ``fit_curves`` fit one law, noise-convolution; the rows above are the benchmark's
# ann+nc rule, not the product's.  Its noise-convolution fits are the ones ann+nc reuses.

PRODUCT_DEFAULT = "noise-convolution"


def _default_row(key: str) -> dict:
    shared_data("mpl_schedules")
    cx = _bench()
    (p,) = [p for p in cx.protocols(key) if p.group == "100M"]
    return cx.run(p, PRODUCT_DEFAULT)


def test_the_product_default_is_the_fit_curves_default():
    import inspect

    from hpadvisor.fitting.curves import fit_curves

    assert inspect.signature(fit_curves).parameters["law"].default == PRODUCT_DEFAULT


def test_product_default_a_100m_meets_the_target():
    # measured 0.074% mean, 0.110% worst (wsdcon_3); targets 0.15% and 0.6%
    r = _default_row("a")
    assert r["n"] == 6 and r["worst_run"] == "wsdcon_3"
    assert r["final_mean"] == pytest.approx(0.00074, abs=0.0001) and r["final_mean"] <= 0.0015
    assert r["final_worst"] == pytest.approx(0.00110, abs=0.0002) and r["final_worst"] <= 0.006


def test_product_default_b_100m_measured_figures():
    r = _default_row("b")
    assert r["n"] == 7 and r["worst_run"] == "cosine_72000"
    assert r["final_mean"] == pytest.approx(0.00300, abs=0.0002)
    assert r["final_worst"] == pytest.approx(0.00647, abs=0.0003)


@_xfail("(b) 100M with the product default (noise-convolution): mean final error 0.300%, worst 0.647% "
        "(cosine_72000); targets <= 0.20% and <= 0.50%")
def test_product_default_b_100m_meets_the_target():
    r = _default_row("b")
    assert r["final_mean"] <= 0.0020 and r["final_worst"] <= 0.005



def test_product_default_b_25m_converges_at_the_exponential_kernel_limit():
    # constant + cosine at 25M: the runs' best fit is the kernel's exponential limit (c and gamma
    # growing together); the fit stopped at 800 evaluations unconverged (objective 9.140e-5, held-out
    # 0.235 / 0.525%) until it was carried on in the timescale parametrisation (CONV_CAP)
    shared_data("mpl_schedules")
    cx = _bench()
    (p,) = [p for p in cx.protocols("b") if p.group == "25M"]
    fit = cx.fit(p, PRODUCT_DEFAULT)[0]
    assert fit.converged and fit.objective == pytest.approx(9.099e-5, rel=1e-3) and fit.objective < 9.140e-5
    assert fit.law.gamma == pytest.approx(6.0, abs=1e-3)
    assert any(w.startswith("gamma = 6 is at the upper bound") for w in fit.warnings)  # says the runs do not pin it
    r = cx.run(p, PRODUCT_DEFAULT)
    assert r["final_mean"] == pytest.approx(0.00244, abs=0.0001) and r["final_worst"] == pytest.approx(0.00577, abs=0.0002)


# -- (e) lr_scheduling_sweep: constant + shortest cosine -> WSD branches and longer cosines ----------

E_PAIRS = ("slimpajama/53m", "slimpajama/60m")  # the cheapest pairs to fit (~3 s of CPU together)


@_xfail("(e) mean final error 0.966% (slimpajama 53m) and 0.631% (60m), target no pair above 0.50%; over "
        "all 11 pairs 0.718% mean (target 0.30%), worst run 1.45%")
def test_e_pairs_meet_the_target():
    means = [_row("e", pair, "lr_scheduling_sweep")["final_mean"] for pair in E_PAIRS]
    assert max(means) <= 0.005


def test_e_pairs_measured_figures():
    rows = [_row("e", pair, "lr_scheduling_sweep") for pair in E_PAIRS]
    assert [r["final_mean"] for r in rows] == pytest.approx([0.00966, 0.00631], abs=0.0005)
    assert [r["final_worst"] for r in rows] == pytest.approx([0.01448, 0.01281], abs=0.0005)
    # the laws over-predict the sweep's cooldowns (curves_crosslab.md, F7): so does their average
    assert [r["final_signed_mean"] for r in rows] == pytest.approx([0.00180, 0.00630], abs=0.0005)
