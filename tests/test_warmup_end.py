"""Where a run's warmup ends (``laws.curves.warmup_end``), and the fitter's use of it (issue 18).

The warmup is the lr's initial rise.  A later rise (an lr bumped by 1% in the middle of a constant
run, a WSD-S rewarm, the next peak of a cyclic schedule) is not warmup even when it goes higher:
when it was read as the end of the warmup, the fitter dropped every loss point before it.

The synthetic runs: 10,000 steps, a linear warmup over 500 steps to 3e-4; ``bump`` then holds the
lr and raises it by 1% at step 5,400, ``cosine`` decays to 3e-5.  The loss is a known LR-annealing
law (warmup as run: its curve does not depend on where the warmup ends), logged every 50 steps.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpadvisor.errors import InvalidInputError
from hpadvisor.fitting.curves import Curve, curves_from_logs, fit_curves
from hpadvisor.io import yamlio
from hpadvisor.laws.curves import AnnealingAsRunWarmup, apply_warmup, lowest_lr, warmup_end
from hpadvisor.schedules import build, luo_schedule
from tests.conftest import benchmark_module, shared_data

T, W, PEAK, BUMP_AT = 10_000, 500, 3e-4, 5_400
TRUE = AnnealingAsRunWarmup(L0=2.4, A=0.6, alpha=0.45, C=0.5, lam=0.999)
STEPS = np.arange(50, T + 1, 50)  # 200 logged points, 9 of them (50..450) inside the warmup
IN_WARMUP = int(np.sum(STEPS < W))

def _lr(shape: str) -> np.ndarray:
    s = np.arange(T + 1, dtype=float)
    lr = np.where(s < W, PEAK * s / W, PEAK)
    if shape == "bump":
        lr[BUMP_AT:] *= 1.01
    else:  # cosine from the end of the warmup to 10% of the peak
        x = (s[W:] - W) / (T - W)
        lr[W:] = 0.1 * PEAK + 0.9 * PEAK * 0.5 * (1 + np.cos(np.pi * x))
    return lr


def _runs() -> list[Curve]:
    return [Curve(k, _lr(k), STEPS, TRUE.curve(_lr(k), STEPS)) for k in ("bump", "cosine")]


def test_a_small_lr_rise_mid_run_is_not_the_end_of_the_warmup():
    fit = fit_curves(_runs(), "annealing", warmup="as-run", lam=0.999)
    # every point after the real warmup is fitted: 200 logged - 9 inside the warmup = 191 a run
    # (with the bump read as the warmup's end, the bump run kept only its 93 points from step 5,400)
    assert {q.name: q.points for q in fit.runs} == {"bump": 191, "cosine": 191}
    assert fit.in_warmup == {"bump": (IN_WARMUP, W), "cosine": (IN_WARMUP, W)}
    assert fit.info()["not_fitted_in_warmup"]["bump"] == {"points": 9, "warmup_end": 500}
    assert fit.notes == ("2 runs (bump, cosine): 9 loss points each before the warmup ends (step 500, where the "
                         "lr's initial rise ends) not fitted: the laws describe the loss after the warmup",)
    assert fit.law.provenance.range_dict()["warmup_steps"] == (500.0, 500.0)
    assert (fit.law.L0, fit.law.A, fit.law.alpha, fit.law.C) == pytest.approx((2.4, 0.6, 0.45, 0.5), rel=1e-3)


def _write_logs(folder) -> list[str]:
    """The runs as CSV logs (step, lr, loss) every 50 steps from step 0 (lr 0 there, no loss)."""
    out = []
    for c in _runs():
        rows = [f"0,{c.lr[0]:.10g},"] + [f"{s},{c.lr[s]:.10g},{v:.8f}" for s, v in zip(c.steps, c.loss, strict=True)]
        path = folder / f"{c.name}.csv"
        path.write_text("step,lr,loss\n" + "\n".join(rows) + "\n")
        out.append(str(path))
    return out


def test_logs_with_a_mid_run_lr_rise_keep_their_points_after_the_warmup(tmp_path):
    curves, _ = curves_from_logs(_write_logs(tmp_path))
    fit = fit_curves(curves, "annealing", warmup="as-run", lam=0.999)
    assert {q.name: q.points for q in fit.runs} == {"bump": 191, "cosine": 191}
    assert fit.in_warmup == {"bump": (IN_WARMUP, W), "cosine": (IN_WARMUP, W)}


def test_fit_curves_cli_fits_every_point_after_the_warmup_and_says_which_it_did_not(cli, tmp_path):
    logs = _write_logs(tmp_path)
    out = tmp_path / "law.yaml"
    r = cli("fit", "curves", *logs, "--law", "annealing", "--warmup-mode", "as-run", "--out", str(out),
            "--no-intervals", "--format", "json")
    assert r.exit_code == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)
    assert {x["name"]: x["points"] for x in summary["runs"]} == {"bump": 191, "cosine": 191}
    said = [n for n in summary["notes"] if "warmup ends" in n]
    assert said == ["2 runs (bump, cosine): 9 loss points each before the warmup ends (step 500, where the lr's "
                    "initial rise ends) not fitted: the laws describe the loss after the warmup."]
    law, _ = yamlio.loads(out.read_text())
    assert law["fit"]["not_fitted_in_warmup"]["bump"] == {"points": 9, "warmup_end": 500}


# -- the definition --------------------------------------------------------------------------------

def _linear(warmup: int, peak: float, total: int) -> np.ndarray:
    s = np.arange(total + 1, dtype=float)
    return np.where(s < warmup, peak * s / max(warmup, 1), peak)


def _bumped(at: int, warmup: int = 500) -> np.ndarray:
    lr = _linear(warmup, 3e-4, 10_000)
    lr[at:] *= 1.01
    return lr


def _wsd_s_rewarm_higher() -> np.ndarray:
    """Warmup 500 steps to 1e-3, hold, a cooldown to 1e-4 (8,000-9,000), a rewarm to 1.05e-3."""
    lr = _linear(500, 1e-3, 20_000)
    lr[8000:9000] = np.linspace(1e-3, 1e-4, 1000)
    lr[9000:9500] = np.linspace(1e-4, 1.05e-3, 500)
    lr[9500:] = 1.05e-3
    return lr


def _cyclic() -> np.ndarray:
    """Triangular cycles of 2,000 steps from 0: peak 1e-3 at step 1,000, then 1.2e-3 at 3,000 and 5,000."""
    s = np.arange(6001.0)
    return 1e-3 * (1 - np.abs((s / 1000) % 2 - 1)) * np.where(s < 2000, 1.0, 1.2)


def _jittered() -> np.ndarray:
    """Warmup 2,160 steps to 3e-4, then a plateau with float32-size jitter (+-1.2e-7 relative)
    whose first step is the lowest: the highest lr comes thousands of steps later."""
    lr = _linear(2160, 3e-4, 24_000)
    lr[2160:] *= 1 + np.random.default_rng(0).uniform(-1.2e-7, 1.2e-7, lr.size - 2160)
    lr[2160] = 3e-4 * (1 - 1.2e-7)
    return lr


@pytest.mark.parametrize(("lr", "end", "old"), [
    (_bumped(5400), 500, 5400),                 # the case
    (_bumped(640), 500, 640),                   # 140 steps after the warmup: already over
    (_bumped(5400, warmup=0), 0, 5400),         # no warmup
    (_wsd_s_rewarm_higher(), 500, 9499),
    (_cyclic(), 1000, 3000),
    (_jittered(), 2160, int(np.argmax(_jittered()))),
], ids=["bump", "early-bump", "no-warmup-bump", "wsd-s-rewarm", "cyclic", "jitter"])
def test_the_warmup_ends_where_the_initial_rise_ends_not_at_a_later_higher_lr(lr, end, old):
    assert warmup_end(lr) == end
    assert int(np.argmax(lr >= lr.max() * (1 - 1e-12))) == old  # the old rule: the first step at the maximum


@pytest.mark.parametrize("fmt", ["%.1e", "%.2e", "%.3g", "%.6f"])
def test_a_per_step_lr_printed_with_few_digits_rises_in_stairs_that_are_still_warmup(fmt):
    """Warmup 2,000 steps to 3e-4 printed at every step: the lr pauses for up to 67 steps (2
    significant figures at 1.0e-4 -> 1.1e-4; 6 decimals everywhere); the warmup ends where the
    printed lr first reaches the printed peak (step 1,967 with '%.1e', 1,997 with the others)."""
    lr = np.array([float(fmt % x) for x in _linear(2000, 3e-4, 8000)])
    assert warmup_end(lr) == int(np.argmax(lr >= lr.max())) == (1967 if fmt == "%.1e" else 1997)


def test_a_long_warmup_of_a_long_run_is_found_past_the_first_steps_looked_at():
    """warmup_end looks at a growing head of the run (4,096 steps, then 8x): a warmup of 50,000
    steps in a run of a million, bumped at 200,000, and a run that rises to its end."""
    lr = _linear(50_000, 1e-3, 1_000_000)
    lr[200_000:] *= 1.02
    assert warmup_end(lr) == 50_000
    assert warmup_end(np.linspace(0.0, 1e-3, 300_001)) == 300_000


def test_a_run_that_ends_inside_its_warmup_or_never_rises():
    assert warmup_end(np.linspace(0.0, 1e-3, 100)) == 99
    assert warmup_end(np.zeros(10)) == 0
    assert warmup_end(np.array([3e-4])) == 0
    assert warmup_end(np.full(50, 3e-4)) == 0
    with pytest.raises(InvalidInputError, match="empty"):
        warmup_end(np.array([]))


CONVENTION_WARMUP_END = {"megatron": 0, "neox": 0, "hf": 0, "nanogpt": 0, "torchtitan": -1}  # + W


@pytest.mark.parametrize("convention", sorted(CONVENTION_WARMUP_END))
def test_every_schedule_shape_ends_its_warmup_where_its_trainer_reaches_the_peak(convention):
    """The schedules hpadvisor computes, each shape and trainer convention, warmups 0..2,160 steps
    from 0 or from 1% of the peak: the warmup ends where the trainer's ramp reaches the peak
    (torchtitan's ramp one step earlier), or at 0 without a warmup."""
    n = 0
    for shape in ("constant", "cosine", "linear", "wsd", "multistep", "inverse_sqrt", "d2z"):
        for w in (0, 1, 10, 500, 2160):
            for init in (0.0, 0.01):
                lr = build(shape, peak=3e-4, total_steps=24_000, warmup_steps=w, convention=convention,
                           warmup_init=init).sequence()
                want = max(w + CONVENTION_WARMUP_END[convention], 0) if w else 0
                assert warmup_end(lr) == want, (shape, w, init)
                n += 1
    for cooldowns in (1, 2, 5, 10):  # WSD-S: each rewarm back to the same peak
        for shape in ("linear", "1-sqrt", "cosine"):
            lr = build("wsd", peak=1e-3, total_steps=20_000, warmup_steps=500, cooldowns=cooldowns,
                       decay_shape=shape, convention=convention).sequence()
            assert warmup_end(lr) == 500 + CONVENTION_WARMUP_END[convention], (cooldowns, shape)
            n += 1
    assert n == 82


@pytest.mark.realdata
@pytest.mark.parametrize("size", ["25", "100", "400"])
def test_the_multi_power_law_runs_end_their_warmup_at_step_2160(size):
    """Every MPL run as fit curves reads it: with --warmup 2160 at step 2,160; without it, at the
    first logged step (the linear warmup assumed before it: 2,176, most cosines 2,160)."""
    files = sorted(str(p) for p in shared_data("mpl_schedules", f"csv_{size}").glob("*.csv"))
    given, _ = curves_from_logs(files, warmup=2160)
    plain, _ = curves_from_logs(files)
    assert [warmup_end(c.lr) for c in given] == [2160] * 9
    assert [warmup_end(c.lr) for c in plain] == [int(c.steps[0]) for c in plain]
    assert {int(c.steps[0]) for c in plain} == {2160, 2176}
    for name in ("constant_24000", "cosine_72000", "wsd_20000_24000", "wsdcon_9"):
        assert warmup_end(luo_schedule(name).sequence()) == 2160


@pytest.mark.realdata
def test_the_lr_scheduling_sweep_runs_end_their_warmup_at_step_300():
    """The third lab's runs as shipped for fit curves (warmup 300 steps, lr logged every 50 steps)."""
    files = sorted(str(p) for p in shared_data("lr_scheduling_sweep", "hpadvisor").glob("*/*.csv"))
    ends = [warmup_end(c.lr) for f in files for c in curves_from_logs([f])[0]]
    assert len(ends) == 193 and set(ends) == {300}


def _bench():
    """benchmarks/curves_crosslab.py, whose loaders read every run of the three labs' data."""
    return benchmark_module("curves_crosslab", "curves_crosslab_bench")


@pytest.mark.realdata
@pytest.mark.slow
def test_every_run_of_the_sweep_and_pku_ends_its_warmup_where_its_schedule_does():
    """All 235 lr_scheduling_sweep runs, under each lr the benchmark reads (the exact schedule,
    shifted by one step as the val points are, or not; the logged lr column), and the 3 PKU runs
    (no warmup: lr 1e-3 from step 0).  OneCycleLR's cosine warmup reaches the peak at step W - 1,
    the linear warmups at W; logged every 50 steps, both at W (300)."""
    shared_data("lr_scheduling_sweep")
    cx = _bench()
    runs, _, _ = cx._sweep_tables()
    checked = 0
    for rid, r in runs.iterrows():
        w = int(r.warmup_steps) - (r.schedule == "cosine")
        for lr, want in (("exact", w + 1), ("exact-unshifted", w), ("logged", int(r.warmup_steps))):
            if lr != "logged" and r.schedule == "wsd_twostage":  # no exact schedule in the benchmark
                continue
            assert warmup_end(cx.sweep_run(rid, lr).curve.lr) == want, (rid, lr)
            checked += 1
    assert checked == 3 * 235 - 2 * 4 and set(runs.warmup_steps) == {300}
    shared_data("pku_100m_schedules")
    assert [warmup_end(r.curve.lr) for r in cx.load_pku().values()] == [0, 0, 0]


def test_the_peak_warmup_mode_holds_the_warmup_at_its_own_peak():
    """``peak`` counts the warmup's steps at the lr the warmup ends at, not at the later, higher lr."""
    lr = _bumped(5400)
    seq, delta = apply_warmup(lr, "peak")
    assert np.all(seq[:500] == 3e-4) and np.array_equal(seq[500:], lr[500:])
    assert delta[1:500].tolist() == [0.0] * 499 and delta[5400] == pytest.approx(-3e-6)
    seq, delta = apply_warmup(lr, "skip")
    assert np.array_equal(seq, lr) and not delta[:501].any() and delta[5400] == pytest.approx(-3e-6)
    assert lowest_lr(lr) == 3e-4 and lowest_lr(_cyclic()) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, allow_nan=False, allow_infinity=False), min_size=1,
                max_size=400), st.integers(min_value=0, max_value=3))
def test_warmup_end_takes_any_non_negative_finite_lr_and_returns_a_step_of_it(values, repeat):
    lr = np.repeat(np.asarray(values, dtype=float), repeat + 1)  # repeats: holds of every length
    w = warmup_end(lr)
    assert isinstance(w, int) and 0 <= w < lr.size
    assert lr[w] >= lr[: w + 1].max() * (1 - 1e-6)  # the highest lr of the warmup, to within 1e-6


def test_the_warmup_note_names_each_run_or_each_group_of_runs_that_lost_the_same_points():
    fit = fit_curves(_runs(), "annealing", warmup="as-run", lam=0.999)
    other = dataclasses.replace(fit, in_warmup={"a": (1, 20), "b": (9, 500), "c": (9, 500)})
    assert other.notes == (
        "run a: 1 loss point before the warmup ends (step 20, where the lr's initial rise ends) not fitted: the laws "
        "describe the loss after the warmup",
        "2 runs (b, c): 9 loss points each before the warmup ends (step 500, where the lr's initial rise ends) not "
        "fitted: the laws describe the loss after the warmup")
    assert dataclasses.replace(fit, in_warmup={}).notes == ()
