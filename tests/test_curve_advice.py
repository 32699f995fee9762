"""Schedule advice from a curve law: candidates as labelled, the ranking, and the extrapolation notes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hpadvisor.errors import InvalidInputError
from hpadvisor.fitting import curve_advice
from hpadvisor.laws.curves import MPL_400M
from hpadvisor.laws.loss import CHINCHILLA
from hpadvisor.schedules import luo_schedule


def test_candidates_decay_to_the_floor_their_label_says():
    c = curve_advice.candidates(10_000, 3e-4, 500, min_lr_ratio=0.1, cooldown_min_lr_ratio=0.05)
    floors = {k: curve_advice.lowest_lr(s.sequence()) / 3e-4 for k, s in c.items()}
    assert floors["cosine to 0.1x"] == pytest.approx(0.1)
    assert floors["cosine to 0"] == pytest.approx(0.0, abs=1e-12)
    assert floors["linear to 0 (D2Z)"] == pytest.approx(0.0, abs=1e-12)
    for label in ("wsd linear 10% to 0.05x", "wsd linear 20% to 0.05x", "wsd 1-sqrt 20% to 0.05x"):
        assert floors[label] == pytest.approx(0.05)
    assert floors["constant"] == 1.0
    # the WSD cooldown starts where the label says: 20% of 10,000 steps before the end
    eta = c["wsd linear 20% to 0.05x"].sequence()
    assert eta[8000] == pytest.approx(3e-4) and eta[8001] < 3e-4


def test_compare_ranks_the_published_400m_law_like_the_runs():
    # Luo et al.'s runs, 400M at 24k steps: every lr decay beats constant, and the WSD cooldowns to
    # 0.1x beat cosine to 0.1x (runs: wsd 2.7222, wsdld 2.7251 < cosine 2.7396 < constant 2.8167).
    r = curve_advice.compare(MPL_400M, 24000, cooldown_min_lr_ratio=0.1)
    assert (r["peak_lr"], r["warmup_steps"]) == (3e-4, 2160)  # the law's fitted run, by default
    final = {row["schedule"]: row["final_loss"] for row in r["ranking"]}
    # the cosine candidate is exactly the trainer schedule the law was fitted on
    cos = MPL_400M.curve(luo_schedule("cosine_24000").sequence(), [24000])[0]
    assert final["cosine to 0.1x"] == pytest.approx(cos, rel=1e-12)
    assert final["wsd linear 20% to 0.1x"] < final["cosine to 0.1x"] < final["constant"]
    assert r["ranking"][-1]["schedule"] == "constant"
    assert [row["gap"] for row in r["ranking"]] == sorted(row["gap"] for row in r["ranking"])
    best = r["ranking"][0]
    assert best["gap"] == 0 and best["gap_percent"] == 0
    gaps = r["ranking"][-1]
    assert gaps["gap_percent"] == pytest.approx(100 * (gaps["final_loss"] / best["final_loss"] - 1))
    # the cooldown search ranks fraction x shape; its best is no worse than any WSD candidate
    cd = r["cooldown_search"]
    assert len(cd) == 10 and cd[0]["final_loss"] <= final["wsd linear 20% to 0.1x"]
    assert cd[0]["decay_shape"] in curve_advice.SHAPES and cd[0]["decay_fraction"] in curve_advice.FRACTIONS
    # 24k steps at the fitted peak and warmup: only the two candidates that decay to 0 leave the data
    assert r["notes"][0] == ("cosine to 0, linear to 0 (D2Z): the lr falls below the lowest lr of any fitted run "
                             "(3e-05): their loss drop there is extrapolated.")
    # a published law has no interval basis of its own: said, and the default calibration used
    assert r["interval_notes"][0].startswith("the law file records no interval basis")
    # the two WSD cooldowns are 0.0009 nats apart, far inside their +-0.81% intervals: a tie
    assert r["tie"] is True and r["interval_notes"][1] == (
        "a tie: wsd linear 10% to 0.1x and wsd linear 20% to 0.1x differ by 0.0009 nats (0.03%), within their 90% "
        "intervals (+-0.81%, +-0.81%): the law does not separate them.")
    assert all(row["low"] < row["final_loss"] < row["high"] for row in r["ranking"])


def test_compare_notes_every_extrapolation():
    r = curve_advice.compare(MPL_400M, 72000, peak=1e-3)
    notes = " | ".join(r["notes"])
    assert "extrapolation x3. For scale: fitted on three 24k-step runs of the Multi-Power-Law data, the multi-power " \
           "and annealing laws missed 72k-step final losses by up to 0.97%, the noise-convolution law by up to " \
           "0.50%." in notes  # the worst 72k final points in benchmarks/curves_mpl.py
    assert "peak lr 0.001 is outside the fitted 0.0003-0.0003" in notes
    assert "cosine to 0, linear to 0 (D2Z), wsd linear 10% to 0" in notes and "the WSD cooldown search" in notes
    assert "cosine to 0.1x" not in notes  # its floor 1e-4 is above the fitted 3e-5


def _extrapolation(notes: list[str]) -> list[str]:
    """The notes without the one every published law's interval carries (no interval basis)."""
    return [n for n in notes if not n.startswith("the law file records no interval basis")]


