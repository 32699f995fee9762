"""The sensitivity law (loss cost of an lr / batch off the optimum) and the surface behind it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hpadvisor.errors import FitError, InvalidInputError
from hpadvisor.fitting.surface import fit_surface, log_cost
from hpadvisor.laws import REGISTRY
from hpadvisor.laws.sensitivity import STEPLAW_SENSITIVITY, LossSensitivity
from tests.conftest import shared_data


def test_registered_and_the_2x_figures():
    law = REGISTRY["steplaw-sensitivity"]
    assert law is STEPLAW_SENSITIVITY
    # exp(a ln^2 2) - 1 with the calibrated constants
    assert law.relative_loss_cost(2.0) == pytest.approx(math.expm1(law.lr_hi * math.log(2) ** 2))
    assert float(law.relative_loss_cost(2.0)) == pytest.approx(0.00526, abs=5e-5)
    assert float(law.relative_loss_cost(0.5)) == pytest.approx(0.00228, abs=5e-5)
    assert float(law.relative_loss_cost(1.0, 2.0)) == pytest.approx(0.00290, abs=5e-5)
    assert float(law.relative_loss_cost(1.0, 0.5)) == pytest.approx(0.00317, abs=5e-5)
    assert float(law.relative_loss_cost(1.0, 1.0)) == 0.0
    assert law.evaluate("loss_cost_lr_2x_high", {}) == pytest.approx(float(law.relative_loss_cost(2.0)))


def test_cost_grows_away_from_the_optimum_and_is_vectorised():
    law = STEPLAW_SENSITIVITY
    r = np.array([1.0, 1.5, 2.0, 4.0])
    hi, lo = law.relative_loss_cost(r), law.relative_loss_cost(1 / r)
    assert np.all(np.diff(hi) > 0) and np.all(np.diff(lo) > 0)
    assert np.all(hi[1:] > lo[1:])  # too high costs more than too low (Step Law data)
    # a larger batch wants a larger lr: the cost of B 2x is smaller with lr raised too
    assert law.relative_loss_cost(1.15, 2.0) < law.relative_loss_cost(1.0, 2.0)


@pytest.mark.parametrize("bad", [0.0, -2.0, float("nan"), float("inf")])
def test_bad_ratios_rejected(bad):
    with pytest.raises(InvalidInputError, match="lr_ratio"):
        STEPLAW_SENSITIVITY.relative_loss_cost(bad)
    with pytest.raises(InvalidInputError, match="batch_ratio"):
        STEPLAW_SENSITIVITY.relative_loss_cost(1.0, bad)


def test_calibration_reproduces_the_constants_from_the_shipped_sweeps():
    df = pd.read_csv(shared_data("steplaw", "dense_lr_bs_loss.csv"))
    df = df[df["smooth loss"] < 4]
    coefs, spans = [], []
    for _, g in df.groupby(["N", "D"]):
        s = fit_surface(g["lr"], g["bs"] * 2048.0, g["smooth loss"])
        assert s.is_bowl() and s.batch_located
        coefs.append([s.a_lo, s.a_hi, s.b_lo, s.b_hi, s.cross])
        spans.append([s.lr_range[0] / s.lr_opt, s.lr_range[1] / s.lr_opt,
                      s.batch_range[0] / s.batch_opt, s.batch_range[1] / s.batch_opt])
    assert len(coefs) == 17
    med = np.median(np.array(coefs), axis=0)
    law = STEPLAW_SENSITIVITY
    got = [law.lr_lo, law.lr_hi, law.batch_lo, law.batch_hi, law.cross]
    np.testing.assert_allclose(med, got, rtol=0.01)
    span = np.median(np.array(spans), axis=0)
    rng = law.provenance.range_dict()
    np.testing.assert_allclose(span, [*rng["lr_ratio"], *rng["batch_ratio"]], rtol=0.03)


def test_surface_recovers_a_known_bowl():
    rng = np.random.default_rng(3)
    lr = np.exp(rng.uniform(np.log(2e-4), np.log(2e-2), 150))
    bs = np.exp(rng.uniform(np.log(2e5), np.log(4e6), 150))
    truth = dict(a_lo=0.005, a_hi=0.012, b_lo=0.007, b_hi=0.006, cross=-0.004)
    x, z = np.log(lr / 2e-3), np.log(bs / 1e6)
    loss = 2.5 * np.exp(log_cost(x, z, *truth.values())) * (1 + rng.normal(0, 2e-4, lr.size))
    s = fit_surface(lr, bs, loss, window=0.05)
    assert s.lr_opt == pytest.approx(2e-3, rel=0.05)
    assert s.batch_opt == pytest.approx(1e6, rel=0.05)
    assert s.a_hi == pytest.approx(0.012, rel=0.1) and s.a_lo == pytest.approx(0.005, rel=0.1)
    assert s.b_lo == pytest.approx(0.007, rel=0.1) and s.b_hi == pytest.approx(0.006, rel=0.1)
    assert s.loss_opt == pytest.approx(2.5, rel=1e-3)


def test_surface_needs_three_learning_rates():
    with pytest.raises(FitError, match="3 lrs"):
        fit_surface([1e-3, 1e-3, 2e-3, 2e-3, 1e-3, 2e-3], [1, 2, 1, 2, 4, 4], [2.5, 2.51, 2.49, 2.5, 2.52, 2.5])


def test_a_fitted_sensitivity_loads_from_a_law_file(tmp_path):
    import dataclasses

    from hpadvisor.io import lawfile

    mine = dataclasses.replace(STEPLAW_SENSITIVITY, lr_hi=0.02, name="sens@mine")
    path = tmp_path / "s.yaml"
    path.write_text(lawfile.dumps(mine))
    back = lawfile.load(path)
    assert isinstance(back, LossSensitivity)
    assert float(back.relative_loss_cost(2.0)) == pytest.approx(math.expm1(0.02 * math.log(2) ** 2))
