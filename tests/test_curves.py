"""Curve laws: published vectors, the fast drop sum vs the exact sum, recovery, and the MPL data."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from hpadvisor.errors import FitError, InvalidInputError
from hpadvisor.fitting.curves import FIT_PLAN, Curve, evaluate, fit_curves
from hpadvisor.laws.curves import (
    MPL_25M,
    MPL_100M,
    MPL_400M,
    AnnealingLaw,
    ConvPlan,
    DropPlan,
    MultiPowerLaw,
    NoiseConvolutionLaw,
    annealing_area,
    apply_warmup,
)
from hpadvisor.schedules import Schedule, build, luo_schedule
from tests.conftest import shared_data

TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")
TEST = ("constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_18")
SIZES = ("25", "100", "400")


def test_annealing_area_single_drop_vector():
    # LAWS.md section 6: a drop of 1e-4 held 1000 steps, lambda 0.999 -> S2 = 1e-4 (1-0.999^1000)/0.001 = 0.0632
    delta = np.zeros(1001)
    delta[1] = 1e-4
    S2 = annealing_area(delta, 0.999)
    assert S2[1000] == pytest.approx(1e-4 * (1 - 0.999**1000) / 0.001, rel=1e-12)
    assert S2[1000] == pytest.approx(0.0632, abs=1e-4)


@pytest.mark.parametrize("shape", ["cosine", "wsd", "linear", "multistep"])
def test_fast_drop_sum_matches_the_exact_sum(shape):
    s = build(shape, peak=3e-4, total_steps=60_000, warmup_steps=2000)
    seq, delta = apply_warmup(s.sequence(), "as-run")
    t = np.linspace(100, 60_000, 150).round().astype(int)
    law = MPL_400M
    args = (law.B, law.C, law.beta, law.gamma)
    fast = DropPlan.build(seq, delta, t).drop(*args)
    exact = DropPlan.build(seq, delta, t, exact=True).drop(*args)
    assert np.max(np.abs(fast - exact) / np.maximum(np.abs(exact), 1e-3)) < 1e-4


@st.composite
def _piecewise_lr(draw):
    """A warmup (or none), then segments: jumps or linear ramps to a random level, up or down."""
    T = draw(st.integers(1000, 20_000))
    w = draw(st.integers(0, T // 10))
    peak = draw(st.floats(1e-5, 1e-2))
    n_seg = draw(st.integers(1, 8))
    cuts = draw(st.lists(st.integers(w + 1, T), min_size=n_seg - 1, max_size=n_seg - 1))
    # short excursions too: a segment of 1-15 steps right after a cut (a one-step dip, a brief return)
    cuts = sorted(set(cuts + [min(c + draw(st.integers(1, 15)), T) for c in cuts if draw(st.booleans())]))
    eta = np.empty(T + 1)
    eta[: w + 1] = peak * np.arange(w + 1) / w if w else peak
    level = peak
    for a, b in zip([w + 1, *cuts], [*cuts, T + 1], strict=True):
        new = peak * draw(st.floats(1e-3, 1.5))
        eta[a:b] = np.linspace(level, new, b - a) if draw(st.booleans()) else new
        level = new
    return eta


@settings(max_examples=40, deadline=None)
@given(_piecewise_lr(), st.floats(0.05, 20), st.floats(0.05, 2.0), st.floats(0.1, 1.5), st.floats(0.05, 0.5),
       st.sampled_from(["as-run", "peak", "skip"]))
def test_fast_drop_sums_match_the_exact_loss_on_any_schedule(eta, C, beta, gamma, drop, mode):
    # The bound, 1e-4 relative on the predicted loss, for the prediction plan and the
    # fit's coarser plan, on schedules no trainer makes (rewarms, ramps, jumps of any size); B is
    # scaled so a full decay lowers the loss by 0.05-0.5 nats, as in real runs.
    law = MultiPowerLaw(L0=2.5, A=0.6, alpha=0.45, B=drop / eta.max(), C=C, beta=beta, gamma=gamma)
    seq, delta = apply_warmup(eta, mode)
    t = np.unique(np.linspace(1, eta.size - 1, 60).round().astype(int))
    S1 = np.cumsum(seq)[t]
    exact = law.from_plan(S1, DropPlan.build(seq, delta, t, exact=True))
    for name, plan in (("prediction", {}), ("fit", FIT_PLAN)):
        fast = law.from_plan(S1, DropPlan.build(seq, delta, t, **plan))
        err = float(np.max(np.abs(fast / exact - 1)))
        target(err, label=name)  # steer the search towards the worst schedules
        assert err < 1e-4


def test_fast_drop_sums_keep_a_high_lr_block_before_a_long_low_lr_stretch_apart():
    # Found by the random-schedule test: the lr drops to 1/1000 of the peak for one step, returns to
    # the peak for 11 steps and drops to 1/1000 again for good.  The two drops to the same lr fell in
    # one block and took one mean distance though theirs differ ~40x: the fast sums were 0.4-0.6%
    # off.  A block whose lr area is large against the area between it and the query stays exact.
    peak, w, T = 3e-4, 849, 9596
    eta = np.full(T + 1, peak * 1e-3)
    eta[:w] = peak * np.arange(w) / w
    eta[w + 1: w + 12] = peak
    law = MultiPowerLaw(L0=2.5, A=0.6, alpha=0.45, B=(1 / 3) / peak, C=0.36, beta=0.05, gamma=1.43)
    seq, delta = apply_warmup(eta, "as-run")
    t = np.unique(np.linspace(1, T, 60).round().astype(int))
    S1 = np.cumsum(seq)[t]
    exact = law.from_plan(S1, DropPlan.build(seq, delta, t, exact=True))
    for plan in ({}, FIT_PLAN):
        fast = law.from_plan(S1, DropPlan.build(seq, delta, t, **plan))
        assert np.max(np.abs(fast / exact - 1)) < 1e-5


def test_fast_drop_sums_stay_cheap_after_a_decay_to_zero():
    # A cosine to 0 over half the run, then lr 0 (Megatron's lr_decay_iters < train_iters): the
    # blocks just before the zero stretch are far from every later query in steps but near it in lr
    # area.  Only pseudo-terms whose own area spread is large against that are cut: the plan has no
    # more terms than for a plain cosine (a cut of every such block had made it 5.4x larger here).
    T = 1_000_000
    zero_tail = np.concatenate([build("cosine", peak=3e-4, total_steps=T // 2, warmup_steps=2000,
                                      min_lr=0.0).sequence(), np.zeros(T - T // 2)])
    plain = build("cosine", peak=3e-4, total_steps=T, warmup_steps=2000, min_lr=0.0).sequence()
    q = np.linspace(T // 2 + 1000, T, 100).round().astype(int)
    n_tail, n_plain = (DropPlan.build(*apply_warmup(e, "as-run"), q).D.size for e in (zero_tail, plain))
    assert n_tail <= n_plain
    seq, delta = apply_warmup(zero_tail, "as-run")
    sub = q[::10]
    law = MPL_400M
    fast = law.from_plan(np.cumsum(seq)[sub], DropPlan.build(seq, delta, sub))
    exact = law.from_plan(np.cumsum(seq)[sub], DropPlan.build(seq, delta, sub, exact=True))
    assert np.max(np.abs(fast / exact - 1)) < 1e-6


def test_drop_gradient_matches_finite_differences():
    s = build("cosine", peak=3e-4, total_steps=5000, warmup_steps=500)
    seq, delta = apply_warmup(s.sequence(), "as-run")
    plan = DropPlan.build(seq, delta, np.array([600, 2500, 5000]))
    p = np.array([500.0, 2.0, 0.6, 0.6])
    _, g = plan.drop_and_grad(*p)
    for j in range(4):
        h = np.zeros(4)
        h[j] = 1e-6 * p[j]
        num = (plan.drop(*(p + h)) - plan.drop(*(p - h))) / (2 * h[j])
        assert g[:, j] == pytest.approx(num, rel=1e-5, abs=1e-9)


@pytest.mark.realdata
@pytest.mark.parametrize(("size", "law", "reported"), [("25", MPL_25M, 0.110), ("100", MPL_100M, 0.142), ("400", MPL_400M, 0.168)])
def test_published_parameters_reproduce_the_reported_test_error(size, law, reported):
    # The authors' convention (warmup from 0 in the sums) gives their own test-set figures back.
    curves = [_curve(size, n) for n in TEST]
    mre = 100 * np.mean([q.mean_rel_error for q in evaluate(law, curves)])
    assert mre == pytest.approx(reported, abs=0.001)


def _synthetic(law, names=("cosine", "constant", "wsd")):
    rng = np.random.default_rng(0)
    out = []
    for shape in names:
        s = build(shape, peak=3e-4, total_steps=20_000, warmup_steps=1000)
        steps = np.arange(1200, 20_001, 200)
        loss = law.curve(s.sequence(), steps) * (1 + 2e-4 * rng.standard_normal(steps.size))
        out.append(Curve(shape, s.sequence(), steps, loss))
    return out


def _assert_fits_and_predicts_held_out_wsd(fit, truth):
    """Every fitted curve within 0.04% mean relative error (R^2 > 0.999), and a WSD schedule outside
    the fit (a 2000-step cooldown to lr 0) predicted within 0.2% of the true law's curve."""
    for q in fit.runs:
        assert q.mean_rel_error < 4e-4 and q.r2 > 0.999
    held = Schedule("wsd", peak=3e-4, total_steps=20_000, warmup_steps=1000, min_lr=0.0, decay_steps=2000)
    steps = np.arange(2000, 20_001, 500)
    assert fit.law.curve(held.sequence(), steps) == pytest.approx(truth.curve(held.sequence(), steps), rel=2e-3)


