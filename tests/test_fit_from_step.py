"""``fit curves --from-step`` (``fit_curves(from_step=)``): a per-step log kept from step 0, whose
first steps fall from ln(vocab), outside every curve law's range.

Without ``from_step`` such a fit is refused for its R^2, and the refusal names the first steps and
the step to fit from (the same fit from that step is usable); with it, the law fits.  The main
case is synthetic (no data needed): two 8,000-step runs of a known LR-annealing law (constant lr
and a WSD cooldown to 1% of the peak, no warmup, lr 1e-3 from step 0 as PKU's runs) plus a fall
from 10.4 that fades with a time constant of 150 steps, and per-step noise (sd 0.02).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hpadvisor.errors import FitError, InvalidInputError
from hpadvisor.fitting.curves import Curve, fit_curves
from hpadvisor.io import yamlio
from hpadvisor.laws.curves import AnnealingLaw
from tests.conftest import shared_data

T = 8000
TRUE = AnnealingLaw(L0=2.6, A=0.9, alpha=0.55, C=0.12, lam=0.999)
SUGGESTED = re.compile(r"--from-step, e\.g\. (\d+)\)")


def _run(shape: str, seed: int) -> Curve:
    lr = np.full(T + 1, 1e-3)
    if shape == "wsd":  # a linear cooldown over the last 20% to 1% of the peak
        d = int(0.8 * T)
        lr[d:] = 1e-5 + (1e-3 - 1e-5) * (1 - (np.arange(d, T + 1) - d) / (T - d))
    steps = np.arange(1, T + 1)
    w = np.exp(-steps / 150)  # the initial fall: 10.4 at step 0, fading into the law
    loss = w * 10.4 + (1 - w) * TRUE.curve(lr, steps) + np.random.default_rng(seed).normal(0, 0.02, T)
    return Curve(shape, lr, steps, loss)


@pytest.fixture(scope="module")
def runs() -> list[Curve]:
    return [_run("constant", 0), _run("wsd", 1)]


@pytest.fixture(scope="module")
def logs(runs, tmp_path_factory) -> list[str]:
    """The runs as per-step CSV logs (step, lr, loss), from step 0."""
    folder = tmp_path_factory.mktemp("from_step")
    out = []
    for c in runs:
        path = folder / f"{c.name}.csv"
        rows = [f"0,{c.lr[0]:.8g},10.41"] + [f"{s},{c.lr[s]:.8g},{v:.6f}" for s, v in zip(c.steps, c.loss, strict=True)]
        path.write_text("step,lr,loss\n" + "\n".join(rows) + "\n")
        out.append(str(path))
    return out


def _one_line_error(r) -> str:
    assert r.exit_code == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: "), r.stderr
    return r.stderr


def test_refused_fit_names_the_first_steps_and_the_step_to_fit_from(runs):
    with pytest.raises(FitError) as exc:
        fit_curves(runs, "annealing")
    msg = str(exc.value)
    assert "R^2 -5" in msg  # the whole run's R^2, before and as it was
    assert "the first 5% of its steps (loss 10.5 at step 1, falling from its initial value)" in msg
    m = re.search(r"`from_step`, e\.g\. (\d+)\)", msg)
    assert m, msg
    # 90% of the fall from 10.5 to ~2.8 is made when the transient is down to ~0.8: 150 * ln(10) ~ 350
    # steps in the transient alone, later with the law's own fall: 870 measured
    assert 500 <= int(m.group(1)) <= 1500
    refit_r2 = float(re.search(r"the worst run's R\^2 is ([0-9.]+)", msg).group(1))
    assert refit_r2 > 0.99


def test_from_step_fits_and_recovers_the_law(runs):
    fit = fit_curves(runs, "annealing", from_step=1000)
    assert all(r.r2 > 0.99 for r in fit.runs), fit.runs
    # the lr before step 1000 still counts (S1 from step 0): the true constants come back
    assert fit.law.alpha == pytest.approx(TRUE.alpha, abs=0.05)
    assert fit.law.L0 == pytest.approx(TRUE.L0, rel=0.01)
    assert fit.law.C == pytest.approx(TRUE.C, rel=0.15)
    info = fit.info()
    assert info["from_step"] == 1000
    assert info["not_fitted_before_from_step"] == {"constant": {"points": 999}, "wsd": {"points": 999}}
    assert dict((k, (lo, hi)) for k, lo, hi in fit.law.provenance.fitted_range)["steps"] == (1000.0, 8000.0)
    assert "loss fitted from step 1000" in fit.law.provenance.notes
    assert any("999 loss points before step 1,000 (`from_step`) not fitted" in n for n in fit.notes)


def test_from_step_zero_is_the_default_fit(runs):
    late = [Curve(c.name, c.lr, c.steps[c.steps >= 1000], c.loss[c.steps >= 1000]) for c in runs]
    a, b = fit_curves(late, "annealing"), fit_curves(late, "annealing", from_step=0)
    assert a.law.constants() == b.law.constants() and [r.r2 for r in a.runs] == [r.r2 for r in b.runs]
    assert "from_step" not in a.info() and b.info()["from_step"] == 0 and not b.before_from


@pytest.mark.parametrize("bad, said", [(-1, "`from_step` must be a whole number of steps >= 0, not -1"),
                                       (1.5, "not 1.5"), (True, "not True"),
                                       (7999, "`from_step` 7999 leaves run 'constant' 2 loss points (its last is at "
                                              "step 8000); the fit needs at least 3 per run: give a step up to 7998")])
def test_bad_from_step_is_refused(runs, bad, said):
    with pytest.raises(InvalidInputError) as exc:
        fit_curves(runs, "annealing", from_step=bad)
    assert said in str(exc.value)


def test_cli_refuses_then_fits_from_the_suggested_step(cli, logs, tmp_path):
    out = tmp_path / "law.yaml"
    err = _one_line_error(cli("fit", "curves", *logs, "--law", "annealing", "--no-intervals", "--out", str(out)))
    assert "falling from its initial value" in err and "No law file written" in err and not out.exists()
    step = SUGGESTED.search(err)
    assert step, err
    r = cli("fit", "curves", *logs, "--law", "annealing", "--no-intervals", "--out", str(out),
            "--from-step", step.group(1), "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert all(x["r2"] > 0.99 for x in summary["runs"]), summary["runs"]
    assert any("(--from-step) not fitted" in n for n in summary["notes"])
    fit = yamlio.loads(out.read_text())[0]["fit"]
    assert fit["from_step"] == int(step.group(1))


@pytest.mark.parametrize("bad, said", [("-5", "--from-step must be a whole number of steps >= 0, not -5."),
                                       ("9000", "--from-step 9000 leaves run 'constant' 0 loss points"),
                                       ("x", "'x' is not a valid int")])
def test_cli_bad_from_step_is_one_line(cli, logs, tmp_path, bad, said):
    out = tmp_path / "law.yaml"
    err = _one_line_error(cli("fit", "curves", *logs, "--law", "annealing", "--no-intervals", "--out", str(out),
                              "--from-step", bad))
    assert said in err and not out.exists()


@pytest.mark.realdata
def test_pku_per_step_logs_refused_then_fitted_from_the_suggested_step(cli, tmp_path):
    """The reported case: two PKU 100M runs (811, wsd), loss at every step from step 0 (10.4)."""
    import pandas as pd

    t = pd.read_csv(shared_data("pku_100m_schedules", "gpt_loss_lrs_long.csv"), dtype={"schedule": str})
    logs = []
    for name in ("811", "wsd"):
        g = t[t.schedule == name].sort_values("step")
        path = tmp_path / f"{name}.csv"
        g.rename(columns={"train_loss": "loss"})[["step", "lr", "loss"]].to_csv(path, index=False)
        logs.append(str(path))
    out = tmp_path / "law.yaml"
    err = _one_line_error(cli("fit", "curves", *logs, "--law", "annealing", "--no-intervals", "--out", str(out)))
    # measured: R^2 -2.5 on run 811; the first 5% (loss 10.4 at step 1); refitted from step 1800, 0.987
    assert "R^2 -2.5 on run 811" in err and "(loss 10.4 at step 1, falling from its initial value)" in err
    step = SUGGESTED.search(err)
    assert step and 1000 <= int(step.group(1)) <= 3000, err
    r = cli("fit", "curves", *logs, "--law", "annealing", "--no-intervals", "--out", str(out),
            "--from-step", step.group(1), "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert all(x["r2"] > 0.95 for x in json.loads(r.stdout)["runs"])
