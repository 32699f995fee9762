"""The check rules on hand-built TrainerConfigs: each rule fires where it should, with the numbers
its formula gives, and stays quiet where it should; rule settings; the machine outputs."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpadvisor.check import output as check_output
from hpadvisor.check import rules as chk
from hpadvisor.check import settings as check_config
from hpadvisor.errors import HpAdvisorError
from hpadvisor.formats.base import Setting, TrainerConfig
from hpadvisor.laws import REGISTRY

# A ~0.5B dense model on 10B tokens: inside Step Law's (N 2.15e8-1.07e9, D 4e9-1e11) and Zhang's
# (D 1.7e9-2.4e10) fitted ranges, so no grade is softened for extrapolation.
ARCH = dict(d_model=1536, n_layers=16, n_heads=16, ffn_hidden=4096, vocab_size=32000, swiglu=True,
            tied_embeddings=False)
SEQ = 2048


def make(path="run.yaml", fmt="megatron", **values) -> TrainerConfig:
    settings_ = {}
    for i, (k, v) in enumerate(values.items(), start=1):
        settings_[k] = v if isinstance(v, Setting) else Setting(v, f"f_{k}", i, v)
    return TrainerConfig(path, fmt, settings_)


def base(batch_seqs=256, tokens=1e10, **extra):
    steps = math.ceil(tokens / (batch_seqs * SEQ))
    return {**ARCH, "seq_len": SEQ, "global_batch_seqs": batch_seqs, "train_steps": steps,
            "decay_steps": steps, "tokens": steps * batch_seqs * SEQ, "schedule": "cosine", **extra}


def advice_of(values, laws=None):
    ctx, _ = chk.build_context(make(**values), laws=laws)
    assert ctx.advice is not None, ctx.skipped
    return ctx


def only(findings, rule):
    got = [f for f in findings if f.rule == rule]
    assert len(got) == 1, [f.rule for f in findings]
    return got[0]


def rules_of(cfg, **kw):
    ctx, _ = chk.build_context(cfg, **kw)
    return chk.run_rules(ctx)


# -- lr ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor, grade", [(1.0, None), (1.5, None), (2.0, "warning"), (4.0, "error"),
                                           (0.25, "warning")])
def test_lr_graded_by_the_sensitivity_law_cost(factor, grade):
    opt = advice_of(base()).rec("peak_lr").value
    found = [f for f in rules_of(make(**base(lr=factor * opt))) if f.rule == "lr-outside-plateau"]
    sens = REGISTRY["steplaw-sensitivity"]
    cost = float(sens.relative_loss_cost(factor, 1.0))
    if grade is None:
        assert not found and cost < chk.PLATEAU_COST
        return
    (f,) = found
    assert f.severity == grade
    assert f"Predicted loss cost {cost:.2%}" in f.message
    # 2x too high costs exp(lr_hi ln2^2) - 1 = 0.53%; 4x: 2.1%; 4x too low: exp(4 lr_lo ln2^2) - 1 = 0.91%
    expected = {2.0: 0.0053, 4.0: 0.0212, 0.25: 0.0091}[factor]
    assert cost == pytest.approx(expected, abs=1e-4)
    assert f.field == "f_lr" and f.line == list(base(lr=1)).index("lr") + 1
    assert f.suggestion == f"set f_lr to {chk._num(float(f'{opt:.3g}'))} (steplaw)"


def test_lr_without_sensitivity_law_states_ratio_and_unknown_cost():
    laws = {k: v for k, v in REGISTRY.items() if k != "steplaw-sensitivity"}
    ctx = advice_of(base(), laws=laws)
    rec = ctx.rec("peak_lr")
    values = [rec.value, *[v for v in rec.alternatives.values() if v]]
    hi = max(values)
    f = only(rules_of(make(**base(lr=5 * hi)), laws=laws), "lr-outside-plateau")
    assert f.severity == "error"  # > 4x beyond every law
    assert "loss cost unknown" in f.message
    assert f"{5 * hi / rec.value:.3g}x the steplaw optimum" in f.message
    f = only(rules_of(make(**base(lr=3 * hi)), laws=laws), "lr-outside-plateau")
    assert f.severity == "warning"
    assert not [f for f in rules_of(make(**base(lr=1.9 * rec.value)), laws=laws)
                if f.rule == "lr-outside-plateau"]


# -- batch -----------------------------------------------------------------------------------------


def test_batch_above_critical_tokens_wasted_from_mccandlish():
    crit = float(REGISTRY["zhang-cbs"].critical_batch_tokens(1e10))  # ~0.88M tokens
    seqs = math.ceil(5 * crit / SEQ)
    cfg = make(**base(batch_seqs=seqs))
    f = only(rules_of(cfg), "batch-above-critical")
    ratio = seqs * SEQ / crit
    assert ratio == pytest.approx(5, rel=0.01)
    assert f.severity == "error"
    tokens = cfg.value("tokens")
    wasted = 1 - 2 / (1 + ratio)  # E/E_min = 1 + B/B_crit, and 2 at B_crit
    assert f"about {wasted:.0%} of the" in f.message and wasted == pytest.approx(0.667, abs=0.01)
    assert f"E/E_min = 1 + B/B_crit = {1 + ratio:.3g}" in f.message
    assert f.suggestion.startswith("set f_global_batch_seqs to ")
    suggested = int(f.suggestion.split()[3])
    assert suggested * SEQ <= crit
    seqs2 = math.ceil(2.5 * crit / SEQ)
    assert only(rules_of(make(**base(batch_seqs=seqs2))), "batch-above-critical").severity == "warning"
    assert not [x for x in rules_of(make(**base(batch_seqs=256))) if x.rule == "batch-above-critical"]
    assert tokens > 0


# -- schedule --------------------------------------------------------------------------------------


def test_warmup_rules():
    v = base()
    rec = advice_of(v).rec("warmup_steps")
    f = only(rules_of(make(**v, warmup_steps=0)), "warmup-too-short")
    assert f.severity == "warning" and "no warmup" in f.message
    assert f.suggestion == f"set f_warmup_steps to {round(rec.value)} ({round(rec.value)} steps, olmo-warmup)"
    assert not [x for x in rules_of(make(**v, warmup_steps=round(rec.value))) if x.rule.startswith("warmup")]
    long = only(rules_of(make(**v, warmup_steps=int(0.3 * v["train_steps"]))), "warmup-too-long")
    assert long.severity == "warning" and "30% of the run" in long.message
    assert only(rules_of(make(**v, warmup_steps=v["train_steps"])), "warmup-too-long").severity == "error"
    # a warmup as long as the longest rule, but 40% of a short run, is too long all the same
    short = base(tokens=SEQ * 256 * 5000)
    longest = max([advice_of(short).rec("warmup_steps").value,
                   *[x for x in advice_of(short).rec("warmup_steps").alternatives.values() if x]])
    assert 0.10 * 5000 < longest <= 5000, longest
    tie = only(rules_of(make(**short, warmup_steps=longest)), "warmup-too-long")
    assert "no shorter than the longest rule" in tie.message and tie.suggestion.startswith("set f_warmup_steps to 500 ")


def test_decay_horizon():
    v = base()
    t = v["train_steps"]
    f = only(rules_of(make(**{**v, "decay_steps": int(2.5 * t)})), "decay-horizon-mismatch")
    # cosine at 1/2.5 = 40% of the horizon: 0.5 (1 + cos(0.4 pi)) = 65% of the way to the peak
    assert f.severity == "error" and "still 65% of the way" in f.message
    f = only(rules_of(make(**{**v, "decay_steps": int(0.8 * t)})), "decay-horizon-mismatch")
    assert f.severity == "warning" and "(20% of the run)" in f.message
    assert f.suggestion == f"set f_decay_steps to {t} (the run length)"
    assert not [x for x in rules_of(make(**{**v, "decay_steps": int(0.97 * t)}))
                if x.rule == "decay-horizon-mismatch"]
    assert not [x for x in rules_of(make(**{**v, "decay_steps": 3 * t, "schedule": "constant"}))
                if x.rule == "decay-horizon-mismatch"]


def test_decay_horizon_of_a_neox_cosine_that_rises_again():
    # GPT-NeoX: q = (s - W) / (E - W) runs past 1; at the end 0.5 (1 + cos(pi q)) of the way back to the peak
    v = {"lr": 3e-4, "min_lr": 3e-5, "schedule": "cosine", "train_steps": 100_000, "decay_steps": 80_000,
         "warmup_steps": 800}
    q = (100_000 - 800) / (80_000 - 800)
    f = only(rules_of(make(fmt="neox", **v)), "decay-horizon-mismatch")
    assert f.severity == "warning" and f"ending {0.5 * (1 + math.cos(math.pi * q)):.0%} of the way back" in f.message
    f = only(rules_of(make(fmt="neox", **{**v, "decay_steps": 50_000})), "decay-horizon-mismatch")
    assert f.severity == "error" and "it rises again" in f.message  # q = 2.02: back at the peak
    f = only(rules_of(make(fmt="megatron", **v)), "decay-horizon-mismatch")  # Megatron holds its floor
    assert "sits at its floor for the last" in f.message and "rises" not in f.message


def test_neox_linear_decay_reaches_its_floor_early():
    # AnnealingLR: lr = peak (E - n) / E floored at min_lr: min_lr 0.1x the peak is reached at 90% of the decay
    v = {"lr": 3e-4, "min_lr": 3e-5, "schedule": "linear", "train_steps": 100_000, "warmup_steps": 1000}
    f = only(rules_of(make(fmt="neox", **v)), "linear-floor-early")
    assert f.severity == "info" and "reaches its floor at 90% of the decay and stays there for the last 10%" in f.message
    assert not [x for x in rules_of(make(fmt="megatron", **v)) if x.rule == "linear-floor-early"]  # Megatron: to min_lr
    assert not [x for x in rules_of(make(fmt="neox", **{**v, "min_lr": 0.0})) if x.rule == "linear-floor-early"]


def test_min_lr_that_means_no_decay_even_as_a_default():
    v = base(lr=1e-3)
    default = Setting(1e-3, "min_decay_lr", None, None, ("f_lr",))
    cfg = make(**v, min_lr=default)
    f = only(rules_of(cfg), "min-lr-no-decay")
    assert f.severity == "error" and "trainer's default" in f.message
    assert f.line == list(v).index("lr") + 1  # points at the field it was derived from
    assert f.suggestion == "set min_decay_lr to 1.00e-04 (cosine-10x: 0.1x the peak)"
    assert only(rules_of(make(**v, min_lr=3e-4)), "min-lr-high").severity == "info"
    assert not [x for x in rules_of(make(**v, min_lr=1e-4)) if x.rule.startswith("min-lr")]
    assert not [x for x in rules_of(make(**{**v, "schedule": "constant"}, min_lr=1e-3))
                if x.rule.startswith("min-lr")]


# -- optimizer, muP, batch arithmetic ----------------------------------------------------------------


def test_beta2_too_low_for_a_small_batch():
    v = base(batch_seqs=128)  # 262k tokens < OLMo-core's 524,288 threshold: beta2 0.99
    f = only(rules_of(make(**v, beta2=0.95)), "beta2-too-low")
    assert "half-life of 13.5 steps" in f.message and "(69 steps)" in f.message
    assert f.suggestion == "set f_beta2 to 0.99 (olmo-beta2)"
    assert not [x for x in rules_of(make(**v, beta2=0.985)) if x.rule == "beta2-too-low"]
    assert not [x for x in rules_of(make(**base(batch_seqs=512), beta2=0.95)) if x.rule == "beta2-too-low"]


def test_weight_decay_groups_mup_and_batch_arithmetic():
    cfg = make(weight_decay=0.1, wd_on_norms=True, wd_on_embeddings=True, use_mup=True,
               mup_base_shapes=False, global_batch_seqs=1000, micro_batch_seqs=4, grad_accum=8,
               data_parallel=32, batch_arithmetic_ok=False)
    found = {f.rule: f for f in rules_of(cfg)}
    assert found["wd-on-norms"].severity == "info" and found["wd-on-embeddings"].severity == "info"
    # Megatron-LM builds its weight-decay groups in code: the fix says so rather than naming a field
    assert "megatron has no config switch for it" in found["wd-on-embeddings"].suggestion
    nano = {f.rule: f for f in rules_of(make(fmt="nanotron", weight_decay=0.1, wd_on_norms=True))}
    assert nano["wd-on-norms"].suggestion.endswith("exclude the norm gains and biases from weight decay (f_wd_on_norms)")
    assert found["mup-without-base-shapes"].severity == "error"
    f = found["batch-arithmetic"]
    assert f.severity == "error" and "= 1024" in f.message
    assert f.suggestion.startswith("set f_global_batch_seqs to 1024")
    # no tokens, no size: a gate that could not check does not pass (issue 17: it was info)
    assert found["advice-unavailable"].severity == "error"
    assert found["advice-unavailable"].field == "--params"
    quiet = make(weight_decay=0.0, wd_on_norms=True, use_mup=True, mup_base_shapes=True)
    assert {f.rule for f in rules_of(quiet)} == {"advice-unavailable"}
    assert {f.severity for f in rules_of(quiet, allow_incomplete=True)} == {"info"}


def test_compute_optimal_is_info_with_the_loss_gap():
    v = base(tokens=2e11)  # ~400 tokens per parameter
    f = only(rules_of(make(**v)), "tokens-off-compute-optimal")
    assert f.severity == "info" and "nats (chinchilla-epoch)" in f.message


def test_run_file_contradiction():
    v = base(lr=1e-3)
    ref = TrainerConfig("plan.yaml", "hpadvisor", {
        "lr": Setting(2e-3, "optimizer.lr", 7, 2e-3),
        "seq_len": Setting(SEQ, "seq_len", 3, SEQ),
        "beta2": Setting(0.95, "optimizer.beta2", None, None),  # a default: not a statement
    })
    f = only(rules_of(make(**v, beta2=0.99), reference=ref), "run-file-contradiction")
    assert f.severity == "error" and "plan.yaml:7" in f.message and f.field == "f_lr"
    assert f.suggestion == "set f_lr to 0.002"


# -- configuration and grading ---------------------------------------------------------------------


def test_disable_and_regrade(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.hpadvisor.check]\ndisable = ["wd-on-embeddings"]\n'
        'severity = { "tokens-off-compute-optimal" = "error" }\nfail-on = "warning"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    conf = check_config.load(start=sub)
    assert conf.disabled == ("wd-on-embeddings",) and conf.fail_on == "warning"
    ctx, _ = chk.build_context(make(**base(tokens=2e11), weight_decay=0.1, wd_on_embeddings=True))
    found = chk.run_rules(ctx, disabled=conf.disabled, severity=conf.severity)
    assert "wd-on-embeddings" not in {f.rule for f in found}
    assert only(found, "tokens-off-compute-optimal").severity == "error"
    (sub / ".hpadvisor.yaml").write_text("check:\n  disable: [beta2-too-low]\n")
    assert check_config.load(start=sub).disabled == ("beta2-too-low",)


@pytest.mark.parametrize("text, msg", [
    ("check:\n  disable: [wd-on-norm]\n", "Did you mean 'wd-on-norms'"),
    ("check:\n  severity: {lr-outside-plateau: fatal}\n", "must be error, warning or info"),
    ("check:\n  disable: wd-on-norms\n", "must be a list"),
    ("check:\n  fail_on: never\n", "'fail-on' must be"),
    ("check:\n  ignore: []\n", "unknown check setting"),
    ("check: [1, 2\n", "invalid YAML"),
])
def test_bad_rule_settings_are_one_line_errors(tmp_path, text, msg):
    (tmp_path / ".hpadvisor.yaml").write_text(text)
    with pytest.raises(HpAdvisorError) as err:
        check_config.load(start=tmp_path)
    assert msg in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.integers(-10**400, 10**400) | st.floats() | st.text(max_size=12),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                    max_leaves=12))
def test_rule_settings_parser_never_crashes(raw):
    try:
        conf = check_config._validate(raw, "x")
    except HpAdvisorError:
        return
    assert set(conf.disabled) <= set(chk.RULES)


# -- outputs -------------------------------------------------------------------------------------------


def _report():
    return chk.Report("configs/a b.yaml", "megatron", (
        chk.Finding("lr-outside-plateau", "error", "lr", 12, "50% off, a: b\nnext", "set lr to 1e-3"),
        chk.Finding("wd-on-embeddings", "info", "weight_decay", None, "m", "s"),
    ))


def test_json_shape_is_the_documented_one():
    data = json.loads(check_output.to_json([_report()]))
    assert list(data) == ["file", "format", "findings"]
    assert [list(f) for f in data["findings"]] == [["rule", "severity", "field", "line", "message",
                                                    "suggestion"]] * 2
    assert data["findings"][1]["line"] is None
    two = json.loads(check_output.to_json([_report(), _report()]))
    assert isinstance(two, list) and len(two) == 2


def test_sarif_structure():
    doc = json.loads(check_output.to_sarif([_report()], "1.2.3"))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(chk.RULES)
    res = run["results"]
    assert [r["level"] for r in res] == ["error", "note"]
    assert rules[res[0]["ruleIndex"]]["id"] == res[0]["ruleId"] == "lr-outside-plateau"
    loc = res[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "configs/a b.yaml" and loc["region"]["startLine"] == 12
    assert "region" not in res[1]["locations"][0]["physicalLocation"]


def test_github_annotations_escape_data_and_properties():
    lines = check_output.to_github([_report()]).splitlines()
    assert lines[0] == ("::error file=configs/a b.yaml,line=12,title=hpadvisor lr-outside-plateau::"
                        "50%25 off, a: b%0Anext Fix: set lr to 1e-3")
    assert lines[1].startswith("::notice file=configs/a b.yaml,title=hpadvisor wd-on-embeddings::")
    weird = chk.Report("x,y:z.yaml", "hf", (chk.Finding("min-lr-high", "warning", None, 3, "m", ""),))
    assert check_output.to_github([weird]) == "::warning file=x%2Cy%3Az.yaml,line=3,title=hpadvisor min-lr-high::m\n"


def test_report_fails_at_level():
    r = _report()
    assert r.fails("error") and r.fails("info")
    quiet = chk.Report("f", "hf", (chk.Finding("wd-on-norms", "info", None, None, "m", "s"),))
    assert not quiet.fails("warning") and quiet.fails("info")


# -- arbitrary values through reader + rules: our errors or findings, never a crash ------------------

_NUM = st.one_of(st.integers(1, 10**6), st.integers(1, 10**6), st.floats(1e-6, 1.0), st.integers(-5, 10**7), st.floats(-1e3, 1e13), st.just(float("nan")), st.sampled_from(
    ["3e-4", "0", "-1", "nan", "inf", "x", True, None]))


@settings(max_examples=120, deadline=None)
@given(st.fixed_dictionaries({}, optional={k: _NUM for k in (
    "lr", "min_lr", "train_iters", "lr_decay_iters", "lr_warmup_iters", "lr_warmup_fraction",
    "global_batch_size", "micro_batch_size", "seq_length", "num_layers", "hidden_size",
    "num_attention_heads", "ffn_hidden_size", "adam_beta2", "weight_decay")}),
       st.sampled_from([None, "cosine", "linear", "constant", "wsd"]))
def test_rules_never_crash_on_what_a_reader_accepts(tmp_path_factory, values, style):
    import yaml

    from hpadvisor.formats.registry import read_config

    if style:
        values = {**values, "lr_decay_style": style}
    path = tmp_path_factory.mktemp("cfg") / "args.yaml"
    path.write_text(yaml.safe_dump(values) if values else "lr: 1e-3\n")
    try:
        cfg = read_config(path, format="megatron")
        report = chk.check(cfg)
    except HpAdvisorError as exc:
        assert "\n" not in str(exc)
        return
    for f in report.findings:
        assert f.rule in chk.RULES and f.severity in chk.SEVERITIES and f.message


def test_a_warmup_fix_stays_inside_the_run_so_fixes_do_not_loop():
    """torchtitan llama3_8b's 1000-step debug run drew 'set warmup_steps to 15259', which then drew
    warmup-too-long with the same fix."""
    v = base(batch_seqs=8, tokens=8 * SEQ * 1000)  # 1000 steps, the advised warmup far longer
    assert advice_of(v).rec("warmup_steps").value > 1000
    f = only(rules_of(make(**v, warmup_steps=0)), "warmup-too-short")
    assert f.suggestion.startswith("set f_warmup_steps to 100 (100 steps, ") and "capped at 10%" in f.suggestion
    assert not [x for x in rules_of(make(**v, warmup_steps=100)) if x.rule.startswith("warmup")]
    assert not [x for x in rules_of(make(**v, warmup_steps=200)) if x.rule.startswith("warmup")]


def test_nanogpts_decay_lr_false_warmup_fix_names_the_fields_to_set():
    v = base()
    f = only(rules_of(make(**v, warmup_steps=Setting(0, "decay_lr", 3, False))), "warmup-too-short")
    assert f.suggestion.startswith("set decay_lr = True and warmup_iters = ")


def test_decay_horizon_fixes_count_from_where_the_decay_starts():
    """HF WSD's horizon is warmup + stable + num_decay_steps and nanotron's is its decay start +
    lr_decay_steps: the fix scaled the run length instead (num_decay_steps 16393 left the horizon
    at 67,393 of 100,000)."""
    steps = base()["train_steps"]
    d = Setting(steps // 2, "num_decay_steps", 8, steps // 2 - 300, (), offset=300)
    f = only(rules_of(make(**base(decay_steps=d))), "decay-horizon-mismatch")
    assert f.suggestion == f"set num_decay_steps to {steps - 300} (the run length {steps} less the 300 steps before the decay)"
    late = Setting(steps + 2000, "lr_decay_steps", 8, 1000, (), offset=steps + 1000)
    f = only(rules_of(make(**base(decay_steps=late, schedule="wsd"))), "decay-horizon-mismatch")
    assert f.severity == "error" and "no anneal at all" in f.message and "start it earlier" in f.suggestion


def test_a_wsd_cooldown_past_the_run_end_is_an_error():
    steps = base()["train_steps"]
    v = base(schedule="wsd", decay_steps=int(1.5 * steps), wsd_decay_steps=int(0.2 * steps))
    f = only(rules_of(make(**v)), "decay-horizon-mismatch")
    assert f.severity == "error" and "the WSD cooldown starts at step" in f.message


def test_a_config_the_trainer_refuses_is_an_error(tmp_path):
    """Megatron's own gpt3 175B example: --rampup-batch-size with --train-iters (validate_args refuses it)."""
    from hpadvisor.formats.registry import read_config

    script = tmp_path / "train.sh"
    script.write_text("torchrun --nproc_per_node 8 pretrain_gpt.py --tensor-model-parallel-size 8 "
                      "--pipeline-model-parallel-size 16 --train-iters 500000 --rampup-batch-size 16 16 5859375 "
                      "--global-batch-size 1536 --micro-batch-size 1 --lr 6e-5\n")
    f = only(chk.run_rules(chk.build_context(read_config(script, format="megatron"), params=175e9, tokens=3e11)[0]),
             "trainer-refuses")
    assert f.severity == "error" and "with iteration-based training (--train-iters)" in f.message
    assert "trainer-refuses" in chk.RULES


def test_a_batch_fix_below_one_sequence_per_rank_says_so():
    """torchtitan's 64-rank llama3_8b debug run was told to set a product of fields to 7 sequences."""
    v = base(batch_seqs=4096, tokens=4096 * SEQ * 300)
    crit = advice_of(v).rec("critical_batch_tokens").value
    dp = int(2 * crit / SEQ) + 64
    f = only(rules_of(make(**v, data_parallel=dp)), "batch-above-critical")
    assert f"below one per data-parallel rank ({dp})" in f.suggestion