@pytest.mark.parametrize("shape", ["cosine", "wsd", "linear", "multistep"])
def test_noise_convolution_plan_matches_the_exact_sum(shape):
    law = NoiseConvolutionLaw()
    eta = build(shape, peak=3e-4, total_steps=72_000, warmup_steps=2000, min_lr=3e-5).sequence()
    steps = np.arange(100, 72_001, 997)
    fast, exact = law.curve(eta, steps), law.curve(eta, steps, exact=True)
    assert np.max(np.abs(fast / exact - 1)) < 1e-5


def test_noise_convolution_plan_keeps_a_step_drop_to_a_tenth():
    """wsdcon_3 (3e-4 to 3e-5 at step 8000): the worst case of the blocks on the MPL data (1.6e-6)."""
    law = NoiseConvolutionLaw(q=1.5)
    eta = luo_schedule("wsdcon_3").sequence()
    steps = np.arange(8001, eta.size, 37)
    assert np.max(np.abs(law.curve(eta, steps) / law.curve(eta, steps, exact=True) - 1)) < 1e-5


def test_noise_convolution_plan_holds_where_the_lr_decays_to_zero():
    """Block moments from differences of running sums lost the weights of the last steps of a
    decay to 0 (8.7% off the loss at the end of 1M steps); from whole blocks they are exact."""
    law = NoiseConvolutionLaw()
    eta = build("linear", peak=3e-4, total_steps=200_000, warmup_steps=2000).sequence()
    steps = np.array([100_000, 190_000, 198_000, 199_900, 200_000])
    assert np.max(np.abs(law.curve(eta, steps) / law.curve(eta, steps, exact=True) - 1)) < 1e-8