def test_predict_points_and_notes():
    eta = luo_schedule("cosine_24000").sequence()
    pts, notes = curve_advice.predict(MPL_400M, eta, [12000, 24000])
    assert [p["step"] for p in pts] == [12000, 24000]
    assert pts[1]["loss"] == pytest.approx(MPL_400M.curve(eta, [24000])[0], rel=1e-12)
    assert _extrapolation(notes) == []
    zero = eta.copy()
    zero[20000:] = np.linspace(3e-4, 0.0, zero.size - 20000)
    _, notes = curve_advice.predict(MPL_400M, zero, [24000])
    assert _extrapolation(notes) == ["the lr falls to 0, below the lowest lr of any fitted run (3e-05): the loss drop there is "
                     "extrapolated."]


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"total": 1}, "`total` must be at least 2"),
    ({"total": 100, "min_lr_ratio": 1.5}, "`min_lr_ratio` must be in [0, 1)"),
    ({"total": 100, "cooldown_min_lr_ratio": -0.1}, "`cooldown_min_lr_ratio` must be in [0, 1)"),
])
def test_compare_bad_options(kwargs, msg):
    with pytest.raises(InvalidInputError, match=msg.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        curve_advice.compare(MPL_400M, **kwargs)


def test_not_a_curve_law():
    with pytest.raises(InvalidInputError, match="not a curve law"):
        curve_advice.compare(CHINCHILLA, 1000)
    with pytest.raises(InvalidInputError, match="not a curve law"):
        curve_advice.predict(CHINCHILLA, np.full(10, 1e-3), [5])


def test_cli_compare_formats(cli):
    md = cli("compare-schedules", "mpl-400m", "--steps", "24k", "--format", "markdown", "--cooldown-min-lr-ratio", "0.1")
    assert md.exit_code == 0, md.stderr
    assert "| schedule | final loss | 90% interval | gap | gap % |" in md.stdout and "| constant | 2.8168 |" in md.stdout
    js = cli("compare-schedules", "mpl-400m", "--steps", "72000", "--format", "json", "--no-search")
    data = json.loads(js.stdout)
    assert data["cooldown_search"] == [] and any("extrapolation x3" in n for n in data["notes"])
    bad = cli("compare-schedules", "mpl-400m", "--steps", "100", "--min-lr-ratio", "2")
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "--min-lr-ratio" in bad.stderr


def test_plots_png_and_svg(cli, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib not installed (the plot extra)")
    png, svg = tmp_path / "p.png", tmp_path / "c.svg"
    p = cli("predict", "mpl-400m", "--schedule", "wsd", "--decay-fraction", "0.2", "--steps", "24000", "--plot", str(png))
    assert p.exit_code == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    c = cli("compare-schedules", "mpl-400m", "--steps", "24000", "--plot", str(svg), "--no-search")
    assert c.exit_code == 0, c.stderr
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for label in ("cosine to 0.1x", "wsd linear 20% to 0", "constant"):
        assert label in text  # every candidate in the legend
    again = cli("compare-schedules", "mpl-400m", "--steps", "24000", "--plot", str(svg), "--no-search")
    assert again.exit_code == 2 and "already exists" in again.stderr
    s = cli("schedule", "--schedule", "cosine", "--lr", "3e-4", "--steps", "1000", "--warmup", "100",
            "--plot", str(tmp_path / "lr.png"))
    assert s.exit_code == 0, s.stderr
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_fit_warns_when_the_runs_do_not_pin_the_drop(tmp_path):
    from hpadvisor.fitting.curves import curves_from_logs, fit_curves
    from tests.conftest import shared_data

    folder = shared_data("mpl_schedules", "csv_400")
    two, _ = curves_from_logs([str(folder / "cosine_24000.csv"), str(folder / "constant_24000.csv")])
    # the multi-power drop's gamma runs to its bound and the optimiser stops before converging: a weak fit, saying so
    warned = fit_curves(two, "multipower").warnings
    assert any(w.startswith("gamma = 3 is at the upper bound") for w in warned)
    assert "weak fit: the optimiser stopped before converging, with gamma on a bound of its search range" in warned[-1]
    assert fit_curves(two).warnings == ()  # the default law (noise-convolution) ends on no bound there (README)
    one, _ = curves_from_logs([str(folder / "constant_24000.csv")])
    assert fit_curves(one, "multipower").warnings[0].startswith("no run lowers its lr after the warmup")
    three, _ = curves_from_logs([str(folder / f"{n}.csv") for n in ("cosine_24000", "constant_24000", "wsdcon_9")])
    assert fit_curves(three, "multipower").warnings == ()


def test_predict_trace_map_and_json_notes_on_stderr(cli, tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("it,LR\n0,0\n2160,3e-4\n72000,3e-5\n")
    r = cli("predict", "mpl-400m", "--lr-trace", str(trace), "--map", "step=it", "--map", "lr=LR", "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert [p["step"] for p in json.loads(r.stdout)["points"]] == [2160, 72000]
    assert "extrapolation x3" in r.stderr  # the notes are kept, on stderr


def test_warmup_longer_than_the_run(cli):
    c = cli("compare-schedules", "mpl-400m", "--steps", "1000")
    assert c.exit_code == 2 and "not longer than the warmup (2160 steps" in c.stderr
    p = cli("predict", "mpl-400m", "--schedule", "cosine", "--steps", "1000")
    assert p.exit_code == 0 and "warmup cut to the run's 1000 steps: the law's fitted warmup is 2160" in p.stdout


def test_schedule_keeps_the_advised_floor_as_a_fraction_of_the_peak_in_use(cli, tmp_path):
    from pathlib import Path

    run = Path(__file__).resolve().parents[1] / "configs" / "proxy-256x8.yaml"
    out = tmp_path / "p.csv"
    r = cli("schedule", str(run), "--schedule", "cosine", "--lr", "1e-3", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    lr = [float(x.split(",")[1]) for x in out.read_text().splitlines()[1:]]
    assert max(lr) == pytest.approx(1e-3) and lr[-1] == pytest.approx(1e-4)  # cosine-10x: 0.1 x the peak
    assert "min lr 0.0001 = 0.1 x the peak (advice: cosine-10x)" in r.stdout


@pytest.mark.parametrize(("args", "msg"), [
    (("predict", "mpl-400m", "--schedule", "cosine", "--steps", "2.5"), "'--steps' must be a whole number. Got '2.5'."),
    (("compare-schedules", "mpl-400m", "--steps", "24000.7"), "'--steps' must be a whole number"),
    (("predict", "mpl-400m", "--schedule", "cosine", "--steps", "10000", "--min-lr", "1e-5", "--min-lr-ratio", "0.1"),
     "--min-lr (absolute) or --min-lr-ratio (of the peak), not both"),
    (("predict", "mpl-400m", "--schedule", "cosine", "--warmup", "2000", "--steps", "1000"),
     "'warmup_steps' parameter of the schedule (set by --warmup) must be a number of steps in [0, total_steps]"),
    (("predict", "mpl-400m", "--schedule", "cosine", "--steps", "1000", "--lr", "0"),
     "'peak' parameter of the schedule (set by --lr) must be a finite number > 0"),
    (("schedule", "--schedule", "wsd", "--lr", "1e-3", "--steps", "100", "--decay-fraction", "0"),
     "(set by --decay-fraction or schedule.decay_fraction) must be in (0, 1]"),
    (("predict", "mpl-400m", "--schedule", "wsd", "--steps", "2000"), "a wsd schedule of 2000 steps cannot take the law's fitted warmup (2160 steps): give --warmup"),
    (("schedule", "--schedule", "cosine", "--lr", "3e-4", "--steps", "1000", "--cooldowns", "3"),
     "--cooldowns: a WSD cooldown's settings; the cosine schedule has none"),
])
def test_schedule_flags_errors_name_the_flag(cli, args, msg):
    r = cli(*args)
    assert r.exit_code == 2 and msg in r.stderr and r.stderr.count("\n") == 1


def test_fit_curves_refuses_what_it_would_ignore_or_double(cli, tmp_path):
    from tests.conftest import shared_data

    f = shared_data("mpl_schedules", "csv_400", "wsdcon_9.csv")
    again = f.parent / ".." / "csv_400" / f.name  # the same file by another path
    out = str(tmp_path / "x.yaml")
    for args, msg in (((str(f), str(again)), "is given twice"),
                      ((str(f), "--lambda", "0.99"), "--lambda is the annealing law's constant"),
                      ((str(f), "--bootstrap", "-3"), "--bootstrap must be >= 0")):
        r = cli("fit", "curves", *args, "--out", out)
        assert r.exit_code == 2 and msg in r.stderr, r.stderr
    md = cli("fit", "curves", str(f), str(f.parent / "cosine_24000.csv"), "--out", out, "-f", "markdown")
    assert md.exit_code == 0, md.stderr
    assert "| constant | value | 95% interval |" in md.stdout and "| wsdcon_9 | 109 |" in md.stdout


def test_extrapolation_notes_judge_the_whole_schedule():
    # a step inside the warmup: the schedule's peak is the fitted one and its floor is not reached yet
    eta = luo_schedule("cosine_24000").sequence()
    _, notes = curve_advice.predict(MPL_400M, eta, [100])
    assert _extrapolation(notes) == []
    # an old law file without the lowest fitted lr says the floor is not checked
    import dataclasses

    old = dataclasses.replace(MPL_400M, provenance=dataclasses.replace(
        MPL_400M.provenance, fitted_range=tuple(r for r in MPL_400M.provenance.fitted_range if r[0] != "min_lr")))
    _, notes = curve_advice.predict(old, eta, [24000])
    assert _extrapolation(notes) == ["the law file records no lowest fitted lr (written before hpadvisor recorded it): whether the "
                     "lr falls below the fitted runs' is not checked."]


def test_no_warmup_is_said_to_leave_the_law_not_to_gain_a_loss():
    """As run, the warmup's lr rise is a term of the multi-power sums: without a warmup the published
    400M law predicts 2.600 instead of 2.755 at 24k steps (5.6%), a rise term gone, not a better run."""
    from hpadvisor.schedules import build

    def final(w):
        eta = build("cosine", peak=3e-4, total_steps=24000, warmup_steps=w, min_lr=3e-5).sequence()
        points, notes = curve_advice.predict(MPL_400M, eta, [24000])
        return points, _extrapolation(notes)

    (p0,), n0 = final(0)
    (p1,), n1 = final(1)
    (p2,), n2 = final(2160)
    assert p0["loss"] / p1["loss"] - 1 == pytest.approx(-0.0562, abs=5e-4)
    assert abs(p1["loss"] / p2["loss"] - 1) < 1e-3  # one step or the fitted 2160: the same level
    assert any(n.startswith("no warmup, but the law was fitted on runs with 2160 warmup steps") for n in n0)
    assert any("warmup 1 steps is outside the fitted 2160" in n for n in n1) and n2 == []


def _tau(a: list[int], b: list[int]) -> float:
    """Kendall's tau without ties, by counting pairs (independent of scipy)."""
    n = len(a)
    s = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2)


def test_compare_laws_ranks_the_same_candidates_by_every_law():
    from hpadvisor.laws.curves import MPL_100M

    r = curve_advice.compare_laws([MPL_400M, MPL_100M], 24000, cooldown_min_lr_ratio=0.1, search=False)
    (other,) = r["other_laws"]
    assert other["law"] == "mpl-100m"
    # the candidates are the first law's: its peak and warmup
    cands = curve_advice.candidates(24000, 3e-4, 2160, min_lr_ratio=0.1, cooldown_min_lr_ratio=0.1)
    direct = {k: float(MPL_100M.curve(s.sequence(), [24000])[0]) for k, s in cands.items()}
    by_100m = sorted(direct, key=direct.get)
    for row in r["ranking"]:
        assert row["other"]["mpl-100m"]["final_loss"] == pytest.approx(direct[row["schedule"]], rel=1e-12)
        assert row["other"]["mpl-100m"]["rank"] == by_100m.index(row["schedule"]) + 1
    first = [row["schedule"] for row in r["ranking"]]
    assert other["kendall_tau"] == pytest.approx(_tau(list(range(len(first))), [by_100m.index(s) for s in first]))
    assert other["same_best"] == (by_100m[0] == first[0])
    assert any("the laws disagree on the best schedule" in n for n in r["notes"]) == (not other["same_best"])
    # the first law's own result is compare()'s, unchanged
    alone = curve_advice.compare(MPL_400M, 24000, cooldown_min_lr_ratio=0.1, search=False)
    assert [(x["schedule"], x["final_loss"]) for x in alone["ranking"]] == [(x["schedule"], x["final_loss"]) for x in r["ranking"]]


def test_compare_laws_with_the_same_law_twice_agrees_fully():
    r = curve_advice.compare_laws([MPL_400M, MPL_400M], 30000, search=False)
    (other,) = r["other_laws"]
    assert other["law"] == "mpl-400m#2" and other["same_best"] and other["kendall_tau"] == pytest.approx(1.0)
    assert not any("disagree" in n for n in r["notes"])
    with pytest.raises(InvalidInputError, match="not a curve law"):
        curve_advice.compare_laws([MPL_400M, CHINCHILLA], 30000)


def test_cli_compare_schedules_with_two_laws(cli):
    r = cli("compare-schedules", "mpl-400m", "mpl-25m", "--steps", "24000", "--no-search", "-f", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["law"] for o in out["other_laws"]] == ["mpl-25m"]
    assert all("mpl-25m" in row["other"] for row in out["ranking"])
    t = cli("compare-schedules", "mpl-400m", "mpl-25m", "--steps", "24000", "--no-search")
    assert t.exit_code == 0 and "mpl-25m: same best schedule:" in t.stdout and "rank agreement with mpl-400m" in t.stdout


def test_compare_ranks_a_trainer_config_beside_the_candidates(cli, tmp_path):
    from pathlib import Path

    from hpadvisor.formats.registry import read_config
    from hpadvisor.laws.curves import MPL_100M
    from hpadvisor.schedules import from_trainer

    cfg = Path(__file__).parent / "data" / "configs" / "torchtitan_llama3_8b.toml"
    r = cli("compare-schedules", "mpl-400m", "mpl-100m", "--config", str(cfg), "--no-search", "-f", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    eta, label, _ = from_trainer(read_config(cfg))
    # torchtitan ramps (s + 1) / 2000, so its lr reaches the peak at update 1999: the candidates' ramp ends there too
    assert (out["steps"], out["peak_lr"], out["warmup_steps"]) == (100_000, 3e-4, 1999)
    row = next(x for x in out["ranking"] if x["schedule"] == "this config")
    assert row["final_loss"] == pytest.approx(MPL_400M.curve(eta, [100_000])[0], rel=1e-12)
    assert row["other"]["mpl-100m"]["final_loss"] == pytest.approx(MPL_100M.curve(eta, [100_000])[0], rel=1e-12)
    assert out["notes"][0] == f"this config: {label}."
    # the config's wsd 1-sqrt 20% to 0 is the candidate of the same name but for the warmup ramp
    # ((s + 1) / 2000 against the candidates' s / 1999): 3e-5 apart
    same = next(x for x in out["ranking"] if x["schedule"] == "wsd 1-sqrt 20% to 0")
    assert row["final_loss"] == pytest.approx(same["final_loss"], rel=1e-4)
    bad = cli("compare-schedules", "mpl-400m", "--config", str(cfg), "--steps", "10")
    assert bad.exit_code == 2 and "--config sets the run's steps, peak lr and warmup: drop --steps" in bad.stderr
    none = cli("compare-schedules", "mpl-400m")
    assert none.exit_code == 2 and "give --steps" in none.stderr


def test_cli_predict_several_curve_laws_side_by_side(cli):
    from hpadvisor.laws.curves import MPL_100M

    one = cli("predict", "mpl-400m", "--schedule", "wsd", "--steps", "24000", "--at", "12000,24000", "-f", "json")
    two = cli("predict", "mpl-400m", "mpl-100m", "--schedule", "wsd", "--steps", "24000", "--at", "12000,24000",
              "-f", "json")
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a == {"points": b["points"]}  # the first law's points are the single-law output, unchanged
    (other,) = b["other_laws"]
    eta = __import__("hpadvisor.schedules", fromlist=["x"]).build("wsd", peak=3e-4, total_steps=24000,
                                                                  warmup_steps=2160).sequence()
    assert other["law"] == "mpl-100m"
    assert [x["loss"] for x in other["points"]] == pytest.approx(MPL_100M.curve(eta, [12000, 24000]), rel=1e-12)
    table = cli("predict", "mpl-400m", "mpl-100m", "--schedule", "wsd", "--steps", "24000")
    assert table.exit_code == 0 and "mpl-400m     90% interval  mpl-100m" in table.stdout
    bad = cli("predict", "mpl-400m", "chinchilla", "--schedule", "wsd", "--steps", "24000")
    assert bad.exit_code == 2 and "side by side only when all are curve laws" in bad.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (["--lr", "nan"], "--lr must be a finite number > 0, not nan."),
    (["--lr", "-1"], "--lr must be a finite number > 0, not -1.0."),
    (["--warmup", "-5"], "--warmup must be a whole number of steps >= 0, not -5."),
])
def test_compare_names_the_flag_of_a_bad_peak_or_warmup(cli, flags, message):
    r = cli("compare-schedules", "mpl-400m", "--steps", "30000", *flags)
    assert r.exit_code == 2 and message in r.stderr


def test_predict_names_the_flag_of_a_non_finite_peak(cli):
    r = cli("predict", "mpl-400m", "--schedule", "cosine", "--steps", "30000", "--lr", "nan")
    assert r.exit_code == 2 and "(set by --lr) must be a finite number" in r.stderr


def test_predict_refuses_options_the_law_does_not_take(cli, tmp_path):
    r = cli("predict", "chinchilla", "--params", "1B", "--tokens", "20B", "--schedule", "cosine")
    assert r.exit_code == 2 and "--schedule does not apply to a 'chinchilla' law; it takes --params, --tokens." in r.stderr
    r = cli("predict", "mpl-400m", "--schedule", "cosine", "--steps", "30000", "--params", "1B", "--tokens", "2B")
    assert r.exit_code == 2 and "--params, --tokens do not apply to a 'multipower' law; it takes --schedule" in r.stderr
    assert cli("predict", "chinchilla", "--params", "1B", "--tokens", "20B").exit_code == 0


def test_outputs_are_checked_before_anything_is_written(cli, tmp_path):
    """A bad --plot used to fail after --out was written (a rerun then found it 'already exists');
    --out and --plot on one file wrote the CSV and refused it, or with --force replaced it."""
    import os
    import stat

    out, base = tmp_path / "lr.csv", ["schedule", "--schedule", "cosine", "--lr", "1e-3", "--steps", "100"]
    res = cli(*base, "--out", str(out), "--plot", str(tmp_path / "lr.jpg"))
    assert res.exit_code == 2 and "use a .png, .svg or .pdf" in res.stderr and not out.exists()
    same = tmp_path / "x.png"
    res = cli(*base, "--out", str(same), "--plot", str(same), "--force")
    assert res.exit_code == 2 and "--out and --plot name the same file" in res.stderr and not same.exists()
    old = os.umask(0o022)
    try:
        assert cli(*base, "--out", str(out)).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # as open() makes it, not mkstemp's 0600
    from tests.conftest import shared_data

    (tmp_path / "r-residuals.png").write_text("mine")  # fit final's second plot
    res = cli("fit", "final", str(shared_data("epoch_chinchilla", "svg_extracted_data.csv")), "--bootstrap", "0",
              "--out", str(tmp_path / "h.yaml"), "--plot", str(tmp_path / "r.png"))
    assert res.exit_code == 2 and "r-residuals.png' already exists" in res.stderr
    assert not (tmp_path / "h.yaml").exists() and not (tmp_path / "r.png").exists()


def test_a_run_barely_longer_than_its_warmup_says_what_the_warmup_leaves():
    short = curve_advice.compare(MPL_400M, 2200)
    assert any(n.startswith("only 40 steps follow the 2160-step warmup: WSD cooldowns of 5%, 10%") for n in short["notes"])
    assert "the multistep milestones at 80% and 90% of the run fall inside the warmup." in short["notes"]
    long = curve_advice.compare(MPL_400M, 24000, search=False)
    assert not any("follow the" in n or "milestones" in n for n in long["notes"])


def test_a_wsd_run_shorter_than_the_fitted_warmup_asks_for_a_warmup():
    with pytest.raises(InvalidInputError, match=r"a wsd schedule of 1000 steps cannot take the law's fitted warmup \(2160"):
        curve_advice.planned(MPL_400M, "wsd", 1000)


def test_predict_and_fit_curves_refuse_flags_their_input_ignores(cli, tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("step,lr\n0,0\n100,1e-4\n300,1e-4\n")
    base = ["predict", "mpl-400m"]
    for args, said in [
        ([*base, "--lr-trace", str(trace), "--lr", "1e-3"], "--lr-trace gives the whole schedule: drop --lr"),
        ([*base, "--lr-trace", str(trace), "--warmup", "-3"], "--warmup must be a whole number of steps >= 0"),
        ([*base, "--schedule", "cosine", "--steps", "3000", "--decay-fraction", "0.2"],
         "--decay-fraction: a WSD cooldown's settings; --schedule cosine has none"),
        ([*base, "--schedule", "cosine", "--steps", "3000", "--decay-shape", "1-sqrt"], "--decay-shape: a WSD"),
    ]:
        res = cli(*args)
        assert res.exit_code == 2 and said in res.stderr, (args, res.stderr)
    from tests.conftest import shared_data

    log = str(shared_data("mpl_schedules", "csv_100", "cosine_24000.csv"))
    res = cli("fit", "curves", log, "--lr", "3e-4", "--out", str(tmp_path / "o.yaml"))
    assert res.exit_code == 2 and "--lr: these set the --schedule of logs without an lr column" in res.stderr
    res = cli("fit", "curves", log, "--warmup", "-5", "--out", str(tmp_path / "o.yaml"))
    assert res.exit_code == 2 and "--warmup must be a whole number of steps >= 0" in res.stderr


def test_a_run_file_gives_one_schedule_by_either_path(cli, tmp_path):
    """`schedule RUN` (the run spec) and `schedule --config RUN` (the run file read as a trainer config)
    gave 4769 vs 4768 steps and a warmup from 0 vs from HF's WSD floor."""
    run = tmp_path / "run.yaml"
    run.write_text("model: {params: 125M}\ndata: {tokens: 2.5B}\nseq_len: 2048\nbatch: 256 seqs\n"
                   "optimizer: {lr: 1e-3}\nschedule: {shape: wsd, warmup: 100 steps, min_lr_ratio: 0.1, "
                   "decay_fraction: 0.2, trainer: hf}\n")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert cli("schedule", str(run), "--out", str(a)).exit_code == 0
    assert cli("schedule", "--config", str(run), "--out", str(b)).exit_code == 0
    assert a.read_text() == b.read_text()
    rows = a.read_text().splitlines()
    assert len(rows) == 1 + 4770 and rows[1] == "0,0.0001"  # ceil(2.5e9 / 524288) = 4769 steps; HF's WSD floor


def test_a_wsd_s_run_file_keeps_its_cooldowns_by_either_path(cli, tmp_path):
    """--config RUN.yaml read schedule.cooldowns: 3 as one cooldown (0.9% off the predicted final loss)."""
    run = tmp_path / "run.yaml"
    run.write_text("model: {params: 400M}\ndata: {tokens: 3.15B}\nseq_len: 2048\nbatch: 256 seqs\noptimizer: {lr: 3e-4}\n"
                   "schedule: {shape: wsd, warmup: 216 steps, decay_fraction: 0.15, cooldowns: 3, min_lr_ratio: 0}\n")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert cli("schedule", str(run), "--out", str(a)).exit_code == 0
    assert cli("schedule", "--config", str(run), "--out", str(b)).exit_code == 0
    assert a.read_text() == b.read_text()
    lr = [float(line.split(",")[1]) for line in a.read_text().splitlines()[1:]]
    assert sum(1 for i, (x, y) in enumerate(zip(lr, lr[1:], strict=False)) if i > 216 and y > 2 * x) == 2  # rewarms


def test_wsd_s_cooldowns_through_config_are_checked_like_the_run_file(cli, tmp_path):
    """cooldowns: 1e9 through --config ran on (18 GB); on a cosine it was silently ignored."""
    base = "model: {params: 400M}\ndata: {tokens: 2B}\nseq_len: 2048\nbatch: 256 seqs\noptimizer: {lr: 3e-4}\n"
    for sched, said in [("{shape: wsd, warmup: 100 steps, cooldowns: 1000000000}", "must be a whole number from 1 to 10,000"),
                        ("{shape: cosine, warmup: 100 steps, cooldowns: 3}", "applies to a wsd schedule, not cosine")]:
        run = tmp_path / "r.yaml"
        run.write_text(base + f"schedule: {sched}\n")
        res = cli("schedule", "--config", str(run), "--every", "100")
        assert res.exit_code == 2 and said in res.stderr, res.stderr


def test_a_coarsely_logged_ramp_is_not_a_jump_and_a_trace_drop_is():
    from hpadvisor.schedules import sparse_jumps

    steps = np.arange(0, 1100, 100)
    assert sparse_jumps(steps, np.minimum(steps / 500, 1.0) * 3e-4) is None  # warmup logged every 100 steps
    assert sparse_jumps(steps, np.linspace(3e-4, 0, steps.size)) is None     # linear decay to 0
    drop = np.where(steps < 600, 3e-4, 3e-5)
    assert "jumps from 0.0003 at step 500 to 3e-05 at step 600" in sparse_jumps(steps, drop)


def test_thinning_keeps_a_runs_first_and_last_points(tmp_path):
    """Block means alone moved the last fitted step (40000 -> 39991): predicting the fitted schedule
    itself was then called an extrapolation."""
    from hpadvisor.fitting.curves import Curve, thin

    c = Curve("r", np.full(40_001, 1e-3), np.arange(500, 40_001), np.linspace(4, 3, 39_501))
    t = thin(c, 2000)
    assert (t.steps[0], t.steps[-1], t.steps.size) == (500, 40_000, 2000)
    assert (t.loss[0], t.loss[-1]) == (4.0, 3.0)


def test_a_warmup_logged_at_its_ends_is_not_a_jump_and_cooldowns_1_on_a_cosine_is_refused(cli, tmp_path):
    from hpadvisor.schedules import sparse_jumps

    assert sparse_jumps([0, 100, 1000, 2000], [0, 1e-3, 1e-3, 1e-3]) is None
    run = tmp_path / "r.yaml"
    run.write_text("model: {params: 400M}\ndata: {tokens: 2B}\nseq_len: 2048\nbatch: 256 seqs\noptimizer: {lr: 3e-4}\n"
                   "schedule: {shape: cosine, warmup: 100 steps, cooldowns: 1, min_lr: 3e-5}\n")
    for args in (["schedule", str(run)], ["schedule", "--config", str(run)]):
        res = cli(*args, "--every", "100")
        assert res.exit_code == 2 and "wsd schedule, not cosine" in res.stderr, (args, res.stderr)
    run.write_text("model: {params: 400M}\ndata: {tokens: 2B}\nseq_len: 2048\nbatch: 256 seqs\noptimizer: {lr: 3e-4}\n"
                   "schedule: {shape: cosine, warmup: 100 steps, min_lr: 3e-5}\n")
    res = cli("schedule", str(run), "--schedule", "constant", "--every", "100")
    assert "the run file's min lr is not used: a constant schedule sets its own floor." in res.stdout + res.stderr


def test_a_peak_a_log_rounded_is_not_called_another_lr_scale():
    """predict --lr-trace cosine_72000.csv (its logged peak 2.99999965e-4) said 'peak lr 0.0003 is
    outside the fitted 0.0003-0.0003'."""
    eta = np.full(30_000, 2.99999965e-4)
    assert not [n for n in curve_advice.extrapolation_notes(MPL_400M, eta, 20_000) if "peak lr" in n]
    assert [n for n in curve_advice.extrapolation_notes(MPL_400M, eta * 1.01, 20_000) if "peak lr" in n]


def test_a_step_before_any_lr_area_is_said_not_predicted():
    """A trace at lr 0 for its first 100 steps: step 50 gave loss null and numpy's divide-by-zero
    warning on stderr, with no word of why."""
    eta = np.concatenate([np.zeros(101), np.full(3000, 3e-4)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        points, notes = curve_advice.predict(MPL_400M, eta, [50, 3000])
    assert math.isinf(points[0]["loss"]) and math.isfinite(points[1]["loss"])
    assert "no prediction at step 50: the lr is 0 up to there" in " ".join(notes)


def test_a_lower_bound_that_stands_for_zero_is_reached_within_1000x():
    """A = 1.006e-9 against its bound 1e-9 (the PKU per-step logs' noise-convolution fit: no power-law
    term left) is on the bound; A = 2e-6 and a bound of 0 reached only exactly are not."""
    from hpadvisor.fitting.curves import at_bounds

    names, lb, ub = ("L0", "A", "b2"), [0.0, 1e-9, 0.0], [3.0, np.inf, np.inf]
    warned = at_bounds(names, [2.0, 1.006e-9, 5.0], lb, ub)
    assert len(warned) == 1 and warned[0].startswith("A = 1.006e-09 is at the lower bound")
    assert at_bounds(names, [2.0, 2e-6, 5.0], lb, ub) == ()
    assert [w.split(" = ")[0] for w in at_bounds(names, [2.0, 0.4, 1e-7], lb, ub)] == ["b2"]
    assert at_bounds(names, [2.0, 0.4, 2e-6], lb, ub) == ()
