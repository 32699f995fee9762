"""`hpadvisor check` as a gate that fails closed (issue 17): a rule that could not run fails the check
and names the flag or field that would let it run; a value present but empty or of the wrong type is
an error on its line; a file is read by its content, not its name; weight decay is graded against
Power Lines; the defaults reviewed (lr severity under extrapolation, warmup floor)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpadvisor.check import rules as chk
from hpadvisor.cli.app import app
from hpadvisor.formats.base import Setting, TrainerConfig
from hpadvisor.laws import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "configs"
PYTHIA = CORPUS / "pythia-6.9b.yml"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def report(*args: str):
    res = run("check", *args, "-f", "json")
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, json.loads(res.stdout)


def one_line_exit_2(res, needle: str) -> None:
    assert res.exit_code == 2, (res.stdout, res.stderr)
    err = res.stderr.strip()
    assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in err, err
    assert needle in err, err


def by_rule(data) -> dict:
    return {f["rule"]: f for f in data["findings"]}


# -- fail closed ---------------------------------------------------------------------------------


def test_truncated_megatron_yaml_is_an_error_on_the_empty_keys_line(tmp_path):
    p = tmp_path / "megatron.yaml"
    p.write_text("num_layers: 24\nhidden_size: 2048\nlr: 3e-4\nglobal_batch_size:\n")
    code, data = report(p)
    assert code == 1
    (f,) = [f for f in data["findings"] if f["rule"] == "invalid-value"]
    assert (f["severity"], f["line"], f["field"]) == ("error", 4, "global_batch_size")
    assert "has no value" in f["message"] and "cut off" in f["message"]
    # and the gate names what would let the law-based rules run: the heads, a run length
    gap = by_rule(data)["advice-unavailable"]
    assert gap["severity"] == "error" and "num_attention_heads" in gap["message"]
    assert "--tokens" in gap["suggestion"]


def test_an_explicit_null_is_unset_as_megatron_writes_it_and_only_read_keys_count(tmp_path):
    # Megatron-LM's examples/gpt3/gpt_config.yaml writes `lr_decay_iters: null` for an unset argument
    p = tmp_path / "args.yaml"
    p.write_text("num_layers: 24\nhidden_size: 2048\nnum_attention_heads: 16\nlr: 3e-4\nlr_decay_iters: null\n"
                 "train_iters: 1000\nglobal_batch_size: 256\nseq_length: 2048\nwandb_project:\n")
    code, data = report(p)
    assert "invalid-value" not in by_rule(data)  # null: unset; wandb_project: not a setting hpadvisor reads
    assert {"lr-outside-plateau", "batch-above-critical"} <= set(by_rule(data)) and code == 0


def test_pythia_without_data_parallel_names_the_flag_and_fails(tmp_path):
    code, data = report(PYTHIA)
    f = by_rule(data)["advice-unavailable"]
    assert code == 1 and f["severity"] == "error" and f["field"] == "--data-parallel"
    assert "train_micro_batch_size_per_gpu 8 x gradient_accumulation_steps 2" in f["message"]
    assert f["suggestion"].startswith("give --data-parallel N;") and "--allow-incomplete" in f["suggestion"]
    # a partial check accepted explicitly, by flag or by the settings file: info, exit 0
    code, data = report(PYTHIA, "--allow-incomplete")
    assert code == 0 and by_rule(data)["advice-unavailable"]["severity"] == "info"
    settings = tmp_path / ".hpadvisor.yaml"
    settings.write_text("check:\n  allow-incomplete: true\n")
    code, data = report(PYTHIA, "--config", settings)
    assert code == 0 and by_rule(data)["advice-unavailable"]["severity"] == "info"
    settings.write_text("check:\n  allow-incomplete: yes please\n")
    one_line_exit_2(run("check", PYTHIA, "--config", settings), "'allow-incomplete' must be true or false")
    # with --tokens the size that makes the run that long: 300e9 / (143000 x 2048 x 16) = 64.02
    _, data = report(PYTHIA, "--tokens", "300B")
    assert by_rule(data)["advice-unavailable"]["suggestion"].startswith("give --data-parallel 64;")


def test_pythia_with_data_parallel_64_finds_the_lr_5x_below_every_law_but_kaplans():
    code, data = report(PYTHIA, "--data-parallel", "64")
    found = by_rule(data)
    assert "advice-unavailable" not in found
    f = found["lr-outside-plateau"]
    assert f["line"] == 33 and f["field"] == "optimizer.params.lr"
    lr = 1.2e-4
    m = f["message"]
    opt = float(m.split("steplaw optimum ")[1].split()[0])
    others = {k: float(re.search(rf"{k} ([0-9.e+-]+\d)", m).group(1)) for k in ("deepseek", "porian", "kaplan")}
    assert lr / opt == pytest.approx(0.197, abs=0.002)
    assert all(v > 2.9 * lr for k, v in others.items() if k != "kaplan") and others["kaplan"] < lr
    cost = float(m.split("Predicted loss cost ")[1].split("%")[0]) / 100
    assert cost == pytest.approx(0.0126, abs=0.0005)
    # Step Law is used 6x outside its fitted range and the other laws span 1.2e-4: a warning
    assert f["severity"] == "warning" and "Graded warning, not error: steplaw is used 6.02x" in m
    assert code == 0


def test_tokens_1_is_not_a_mere_info(tmp_path):
    p = tmp_path / "megatron.yaml"
    p.write_text("num_layers: 24\nhidden_size: 2048\nnum_attention_heads: 16\nlr: 3e-4\nglobal_batch_size: 8\n")
    for extra in ([], ["--allow-incomplete"]):  # a value the laws refuse is not a missing input
        code, data = report(p, "--tokens", "1", *extra)
        f = by_rule(data)["invalid-value"]
        assert code == 1 and f["severity"] == "error" and "fewer than one sequence" in f["message"]
    # a --tokens that contradicts the config's own run length (1000 x 256 x 2048 = 524M)
    p.write_text("num_layers: 24\nhidden_size: 2048\nnum_attention_heads: 16\nlr: 3e-4\ntrain_iters: 1000\n"
                 "global_batch_size: 256\nseq_length: 2048\n")
    code, data = report(p, "--tokens", "1")
    f = by_rule(data)["input-contradiction"]
    assert code == 1 and f["severity"] == "error" and f["line"] == 5
    assert "--tokens 1 contradicts the config's own run length" in f["message"] and "524M tokens" in f["message"]
    code, data = report(p, "--tokens", "524288000")
    assert "input-contradiction" not in by_rule(data)


def test_megatron_field_given_as_a_mapping_is_an_error(tmp_path):
    p = tmp_path / "megatron.yaml"
    p.write_text("global_batch_size: 256\nlr: {value: 3e-4}\nnum_layers: 24\n")
    code, data = report(p)
    (f,) = data["findings"]
    assert code == 1 and (f["rule"], f["severity"], f["line"], f["field"]) == ("invalid-value", "error", 2, "lr")
    assert "must be a single value, not a mapping" in f["message"]
    # sections are still read: Megatron's --yaml-cfg groups arguments (language_model:)
    p.write_text("language_model:\n  num_layers: 24\nglobal_batch_size: 256\nlr: 3e-4\n")
    code, data = report(p)
    assert "invalid-value" not in by_rule(data)


def test_wrong_typed_value_is_an_error_on_its_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("lr: fast\ntrain_iters: 10\n")
    code, data = report(p, "--format-in", "megatron")
    (f,) = data["findings"]
    assert code == 1 and (f["rule"], f["line"], f["field"]) == ("invalid-value", 1, "lr")
    assert "must be a number > 0; got 'fast'" in f["message"]
    sarif = json.loads(run("check", p, "--format-in", "megatron", "--format", "sarif").stdout)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "invalid-value"
    # a flag left without its value at the end of a launch script
    s = tmp_path / "train.sh"
    s.write_text("#!/bin/bash\ntorchrun pretrain_gpt.py --num-layers 24 --lr 3e-4 --global-batch-size\n")
    code, data = report(s)
    (f,) = data["findings"]
    assert code == 1 and f["field"] == "--global-batch-size" and f["line"] == 2 and "no value" in f["message"]


def test_torchtitan_global_batch_size_0_is_refused_as_torchtitan_does(tmp_path):
    p = tmp_path / "titan.toml"
    p.write_text("[training]\nglobal_batch_size = 0\nlocal_batch_size = 8\nsteps = 1000\n")
    code, data = report(p)
    (f,) = data["findings"]
    assert code == 1 and f["rule"] == "invalid-value" and f["line"] == 2
    assert "torchtitan asserts global_batch_size > 0" in f["message"]
    p.write_text("[training]\nglobal_batch_size = -1\nlocal_batch_size = 8\nsteps = 1000\n")  # -1: the default
    code, data = report(p)
    assert "invalid-value" not in by_rule(data)


@pytest.mark.parametrize("text", ["", "echo hello\nls -la\n", "#!/bin/bash\n# nothing\n"])
@pytest.mark.parametrize("fail_on", [[], ["--fail-on", "warning"]])
def test_an_empty_or_unrelated_script_does_not_pass(tmp_path, text, fail_on):
    p = tmp_path / "launch.sh"
    p.write_text(text)
    one_line_exit_2(run("check", p, *fail_on), "nothing was read")


def test_any_python_file_is_not_read_as_nanogpt_defaults(tmp_path):
    p = tmp_path / "train.py"
    p.write_text("import torch\nx = torch.zeros(3)\n")
    one_line_exit_2(run("check", p), "not a nanoGPT config")
    one_line_exit_2(run("check", p, "--format-in", "nanogpt"), "not a nanoGPT config")
    p.write_text("learning_rate = 1e-3\nmax_iters = 5000\n")  # an override file: read
    assert run("check", p, "--params", "10M", "-f", "json").exit_code in (0, 1)


@pytest.mark.parametrize("where, text, right", [
    (".hpadvisor.yaml", "fail-on: nothing\n", "under the 'check:' key"),
    (".hpadvisor.yaml", "check:\n  disable: []\nallow-incomplete: true\n", "under the 'check:' key"),
    ("pyproject.toml", '[tool.hpadvisor]\nfail-on = "warning"\n', "under [tool.hpadvisor.check]"),
])
def test_a_check_setting_outside_its_key_is_refused(tmp_path, monkeypatch, where, text, right):
    (tmp_path / where).write_text(text)
    monkeypatch.chdir(tmp_path)
    res = run("check", CORPUS / "llama2_7b_megatron.yaml")
    one_line_exit_2(res, right)


def test_fail_on_with_no_value_is_refused(tmp_path):
    settings = tmp_path / "s.yaml"
    settings.write_text("check:\n  fail-on:\n")
    one_line_exit_2(run("check", CORPUS / "llama2_7b_megatron.yaml", "--config", settings),
                    "'fail-on' must be error, warning or info; got None")


def test_seq_len_flag_completes_a_trainingarguments_batch(tmp_path):
    p = tmp_path / "args.json"
    p.write_text('{"learning_rate": 3e-4, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 4,'
                 ' "max_steps": 10000, "output_dir": "x"}')
    _, data = report(p, "--params", "1B", "--data-parallel", "8")
    f = by_rule(data)["advice-unavailable"]
    assert f["field"] == "--seq-len" and "the config states no sequence length" in f["message"]
    _, data = report(p, "--params", "1B", "--data-parallel", "8", "--seq-len", "2048")
    assert "advice-unavailable" not in by_rule(data)


# -- detection by content --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["any-name.txt", "flags"])
def test_emitted_megatron_flags_are_read_as_megatron_whatever_the_name(tmp_path, name):
    res = run("recommend", "--params", "1.3B", "--tokens", "26B", "--emit", "megatron")
    assert res.exit_code == 0, res.stderr
    p = tmp_path / name
    p.write_text(res.stdout)
    code, data = report(p, "--params", "1.3B", "--tokens", "26B")
    assert data["format"] == "megatron" and code == 0, data
    assert not [f for f in data["findings"] if f["severity"] != "info"], data


@pytest.mark.parametrize("name, text, needle", [
    ("list.yaml", "- lr\n- 3e-4\n", "not a mapping"),
    ("list.json", "[1, 2]\n", "not a mapping"),
    ("scalar.yaml", "just a sentence\n", "not a mapping"),
    ("table.toml", "training = 5\n", "must be a [training] table"),
])
def test_a_config_of_the_wrong_shape_is_one_line(tmp_path, name, text, needle):
    p = tmp_path / name
    p.write_text(text)
    one_line_exit_2(run("check", p), needle)


# -- weight decay ----------------------------------------------------------------------------------


def test_recommend_leads_weight_decay_with_power_lines():
    res = run("recommend", "--params", "1.3B", "--tokens", "26B", "-f", "json")
    rec = {r["name"]: r for r in json.loads(res.stdout)["recommendations"]}["weight_decay"]
    assert rec["law"] == "powerlines-wd" and rec["value"] == pytest.approx(0.0986, abs=5e-4)
    assert rec["alternatives"]["adamw-timescale"] == pytest.approx(0.331, abs=1e-3)
    assert rec["alternatives"]["default-wd"] == pytest.approx(0.1)
    table = run("recommend", "--params", "1.3B", "--tokens", "26B")
    row = next(line for line in table.stdout.splitlines() if "weight_decay" in line)
    assert "powerlines-wd" in row and "adamw-timescale 0.331" in row and "3.35x" in row


ARCH = dict(d_model=1536, n_layers=16, n_heads=16, ffn_hidden=4096, vocab_size=32000, swiglu=True,
            tied_embeddings=False)


def make(**values) -> TrainerConfig:
    return TrainerConfig("run.yaml", "megatron",
                         {k: Setting(v, f"f_{k}", i, v) for i, (k, v) in enumerate(values.items(), start=1)})


def wd_cfg(wd, lr=3e-4, seqs=256, tokens=1e10):
    steps = math.ceil(tokens / (seqs * 2048))
    return make(**ARCH, seq_len=2048, global_batch_seqs=seqs, train_steps=steps, decay_steps=steps,
                tokens=steps * seqs * 2048, schedule="cosine", lr=lr, weight_decay=wd)


def wd_findings(cfg):
    ctx, _ = chk.build_context(cfg)
    return ctx, [f for f in chk.run_rules(ctx) if f.rule == "weight-decay-timescale"]


def test_weight_decay_graded_against_power_lines_at_the_configs_own_lr_and_batch():
    ctx, _ = wd_findings(wd_cfg(0.1))
    spec = ctx.advice.spec
    b, d = 256 * 2048, float(spec.tokens)
    target = float(REGISTRY["powerlines-wd"].weight_decay(b, 3e-4, d, spec.model.params))
    const = float(REGISTRY["adamw-timescale"].weight_decay(b, 3e-4, d))
    assert ctx.rec("weight_decay").law == "powerlines-wd"
    for factor, grade in [(1.0, None), (1.9, None), (0.55, None), (3.0, "info"), (0.3, "info"),
                          (5.0, "warning"), (0.2, "warning")]:
        _, found = wd_findings(wd_cfg(factor * target))
        if grade is None:
            assert not found, factor
            continue
        (f,) = found
        lo, hi = sorted([target, const, 0.1])[0], sorted([target, const, 0.1])[-1]
        expect = "info" if lo <= factor * target <= hi else grade
        assert f.severity == expect, (factor, f.message)
        tau = b / (3e-4 * factor * target * d)
        assert f"timescale tau = B/(eta lambda D) to {tau:.3g} of the run" in f.message
        assert f"weight decay {target:.3g} ({factor:.3g}x that)" in f.message
        assert f.suggestion == f"set f_weight_decay to {chk._num(float(f'{target:.3g}'))} (powerlines-wd at this lr and batch)"
    _, (f,) = wd_findings(wd_cfg(0.0))
    assert f.severity == "info" and "no decay" in f.message


def test_pythia_weight_decay_is_info_inside_the_rules_range():
    _, data = report(PYTHIA, "--data-parallel", "64")
    f = by_rule(data)["weight-decay-timescale"]
    assert f["severity"] == "info" and f["line"] == 65
    assert "to 0.583 of the run" in f["message"] and "weight decay 0.407" in f["message"]


# -- the defaults reviewed -------------------------------------------------------------------------


def test_an_lr_error_stays_an_error_when_no_law_is_at_or_below_it():
    # NeoX 1.3B: 2e-4 is below all four laws (Kaplan's 3.2e-4 the lowest): still an error
    _, data = report(CORPUS / "neox_1-3B.yml")
    assert by_rule(data)["lr-outside-plateau"]["severity"] == "error"


def test_an_lr_error_inside_the_laws_fitted_range_is_not_softened():
    # a 0.5B model on 10B tokens is inside Step Law's range: 4x the optimum stays an error
    steps = math.ceil(1e10 / (256 * 2048))
    base = dict(**ARCH, seq_len=2048, global_batch_seqs=256, train_steps=steps, decay_steps=steps,
                tokens=steps * 256 * 2048, schedule="cosine")
    ctx, _ = chk.build_context(make(**base))
    rec = ctx.rec("peak_lr")
    assert rec.extrapolation_factor == 1.0
    found = [f for f in chk.run_rules(chk.build_context(make(**base, lr=4 * rec.value))[0])
             if f.rule == "lr-outside-plateau"]
    assert [f.severity for f in found] == ["error"]


def test_gpt3_warmup_of_375m_tokens_is_never_too_short():
    # GPT-3 6.7B: 2M-token batch (1024 x 2048), warmup over 375M tokens = 187 steps (Brown et al. 2020)
    arch = dict(d_model=4096, n_layers=32, n_heads=32, vocab_size=50257, tied_embeddings=True)
    steps = 143000

    def found(warm):
        cfg = make(**arch, seq_len=2048, global_batch_seqs=1024, train_steps=steps, decay_steps=steps,
                   tokens=steps * 1024 * 2048, schedule="cosine", lr=1.2e-4, warmup_steps=warm)
        return [f for f in chk.run_rules(chk.build_context(cfg)[0]) if f.rule == "warmup-too-short"]

    assert not found(179)  # 179 x 2,097,152 = 375M tokens
    (f,) = found(100)  # 210M tokens, below 0.25x the shorter rule too
    assert f.severity == "warning"


def test_beta2_at_a_small_batch_is_graded_against_olmo_cores_rule_as_docs_defend():
    # 16,384 tokens a step (nanoGPT's character-level config): 0.99 passes (OLMo-core's value, though the
    # half-life rule asks 0.9994), 0.95 (half-life 13.5 steps against 0.99's 69) is flagged
    def found(b2):
        steps = 20000
        cfg = make(**ARCH, seq_len=256, global_batch_seqs=64, train_steps=steps, decay_steps=steps,
                   tokens=steps * 64 * 256, schedule="cosine", lr=1e-3, beta2=b2)
        ctx = chk.build_context(cfg)[0]
        rec = ctx.rec("adam_beta2")
        assert rec.law == "olmo-beta2" and rec.value == 0.99
        assert rec.alternatives["beta2-halflife"] == pytest.approx(0.98 ** (16384 / 524288))
        return [f for f in chk.run_rules(ctx) if f.rule == "beta2-too-low"]

    assert not found(0.99)
    (f,) = found(0.95)
    assert f.severity == "warning" and "half-life of 13.5 steps" in f.message


def test_every_rule_id_a_finding_can_carry_is_listed():
    res = run("check", "--list-rules")
    for rid in ("advice-unavailable", "invalid-value", "input-contradiction", "weight-decay-timescale"):
        assert rid in res.stdout
    assert chk.RULES["advice-unavailable"].severity == "error"


# -- never a crash -------------------------------------------------------------------------------

_KEYS = ["lr", "min_lr", "train_iters", "global_batch_size", "micro_batch_size", "seq_length", "num_layers",
         "hidden_size", "num_attention_heads", "weight_decay", "adam_beta2", "lr_warmup_iters", "lr_decay_style",
         "lr_decay_iters", "tensor_model_parallel_size", "wandb_project"]


def test_any_megatron_yaml_gives_findings_or_one_clear_error(tmp_path):
    """Arbitrary values (empty, null, text, lists, mappings, huge, negative) under Megatron's keys:
    the library path check takes gives a report or an hpadvisor error, never another exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hpadvisor.errors import HpAdvisorError
    from hpadvisor.formats._common import FieldError
    from hpadvisor.formats.registry import read_config

    scalar = st.one_of(st.none(), st.just(""), st.booleans(), st.integers(-10**6, 10**12),
                       st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["3e-4", "cosine", "fast"]))
    value = st.one_of(scalar, st.lists(scalar, max_size=2), st.dictionaries(st.just("value"), scalar, max_size=1))
    p = tmp_path / "args.yaml"

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.dictionaries(st.sampled_from(_KEYS), value, min_size=1, max_size=8), st.booleans())
    def prop(values, blank_last):
        import yaml

        text = yaml.safe_dump(values)
        if blank_last:
            text += "global_batch_size:\n" if "global_batch_size" not in values else ""
        p.write_text(text)
        try:
            cfg = read_config(p, format="megatron")
        except FieldError as exc:
            assert chk.field_error(exc).findings[0].rule == "invalid-value"
            return
        except HpAdvisorError as exc:
            assert "\n" not in str(exc)
            return
        ctx, _ = chk.build_context(cfg, params=1e9)
        found = chk.run_rules(ctx, extra=chk.empty_values(cfg, text))
        assert all(f.rule in chk.RULES for f in found)
        if blank_last and "global_batch_size" not in values:
            assert any(f.rule == "invalid-value" and f.field == "global_batch_size" for f in found)

    prop()