def test_noise_convolution_exact_sum_is_the_formula():
    """The law's sum, term by term, at three steps of a WSD schedule (independent of the plan)."""
    law = NoiseConvolutionLaw()
    eta = build("wsd", peak=3e-4, total_steps=3000, warmup_steps=300, min_lr=3e-5, decay_fraction=0.2).sequence()
    S1 = np.cumsum(eta)
    Sq = np.cumsum(eta ** law.q) * law.eta_ref ** (1 - law.q)
    for t in (500, 2500, 3000):
        k = np.arange(1, t + 1)
        noise = np.sum(eta[k] ** 2 * (law.b1 + law.b2 * S1[k] ** -law.alpha) * (Sq[t] - Sq[k] + law.c) ** -law.gamma)
        want = law.L0 + law.A * S1[t] ** -law.alpha + noise
        assert law.curve(eta, [t], exact=True)[0] == pytest.approx(want, rel=1e-12)
        assert ConvPlan.build(np.array([t])).owner.size < 1200  # blocks, not t terms


def test_noise_convolution_fit_recovers_known_curves():
    truth = NoiseConvolutionLaw()
    fit = fit_curves(_synthetic(truth), "noise-convolution")
    assert fit.law.eta_ref == 3e-4 and fit.fixed == {"eta_ref": 3e-4}
    _assert_fits_and_predicts_held_out_wsd(fit, truth)



def test_noise_convolution_timescale_parametrisation_is_the_same_law():
    from hpadvisor.fitting.curves import _Convolution

    p = np.array([2.3, 0.45, 0.47, 43.0, 76.0, 1.57e-3, 1.12, 1.45])
    x = _Convolution.to_timescale(p)
    assert x[5] == pytest.approx(np.log(1.57e-3 / 1.12)) and x[3] == pytest.approx(43.0 * 1.57e-3 ** -1.12)
    assert _Convolution.from_timescale(x) == pytest.approx(p, rel=1e-12)


def _sweep_pair(pair: str):
    from tests.conftest import benchmark_module

    shared_data("lr_scheduling_sweep")
    cx = benchmark_module("curves_crosslab", "curves_crosslab_bench")
    (prot,) = [x for x in cx.protocols("e") if x.group == pair]
    runs = prot.load()
    return [runs[n].curve for n in prot.train]


@pytest.mark.realdata
def test_noise_convolution_fit_stopped_early_is_carried_on_to_the_same_minimum(monkeypatch):
    from hpadvisor.fitting import curves as fc

    curves = _sweep_pair("slimpajama/33m")  # the sweep's constant + cosine at 33M: converges in ~0.5 s
    full = fit_curves(curves)
    assert full.converged and full.objective == pytest.approx(8.8717e-5, rel=1e-4)
    monkeypatch.setattr(fc._Convolution, "max_nfev", 20)  # stopped far from its minimum
    cut = fit_curves(curves)
    assert cut.converged and cut.objective == pytest.approx(full.objective, rel=1e-6)
    assert cut.law.gamma == pytest.approx(full.law.gamma, rel=1e-3)



@pytest.mark.realdata
def test_a_continuation_that_fails_leaves_the_fit_weak_not_refused(monkeypatch):
    from hpadvisor.fitting import curves as fc

    curves = _sweep_pair("slimpajama/33m")
    monkeypatch.setattr(fc._Convolution, "max_nfev", 20)
    first = fc.huber_log_fit

    def no_continuation(*args, **kw):
        if kw.get("screen", "auto") is None:  # the continuation's call
            raise FitError("no start gave a finite fit")
        return first(*args, **kw)

    monkeypatch.setattr(fc, "huber_log_fit", no_continuation)
    fit = fit_curves(curves)
    assert not fit.converged and fit.objective == pytest.approx(8.921e-5, rel=1e-3)
    assert any("evaluation limit" in w for w in fit.warnings)


def test_multipower_fit_recovers_known_curves():
    truth = MPL_400M
    fit = fit_curves(_synthetic(truth), "multipower")
    assert fit.law.L0 == pytest.approx(truth.L0, rel=0.05)
    _assert_fits_and_predicts_held_out_wsd(fit, truth)


