"""Schedules: golden per-step values for each trainer convention, properties, traces."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpadvisor import schedules
from hpadvisor.errors import HpAdvisorError, InvalidInputError
from hpadvisor.formats.registry import formats
from hpadvisor.schedules import Schedule, build, interpolate_trace, luo_schedule
from hpadvisor.spec import DECAY_SHAPES
from tests.conftest import shared_data

# -- golden values, worked by hand from each trainer's formula ----------------------------------


def test_megatron_cosine_warmup_reaches_peak_at_W_and_min_at_T():
    # Megatron get_lr: init + (peak-init)*s/W for s <= W; cosine ratio (s-W)/(T-W); min for s > T.
    s = Schedule("cosine", peak=1.0, total_steps=10, warmup_steps=2, min_lr=0.1)
    got = s.lr([0, 1, 2, 6, 10, 11])
    assert got == pytest.approx([0.0, 0.5, 1.0, 0.1 + 0.9 * 0.5, 0.1, 0.1])


def test_hf_cosine_warmup_and_linear():
    # transformers: s / W for s < W; 0.5 (1 + cos(pi progress)); linear (T - s) / (T - W).
    s = Schedule("cosine", peak=1.0, total_steps=10, warmup_steps=2, convention="hf")
    assert s.lr([0, 1, 2, 6, 10]) == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0])
    lin = Schedule("linear", peak=2.0, total_steps=10, warmup_steps=2, convention="hf")
    assert lin.lr([1, 2, 6, 10]) == pytest.approx([1.0, 2.0, 1.0, 0.0])


def test_nanogpt_warmup_is_it_plus_one_over_W_plus_one():
    s = Schedule("cosine", peak=6e-4, total_steps=100, warmup_steps=4, min_lr=6e-5, convention="nanogpt")
    assert s.lr([0, 3, 4]) == pytest.approx([6e-4 * 1 / 5, 6e-4 * 4 / 5, 6e-4])
    assert s.lr([100, 101]) == pytest.approx([6e-5, 6e-5])


@pytest.mark.parametrize(
    ("shape", "r", "coeff"),
    [("linear", 0.25, 0.75), ("cosine", 0.5, 0.5), ("1-sqrt", 0.25, 0.5), ("exponential", 0.5, 2 * 0.5**0.5 - 1)],
)
def test_megatron_wsd_cooldown_styles(shape, r, coeff):
    # Megatron WSD: anneal start = T - decay_steps; coeff by lr_wsd_decay_style; lr = min + coeff (peak - min)
    s = Schedule("wsd", peak=1.0, total_steps=100, warmup_steps=0, min_lr=0.0, decay_steps=40, decay_shape=shape)
    assert s.lr([60])[0] == 1.0
    assert s.lr([60 + 40 * r])[0] == pytest.approx(coeff)
    assert s.lr([100])[0] == pytest.approx(0.0, abs=1e-15)


def test_megatron_minus_sqrt_alias_and_inverse_sqrt():
    assert Schedule("wsd", peak=1, total_steps=10, decay_steps=2, decay_shape="minus_sqrt").decay_shape == "1-sqrt"
    s = Schedule("inverse_sqrt", peak=1.0, total_steps=1000, warmup_steps=100, min_lr=0.01)
    assert s.lr([100, 400, 10**6]) == pytest.approx([1.0, 0.5, 0.01])


def test_multistep_deepseek_and_warmup_from_a_fraction():
    s = Schedule("multistep", peak=1.0, total_steps=100, warmup_steps=10, warmup_init=0.01)
    assert s.lr([0, 5, 79, 80, 90]) == pytest.approx([0.01, 0.505, 1.0, 0.316, 0.1])


def test_wsd_restarts_cool_down_at_every_cycle_end():
    s = Schedule("wsd_restarts", peak=1.0, total_steps=200, decay_steps=20, cycles=(100, 200), min_lr=0.0)
    assert s.lr([80, 100, 101, 180, 200]) == pytest.approx([1.0, 0.0, 1.0, 1.0, 0.0], abs=1e-12)


def test_mpl_runs_match_the_logged_lr_column():
    folder = shared_data("mpl_schedules", "csv_400")
    import pandas as pd

    for f in sorted(folder.glob("*.csv")):
        d = pd.read_csv(f)
        seq = luo_schedule(f.stem).sequence()
        assert np.max(np.abs(seq[d.step.to_numpy()] / d.lr.to_numpy() - 1)) < 1e-12, f.stem


# -- properties -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from(["constant", "cosine", "linear", "wsd", "multistep", "inverse_sqrt"]),
    conv=st.sampled_from(schedules.CONVENTIONS),
    decay=st.sampled_from(DECAY_SHAPES),
    T=st.integers(10, 3000),
    wfrac=st.floats(0, 0.5),
    ratio=st.floats(0.001, 1.0),
    peak=st.floats(1e-5, 1e-1),
)
def test_bounded_monotone_warmup_and_ends_at_floor(shape, conv, decay, T, wfrac, ratio, peak):
    W = int(wfrac * T)
    min_lr = ratio * peak
    s = Schedule(shape, peak=peak, total_steps=T, warmup_steps=W, min_lr=min_lr, convention=conv,
                 decay_steps=max(1, (T - W) // 3) if shape == "wsd" else None, decay_shape=decay)
    lr = s.sequence()
    assert lr.size == T + 1
    assert np.all(lr <= peak * (1 + 1e-12))
    after = lr[W + 1:]
    if shape != "multistep":
        assert np.all(after >= min_lr * (1 - 1e-12))
    assert np.all(np.diff(lr[: W + 1]) >= -1e-15)  # warmup never goes down
    if shape in ("cosine", "linear", "wsd") and T > W:
        assert lr[T] == pytest.approx(min_lr, rel=1e-9)  # the decay ends where the trainer's does
        assert np.all(np.diff(lr[W:]) <= 1e-15 * peak)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 1)), min_size=1, max_size=30, unique_by=lambda x: x[0]))
def test_trace_interpolation_hits_the_logged_points(points):
    points.sort()
    s = np.array([p[0] for p in points], float)
    v = np.array([p[1] for p in points])
    seq = interpolate_trace(s, v)
    assert seq.size == int(s[-1]) + 1
    assert seq[s.astype(int)] == pytest.approx(v)
    assert np.all(seq >= 0) and np.all(seq <= v.max() + 1e-15)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(["peak", "total_steps", "warmup_steps", "min_lr", "decay_steps", "warmup_init"]),
                       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**6), st.text(max_size=3), st.none())),
       st.sampled_from(list(schedules.SHAPES)))
def test_bad_parameters_raise_our_errors(kwargs, shape):
    kw = {"peak": 1e-3, "total_steps": 100, **kwargs}
    try:
        Schedule(shape, **kw).lr([0, 1, 50])
    except HpAdvisorError:
        pass


def test_trace_rejects_negative_lr_and_unsorted_steps():
    with pytest.raises(InvalidInputError, match="negative lr"):
        interpolate_trace([0, 10], [1e-3, -1e-3])
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        interpolate_trace([10, 0], [1e-3, 1e-3])


def test_build_defaults_follow_the_published_conventions():
    assert build("cosine", peak=1.0, total_steps=100).min_lr == pytest.approx(0.1)
    assert build("d2z", peak=1.0, total_steps=100).sequence()[-1] == 0.0
    w = build("wsd", peak=1.0, total_steps=1000)
    assert w.decay_steps == 200 and math.isclose(w.min_lr, 0.1)


def test_cli_schedule_by_flags(cli, tmp_path):
    out = tmp_path / "w.csv"
    r = cli("schedule", "--schedule", "wsd", "--lr", "3e-4", "--steps", "10k", "--warmup", "500",
            "--warmup-init", "0.1", "--decay-shape", "1-sqrt", "--decay-fraction", "0.2", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    lr = {int(s): float(v) for s, v in rows}
    assert len(lr) == 10001
    assert lr[0] == pytest.approx(3e-5)  # warmup from 10% of the peak
    assert lr[250] == pytest.approx(3e-5 + 0.5 * 2.7e-4)  # linear warmup, Megatron: lr(W) = peak
    assert lr[500] == lr[8000] == pytest.approx(3e-4)  # stable until the last 20%
    assert lr[9000] == pytest.approx(3e-5 + 2.7e-4 * (1 - 0.5 ** 0.5))  # 1-sqrt cooldown, halfway
    assert lr[10000] == pytest.approx(3e-5)  # WSD's default floor: 10% of the peak


def test_cli_schedule_flags_override_the_run_file(cli, tmp_path):
    from pathlib import Path

    run = Path(__file__).resolve().parents[1] / "configs" / "llama-7b-2t.yaml"
    out = tmp_path / "o.csv"
    r = cli("schedule", str(run), "--lr", "1e-4", "--steps", "1000", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    last = out.read_text().splitlines()[-1]
    # the run file's 2000-step warmup is longer than the 1000 steps asked: cut, and said
    assert last.startswith("1000,") and float(last.split(",")[1]) == pytest.approx(1e-4)
    assert "warmup cut to the run's 1000 steps (planned: 2000)" in r.stdout
    assert max(float(x.split(",")[1]) for x in out.read_text().splitlines()[1:]) == pytest.approx(1e-4)


@pytest.mark.parametrize(("args", "msg"), [
    (("--schedule", "cosine"), "give a run file, or the schedule by flags"),
    (("--schedule", "foo", "--lr", "1e-3", "--steps", "100"), "unknown schedule 'foo'"),
    (("--schedule", "cosine", "--lr", "1e-3", "--steps", "1e12"), "beyond the 10,000,000 steps"),
    (("--schedule", "cosine", "--lr", "1e-3", "--steps", "100", "--every", "0"), "--every must be >= 1"),
])
def test_cli_schedule_bad_flags(cli, args, msg):
    r = cli("schedule", *args)
    assert r.exit_code == 2 and msg in r.stderr and r.stderr.count("\n") == 1


def test_repeated_cooldowns_from_flags_and_run_file(cli, tmp_path):
    out = tmp_path / "r.csv"
    r = cli("schedule", "--schedule", "wsd", "--lr", "1e-3", "--steps", "9000", "--cooldowns", "3",
            "--decay-fraction", "0.1", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    lr = {int(a): float(b) for a, b in (x.split(",") for x in out.read_text().splitlines()[1:])}
    # three cycles of 3000 steps, each ending with a linear cooldown over its last 10% to 0.1x
    assert lr[2700] == lr[3001] == lr[5700] == pytest.approx(1e-3)
    assert lr[2850] == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert lr[3000] == lr[6000] == lr[9000] == pytest.approx(1e-4)
    run = tmp_path / "run.yaml"
    run.write_text("model: {params: 125M}\ndata: {tokens: 2.5B}\nseq_len: 1024\nbatch: 256 seqs\n"
                   "optimizer: {lr: 1e-3}\n"
                   "schedule: {shape: wsd, warmup: 100 steps, decay_shape: 1-sqrt, cooldowns: 2, decay_fraction: 0.2}\n")
    out2 = tmp_path / "r2.csv"
    r = cli("schedule", str(run), "--out", str(out2))
    assert r.exit_code == 0, r.stderr
    assert "wsd_restarts" in r.stdout and "1-sqrt" in r.stdout
    rows = [float(x.split(",")[1]) for x in out2.read_text().splitlines()[1:]]
    total = len(rows) - 1
    mid = 100 + round((total - 100) / 2)
    assert rows[mid] == pytest.approx(rows[-1]) and rows[mid + 1] == pytest.approx(1e-3)
    bad = tmp_path / "bad.yaml"
    bad.write_text(run.read_text().replace("cooldowns: 2", "cooldowns: 0"))
    r = cli("schedule", str(bad))
    assert r.exit_code == 2 and "'schedule.cooldowns' must be > 0. Got 0." in r.stderr


def test_repeated_cooldowns_one_cycle_is_wsd_and_fractions_hold():
    one = build("wsd", peak=1.0, total_steps=1000, warmup_steps=100, decay_fraction=0.2)
    assert np.array_equal(build("wsd_restarts", peak=1.0, total_steps=1000, warmup_steps=100,
                                decay_fraction=0.2).sequence(), one.sequence())
    two = build("wsd", peak=1.0, total_steps=2100, warmup_steps=100, decay_fraction=0.5, cooldowns=2).sequence()
    # cycles end at 1100 and 2100; the first is measured from step 0 (1100 steps), the second 1000
    assert two[550] == 1.0 and two[551] < 1.0 and two[1100] == pytest.approx(0.1)
    assert two[1101] == 1.0 and two[1600] == 1.0 and two[1601] < 1.0 and two[2100] == pytest.approx(0.1)


def test_log_rise_from_a_rewarm_is_not_a_spike(tmp_path):
    import pandas as pd

    from hpadvisor.io.logs import read_log
    from hpadvisor.laws.curves import MPL_400M

    eta = build("wsd", peak=3e-4, total_steps=24000, warmup_steps=2160, cooldowns=2).sequence()
    steps = np.arange(2200, 13301, 100)  # ends 200 steps after the rewarm at 13080
    pd.DataFrame({"step": steps, "lr": eta[steps], "loss": MPL_400M.curve(eta, steps)}).to_csv(tmp_path / "r.csv", index=False)
    (run,) = read_log(tmp_path / "r.csv")
    assert run.excluded == ()
    # the same log without its lr column: the rise looks like divergence, unless the lr the run
    # ran is given (a --schedule or --config for logs without lr)
    pd.DataFrame({"step": steps, "loss": MPL_400M.curve(eta, steps)}).to_csv(tmp_path / "n.csv", index=False)
    (blind,) = read_log(tmp_path / "n.csv")
    assert blind.excluded and max(s for s, _ in blind.excluded) == 13300
    (told,) = read_log(tmp_path / "n.csv", planned_lr=eta)
    assert told.excluded == ()


@settings(max_examples=60, deadline=None)
@given(T=st.integers(10, 3000), wfrac=st.floats(0, 0.9), n=st.integers(1, 6), frac=st.floats(0.01, 1.0),
       ratio=st.floats(0.0, 1.0), decay=st.sampled_from(DECAY_SHAPES[:4]))
def test_repeated_cooldowns_bounded_and_each_cycle_ends_at_the_floor(T, wfrac, n, frac, ratio, decay):
    W = int(wfrac * T)
    try:
        s = build("wsd", peak=1.0, total_steps=T, warmup_steps=W, decay_fraction=frac, min_lr_ratio=ratio,
                  decay_shape=decay, cooldowns=n)
    except InvalidInputError as exc:  # too few steps after the warmup for n cooldowns
        assert "steps after" in str(exc) or "cooldowns need" in str(exc)
        return
    lr = s.sequence()
    assert np.all(lr <= 1.0 + 1e-12) and np.all(lr[W + 1:] >= ratio - 1e-12)
    for end in s.cycles:  # every cycle ends at the floor
        assert lr[end] == pytest.approx(ratio, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(["peak", "total_steps", "warmup_steps", "min_lr", "min_lr_ratio",
                                        "decay_fraction", "cooldowns", "warmup_init"]),
                       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**6), st.none())),
       st.sampled_from(["constant", "cosine", "linear", "wsd", "d2z", "multistep", "inverse_sqrt", "wsd_restarts"]))
def test_build_from_any_flags_raises_only_our_errors(kwargs, shape):
    kw = {"peak": 1e-3, "total_steps": 100, **kwargs}
    if kw["peak"] is None or kw["total_steps"] is None:
        return
    try:
        build(shape, **kw).lr([0, 1, 50])
    except HpAdvisorError:
        pass


@pytest.mark.parametrize("convention", ["megatron", "neox"])  # the conventions that count a fractional warmup
def test_a_warmup_shorter_than_a_step_is_the_peak_without_overflow(convention):
    # found by the fuzz above in CI: warmup_steps = 2.2e-309 made s / W overflow (now capped quietly)
    s = build("constant", peak=1e-3, total_steps=100, warmup_steps=2.225073858507203e-309, convention=convention)
    assert np.allclose(s.lr([1, 50]), 1e-3)


def test_trace_warmup_given_before_the_first_logged_lr():
    eta = interpolate_trace([2176, 3000], [3e-4, 3e-4], warmup_steps=2160)
    assert eta[1080] == pytest.approx(1.5e-4) and eta[2160] == eta[2170] == pytest.approx(3e-4)
    default = interpolate_trace([2176, 3000], [3e-4, 3e-4])
    assert default[2160] == pytest.approx(3e-4 * 2160 / 2176)  # without it: a ramp to the first logged step
    # a warmup ending after the first logged lr cannot be honoured: the log shows the ramp itself
    assert np.array_equal(interpolate_trace([1000, 3000], [1e-4, 3e-4], warmup_steps=2000),
                          interpolate_trace([1000, 3000], [1e-4, 3e-4]))


def test_cli_fit_curves_warmup_for_logs_and_predict_trace(cli, tmp_path):
    from tests.conftest import shared_data

    f = shared_data("mpl_schedules", "csv_25", "constant_24000.csv")
    r = cli("fit", "curves", str(f), str(f.parent / "cosine_24000.csv"), str(f.parent / "wsdcon_9.csv"),
            "--warmup", "2160", "--law", "annealing", "--no-intervals",  # annealing alone: a fast fit
            "--out", str(tmp_path / "w.yaml"))
    assert r.exit_code == 0, r.stderr
    assert "lr logged from step 2176: a linear warmup from 0 over the given 2160 steps" in r.stdout
    trace = tmp_path / "t.csv"
    trace.write_text("step,lr\n2176,3e-4\n24000,3e-4\n")
    p = cli("predict", "mpl-25m", "--lr-trace", str(trace), "--warmup", "2160")
    assert p.exit_code == 0 and "linear warmup from 0 over the given 2160 steps" in p.stdout


# -- a trainer config's own schedule ----------------------------------------------------------------

CONFIGS = __import__("pathlib").Path(__file__).parent / "data" / "configs"


def _trainer_lr(name):
    from hpadvisor.formats.registry import read_config

    return schedules.from_trainer(read_config(CONFIGS / name))


def test_megatron_config_decays_over_lr_decay_iters_then_holds_the_floor():
    # llama2_7b_megatron.yaml: lr 3e-4, min_lr 3e-5, cosine, warmup 1% of lr_decay_iters 430000,
    # train_iters 476837.  Megatron: ratio = (s - warmup) / (decay_iters - warmup),
    # lr = min + (max - min) * 0.5 * (cos(pi * ratio) + 1), and min_lr after decay_iters.
    eta, label, notes = _trainer_lr("llama2_7b_megatron.yaml")
    assert eta.size == 476_838 and label.startswith(str(CONFIGS / "llama2_7b_megatron.yaml"))
    assert eta[4300] == pytest.approx(3e-4)
    mid = 4300 + (430_000 - 4300) // 2
    assert eta[mid] == pytest.approx(3e-5 + 2.7e-4 * 0.5 * (math.cos(math.pi * (mid - 4300) / (430_000 - 4300)) + 1))
    assert eta[430_000] == pytest.approx(3e-5) and np.all(eta[430_000:] == eta[430_000])
    assert notes == ["the lr decays over 430,000 steps and stays at 3e-05 for the last 46,837 of 476,837."]


def test_torchtitan_wsd_config_cools_down_over_its_decay_ratio():
    eta, _, notes = _trainer_lr("torchtitan_llama3_8b.toml")  # warmup 2000, 100k steps, decay_ratio 0.2, 1-sqrt, to 0
    assert eta.size == 100_001 and eta[80_000] == pytest.approx(3e-4) and eta[100_000] == pytest.approx(0.0, abs=1e-12)
    assert eta[90_000] == pytest.approx(3e-4 * (1 - math.sqrt(0.5)))
    assert eta[0] == pytest.approx(3e-4 / 2000) and eta[1999] == pytest.approx(3e-4)  # (s + 1) / W
    assert notes == []


def test_torchtitan_convention_golden_values():
    # torchtitan linear_warmup_stable_decay (min_lr_factor versions), a LambdaLR factor for update s:
    # (s + 1) / W for s < W; 1 until W + S with S = T + 1 - W - D; then p = (s + 1 - (W + S)) / D and
    # min_lr_factor + (1 - min_lr_factor) * (1 - p).  T = 10, W = 2, D = 4 (decay_ratio 0.4), factor 0.1:
    s = Schedule("wsd", peak=1.0, total_steps=10, warmup_steps=2, decay_steps=4, min_lr=0.1, convention="torchtitan")
    assert s.sequence() == pytest.approx([0.5, 1, 1, 1, 1, 1, 1, 0.775, 0.55, 0.325, 0.1])
    # no decay_ratio: D = T - W, one "virtual" stable step, then p = (s - W) / (T - W) as Megatron's ratio
    c = Schedule("cosine", peak=1.0, total_steps=10, warmup_steps=2, convention="torchtitan")
    assert c.lr([0, 1, 2, 3, 10]) == pytest.approx([0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 8)), 0.0])


def _toml(tmp_path, text):
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "job.toml"
    f.write_text(text)
    return schedules.from_trainer(read_config(f))


def test_torchtitan_config_cooldown_longer_than_the_run_after_warmup_is_shortened_as_torchtitan_does(tmp_path):
    head = '[optimizer]\nlr = 1.0\n[training]\nsteps = 10\n[lr_scheduler]\nwarmup_steps = 4\nmin_lr_factor = 0.1\n'
    eta, _, notes = _toml(tmp_path, head + 'decay_ratio = 0.8\ndecay_type = "linear"\n')
    # D = round(8) capped to T - W = 6; S = 1: update 5 is 0.1 + 0.9 * (1 - 1/6)
    assert eta == pytest.approx([0.25, 0.5, 0.75, 1, 1, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1])
    assert notes == ["torchtitan shortens the cooldown (8 steps) to the 6 steps after the warmup."]
    eta, _, _ = _toml(tmp_path, head + "decay_ratio = 0.04\n")  # round(0.4) = 0 steps of decay: no decay
    assert eta == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 1, 1])
    _, _, notes = _toml(tmp_path, head.replace("min_lr_factor", "lr_min") + "decay_ratio = 0.2\n")
    assert notes == [("torchtitan: computed as its min_lr_factor versions do; versions with lr_scheduler.lr_min "
                      "ramped the warmup to (s + 1) / (W + 1) and decayed over one step more.")]


def _nanotron(tmp_path, sched):
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "nanotron.yaml"
    f.write_text("optimizer:\n  learning_rate_scheduler:\n" + "".join(f"    {k}: {v}\n" for k, v in sched.items())
                 + "  optimizer_factory:\n    name: adamW\ntokens:\n  train_steps: 10\n  micro_batch_size: 1\n"
                 "  sequence_length: 512\n  batch_accumulation_per_replica: 1\n")
    cfg = read_config(f)
    assert cfg.format == "nanotron"
    return schedules.from_trainer(cfg)


def test_nanotron_schedule_is_its_lr_lambda_step_by_step(tmp_path):
    # nanotron lr_lambda: s / W for s <= W; peak until lr_decay_starting_step; then
    # min + (peak - min) * (D - (s - start)) / D; min_decay_lr from start + D on.  The decay style
    # defaults to linear and lr_decay_steps to train_steps - warmup (LRSchedulerArgs / Config.__post_init__).
    base = {"learning_rate": 1.0, "lr_warmup_steps": 2, "lr_warmup_style": "linear", "min_decay_lr": 0.2}
    eta, _, notes = _nanotron(tmp_path, base)
    assert eta == pytest.approx([0, 0.5, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]) and notes == []
    # a decay start after the warmup: stable, then the decay over train_steps - warmup = 8 steps, past the end
    eta, _, notes = _nanotron(tmp_path, {**base, "lr_decay_starting_step": 4})
    assert eta == pytest.approx([0, 0.5, 1, 1, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert "past the run's end" in notes[-1]
    # a constant warmup style: the peak from the first update
    eta, _, _ = _nanotron(tmp_path, {**base, "lr_warmup_style": "constant", "lr_decay_style": "cosine"})
    assert eta[:3] == pytest.approx([1, 1, 1]) and eta[6] == pytest.approx(0.2 + 0.8 * 0.5)


def test_megatron_lr_warmup_init_starts_the_ramp(tmp_path):
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "megatron.yaml"
    f.write_text("lr: 1.0e-3\nmin_lr: 1.0e-4\nlr_warmup_init: 1.0e-4\nlr_warmup_iters: 10\ntrain_iters: 100\n"
                 "lr_decay_style: cosine\nglobal_batch_size: 8\nseq_length: 1024\n")
    cfg = read_config(f, format="megatron")
    eta, _, _ = schedules.from_trainer(cfg)
    assert eta[:2] == pytest.approx([1e-4, 1e-4 + 9e-4 / 10]) and eta[10] == pytest.approx(1e-3)
    f.write_text(f.read_text().replace("lr_warmup_init: 1.0e-4", "lr_warmup_init: 2.0e-3"))
    with pytest.raises(InvalidInputError, match="lr_warmup_init = 0.002 is not an lr in"):
        schedules.from_trainer(read_config(f, format="megatron"))


def test_hf_config_uses_the_hf_convention_and_its_min_lr_rate():
    eta, label, _ = _trainer_lr("hf_training_args.json")
    assert label.endswith("[hf]") and eta.size == 100_001
    assert eta[1000] == pytest.approx(4e-4) and eta[-1] == pytest.approx(4e-5)


def test_a_config_schedule_that_cannot_be_built_is_one_clear_error():
    from hpadvisor.formats.base import Setting, TrainerConfig

    with pytest.raises(InvalidInputError, match="sets decay_steps, warmup_steps by code hpadvisor does not run: .* write them as literal values"):
        _trainer_lr("nanogpt_with_code.py")

    def cfg(**values):
        return TrainerConfig("x.yaml", "megatron", {k: Setting(v, k, None) for k, v in values.items()})

    with pytest.raises(InvalidInputError, match="does not give the peak lr"):
        schedules.from_trainer(cfg(train_steps=1000, schedule="cosine"))
    with pytest.raises(InvalidInputError, match="does not give its lr decay style"):
        schedules.from_trainer(cfg(lr=1e-3, train_steps=1000))
    with pytest.raises(InvalidInputError, match="its 'exponential' lr decay is not one hpadvisor computes"):
        schedules.from_trainer(cfg(lr=1e-3, train_steps=1000, schedule="exponential"))
    # a decay horizon past the run: the decay is cut short, as the trainer does
    eta, _, notes = schedules.from_trainer(cfg(lr=1e-3, min_lr=0.0, train_steps=1000, decay_steps=2000,
                                               schedule="linear"))
    assert eta.size == 1001 and eta[-1] == pytest.approx(5e-4)
    assert notes == ["the decay horizon (2,000 steps) is past the run's end (1,000): the lr ends at 0.0005, "
                     "above its floor 0."]


def test_cli_schedule_and_predict_from_a_trainer_config(cli, tmp_path):
    cfg = str(CONFIGS / "llama2_7b_megatron.yaml")
    out = tmp_path / "lr.csv"
    r = cli("schedule", "--config", cfg, "--out", str(out), "--every", "1000")
    assert r.exit_code == 0, r.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "step,lr" and rows[-1] == "476837,3e-05" and len(rows) == 1 + 477 + 1
    assert "stays at 3e-05 for the last 46,837" in r.stdout
    p = cli("predict", "mpl-400m", "--config", cfg, "--at", "430000,476837", "--format", "json")
    assert p.exit_code == 0, p.stderr
    import json

    from hpadvisor.laws.curves import MPL_400M

    eta, _, _ = _trainer_lr("llama2_7b_megatron.yaml")
    expect = MPL_400M.curve(eta, [430_000, 476_837])
    assert [x["loss"] for x in json.loads(p.stdout)["points"]] == pytest.approx(expect, rel=1e-12)
    bad = cli("predict", "mpl-400m", "--config", cfg, "--steps", "1000")
    assert bad.exit_code == 2 and "--config gives the whole schedule: drop --steps" in bad.stderr
    both = cli("schedule", "--config", cfg, "--lr", "1e-3")
    assert both.exit_code == 2 and "drop --lr" in both.stderr


@settings(max_examples=80, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "lr": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(3e-4)),
    "min_lr": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0)),
    "train_steps": st.one_of(st.integers(-5, 5000), st.floats(allow_nan=True, allow_infinity=True)),
    "warmup_steps": st.one_of(st.integers(-5, 6000), st.floats(0, 1e4)),
    "decay_steps": st.one_of(st.integers(-5, 8000), st.none()),
    "wsd_decay_steps": st.one_of(st.integers(-5, 8000), st.none()),
    "wsd_decay_style": st.sampled_from(["linear", "1-sqrt", "cosine", "exponential", "bogus"]),
    "schedule": st.sampled_from(["cosine", "linear", "wsd", "constant", "inverse_sqrt", "exponential", "multistep", "x"]),
}), st.sampled_from(formats()))
def test_any_config_values_give_a_schedule_or_our_error(values, fmt):
    from hpadvisor.formats.base import Setting, TrainerConfig

    cfg = TrainerConfig("c.yaml", fmt, {k: Setting(v, k, None) for k, v in values.items()})
    try:
        eta, _, _ = schedules.from_trainer(cfg)
    except HpAdvisorError:
        return
    assert eta.size == int(round(values["train_steps"])) + 1 and np.all(np.isfinite(eta)) and np.all(eta >= 0)


def test_cli_fit_curves_takes_the_lr_of_logs_without_one_from_a_trainer_config(cli, tmp_path):
    from hpadvisor.laws.curves import MPL_400M

    eta, label, _ = _trainer_lr("torchtitan_llama3_8b.toml")
    steps = np.arange(2000, 100_001, 500)
    log = tmp_path / "run.csv"
    log.write_text("step,loss\n" + "".join(f"{s},{v:.6f}\n" for s, v in zip(steps, MPL_400M.curve(eta, steps),
                                                                             strict=True)))
    out = tmp_path / "law.yaml"
    cfg = str(CONFIGS / "torchtitan_llama3_8b.toml")
    r = cli("fit", "curves", str(log), "--config", cfg, "--no-intervals", "--out", str(out), "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = __import__("json").loads(r.stdout)
    assert summary["notes"][0] == f"the given schedule (--config): {label}."
    assert any(n.endswith("no lr column: the lr of the given schedule.") for n in summary["notes"])
    # the curve came from that very schedule, so the fit follows it closely
    assert summary["runs"][0]["mean_rel_error"] < 1e-3
    both = cli("fit", "curves", str(log), "--config", cfg, "--schedule", "cosine", "--out", str(tmp_path / "b.yaml"))
    assert both.exit_code == 2 and "give the lr schedule once: --config, or --schedule with its flags; drop --schedule" in both.stderr


def _hf(tmp_path, **args):
    import json

    from hpadvisor.formats.registry import read_config

    f = tmp_path / "args.json"
    f.write_text(json.dumps({"learning_rate": 1.0, "max_steps": 10, **args}))
    return schedules.from_trainer(read_config(f))


def test_hf_schedules_step_by_step_as_transformers_builds_them(tmp_path):
    # _get_wsd_scheduler_lambda: warmup from min_lr_ratio, min_lr_ratio + (1 - r) * s / W for s < W; 1 until
    # W + S (S = T - W - D); then min_lr_ratio + (1 - r) * (1 - (s - W - S) / D); min_lr_ratio from W + S + D on.
    wsd = {"lr_scheduler_type": "warmup_stable_decay", "warmup_steps": 2,
           "lr_scheduler_kwargs": {"num_decay_steps": 4, "min_lr_ratio": 0.1, "decay_type": "linear"}}
    eta, _, notes = _hf(tmp_path, **wsd)
    assert eta == pytest.approx([0.1, 0.55, 1, 1, 1, 1, 1, 0.775, 0.55, 0.325, 0.1]) and notes == []
    with pytest.raises(InvalidInputError, match=r"its cosine warmup \(lr_scheduler_kwargs.warmup_type\) is not one"):
        _hf(tmp_path, **{**wsd, "lr_scheduler_kwargs": {**wsd["lr_scheduler_kwargs"], "warmup_type": "cosine"}})
    # get_scheduler builds "constant" without num_warmup_steps: no warmup at all
    eta, _, _ = _hf(tmp_path, lr_scheduler_type="constant", warmup_steps=5)
    assert np.all(eta == 1.0)
    eta, _, _ = _hf(tmp_path, lr_scheduler_type="constant_with_warmup", warmup_steps=5)
    assert eta[:6] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1])
    _, _, notes = _hf(tmp_path, lr_scheduler_type="cosine_warmup_with_min_lr", warmup_steps=2,
                      lr_scheduler_kwargs={"min_lr_rate": 0.1})
    assert notes == ["cosine_warmup_with_min_lr: computed with HF's cosine convention; transformers ramps this "
                     "one to (s + 1) / W and decays one step earlier."]


@pytest.mark.parametrize("warmup", [{"warmup_steps": 2}, {"warmup_ratio": 0.2}, {"warmup_steps": 0.2}])
def test_hf_wsd_with_stable_steps_ends_its_decay_at_warmup_plus_stable_plus_decay(tmp_path, warmup):
    """get_wsd_schedule with num_stable_steps: the decay runs over W + S .. W + S + D, then min_lr_ratio
    to max_steps; a warmup given as a ratio (ceil(0.2 x 10) = 2) must place it the same."""
    eta, _, _ = _hf(tmp_path, lr_scheduler_type="warmup_stable_decay", **warmup, lr_scheduler_kwargs={
        "num_stable_steps": 3, "num_decay_steps": 4, "min_lr_ratio": 0.1, "decay_type": "linear"})
    assert eta == pytest.approx([0.1, 0.55, 1, 1, 1, 1, 0.775, 0.55, 0.325, 0.1, 0.1])


def test_hf_constant_schedule_says_its_warmup_is_ignored(tmp_path):
    import json

    from hpadvisor.formats.registry import read_config

    f = tmp_path / "args.json"
    f.write_text(json.dumps({"learning_rate": 1e-3, "max_steps": 10, "lr_scheduler_type": "constant",
                             "warmup_ratio": 0.1}))
    cfg = read_config(f)
    assert cfg.value("warmup_steps") == 0
    assert any("runs without a warmup" in n for n in cfg.notes)


def test_neox_convention_golden_values():
    # GPT-NeoX AnnealingLR.get_lr: start * s / W for s <= W; q = (s - W) / (E - W), not capped;
    # linear start * (1 - q) (to zero), cosine min + (start - min) (cos(pi q) + 1) / 2; max(lr, min_lr).
    lin = Schedule("linear", peak=1.0, total_steps=10, warmup_steps=2, min_lr=0.3, convention="neox")
    assert lin.lr([0, 1, 2, 4, 6, 7, 8, 10, 12]) == pytest.approx([0, 0.5, 1, 0.75, 0.5, 0.375, 0.3, 0.3, 0.3])
    cos = Schedule("cosine", peak=1.0, total_steps=10, warmup_steps=2, min_lr=0.2, convention="neox")
    assert cos.lr([6, 10, 14, 18]) == pytest.approx([0.6, 0.2, 0.6, 1.0])  # past E the cosine rises again


def test_neox_config_cosine_past_lr_decay_iters_rises_again(tmp_path):
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "neox.yml"
    f.write_text('{"optimizer": {"type": "Adam", "params": {"lr": 1.0}}, "min_lr": 0.2, "train_iters": 18,\n'
                 ' "lr_decay_iters": 10, "warmup": 0.2, "lr_decay_style": "cosine"}\n')
    eta, label, notes = schedules.from_trainer(read_config(f))
    assert label.endswith("[neox]") and eta[[2, 6, 10, 14, 18]] == pytest.approx([1.0, 0.6, 0.2, 0.6, 1.0])
    assert notes == ["GPT-NeoX's cosine is not held at its floor after lr_decay_iters (10): it rises again, to 1 "
                     "at the run's end (18 steps)."]


def test_megatron_inverse_sqrt_drops_to_min_lr_after_lr_decay_iters(tmp_path):
    # OptimizerParamScheduler.get_lr: min_lr for num_steps > lr_decay_steps, before the inverse-sqrt branch
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "megatron.yaml"
    f.write_text("lr: 1.0e-3\nmin_lr: 1.0e-5\nlr_warmup_iters: 100\ntrain_iters: 1000\nlr_decay_iters: 400\n"
                 "lr_decay_style: inverse-square-root\nglobal_batch_size: 8\nseq_length: 1024\n")
    eta, _, notes = schedules.from_trainer(read_config(f, format="megatron"))
    assert eta[[100, 400, 401, 1000]] == pytest.approx([1e-3, 5e-4, 1e-5, 1e-5])
    assert notes == ["the lr decays over 400 steps and stays at 1e-05 for the last 600 of 1,000."]


def test_hf_inverse_sqrt_timescale():
    # transformers: 1 / sqrt((s + timescale - W) / timescale), timescale = W, or 10,000 without warmup
    assert Schedule("inverse_sqrt", peak=1.0, total_steps=10**5, warmup_steps=100, convention="hf").lr(
        [50, 100, 400]) == pytest.approx([0.5, 1.0, 0.5])
    assert Schedule("inverse_sqrt", peak=1.0, total_steps=10**5, convention="hf").lr(
        [0, 30_000]) == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize(("kind", "kwargs", "said"), [
    ("polynomial", {"power": 2.0}, "polynomial decay with power 2"),
    ("cosine_with_restarts", {"num_cycles": 3}, "cosine with num_cycles 3"),
    ("cosine", {"num_cycles": 1.5}, "cosine with num_cycles 1.5"),
])
def test_hf_decays_the_plain_shapes_do_not_describe_are_refused(tmp_path, kind, kwargs, said):
    with pytest.raises(InvalidInputError, match=f"its {said} .* is not a schedule hpadvisor computes"):
        _hf(tmp_path, lr_scheduler_type=kind, warmup_steps=2, lr_scheduler_kwargs=kwargs)
    eta, _, _ = _hf(tmp_path, lr_scheduler_type=kind, warmup_steps=2,  # the defaults are the plain shapes
                    lr_scheduler_kwargs={k: {"power": 1.0, "num_cycles": 1 if "restarts" in kind else 0.5}[k]
                                         for k in kwargs})
    assert eta.size == 11


def test_nanogpt_without_decay_lr_runs_the_peak_from_the_first_step(tmp_path):
    # train.py: lr = get_lr(iter_num) if decay_lr else learning_rate
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "train_x.py"
    f.write_text("learning_rate = 1e-3\nmax_iters = 100\nwarmup_iters = 10\ndecay_lr = False\n")
    eta, _, _ = schedules.from_trainer(read_config(f, format="nanogpt"))
    assert np.all(eta == 1e-3)


def test_cli_format_in_names_the_trainer_of_a_config_it_cannot_detect(cli, tmp_path):
    f = tmp_path / "bare.yaml"
    f.write_text("lr: 1.0e-3\nlr_warmup_init: 0.0\ntrain_iters: 100\nlr_decay_style: cosine\n")
    auto = cli("schedule", "--config", str(f), "--every", "10")
    assert auto.exit_code == 2 and "Name the format explicitly (--format-in: one of megatron" in auto.stderr
    for cmd in (["schedule", "--every", "10"], ["predict", "mpl-400m"], ["compare-schedules", "mpl-400m", "--no-search"]):
        r = cli(*cmd, "--config", str(f), "--format-in", "megatron")
        assert r.exit_code == 0, (cmd, r.stderr)
    r = cli("schedule", "--config", str(f), "--format-in", "megatron", "--every", "10", "--out", str(tmp_path / "lr.csv"))
    assert r.exit_code == 0 and "[megatron]" in r.stdout
    lines = (tmp_path / "lr.csv").read_text().splitlines()
    assert lines[1] == "0,0.001"  # Megatron's defaults: no warmup (lr_warmup_iters 0), cosine to min_lr 0
    bad = cli("predict", "mpl-400m", "--schedule", "cosine", "--steps", "1000", "--format-in", "megatron")
    assert bad.exit_code == 2 and "--format-in names the trainer of --config: give --config FILE too." in bad.stderr
    typo = cli("schedule", "--config", str(f), "--format-in", "megatorn")
    assert typo.exit_code == 2 and "--format-in 'megatorn' is not a trainer hpadvisor reads. Did you mean 'megatron'?" in typo.stderr
    log = tmp_path / "run.csv"
    log.write_text("step,loss\n" + "".join(f"{s},{3.0 - s / 1000}\n" for s in range(10, 101, 10)))
    fit = cli("fit", "curves", str(log), "--config", str(f), "--format-in", "hf", "--out", str(tmp_path / "l.yaml"))
    assert fit.exit_code == 2 and fit.stderr.startswith("Error: ")  # read as HF it has no schedule: one line


def test_torchtitan_warmup_as_long_as_the_run_only_ramps(tmp_path):
    eta, _, notes = _toml(tmp_path, '[optimizer]\nlr = 1.0\n[training]\nsteps = 4\n[lr_scheduler]\nwarmup_steps = 8\n')
    # torchtitan sets warmup_steps = training.steps (4), then ramps (s + 1) / 4; step 4 is its "virtual" step
    assert eta == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert notes == ["torchtitan: the warmup (8 steps) is not shorter than the run (4): the lr only ramps up, "
                     "and never decays."]


def test_nanotron_decay_starting_inside_the_warmup_is_its_lr_lambda(tmp_path):
    """lr_lambda's warmup branch wins for s <= W; after it the decay is (s - start) / D of the way:
    W = 4, start 2, D = 6, min 0.2: 0, .25, .5, .75, 1, then 0.2 + 0.8 (6 - 3) / 6 = 0.6 at s = 5 ...
    (it was refused)."""
    base = {"learning_rate": 1.0, "lr_warmup_steps": 4, "lr_warmup_style": "linear", "min_decay_lr": 0.2,
            "lr_decay_starting_step": 2, "lr_decay_steps": 6}
    eta, label, notes = _nanotron(tmp_path, base)
    assert "warmup 4, decay from step 2" in label
    lam = [s / 4 if s <= 4 else (0.2 + 0.8 * (6 - (s - 2)) / 6 if s < 8 else 0.2) for s in range(11)]
    assert eta == pytest.approx(lam, rel=1e-12)
    assert "the decay starts at step 2, inside the 4-step warmup" in " ".join(notes)
    # cosine, and a decay that ends inside the warmup: the floor right after it
    eta, _, _ = _nanotron(tmp_path, {**base, "lr_decay_style": "cosine"})
    assert eta[5] == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi * 3 / 6)) / 2, rel=1e-12)
    eta, _, _ = _nanotron(tmp_path, {**base, "lr_decay_starting_step": 1, "lr_decay_steps": 2})
    assert eta == pytest.approx([0, 0.25, 0.5, 0.75, 1] + [0.2] * 6, rel=1e-12)


def test_a_run_file_names_the_trainer_whose_lr_formulas_it_follows(cli, tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("model: {params: 125M}\ndata: {tokens: 2.5B}\noptimizer: {lr: 1.0e-3}\nbatch: 0.5M tokens\n"
                   "seq_len: 2048\nschedule: {shape: cosine, warmup: 10 steps, min_lr: 1.0e-4, trainer: torchtitan}\n")
    for args in (["schedule", str(run)], ["schedule", "--config", str(run), "--format-in", "hpadvisor"]):
        out = tmp_path / "lr.csv"
        r = cli(*args, "--out", str(out), "--force")
        assert r.exit_code == 0, r.stderr
        rows = out.read_text().splitlines()
        assert rows[1:3] == ["0,0.0001", "1,0.0002"]  # torchtitan: (s + 1) / W, W = 10
    assert cli("schedule", str(run), "--convention", "megatron", "--out", str(out), "--force").exit_code == 0
    assert out.read_text().splitlines()[1] == "0,0"  # the flag wins: Megatron ramps s / W
    from hpadvisor.formats.registry import read_config

    _, label, notes = schedules.from_trainer(read_config(run))
    assert label.endswith("[torchtitan]") and not any("Megatron's convention" in n for n in notes)
    run.write_text(run.read_text().replace("trainer: torchtitan", "trainer: megatorn"))
    bad = cli("schedule", str(run))
    assert bad.exit_code == 2 and "'schedule.trainer' = 'megatorn' is not one of" in bad.stderr


def test_a_fractional_warmup_is_counted_as_megatron_counts_it(tmp_path):
    """Megatron's lr_warmup_fraction x lr_decay_iters can be 10.5 steps: get_lr ramps to
    peak s / 10.5 for s <= 10.5 and decays over (s - 10.5) / (1050 - 10.5) (its num_steps count
    samples, so the warmup need not end on a step); it was rounded to 10 steps."""
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "m.yaml"
    f.write_text("lr: 1.0e-3\nmin_lr: 1.0e-4\nlr_decay_style: linear\ntrain_iters: 1000\nlr_decay_iters: 1050\n"
                 "lr_warmup_fraction: 0.01\nglobal_batch_size: 64\nmicro_batch_size: 4\n")
    eta, label, notes = schedules.from_trainer(read_config(f, format="megatron"))
    assert not [n for n in notes if "computed as" in n]
    assert "warmup 10.5" in label
    assert eta[10] == pytest.approx(1e-3 * 10 / 10.5, rel=1e-12)
    r = (11 - 10.5) / (1050 - 10.5)
    assert eta[11] == pytest.approx(1e-4 + (1e-3 - 1e-4) * (1 - r), rel=1e-12)
    assert eta[1000] == pytest.approx(1e-4 + 9e-4 * (1 - (1000 - 10.5) / 1039.5), rel=1e-12)


def test_a_fractional_count_is_said_where_the_trainer_rounds_it(tmp_path):
    """A fractional decay horizon (samples / batch) is computed in whole steps, and says so; HF's
    convention has whole-step warmups, so a fractional one is rounded there too."""
    from hpadvisor.formats.registry import read_config

    f = tmp_path / "m.yaml"
    f.write_text("lr: 1.0e-3\nmin_lr: 1.0e-4\nlr_decay_style: linear\ntrain_samples: 64000\n"
                 "lr_decay_samples: 67232\nlr_warmup_samples: 672\nglobal_batch_size: 64\nmicro_batch_size: 4\n")
    eta, _, notes = schedules.from_trainer(read_config(f, format="megatron"))
    assert eta.size == 1001 and eta[10] == pytest.approx(1e-3 * 10 / 10.5, rel=1e-12)
    assert "lr_decay_samples gives 1050.5 steps, computed as 1050" in " ".join(notes)
    with pytest.raises(InvalidInputError, match="a whole number"):
        schedules.Schedule("cosine", peak=1e-3, total_steps=100, warmup_steps=10.5, convention="hf")
