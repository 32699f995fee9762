"""`fit final` on ladders it has never seen (issue 19): E -> 0 is a weak fit, the default form and
its selection, the prediction interval's measured coverage.

Real data (the development datasets beside the project), skipped with the reason where absent.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import benchmark_module, shared_data

pytestmark = pytest.mark.realdata


def _misfitting_no17m():
    """(Mis)Fitting's final losses, best peak lr per (size, horizon), every 17m run dropped:
    (N, D, loss) and the fit mask N <= 3e8 (12m-200m; 300m, 400m and 1b held out)."""
    import pandas as pd

    m = pd.read_csv(shared_data("misfitting_scaling", "scaling_results_last_ckpt_only.csv"))
    b = (m[m["model"] != "misfitting_17m"].groupby(["model", "total_steps"])
         .agg(N=("N", "first"), D=("D", "first"), loss=("loss", "min")).reset_index())
    N, D, L = (b[c].to_numpy(float) for c in ("N", "D", "loss"))
    return N, D, L, N <= 3e8


@pytest.mark.slow
def test_e_at_zero_is_a_weak_fit_not_a_refusal(cli, tmp_path):
    """The Epoch-way Chinchilla fit of (Mis)Fitting without its 17m runs drives E to 0; `fit final`
    refused it ("E = 0 must be > 0") and the user got no law.  Now the law is written with a warning
    that `predict` repeats, and it predicts the held-out 300m-1b runs as the issue measured
    (0.71% mean, 1.9% worst)."""
    N, D, L, fit = _misfitting_no17m()
    table = tmp_path / "ladder.csv"
    table.write_text("N,D,loss\n" + "".join(f"{n:.0f},{d:.0f},{float(x)!r}\n" for n, d, x in zip(N[fit], D[fit], L[fit])))
    out = tmp_path / "law.yaml"
    r = cli("fit", "final", str(table), "--law", "chinchilla", "--bootstrap", "20", "--outlier-sigma", "0",
            "--out", str(out), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["constants"]["E"] < 1e-9  # 0, or a hair above it where the screened start grid stops
    assert any("the irreducible loss, is on the bound of its range" in w for w in data["warnings"])
    assert data["bootstrap"]["resamples"] - data["bootstrap"]["failed"] >= 18  # refits from E = 0 work
    errors = []
    for n, d, x in zip(N[~fit], D[~fit], L[~fit]):
        p = cli("predict", str(out), "--params", f"{n:.0f}", "--tokens", f"{d:.0f}",
                "--format", "json")
        assert p.exit_code == 0, p.output
        assert "warning:" in p.stderr and "is on the bound of its range (E >= 0)" in p.stderr
        errors.append(abs(json.loads(p.stdout)["loss"] / x - 1))
    assert np.mean(errors) == pytest.approx(0.0071, abs=0.0003)
    assert max(errors) == pytest.approx(0.0191, abs=0.0005)


# -- the default (`fit final --law auto`) against the baseline, on the development protocols -------
# The protocols are benchmarks/lnd_extrapolate.py's (its loaders), the default is fitted by
# benchmarks/lnd_default.py's `default_fit` (hpadvisor's fit_final(form="auto"), the command's
# defaults); the baseline figures are the Chinchilla form fitted the Epoch way on the same fit sets,
# as issue 19 states them and the benchmark reproduces them (lnd_extrapolate.md).

BASELINE_MEAN = {"epoch": 0.0141, "porian-tuned": 0.0954, "gemstones": 0.0164, "misfitting": 0.0053}
_DATA = {"epoch": ("epoch_chinchilla", "svg_extracted_data.csv"),
         "porian-tuned": ("porian_isoflops", "isoflop_points.csv"),
         "gemstones": ("gemstones", "wandb_df_for_fitting_hot_100b+.jsonl"),
         "misfitting": ("misfitting_scaling", "scaling_results_last_ckpt_only.csv")}
_CACHE: dict = {}


def _benchmarks():
    return benchmark_module("lnd_extrapolate"), benchmark_module("lnd_default")


def _protocol(name: str):
    shared_data(*_DATA[name])  # skipped, with the reason, where the dataset is absent
    bench, _ = _benchmarks()
    protos, _ = bench.load_protocols({name}, porian_setups="tuned")
    return next(p for p in protos if p.name == name)


def _default(name: str, bootstrap: int = 0):
    """(protocol, default fit, held-out relative errors), computed once per test session."""
    key = (name, bootstrap)
    if key not in _CACHE:
        _, lnd = _benchmarks()
        proto = _protocol(name)
        fit = lnd.default_fit(proto, bootstrap=bootstrap)
        _CACHE[key] = (proto, fit, lnd.held_out_errors(fit.law, proto))
    return _CACHE[key]


def _target(name: str) -> None:
    _, _, err = _default(name, 50)
    assert err.mean() <= 0.75 * BASELINE_MEAN[name]


@pytest.mark.slow
def test_default_meets_the_target_on_porian_tuned():
    """Porian et al.'s tuned setup (fit budgets <= 1.6e18 FLOPs, split along C): the user's split
    chooses the N-dependent data exponent (3.1% against Chinchilla's 7.6% on the largest fitted
    budgets) and the held-out error falls from the baseline's 9.54% to 2.18% (worst 16.6 -> 7.0%).
    The outlier rule leaves out one run, 902M at 18.5M tokens (19.7 robust sd; the 455M run at 10.5 sd,
    not 1.5x the next, is kept)."""
    _, fit, err = _default("porian-tuned", 50)
    assert fit.form == "chinchilla-ndexp" and fit.selection["inner_valid_values"] == 2
    assert fit.selection["inner_error"]["chinchilla"] == pytest.approx(0.0762, abs=0.001)
    assert fit.selection["inner_error"]["chinchilla-ndexp"] == pytest.approx(0.0311, abs=0.001)
    assert err.mean() == pytest.approx(0.0218, abs=0.0005) and err.max() == pytest.approx(0.070, abs=0.002)
    assert [round(o["N"] / 1e6) for o in fit.ladder.source["outliers"]] == [902]
    _target("porian-tuned")


@pytest.mark.slow
def test_default_figures_on_epoch_gemstones_misfitting():
    """The default's measured held-out errors where the 25% target is not met (the xfails below)."""
    _, fit, err = _default("epoch", 50)  # chinchilla-ndexp 0.37% vs 0.36% on the split: Chinchilla kept
    assert fit.form == "chinchilla" and err.mean() == pytest.approx(0.0141, abs=0.0003)
    _, fit, err = _default("gemstones", 50)  # 1.33% vs 1.78% on the split: chinchilla-ndexp
    assert fit.form == "chinchilla-ndexp" and err.mean() == pytest.approx(0.0180, abs=0.0003)
    assert err.max() == pytest.approx(0.033, abs=0.001)  # the baseline's worst: 8.7%
    _, fit, err = _default("misfitting", 50)  # the split's validation runs are one size (200m): Chinchilla
    assert fit.form == "chinchilla" and fit.selection["inner_valid_values"] == 1
    assert "outliers" not in fit.ladder.source  # the 12m run at 100 steps (11.0 sd, beside 9.8 and 8.8) is kept
    assert err.mean() == pytest.approx(0.0053, abs=0.0003)  # the baseline's fit


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="epoch: default 1.41% mean held-out error = the baseline's 1.41% (+0%; the "
                   "split keeps Chinchilla, and every form misses the four 2-7B runs stopped after 0.25-0.8B tokens "
                   "by 10-25%); the target is <= 1.06%")