def test_a_log_with_the_loss_at_every_step_is_fitted_on_block_means():
    truth = AnnealingLaw(L0=2.4, A=0.6, alpha=0.45, C=0.5, lam=0.999)
    rng = np.random.default_rng(3)
    runs = []
    for shape in ("cosine", "constant"):
        s = build(shape, peak=3e-4, total_steps=30_000, warmup_steps=1000, min_lr_ratio=0.1)
        steps = np.arange(1, 30_001)
        runs.append(Curve(shape, s.sequence(), steps,
                          truth.curve(s.sequence(), steps) * (1 + 1e-3 * rng.standard_normal(steps.size))))
    fit = fit_curves(runs, "annealing", lam=0.999, warmup="peak", max_points=600)
    # the 999 points inside the warmup are not fitted (the loss there is ~19 down to ~4, which the
    # law does not describe: fitted with them, this fit ended at R^2 -32); then 600 means of the 29,001
    assert fit.in_warmup == {"cosine": (999, 1000), "constant": (999, 1000)}
    assert fit.thinned == {"cosine": (29_001, 600), "constant": (29_001, 600)}
    assert [q.points for q in fit.runs] == [600, 600]
    assert fit.notes == (
        "2 runs (cosine, constant): 999 loss points each before the warmup ends (step 1,000, where the lr's initial "
        "rise ends) not fitted: the laws describe the loss after the warmup",
        "run cosine: 29,001 loss points, fitted as its first and last and 598 means of 48.5 consecutive points "
        "between (`max_points`)",
        "run constant: 29,001 loss points, fitted as its first and last and 598 means of 48.5 consecutive points "
        "between (`max_points`)")
    info = fit.info()
    assert info["thinned"]["constant"] == {"points": 29_001, "fitted": 600}
    assert info["not_fitted_in_warmup"]["cosine"] == {"points": 999, "warmup_end": 1000}
    assert (fit.law.L0, fit.law.alpha, fit.law.C) == pytest.approx((2.4, 0.45, 0.5), rel=0.01)
    every = fit_curves(runs, "annealing", lam=0.999, warmup="peak", max_points=None)
    assert every.thinned == {} and every.runs[0].points == 29_001
    assert (every.law.L0, every.law.alpha, every.law.C) == pytest.approx((2.4, 0.45, 0.5), rel=0.01)
    with pytest.raises(InvalidInputError, match="`max_points` must be at least 10"):
        fit_curves(runs, "annealing", max_points=5)


def test_a_run_the_law_cannot_follow_is_said_to_be_unfitted():
    truth = AnnealingLaw(L0=2.4, A=0.6, alpha=0.45, C=0.5, lam=0.999)
    s = build("cosine", peak=3e-4, total_steps=20_000, warmup_steps=1000, min_lr_ratio=0.1)
    steps = np.arange(1000, 20_001, 100)
    good = Curve("cosine", s.sequence(), steps, truth.curve(s.sequence(), steps))
    # a run whose loss jumps back up halfway (a restart from a bad checkpoint, a data change)
    loss = truth.curve(s.sequence(), steps) + np.where(steps > 10_000, 0.8, 0.0)
    bad = Curve("restarted", s.sequence(), steps, loss)
    # R^2 below 0.5 on a run: not usable (fitting.acceptance), refused in one line naming the run
    with pytest.raises(FitError, match=r"the annealing fit is not usable: R\^2 -[0-9.]+ on run restarted, below 0.5"):
        fit_curves([good, bad], "annealing")
    # a milder break (R^2 between 0.5 and 0.9) is kept, with the warning naming the run
    mild = Curve("restarted", s.sequence(), steps, truth.curve(s.sequence(), steps) + np.where(steps > 10_000, 0.1, 0.0))
    fit = fit_curves([good, mild], "annealing")
    assert [round(r.r2, 2) for r in fit.runs] == [1.0, 0.77]
    assert any(w.startswith("the law does not fit restarted (R^2 0.769)") for w in fit.warnings), fit.warnings
    assert not any("cosine (R^2" in w for w in fit.warnings)
    assert not any("does not fit" in w for w in fit_curves([good], "annealing").warnings)


def test_thinning_fits_block_means_which_lie_on_a_straight_curve_at_their_mean_step():
    from hpadvisor.fitting.curves import thin

    c = Curve("r", np.full(1001, 1e-3), np.arange(1, 1001), np.linspace(3, 2, 1000))
    t = thin(c, 12)  # the first and last points, and 10 blocks of the 998 between (100 or 99 points)
    blocks = np.array_split(np.arange(2, 1000), 10)
    means = [float(b.mean()) for b in blocks]
    assert t.steps.tolist() == [1, *(round(m) for m in means), 1000]
    assert t.loss.tolist() == pytest.approx([3.0, *(3 - (m - 1) / 999 for m in means), 2.0], rel=1e-12)


def test_multipower_curve_in_chunks_equals_one_plan(monkeypatch):
    import hpadvisor.laws.curves as lc

    eta = build("wsd", peak=3e-4, total_steps=50_000, warmup_steps=2000, decay_fraction=0.2).sequence()
    steps = np.arange(1, 50_001, 7)
    whole = MPL_400M.curve(eta, steps)
    monkeypatch.setattr(lc, "CURVE_CHUNK", 333)
    assert MPL_400M.curve(eta, steps) == pytest.approx(whole, rel=1e-12, abs=0)
    assert MPL_400M.curve(eta, steps[:1000], exact=True) == pytest.approx(whole[:1000], rel=1e-6)


def test_annealing_fit_recovers_known_parameters():
    truth = AnnealingLaw(L0=2.4, A=0.6, alpha=0.45, C=0.5, lam=0.999)
    fit = fit_curves(_synthetic(truth), "annealing", lam=None)
    got = fit.law
    assert (got.L0, got.alpha, got.C, got.lam) == pytest.approx((2.4, 0.45, 0.5, 0.999), rel=0.05)


