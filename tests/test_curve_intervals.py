"""Prediction intervals of the curve laws: the schedule shapes they read, the drop novelty, the
formula, the law-file section, the tie in compare-schedules and the next-run advice (fast, on the
published laws and exact MPL schedules; the real-data coverage is in test_curve_intervals_realdata)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hpadvisor.errors import DataError
from hpadvisor.fitting import curve_advice
from hpadvisor.fitting import curve_intervals as ci
from hpadvisor.io import lawfile
from hpadvisor.laws.curves import MPL_100M, MPL_400M
from hpadvisor.schedules import build, luo_schedule


def _seq(name: str) -> np.ndarray:
    return luo_schedule(name).sequence()


def test_shapes_read_peak_floor_and_how_steeply_the_lr_fell():
    const, cos, wsdcon = _seq("constant_24000"), _seq("cosine_24000"), _seq("wsdcon_3")
    (c,) = ci.shapes(const, [24000])
    assert (c.peak, c.floor_ratio, c.drop_time, c.decays) == (3e-4, 1.0, math.inf, False)
    (s,) = ci.shapes(wsdcon, [16000])
    assert s.floor_ratio == pytest.approx(0.1) and s.drop_time == 1.0  # a step drop: all in one step
    mid, end = ci.shapes(cos, [13080, 24000])
    # a cosine's steepest step is pi/2 x its mean step: its whole drop takes 2/pi x 21840 steps of it
    assert end.floor_ratio == pytest.approx(0.1) and end.drop_time == pytest.approx(2 / np.pi * 21840, rel=1e-3)
    assert 0.5 < mid.floor_ratio < 0.6 and mid.drop_time < end.drop_time
    lin = build("wsd", peak=1e-3, total_steps=10000, warmup_steps=100, decay_fraction=0.2, min_lr_ratio=0.0).sequence()
    (w,) = ci.shapes(lin, [10000])
    assert w.floor_ratio == 0.0 and w.drop_time == pytest.approx(2000, rel=1e-3)  # linear over 2000 steps
    (inside,) = ci.shapes(cos, [100])  # inside the warmup: no decay yet
    assert inside.floor_ratio == 1.0 and not inside.decays


def test_drop_novelty_counts_the_unseen_part_of_the_drop():
    const, cos = ci.shapes(_seq("constant_24000"), [24000], "c")[0], ci.shapes(_seq("cosine_24000"), [24000], "k")[0]
    wsd = ci.shapes(_seq("wsd_20000_24000"), [24000])[0]
    # geometric cooldown over 4000 steps: its steepest step is ln(10)/4000 of the peak, so its drop
    # takes 0.9 x 4000 / ln 10 = 1563 of them; the cosine's 13,904: log10(8.9) = 0.95 of a decade
    assert wsd.drop_time == pytest.approx(0.9 * 4000 / np.log(10), rel=2e-3)
    n, why = ci.drop_novelty(wsd, [const, cos])
    assert why == "speed" and n == pytest.approx((1 - wsd.floor_ratio) * np.log10(cos.drop_time / wsd.drop_time), rel=1e-9)
    assert ci.drop_novelty(wsd, [const]) == (pytest.approx(1 - wsd.floor_ratio), "peak")  # no fitted decay at all
    assert ci.drop_novelty(cos, [const, cos]) == (0.0, "")  # seen
    d2z = ci.shapes(build("cosine", peak=3e-4, total_steps=24000, warmup_steps=2160, min_lr_ratio=0.0).sequence(),
                    [24000])[0]
    n, why = ci.drop_novelty(d2z, [const, cos])  # as steep as the cosine, but deeper: 0.1 of its drop unseen
    assert why == "depth" and n == pytest.approx(0.1, rel=1e-3)
    other_peak = ci.Shape(24000, 6e-4, 0.1, 10.0)
    assert ci.drop_novelty(other_peak, [const, cos])[1] == "peak"


def test_the_interval_is_the_stated_formula_around_the_law():
    cal = ci.Calibration(c_model=1.5, k_len=0.01, k_drop=0.004, s_floor=0.002, s_model_typical=0.005, source="test")
    runs = [("constant_24000", _seq("constant_24000"), 24000), ("cosine_24000", _seq("cosine_24000"), 24000)]
    basis = ci.basis_for(runs, [MPL_100M], cal)
    eta = _seq("cosine_72000")
    low, high, parts = ci.intervals(MPL_400M, basis, eta, [72000])
    loss = MPL_400M.curve(eta, [72000])[0]
    other = MPL_100M.curve(eta, [72000])[0]
    s = np.std([loss, other]) / np.mean([loss, other])
    half = ci.Z90 * math.sqrt((1.5 * s) ** 2 + (0.01 * math.log(3)) ** 2 + 0.002 ** 2)  # the drop is seen
    assert parts[0].drop == 0 and (high[0] - loss) / loss == pytest.approx(half, rel=1e-9)
    assert (loss - low[0]) / loss == pytest.approx(half, rel=1e-9)
    # no other laws' fits: the typical spread stands in for c_model * s_model
    lone = ci.basis_for(runs, [], cal)
    _, hi2, p2 = ci.intervals(MPL_400M, lone, eta, [72000])
    assert p2[0].model == 0.005


def test_a_law_file_carries_its_interval_and_an_old_one_still_predicts(tmp_path):
    runs = [("constant_24000", _seq("constant_24000"), 24000), ("cosine_24000", _seq("cosine_24000"), 24000)]
    basis = ci.basis_for(runs, [MPL_100M])
    path = tmp_path / "law.yaml"
    path.write_text(lawfile.dumps(MPL_400M, fit={"interval": basis.to_dict()}))
    law, fit = lawfile.find_document(str(path))
    loaded = ci.basis_of(law, fit, str(path))
    assert loaded.runs == basis.runs and loaded.calibration == ci.DEFAULT_CALIBRATION and loaded.notes == ()
    assert [c.constants() for c in loaded.companions] == [MPL_100M.constants()]
    eta = _seq("wsd_20000_24000")
    assert ci.intervals(law, loaded, eta, [24000])[1] == pytest.approx(ci.intervals(MPL_400M, basis, eta, [24000])[1])
    # without its calibration: the default, said
    section = basis.to_dict()
    del section["calibration"]
    path.write_text(lawfile.dumps(MPL_400M, fit={"interval": section}))
    law, fit = lawfile.find_document(str(path))
    assert ci.basis_of(law, fit, str(path)).notes[0].startswith("the law file records no interval calibration")
    # a law file written before intervals
    path.write_text(lawfile.dumps(MPL_400M, fit={}))
    law, fit = lawfile.find_document(str(path))
    old = ci.basis_of(law, fit, str(path))
    assert not old.calibrated and old.notes[0].startswith("the law file records no interval basis")
    points, notes = curve_advice.predict(law, eta, [24000], basis=old)
    assert points[0]["low"] < points[0]["loss"] < points[0]["high"] and old.notes[0] in notes


@pytest.mark.parametrize(("section", "message"), [
    ("runs: 3", "fit.interval.runs must be a list"),
    ("runs: [{name: a, step: 0, peak_lr: 1.0e-3, floor_ratio: 0.1, drop_time: 5}]", "impossible step"),
    ("runs: [{name: a, step: 10}]", "needs step, peak_lr, floor_ratio and drop_time"),
    ("calibration: {c_model: -1, k_len: 0, k_drop: 0, s_floor: 0, s_model_typical: 0}\n  runs: "
     "[{name: a, step: 10, peak_lr: 1.0e-3, floor_ratio: 0.1, drop_time: 5}]", "'c_model' must be a number >= 0"),
    ("other_laws: [{law: multipower, constants: {L0: 1}}]", "missing"),
])
def test_a_bad_interval_section_is_one_clear_error(tmp_path, cli, section, message):
    path = tmp_path / "law.yaml"
    text = lawfile.dumps(MPL_400M).rstrip() + f"\nfit:\n  interval:\n  {section}\n"
    path.write_text(text.replace("  interval:\n  ", "  interval:\n    ").replace("\n  runs:", "\n    runs:"))
    with pytest.raises(DataError, match=message):
        law, fit = lawfile.find_document(str(path))
        ci.basis_of(law, fit, str(path))
    r = cli("predict", str(path), "--schedule", "cosine", "--steps", "24000")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and message.split("'")[0] in r.stderr


def test_predict_json_gives_low_and_high(cli, tmp_path):
    path = tmp_path / "law.yaml"
    runs = [("constant_24000", _seq("constant_24000"), 24000), ("cosine_24000", _seq("cosine_24000"), 24000)]
    path.write_text(lawfile.dumps(MPL_400M, fit={"interval": ci.basis_for(runs, [MPL_100M]).to_dict()}))
    r = cli("predict", str(path), "--schedule", "cosine", "--steps", "72000", "--at", "24000,72000", "-f", "json")
    assert r.exit_code == 0, r.stderr
    points = json.loads(r.stdout)["points"]
    assert [sorted(p) for p in points] == [["high", "loss", "low", "step"]] * 2
    assert all(p["low"] < p["loss"] < p["high"] for p in points)
    # 3x the longest fitted run: said in one line naming the run that would pin it, and wider
    halves = [(p["high"] - p["low"]) / 2 / p["loss"] for p in points]
    assert halves[1] > halves[0]
    assert ("note: step 72,000 is 3x the longest fitted run (24,000 steps): these runs do not pin the loss that far; "
            "constant_24000 continued to step 36,000 (half the target) would, and the interval is widened for it."
            in r.stderr)
    table = cli("predict", str(path), "--schedule", "wsd", "--steps", "24000", "--at", "24000")
    assert table.exit_code == 0 and "90% interval" in table.stdout
    assert "no fitted run lowers its lr as steeply" in table.stdout  # a linear cooldown over 20%, vs a cosine


def test_compare_marks_a_tie_only_when_the_top_two_are_within_their_intervals():
    runs = [("constant_24000", _seq("constant_24000"), 24000), ("cosine_24000", _seq("cosine_24000"), 24000),
            ("wsdcon_9", _seq("wsdcon_9"), 16000)]
    tight = ci.Calibration(0.0, 0.0, 0.0, 1e-5, 0.0, "test: a tiny interval")
    cands = {"constant": curve_advice.Given(_seq("constant_24000")), "cosine": curve_advice.Given(_seq("cosine_24000"))}
    from hpadvisor.laws.curves import rank_schedules

    ranked = rank_schedules(MPL_400M, cands)
    tie, notes = curve_advice.ranking_intervals(MPL_400M, ci.basis_for(runs, [], tight), cands, ranked, 24000)
    assert not tie and notes == []  # 2.2% apart, +-0.0016% intervals
    wide = ci.Calibration(0.0, 0.0, 0.0, 0.02, 0.0, "test: +-3.3%")
    tie, notes = curve_advice.ranking_intervals(MPL_400M, ci.basis_for(runs, [], wide), cands, rank_schedules(MPL_400M, cands), 24000)
    assert tie and notes == ["a tie: cosine and constant differ by 0.0598 nats (2.17%), within their 90% intervals "
                             "(+-3.29%, +-3.29%): the law does not separate them."]


def test_plan_names_the_loose_drop_constants_and_the_branch_that_pins_them():
    runs = [("constant_24000", _seq("constant_24000"), 24000), ("cosine_24000", _seq("cosine_24000"), 24000)]
    basis = ci.basis_for(runs, [MPL_100M])
    p = curve_advice.plan_runs(MPL_400M, basis)
    assert p["loose"] == ["B", "C", "beta", "gamma"] and p["constant_run"] == "constant_24000"
    kinds = {u["target"]: u["kinds"] for u in p["unanswered"]}
    assert kinds == {"wsd linear 10% to 0": ["speed"], "wsd linear 20% to 0": ["speed"],
                     "wsd 1-sqrt 20% to 0": ["speed"], "multistep (DeepSeek)": ["speed"]}
    best = p["best"]
    assert (best["branch_step"], best["cooldown_steps"], best["steps"], best["floor_ratio"]) == (12000, 0, 2400, 0.1)
    assert best["half_after"] < best["half_before"]
    lines = ci.describe_plan(p)
    assert lines[-1].startswith("next run: from constant_24000's checkpoint at step 12,000, a step drop to 0.1x the "
                                "peak, held for 2,400 steps (2,400 steps in all)")
    # with such a run among the fitted runs (MPL's wsdcon_3: a step drop to 0.1x, held 8000 steps),
    # nothing the schedules ask is loose any more
    more = ci.basis_for([*runs, ("wsdcon_3", _seq("wsdcon_3"), 16000)], [MPL_100M])
    p2 = curve_advice.plan_runs(MPL_400M, more)
    assert p2["loose"] == [] and p2["unanswered"] == []


def test_the_spread_at_many_steps_is_interpolated_from_a_few_and_exact_at_the_last():
    eta = _seq("cosine_72000")
    q = np.linspace(3000, 72000, 200).round().astype(int)
    loss = MPL_400M.curve(eta, q)
    fast = ci.spread(MPL_400M, [MPL_100M], eta, q, loss)
    exact = np.array([ci.spread(MPL_400M, [MPL_100M], eta, q[i:i + 1], loss[i:i + 1])[0] for i in range(q.size)])
    assert fast[-1] == exact[-1] and fast[0] == exact[0]
    assert np.max(np.abs(fast - exact)) < 0.01 * exact.max()


def test_fitted_runs_at_different_peak_lrs_carry_the_coverage_measured_there(cli, tmp_path):
    """lr_scheduling_sweep's 124M constant run (5e-4) + a cosine at 1e-3 (protocol (e)): the stated
    90% intervals held 43-62% of the held-out finals there; fit curves and predict say so. Runs at
    one peak lr (MPL) do not get the note."""
    from tests.conftest import DATA

    assert ci.mixed_peaks_note([ci.Shape(100, 3e-4, 0.1, 10.0, "a"), ci.Shape(100, 3e-4, 1.0, math.inf, "b")]) == ""
    assert ci.mixed_peaks_note([ci.Shape(100, 3e-4, 0.1, 10.0, "a"), ci.Shape(100, 4.4e-4, 1.0, math.inf, "b")]) == ""
    note = ci.mixed_peaks_note([ci.Shape(100, 5e-4, 1.0, math.inf, "c"), ci.Shape(100, 1e-3, 0.1, 10.0, "d")])
    assert "peak lrs 0.0005 to 0.001 (x2)" in note and "noise-convolution 62%" in note and "one peak lr 88%" in note
    sweep = DATA / "lr_scheduling_sweep" / "hpadvisor" / "slimpajama_124m"
    law = tmp_path / "sw.yaml"
    r = cli("fit", "curves", str(sweep / "const_lr0.0005_T30000.csv"), str(sweep / "cos-f0.1_lr0.001_T15000.csv"),
            "--out", str(law))
    assert r.exit_code == 0, r.stderr
    assert "the fitted runs ran at peak lrs 0.0005 to 0.001 (x2)" in r.stdout
    p = cli("predict", str(law), "--lr-trace", str(sweep / "wsd-c0.2-linear_lr0.0005_T25000.csv"), "-f", "json")
    assert p.exit_code == 0 and "peak lrs 0.0005 to 0.001" in p.stderr
    one_peak = ci.basis_for([(n, luo_schedule(n).sequence(), 24000) for n in ("constant_24000", "cosine_24000")], ())
    assert not any("peak lrs" in n for n in one_peak.notes)