def test_default_target_epoch():
    _target("epoch")


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="gemstones: default (chinchilla-ndexp) 1.80% mean held-out error against the "
                   "baseline's 1.64% (+10%; worst 3.3% against 8.7%); the target is <= 1.23%")
def test_default_target_gemstones():
    _target("gemstones")


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="misfitting: default (Chinchilla on every run, the baseline's fit) 0.53% mean "
                   "held-out error = the baseline's 0.53% (+0%; the split's validation runs are one size, so "
                   "Chinchilla is kept); the target is <= 0.40%")
def test_default_target_misfitting():
    _target("misfitting")


def _parts():
    _, lnd = _benchmarks()
    parts = {}
    for name in BASELINE_MEAN:
        proto, fit, _ = _default(name, 50)
        parts[name] = lnd.interval_parts(fit, proto)
    return lnd, parts


@pytest.mark.slow
def test_interval_coverage_of_predicts_interval():
    """predict's stated 90% interval (method C of lnd_extrapolate.md: the spread terms plus the user's
    own inner-split error x sqrt(pi/2) x (1 + d), nothing fitted to the held-out points) holds 98% of
    the 446 held-out losses of the four development ladders, median half-width 5.3%: it over-covers."""
    from hpadvisor.fitting.final import C_INNER, K_DISTANCE

    lnd, parts = _parts()
    assert (K_DISTANCE, C_INNER) == (0.0, pytest.approx(lnd.C_FIXED))
    iv = lnd.fixed(parts)
    assert iv["coverage_all"] >= 0.80  # the target
    assert iv["coverage_all"] == pytest.approx(0.98, abs=0.01) and iv["points_all"] == 446
    assert iv["per_protocol"]["epoch"]["coverage"] == pytest.approx(0.94, abs=0.01)
    assert iv["per_protocol"]["gemstones"]["coverage"] == 1.0
    assert iv["median_half_width_all"] == pytest.approx(0.053, abs=0.003)