def test_too_few_points_and_bad_options_are_our_errors():
    s = build("cosine", peak=3e-4, total_steps=1000, warmup_steps=100)
    c = Curve("tiny", s.sequence(), [200, 400, 600, 800, 1000], [3.0, 2.9, 2.8, 2.7, 2.6])
    with pytest.raises(FitError, match="5 loss points for 7 parameters"):
        fit_curves([c], "multipower")
    with pytest.raises(InvalidInputError):
        fit_curves([c], "chinchilla")
    with pytest.raises(InvalidInputError, match="outside the schedule"):
        MPL_25M.curve(s.sequence(), [5000])
    with pytest.raises(InvalidInputError, match="must be >= 0"):
        MPL_25M.curve(-s.sequence(), [500])


# -- the headline: the authors' split on their data ---------------------------------------------------

def _curve(size, name):
    import pandas as pd

    d = pd.read_csv(shared_data("mpl_schedules", f"csv_{size}", f"{name}.csv"))
    return Curve(name, luo_schedule(name).sequence(), d.step.to_numpy(), d.loss.to_numpy())


@functools.lru_cache(maxsize=None)
def _split(size, law, method="converged"):
    fit = fit_curves([_curve(size, n) for n in TRAIN], law, method=method)
    return fit.law, evaluate(fit.law, [_curve(size, n) for n in TEST])


def _xfail(measured):
    return pytest.mark.xfail(strict=True, reason=f"measured {measured}")


MRE_CASES = [
    ("multipower", "25", ()),
    ("multipower", "100", _xfail("mean test MRE 0.165% > 0.15% (converged fit; the authors' own parameters give 0.142%)")),
    ("multipower", "400", _xfail("mean test MRE 0.216% > 0.15% (converged fit; the authors' own parameters give 0.168%)")),
    # the annealing law with its default warmup convention, chosen from the training runs (auto: as-run)
    ("annealing", "25", _xfail("mean test MRE 0.152% > 0.15% (0.150% via the logged lr)")),
    ("annealing", "100", ()),
    ("annealing", "400", _xfail("mean test MRE 0.182% > 0.15%")),
    # the noise-convolution law (hpadvisor's extension of the functional scaling law's form)
    ("noise-convolution", "25", ()),
    ("noise-convolution", "100", ()),
    ("noise-convolution", "400", ()),
]
FINAL_CASES = [
    ("multipower", "25", ()),
    ("multipower", "100", _xfail("worst final point 0.68% (cosine_72000) > 0.6%")),
    ("multipower", "400", _xfail("worst final point 0.97% (cosine_72000) > 0.6%; authors' parameters 0.87%")),
    ("annealing", "25", ()),
    ("annealing", "100", ()),
    ("annealing", "400", _xfail("worst final point 0.88% (wsd_20000_24000) > 0.6%")),
    ("noise-convolution", "25", ()),
    ("noise-convolution", "100", ()),
    ("noise-convolution", "400", ()),
]
# Luo et al.'s own procedure (--method luo): their published parameters, so their figures.
LUO_CASES = [
    ("25", (), ()),
    ("100", (), ()),
    ("400", _xfail("mean test MRE 0.167% > 0.15% (the published parameters: 0.168%)"),
     _xfail("worst final point 0.88% (wsdld_20000_24000) > 0.6% (the published parameters: 0.87%)")),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("law", "size"), [pytest.param(lw, s, marks=m) for lw, s, m in MRE_CASES])
def test_mpl_split_mean_relative_error(law, size):
    _, q = _split(size, law)
    assert np.mean([r.mean_rel_error for r in q]) <= 0.0015


@pytest.mark.realdata
@pytest.mark.parametrize(("law", "size"), [pytest.param(lw, s, marks=m) for lw, s, m in FINAL_CASES])
def test_mpl_split_final_points(law, size):
    _, q = _split(size, law)
    assert max(abs(r.final_rel_error) for r in q) <= 0.006


@pytest.mark.realdata
@pytest.mark.parametrize(("size", "published"), [("25", MPL_25M), ("100", MPL_100M), ("400", MPL_400M)])
def test_luo_procedure_reproduces_the_published_parameters(size, published):
    # Measured: every parameter within 0.04% of the authors' config.py values.
    fit = fit_curves([_curve(size, n) for n in TRAIN], "multipower", method="luo")
    for k in MultiPowerLaw.params:
        assert getattr(fit.law, k) == pytest.approx(getattr(published, k), rel=1e-3), k
    assert fit.info()["method"] == "luo" and "no improvement" in fit.info()["stopped"]


@pytest.mark.realdata
@pytest.mark.parametrize("size", [pytest.param(s, marks=m) for s, m, _ in LUO_CASES])
def test_mpl_split_mean_relative_error_luo_procedure(size):
    _, q = _split(size, "multipower", "luo")
    assert np.mean([r.mean_rel_error for r in q]) <= 0.0015


@pytest.mark.realdata
@pytest.mark.parametrize("size", [pytest.param(s, marks=m) for s, _, m in LUO_CASES])
def test_mpl_split_final_points_luo_procedure(size):
    _, q = _split(size, "multipower", "luo")
    assert max(abs(r.final_rel_error) for r in q) <= 0.006


def test_luo_method_is_for_the_multipower_law_only():
    curves = _synthetic(MPL_400M)
    with pytest.raises(InvalidInputError, match="use it with `law` multipower"):
        fit_curves(curves, "annealing", method="luo")
    with pytest.raises(InvalidInputError, match="`method` must be"):
        fit_curves(curves, "multipower", method="adam")


@pytest.mark.realdata
@pytest.mark.parametrize(("law", "method"), [
    ("multipower", "converged"), ("annealing", "converged"), ("noise-convolution", "converged"),
    pytest.param("multipower", "luo", marks=_xfail(
        "the published parameters (= --method luo) put wsdld (2.6993) below wsd (2.6998); "
        "measured 2.7222 < 2.7251")),
])
def test_mpl_400m_final_loss_order(law, method):
    fitted, _ = _split("400", law, method)
    final = {n: fitted.curve(luo_schedule(n).sequence(), [24000])[0]
             for n in ("wsd_20000_24000", "wsdld_20000_24000", "cosine_24000", "constant_24000")}
    assert final["wsd_20000_24000"] < final["wsdld_20000_24000"] < final["cosine_24000"] < final["constant_24000"]


# -- the command line ---------------------------------------------------------------------------------

@pytest.mark.realdata
def test_cli_fit_predict_compare(cli, tmp_path):
    folder = shared_data("mpl_schedules", "csv_400")
    out = tmp_path / "law.yaml"
    files = [str(folder / f"{n}.csv") for n in TRAIN]
    r = cli("fit", "curves", *files, "--law", "annealing", "--out", str(out), "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert {x["name"] for x in summary["runs"]} == set(TRAIN)
    assert all(x["mean_rel_error"] < 0.003 for x in summary["runs"])
    text = out.read_text()
    assert "sha256" in text and "cosine_24000.csv" in text and "mean_rel_error" in text
    r2 = cli("fit", "curves", *files, "--law", "annealing", "--out", str(out))
    assert r2.exit_code == 2 and "already exists" in r2.stderr
    trace = tmp_path / "planned.csv"
    trace.write_text("step,lr\n0,0\n2160,3e-4\n20000,3e-4\n24000,3e-5\n")
    p = cli("predict", str(out), "--lr-trace", str(trace), "--format", "json")
    assert p.exit_code == 0, p.stderr
    pts = json.loads(p.stdout)["points"]
    assert [x["step"] for x in pts] == [2160, 20000, 24000]
    assert 2.6 < pts[-1]["loss"] < pts[1]["loss"] < pts[0]["loss"]
    at = cli("predict", str(out), "--schedule", "wsd", "--steps", "24000", "--at", "12000,24000", "--format", "json")
    assert [x["step"] for x in json.loads(at.stdout)["points"]] == [12000, 24000]
    c = cli("compare-schedules", str(out), "--steps", "24000", "--format", "json")
    assert c.exit_code == 0, c.stderr
    ranking = json.loads(c.stdout)["ranking"]
    assert ranking[0]["gap"] == 0 and ranking[-1]["schedule"] == "constant"


@pytest.mark.realdata
def test_cli_noise_convolution_law_fits_saves_and_predicts_the_held_out_curves(cli, tmp_path):
    """The acceptance interface with the third law: fit curves (logged lr) -> law file -> predict
    --lr-trace at a held-out curve's steps."""
    folder = shared_data("mpl_schedules", "csv_400")
    out = tmp_path / "nc.yaml"
    r = cli("fit", "curves", *[str(folder / f"{n}.csv") for n in TRAIN], "--law", "noise-convolution",
            "--no-intervals", "--out", str(out), "--format", "json")
    assert r.exit_code == 0, r.stderr
    text = out.read_text()
    assert "law: noise-convolution" in text and "eta_ref: 0.0003" in text and "finite-difference Jacobian" in text
    for name in ("wsd_20000_24000", "cosine_72000"):
        p = cli("predict", str(out), "--lr-trace", str(folder / f"{name}.csv"), "--format", "json")
        assert p.exit_code == 0, p.stderr
        import pandas as pd

        logged = pd.read_csv(folder / f"{name}.csv")
        pred = np.array([x["loss"] for x in json.loads(p.stdout)["points"]])
        rel = pred / logged.loss.to_numpy() - 1
        # measured 2026-12-01 through the logged lr: 0.053% / 0.111% mean, +0.18% / +0.30% final
        assert np.mean(np.abs(rel)) < 0.0015 and abs(rel[-1]) < 0.006


@pytest.mark.realdata
def test_cli_holdout_is_the_fit_on_the_rest_scored_on_the_held_out_runs(cli, tmp_path):
    from hpadvisor.fitting.curves import curves_from_logs, evaluate, fit_curves

    folder = shared_data("mpl_schedules", "csv_400")
    out = tmp_path / "law.yaml"
    files = [str(folder / f"{n}.csv") for n in TRAIN + TEST]
    r = cli("fit", "curves", *files, "--law", "annealing", "--holdout", ",".join(TEST[:4]), "--no-intervals",
            "--holdout", TEST[4], "--holdout", TEST[5], "--out", str(out), "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert [x["name"] for x in summary["runs"]] == list(TRAIN)
    held = summary["holdout"]
    assert [x["name"] for x in held["runs"]] == list(TEST)
    # the same as fitting the three training logs alone and predicting the six others
    train, _ = curves_from_logs(files[:3])
    test, _ = curves_from_logs(files[3:])
    alone = fit_curves(train, "annealing")
    assert summary["constants"] == pytest.approx(alone.law.constants(), rel=1e-9)
    expect = evaluate(alone.law, test)
    assert [x["mean_rel_error"] for x in held["runs"]] == pytest.approx([q.mean_rel_error for q in expect], rel=1e-9)
    assert held["mean_rel_error"] == pytest.approx(np.mean([q.mean_rel_error for q in expect]), rel=1e-12)
    worst = max(expect, key=lambda q: abs(q.final_rel_error))
    assert (held["worst_final_run"], held["worst_final_rel_error"]) == (worst.name, pytest.approx(worst.final_rel_error))
    import yaml

    saved = yaml.safe_load(out.read_text())
    assert [d.get("held_out", False) for d in saved["fit"]["data"]] == [False] * 3 + [True] * 6
    assert saved["fit"]["holdout"]["mean_rel_error"] == pytest.approx(held["mean_rel_error"])
    assert saved["provenance"]["fitted_range"]["steps"][1] < 24000  # the 72k runs were not fitted
    text = cli("fit", "curves", *files[:4], "--law", "annealing", "--holdout", TEST[0], "--no-intervals",
               "--out", str(tmp_path / "t.yaml"))
    assert text.exit_code == 0 and "held out (predicted from their lr alone): mean rel error" in text.stdout
    # naming a run that is not there, or every run
    bad = cli("fit", "curves", *files[:3], "--holdout", "cosine_7200", "--out", str(tmp_path / "b.yaml"))
    assert bad.exit_code == 2 and "--holdout cosine_7200: no run of that name (runs: cosine_24000, " in bad.stderr
    every = cli("fit", "curves", files[0], "--holdout", TRAIN[0], "--out", str(tmp_path / "c.yaml"))
    assert every.exit_code == 2 and "--holdout names every run" in every.stderr


@pytest.mark.realdata
def test_bootstrap_intervals_say_what_they_do_not_cover(cli, tmp_path):
    folder = shared_data("mpl_schedules", "csv_400")
    out = tmp_path / "law.yaml"
    r = cli("fit", "curves", *[str(folder / f"{n}.csv") for n in TRAIN], "--law", "annealing", "--bootstrap", "3",
            "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert "not how far a predicted curve can be off" in r.stdout and "--holdout RUN" in r.stdout
    import yaml

    boot = yaml.safe_load(out.read_text())["fit"]["bootstrap"]
    assert boot["resamples"] == 3 and "hold none of the 36" in boot["scope"]


def test_cli_bad_inputs(cli, tmp_path):
    notlaw = tmp_path / "x.yaml"
    notlaw.write_text("a: 1\n")
    r = cli("predict", str(notlaw), "--schedule", "cosine", "--steps", "100")
    assert r.exit_code == 2 and "not an hpadvisor law file" in r.stderr
    trace = tmp_path / "t.csv"
    trace.write_text("step,lr\n0,1e-3\n10,-1e-3\n")
    law = tmp_path / "l.yaml"
    from hpadvisor.io import lawfile

    law.write_text(lawfile.dumps(MPL_400M))
    r = cli("predict", str(law), "--lr-trace", str(trace), "--format", "json")
    assert r.exit_code == 2 and "must be >= 0" in r.stderr
    log = tmp_path / "nolr.csv"
    log.write_text("step,loss\n" + "".join(f"{s},{3 - s / 1e4}\n" for s in range(100, 2000, 100)))
    r = cli("fit", "curves", str(log), "--out", str(tmp_path / "o.yaml"))
    assert r.exit_code == 2 and "no lr column" in r.stderr
    noloss = tmp_path / "noloss.csv"
    noloss.write_text("step,lr,val\n1,1e-3,2\n")
    r = cli("fit", "curves", str(noloss), "--out", str(tmp_path / "o.yaml"))
    assert r.exit_code == 2 and "no loss column" in r.stderr and "Found: step, lr, val" in r.stderr


@pytest.mark.realdata
def test_cli_method_luo_records_the_procedure(cli, tmp_path):
    folder = shared_data("mpl_schedules", "csv_25")
    files = [str(folder / f"{n}.csv") for n in TRAIN]
    out = tmp_path / "luo.yaml"
    r = cli("fit", "curves", *files, "--law", "multipower", "--method", "luo", "--no-intervals", "--out", str(out),
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    consts = json.loads(r.stdout)["constants"]
    # from the logged lr column: within 3% of the published 25M parameters (measured <= 3.0%, C)
    for k in MultiPowerLaw.params:
        assert consts[k] == pytest.approx(getattr(MPL_25M, k), rel=0.035), k
    text = out.read_text()
    assert "method: luo" in text and "AdamW" in text
    for law in ("annealing", None):  # luo is the multi-power law's procedure; the default law is another
        bad = cli("fit", "curves", *files, "--method", "luo", *(("--law", law) if law else ()), "--out", str(tmp_path / "a.yaml"))
        assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "--law multipower" in bad.stderr


def test_flat_curve_reports_r2_as_null_not_nan(cli, tmp_path):
    # A curve with no variance has no R^2: JSON null and "n/a", never NaN (which is not JSON).
    src = tmp_path / "flat.csv"
    src.write_text("step,lr,loss\n" + "".join(f"{s},1e-3,3.0\n" for s in range(100, 2001, 100)))
    other = tmp_path / "falling.csv"  # alone, a flat curve determines no constant: refused
    other.write_text("step,lr,loss\n" + "".join(f"{s},1e-3,{2.5 + 3 * (s / 100) ** -0.5:.6f}\n"
                                                 for s in range(100, 2001, 100)))
    alone = cli("fit", "curves", str(src), "--out", str(tmp_path / "e.yaml"))
    assert alone.exit_code == 2 and "not usable: no run's loss varies" in alone.stderr
    assert not (tmp_path / "e.yaml").exists()
    # The two runs share their lr, so every law predicts one curve for both: the multi-power fit
    # follows the falling run (R^2 0.905 there); the noise-convolution law (the default) and the
    # annealing law split the difference and are refused (R^2 -0.12 and -0.46 on the falling run).
    both = cli("fit", "curves", str(src), str(other), "--out", str(tmp_path / "d.yaml"))
    assert both.exit_code == 2 and "the noise-convolution fit is not usable: R^2 -0.1" in both.stderr
    mpl = ("--law", "multipower")
    r = cli("fit", "curves", str(src), str(other), *mpl, "--out", str(tmp_path / "f.yaml"), "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["runs"][0]["r2"] is None
    t = cli("fit", "curves", str(src), str(other), *mpl, "--out", str(tmp_path / "g.yaml"))
    assert t.exit_code == 0 and " n/a " in t.stdout


def test_screened_multistart_finds_the_full_multistart_minimum():
    # the screening the curve fit uses (every start 40 evaluations, the best one to convergence)
    # reaches the same minimum as running all four starts to convergence, on the 25M logs via the
    # logged lr (the slowest case: 11 s unscreened)
    from hpadvisor.fitting.core import huber_log_fit
    from hpadvisor.fitting.curves import SCREEN, _MultiPower, curves_from_logs

    folder = shared_data("mpl_schedules", "csv_25")
    curves, _ = curves_from_logs([str(folder / f"{n}.csv") for n in TRAIN])
    m = _MultiPower(curves, "as-run")
    loss = np.concatenate([c.loss for c in curves])
    starts, bounds = m.starts(loss, 3e-4), m.bounds(loss)
    full = huber_log_fit(m.predict, loss, starts, bounds=bounds, jac=m.jac)
    screened = huber_log_fit(m.predict, loss, starts, bounds=bounds, jac=m.jac, screen=SCREEN)
    assert screened.n_starts == full.n_starts == 4
    assert screened.objective == pytest.approx(full.objective, rel=1e-6)
    assert screened.params == pytest.approx(full.params, rel=1e-3)



def test_annealing_warmup_is_chosen_from_the_training_runs_alone():
    # auto: each convention fitted on every run's steps <= 2/3 of its own last step, scored on each
    # run's steps after; on the MPL training runs as-run wins at every size: later-step error
    # 0.139/0.097/0.152% against 0.235/0.167/0.204% for the published peak convention
    from hpadvisor.fitting.curves import select_warmup

    for size in SIZES:
        chosen, info = select_warmup([_curve(size, n) for n in TRAIN], "annealing")
        v = info["validation_mre"]
        assert chosen == "as-run" and set(v) == {"peak", "as-run"}
        assert info["split_steps"]["cosine_24000"] == 15946 and info["split_steps"]["constant_24000"] == 15957
        assert 1.3 * v["as-run"] < v["peak"]
    fit = fit_curves([_curve("100", n) for n in TRAIN], "annealing")
    assert type(fit.law).warmup == "as-run" and fit.info()["warmup_selection"]["chosen"] == "as-run"
    # an explicit convention is kept as given, with no selection
    assert fit_curves([_curve("100", n) for n in TRAIN], "annealing", warmup="peak").selection == {}


def test_auto_warmup_falls_back_to_the_published_convention_with_too_few_points():
    from hpadvisor.fitting.curves import select_warmup

    eta = build("cosine", peak=3e-4, total_steps=1200, warmup_steps=100).sequence()
    steps = np.arange(100, 1201, 100)  # 12 points: 8 before the split at step 800, 4 after
    loss = MPL_400M.curve(eta, steps)
    chosen, info = select_warmup([Curve("short", eta, steps, loss)], "annealing")
    assert chosen == "peak" and info == {"chosen": "peak", "reason": "too few points on one side of the time "
                                         "split: the published convention"}


def test_a_sparsely_logged_lr_jump_is_said():
    """Between two logged steps the lr is a ramp: a guess at a step drop or a rewarm (MPL wsdcon_9: 3e-4
    at 7936, 9e-5 at 8000); a cosine's small steps are not called jumps."""
    from hpadvisor.fitting.curves import curves_from_logs

    _, notes = curves_from_logs([str(shared_data("mpl_schedules", "csv_100", n + ".csv"))
                                 for n in ("wsdcon_9", "cosine_24000")])
    jumps = [n for n in notes if "the logged lr jumps" in n]
    assert len(jumps) == 1 and "from 0.0003 at step 7936 to 9e-05 at step 8000" in jumps[0]


def test_a_summed_loss_is_said_and_the_law_file_records_the_steps_fitted(tmp_path):
    from hpadvisor.fitting.curves import curves_from_logs

    log = tmp_path / "s.csv"
    log.write_text("step,lr,loss\n" + "".join(f"{s},1e-3,{20000 - s}\n" for s in range(0, 500, 10)))
    curves, notes = curves_from_logs([str(log)])
    assert any("the loss never falls below 1.951e+04" in n for n in notes)
    assert curves[0].source["steps"] == [10, 490] and curves[0].source["points"] == 49  # step 0 is not fitted
    assert curves[0].source["excluded_steps"] == []