@pytest.mark.slow
def test_interval_methods_calibrated_leave_one_dataset_out_fall_short():
    """The two calibrated methods fixed before C: one scale, calibrated on three ladders and measured
    on the fourth, covers 76% (k d) and 74% (c e_in (1 + d)) of the 446 held-out losses: Gemstones,
    left out, gets scale 0 from the others and 61%."""
    lnd, parts = _parts()
    a, b = lnd.lodo(parts, "A"), lnd.lodo(parts, "B")
    assert a["own_k"]["gemstones"] == pytest.approx(0.356, abs=0.005)
    assert a["coverage_all"] == pytest.approx(0.76, abs=0.02) and b["coverage_all"] == pytest.approx(0.74, abs=0.02)
    assert a["per_protocol"]["gemstones"]["coverage"] == pytest.approx(0.61, abs=0.02)
    assert a["per_protocol"]["epoch"]["median_half_width"] == pytest.approx(0.505, abs=0.02)


@pytest.mark.slow
def test_predict_states_form_distance_and_interval(cli, tmp_path):
    """`predict` on a `fit final` law file (the shipped Gemstones ladder, the ~2B shapes held out):
    the form chosen, the largest N and D fitted against those asked for, a stated 90% interval; JSON
    keeps {"loss", "interval"}.  The 29 held-out runs' losses fall inside their intervals."""
    import pandas as pd

    table = shared_data("gemstones", "hpadvisor", "ladder.csv")
    out = tmp_path / "law.yaml"
    r = cli("fit", "final", str(table), "--holdout", "N >= 1.5e9", "--bootstrap", "20", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "form chinchilla-ndexp (--law auto, split along N): on the largest N of your runs it is 1.73% off " \
           "against Chinchilla's 2.36%" in r.stdout
    p = cli("predict", str(out), "--params", "3B", "--tokens", "300B", "--format", "json")
    data = json.loads(p.stdout)
    assert {"loss", "interval", "level", "form", "extrapolation"} <= set(data)
    assert data["form"] == "chinchilla-ndexp" and data["level"] == 0.9
    x = data["extrapolation"]
    assert x["largest_fitted_N"] == pytest.approx(1.05e9, rel=0.01) and x["largest_fitted_D"] == pytest.approx(1.1e11, rel=0.01)
    assert x["distance"] == pytest.approx(np.log(3e9 / x["largest_fitted_N"]) + np.log(3e11 / x["largest_fitted_D"]))
    lo, hi = data["interval"]
    assert lo < data["loss"] < hi and 0.05 < hi / data["loss"] - 1 < 0.20
    text = cli("predict", str(out), "--params", "3B", "--tokens", "300B").stdout
    assert "(90% prediction interval" in text and "form chinchilla-ndexp; extrapolation: N 3B vs largest fitted 1.05B" in text
    assert "the forms disagree by" in text
    runs = pd.read_csv(table)
    held = runs[runs["params"] >= 1.5e9]
    inside = 0
    for n, d, loss in zip(held["params"], held["tokens"], held["loss"], strict=True):
        res = json.loads(cli("predict", str(out), "--params", f"{n:.0f}", "--tokens", f"{d:.0f}", "-f", "json").stdout)
        inside += res["interval"][0] <= loss <= res["interval"][1]
    assert (len(held), inside) == (29, 29)
