"""`hpadvisor check` end to end: the corpus of real-format configs with their expected findings and
lines, exit codes, bad input, the never-executed nanoGPT file, and the recommend --emit round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpadvisor.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "configs"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def findings(path: Path, *args: str):
    res = run("check", str(path), "-f", "json", *args)
    assert res.exit_code in (0, 1), res.stderr
    return res, json.loads(res.stdout)


# file -> (extra flags, {(rule, severity, line)}, exit code).  Lines are the lines of the fields in
# the file; None where the value is the trainer's default (not written in the file).
CORPUS_EXPECTED = {
    "llama2_7b_megatron.yaml": ([], {
        ("tokens-off-compute-optimal", "info", 19),
        ("lr-outside-plateau", "warning", 21),  # 3e-4 vs Step Law 8.9e-4: 0.57% loss
        ("decay-horizon-mismatch", "warning", 24),  # lr_decay_iters 430000 < train_iters 476837
        ("wd-on-embeddings", "info", None),
    }, 0),
    "llama2_7b_megatron.sh": ([], {
        ("tokens-off-compute-optimal", "info", 25),
        ("lr-outside-plateau", "warning", 26),
        ("wd-on-embeddings", "info", None),
    }, 0),
    "neox_1-3B.yml": ([], {
        ("lr-outside-plateau", "error", 24),  # 2e-4 is 0.14x Step Law's optimum
        ("weight-decay-timescale", "info", 46),  # 0.1 is 0.36x Power Lines' 0.28 at lr 2e-4
        ("tokens-off-compute-optimal", "info", 51),
        ("wd-on-embeddings", "info", None),
    }, 1),
    # TrainingArguments hold no device count: the batch-based rules cannot run (an error since issue
    # 17), and the lr error became a warning: Step Law is used 3x outside its range at 300B tokens
    # while the other laws (3.5e-4 to 2.3e-3) span the planned 4e-4
    "hf_training_args.json": (["--model", str(CORPUS / "hf_config.json"), "--tokens", "300B"], {
        ("lr-outside-plateau", "warning", 6),
        ("tokens-off-compute-optimal", "info", 10),
        ("advice-unavailable", "error", None),
        ("wd-on-embeddings", "info", None),
    }, 1),
    "torchtitan_llama3_8b.toml": (["--params", "8B"], {
        ("lr-outside-plateau", "warning", 12),
        ("weight-decay-timescale", "info", 14),  # 0.1 is 0.40x Power Lines' 0.25 at lr 3e-4
        ("wd-on-embeddings", "info", None),
        ("wd-on-norms", "info", None),
    }, 0),
    "nanotron_360m.yaml": ([], {
        ("min-lr-no-decay", "error", 27),  # min_decay_lr unset: nanotron's default is the peak lr
        ("weight-decay-timescale", "warning", 39),  # 0.01 is 0.12x Power Lines' 0.085, below every rule
        ("wd-on-norms", "info", 40),
        ("tokens-off-compute-optimal", "info", 51),
    }, 1),
    # the lr finding is a warning since issue 17: Step Law is used 5x outside its D/N range and the
    # other laws (5.75e-4 to 6.8e-3) span nanoGPT's 6e-4
    "nanogpt_gpt2_124m.py": (["--params", "124M"], {
        ("tokens-off-compute-optimal", "info", 13),
        ("lr-outside-plateau", "warning", 17),
        ("beta2-too-low", "warning", None),  # train.py's default 0.95 at a 492k-token batch
        ("wd-on-embeddings", "info", None),
    }, 0),
    # the real Pythia-6.9B config: its batch is per GPU, the data-parallel size the launcher's
    "pythia-6.9b.yml": ([], {
        ("advice-unavailable", "error", None),
        ("wd-on-embeddings", "info", None),
    }, 1),
    "hpadvisor_llama_7b.yaml": ([], {
        ("tokens-off-compute-optimal", "info", 11),
        ("lr-outside-plateau", "warning", 15),
    }, 0),
}


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_expected_findings_and_lines(name):
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    flags, expected, code = CORPUS_EXPECTED[name]
    res, data = findings(path, *flags)
    got = {(f["rule"], f["severity"], f["line"]) for f in data["findings"]}
    assert got == expected
    assert res.exit_code == code
    assert data["file"] == str(path)
    for f in data["findings"]:
        assert f["field"] and f["suggestion"]


def test_text_output_and_fail_on():
    path = CORPUS / "llama2_7b_megatron.yaml"
    res = run("check", str(path))
    assert res.exit_code == 0
    assert f"{path}:24: warning [decay-horizon-mismatch]" in res.stdout
    assert "fix: set lr_decay_iters to 476837 (the run length)" in res.stdout
    assert "1 file checked: 2 warnings, 2 info." in res.stdout
    assert run("check", str(path), "--fail-on", "warning").exit_code == 1
    assert run("check", str(path), "--fail-on", "info").exit_code == 1


def test_github_and_sarif_from_the_cli():
    path = CORPUS / "llama2_7b_megatron.yaml"
    res = run("check", str(path), "--format", "github")
    from hpadvisor.check.output import _uri

    assert f"::warning file={_uri(str(path))},line=24,title=hpadvisor decay-horizon-mismatch::" in res.stdout
    doc = json.loads(run("check", str(path), "--format", "sarif").stdout)
    assert {r["ruleId"] for r in doc["runs"][0]["results"]} >= {"decay-horizon-mismatch", "lr-outside-plateau"}


def test_run_file_contradiction_and_settings_file(tmp_path, monkeypatch):
    plan = tmp_path / "plan.yaml"
    plan.write_text((CORPUS / "hpadvisor_llama_7b.yaml").read_text().replace("lr: 3e-4", "lr: 6e-4"))
    res, data = findings(CORPUS / "llama2_7b_megatron.yaml", "--run", str(plan))
    got = {f["line"]: f for f in data["findings"] if f["rule"] == "run-file-contradiction"}
    # lr (edited), min_lr (the plan's ratio x its lr), warmup (0.01 x lr_decay_iters = 4300 vs
    # 2000) and beta2 (Megatron's default 0.999, not written, vs the plan's 0.95)
    assert set(got) == {21, 22, 25, None} and res.exit_code == 1
    assert "lr is 3.00e-04 here but 6.00e-04 in the run file" in got[21]["message"]
    assert "beta2 is 0.999 here but 0.95" in got[None]["message"]
    (tmp_path / "pyproject.toml").write_text('[tool.hpadvisor.check]\nseverity = {"run-file-contradiction" = "info"}\n'
                                             'disable = ["wd-on-embeddings"]\n')
    monkeypatch.chdir(tmp_path)
    res, data = findings(CORPUS / "llama2_7b_megatron.yaml", "--run", str(plan))
    assert res.exit_code == 0
    assert "wd-on-embeddings" not in {f["rule"] for f in data["findings"]}


def test_list_rules():
    res = run("check", "--list-rules")
    assert res.exit_code == 0
    assert "batch-above-critical" in res.stdout and "min-lr-no-decay" in res.stdout


# -- bad input: one line, exit 2 -------------------------------------------------------------------


@pytest.mark.parametrize("content, name, extra, needle", [
    (None, "missing.yaml", [], "missing.yaml"),
    ("lr: [1, 2\n", "trunc.yaml", ["--format-in", "megatron"], "invalid YAML"),
    ('{"learning_rate": 1e-3, "per_device_train_', "trunc.json", [], "trunc.json"),
    ("just: some\nthing: else\n", "what.yaml", [], "format"),
    ("lr: 1e-3\n", "ok.yaml", ["--format-in", "megatrom"], "Did you mean 'megatron'"),
    ("lr: 1e-3\n", "ok.yaml", ["--format-in", "megatron", "--tokens", "lots"], "--tokens"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, content, name, extra, needle):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    res = run("check", str(path), *extra)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    err = res.stderr.strip()
    assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in err
    assert needle in err


def test_bad_settings_file_exit_2(tmp_path, monkeypatch):
    (tmp_path / ".hpadvisor.yaml").write_text("check:\n  disable: [no-such-rule]\n")
    monkeypatch.chdir(tmp_path)
    res = run("check", str(CORPUS / "llama2_7b_megatron.yaml"))
    assert res.exit_code == 2 and "unknown rule 'no-such-rule'" in res.stderr


def test_a_law_file_check_cannot_use_is_noted(tmp_path):
    law = tmp_path / "mup.yaml"  # a transfer law: neither the advice nor any check rule uses one
    assert run("laws", "export", "mup", "--out", str(law)).exit_code == 0
    law.write_text(law.read_text().replace("name: mup", "name: mup@mine"))
    res = run("check", str(CORPUS / "llama2_7b_megatron.yaml"), "--laws", str(law))
    assert res.exit_code in (0, 1), res.stderr
    assert "mup@mine: a " in res.stdout and "gives none of the advised quantities for this run" in res.stdout


def test_several_files_one_unreadable(tmp_path):
    res = run("check", str(CORPUS / "llama2_7b_megatron.sh"), str(tmp_path / "nope.yaml"), "-f", "json")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["file"].endswith("llama2_7b_megatron.sh")
    assert "nope.yaml" in res.stderr
    table = run("check", str(CORPUS / "llama2_7b_megatron.sh"), str(tmp_path / "nope.yaml"))
    assert table.exit_code == 2
    assert "1 file checked (1 could not be read: see the errors above):" in table.stdout


def test_nanogpt_code_is_never_run(tmp_path, monkeypatch):
    src = CORPUS / "nanogpt_with_code.py"
    if not src.exists():
        pytest.skip("nanogpt_with_code.py not in the corpus")
    local = tmp_path / "train_config.py"
    shutil.copy(src, local)
    monkeypatch.chdir(tmp_path)
    res = run("check", str(local), "--params", "10M", "-f", "json")
    assert res.exit_code in (0, 1), res.stderr
    assert not (tmp_path / "hpadvisor_executed.marker").exists()
    assert not (Path.cwd() / "hpadvisor_executed.marker").exists()


# -- recommend --emit round trip -------------------------------------------------------------------

TRAINERS = ("megatron", "neox", "hf", "torchtitan", "nanotron", "nanogpt", "hpadvisor")
# What each trainer's snippet cannot state, given to check as flags: torchtitan names its model by
# flavour (no architecture), HF TrainingArguments hold no architecture and no device count.
ROUND_TRIP_FLAGS = {"torchtitan": ["--params", "6.74B"], "hf": ["--params", "6.74B", "--data-parallel", "1"]}


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("run_file", ["llama-7b-2t.yaml", "chinchilla-1b.yaml"])
def test_emitted_snippet_passes_check(tmp_path, trainer, run_file):
    from hpadvisor.recommend import api

    path = ROOT / "configs" / run_file
    extra = []
    if trainer in ("neox", "nanogpt") and run_file == "chinchilla-1b.yaml":
        extra = ["--schedule", "cosine"]  # chinchilla-1b is WSD: these trainers have no WSD schedule
    res = run("recommend", str(path), "--emit", trainer, *extra)
    assert res.exit_code == 0, res.stderr
    snippet = tmp_path / f"snippet.{trainer}"
    snippet.write_text(res.stdout)
    spec = api.load_spec(path)
    # What a snippet cannot state comes as flags: torchtitan names its model by flavour (no
    # architecture); HF TrainingArguments hold no architecture, device count or sequence length.
    flags = {"torchtitan": ["--params", str(spec.model.params)],
             "hf": ["--params", str(spec.model.params), "--data-parallel", "1", "--seq-len", str(spec.seq_len),
                    "--tokens", str(spec.tokens)]}.get(trainer, [])
    out = run("check", str(snippet), "--format-in", trainer, "--fail-on", "warning", "-f", "json", *flags)
    data = json.loads(out.stdout)
    bad = [f for f in data["findings"] if f["severity"] != "info" or f["rule"] == "advice-unavailable"]
    assert not bad and out.exit_code == 0, (res.stdout, data)


@pytest.mark.parametrize("trainer", ["megatron", "hf", "torchtitan", "nanotron"])
@pytest.mark.parametrize("shape", [None, "1-sqrt", "cosine"])
def test_emitted_wsd_snippet_states_the_cooldown_shape(tmp_path, trainer, shape):
    """Megatron's lr_wsd_decay_style defaults to exponential and HF's decay_type to cosine: a snippet
    that left the shape out ran another cooldown than the advised one (linear unless the run says)."""
    from hpadvisor.formats import read_config

    text = (ROOT / "configs" / "chinchilla-1b.yaml").read_text()
    if shape:
        text = text.replace("  shape: wsd\n", f"  shape: wsd\n  decay_shape: {shape}\n")
    run_file = tmp_path / "run.yaml"
    run_file.write_text(text)
    res = run("recommend", str(run_file), "--emit", trainer)
    assert res.exit_code == 0, res.stderr
    snippet = tmp_path / "snippet"
    snippet.write_text(res.stdout)
    assert read_config(snippet, format=trainer).value("wsd_decay_style") == (shape or "linear")


def test_emit_refuses_unknown_trainer_and_overwrites_only_with_force(tmp_path):
    res = run("recommend", str(ROOT / "configs" / "llama-7b-2t.yaml"), "--emit", "megatrom")
    assert res.exit_code == 2 and "Did you mean 'megatron'" in res.stderr
    out = tmp_path / "args.sh"
    out.write_text("mine")
    res = run("recommend", str(ROOT / "configs" / "llama-7b-2t.yaml"), "--emit", "megatron", "--out", str(out))
    assert res.exit_code == 2 and out.read_text() == "mine"
    res = run("recommend", str(ROOT / "configs" / "llama-7b-2t.yaml"), "--emit", "megatron", "--out", str(out),
              "--force")
    assert res.exit_code == 0 and "--lr " in out.read_text()


def _curve_law_file(tmp_path):
    law = tmp_path / "curve.yaml"
    assert run("laws", "export", "mpl-400m", "--out", str(law)).exit_code == 0
    law.write_text(law.read_text().replace("name: mpl-400m", "name: mpl@mine"))
    return law


def test_schedule_loss_gap_under_a_fitted_curve_law(tmp_path):
    from hpadvisor.laws.curves import MPL_400M
    from hpadvisor.schedules import luo_schedule

    law = _curve_law_file(tmp_path)
    # the authors' constant run, as a Megatron config: 24k steps at 3e-4 after a 2160-step warmup,
    # inside the law's fitted range; the law puts it far above a WSD cooldown
    cfg = tmp_path / "constant.yaml"
    cfg.write_text("lr: 3.0e-4\nmin_lr: 3.0e-4\nlr_decay_style: constant\nlr_warmup_iters: 2160\n"
                   "train_iters: 24000\nseq_length: 2048\nglobal_batch_size: 256\n")
    _, data = findings(cfg, "--laws", str(law))
    (f,) = [x for x in data["findings"] if x["rule"] == "schedule-loss-gap"]
    const = MPL_400M.curve(luo_schedule("constant_24000").sequence(), [24000])[0]
    assert f["severity"] == "warning" and f["line"] == 3 and f["field"] == "lr_decay_style"
    assert f"mpl@mine predicts this schedule ends at loss {const:.4f}" in f["message"]
    assert "consider 'wsd" in f["suggestion"]
    # far beyond the fitted runs the same kind of gap is only info, and says why
    _, data = findings(CORPUS / "llama2_7b_megatron.yaml", "--laws", str(law))
    (f,) = [x for x in data["findings"] if x["rule"] == "schedule-loss-gap"]
    assert f["severity"] == "info" and "extrapolation x20" in f["message"] and "Info only" in f["message"]
    # the curve law is used: no "not used" note
    table = run("check", str(cfg), "--laws", str(law))
    assert "gives none of the advised quantities" not in table.stdout
    # a schedule the law cannot be applied to is said, not skipped silently
    _, data = findings(CORPUS / "nanogpt_with_code.py", "--laws", str(law))
    (f,) = [x for x in data["findings"] if x["rule"] == "schedule-loss-gap"]
    assert f["severity"] == "info" and "was not applied" in f["message"]


def test_emitted_moe_snippet_states_the_expert_width():
    """Without --moe-ffn-hidden-size Megatron builds every expert ffn_hidden_size wide (5632 here)."""
    res = run("recommend", str(ROOT / "configs" / "moe-olmoe-1b-7b.yaml"), "--emit", "megatron")
    assert res.exit_code == 0, res.stderr
    assert "--moe-ffn-hidden-size 1024" in res.stdout and "--num-experts 64" in res.stdout


def test_run_file_fills_the_architecture_the_config_lacks():
    """The Megatron config states no vocab_size; the run file does: the run's parameters are then
    counted with embeddings (6.74B, not the 6.48B non-embedding count), and the note says where from."""
    res = run("check", str(CORPUS / "llama2_7b_megatron.yaml"), "--run", str(CORPUS / "hpadvisor_llama_7b.yaml"))
    assert "from the run file (the config does not state them): vocab_size" in res.stdout
    assert "for 6.74B params" in res.stdout and "vocab_size not in the config" not in res.stdout


def test_emitted_batch_split_keeps_the_advised_global_batch():
    """132 sequences were written as micro 8 x accumulation 16 = 128 (-3% batch, +2.8% steps)."""
    advice = json.loads(run("recommend", str(ROOT / "configs" / "gpt-125m-quick.yaml"), "-f", "json").stdout)
    seqs = int(next(r for r in advice["recommendations"] if r["name"] == "batch_sequences")["value"])
    text = run("recommend", str(ROOT / "configs" / "gpt-125m-quick.yaml"), "--emit", "megatron").stdout
    assert f"--global-batch-size {seqs}\n" in text
    micro = int(text.split("--micro-batch-size ")[1].split()[0])
    assert seqs % micro == 0 and micro <= 8


def test_emit_says_which_run_file_values_the_advice_replaced_and_what_it_leaves_out():
    res = run("recommend", str(ROOT / "configs" / "llama-7b-2t.yaml"), "--emit", "megatron")
    assert "replaces the run file's own lr 0.0003 -> 0.000894" in res.stderr and "warmup_steps 2000 ->" in res.stderr
    res = run("recommend", str(ROOT / "configs" / "proxy-section-1b.yaml"), "--emit", "megatron")
    assert "proxy: section" in res.stderr and "hpadvisor transfer" in res.stderr
    res = run("recommend", str(ROOT / "configs" / "budget-2e21.yaml"), "--emit", "nanogpt")
    assert "no model shape" in res.stderr and "124M default" in res.stderr


def test_emit_notes_name_min_lr_wsd_s_and_write_a_bare_size(tmp_path):
    res = run("recommend", str(ROOT / "configs" / "llama-7b-2t.yaml"), "--emit", "megatron")
    assert "min_lr 3e-05 -> 8.94e-05" in res.stderr  # 0.1 x the run file's own 3e-4, not the advice's lr
    run_file = tmp_path / "r.yaml"
    run_file.write_text("model: {params: 1B}\ndata: {tokens: 20B}\nbatch: 256 seqs\n"
                        "schedule: {shape: wsd, cooldowns: 3, warmup: 1000 steps}\n")
    res = run("recommend", str(run_file), "--emit", "hf")
    assert "hf cannot state WSD-S: the snippet has one cooldown, not the run file's 3" in res.stderr
    res = run("recommend", str(run_file), "--emit", "hpadvisor")
    assert "params: 1000000000" in res.stdout and "cooldowns: 3" in res.stdout


def test_emit_notes_name_a_warmup_given_in_tokens(tmp_path):
    """The run file's warmup in tokens is replaced as much as one in steps: 2B tokens at 256 x 2048
    tokens a step is 3815 steps (the advisor's own planned-warmup rule), which the snippet replaces."""
    run_file = tmp_path / "r.yaml"
    run_file.write_text("model: {params: 1B}\ndata: {tokens: 20B}\nbatch: 256 seqs\nseq_len: 2048\n"
                        "schedule: {shape: cosine, warmup: 2B tokens}\n")
    res = run("recommend", str(run_file), "--emit", "megatron")
    assert "warmup_steps 3815 ->" in res.stderr


def test_a_samples_horizon_fix_is_the_run_length_in_samples_unrounded(tmp_path):
    """--train-samples 10000003 at batch 512 is 19531.26 steps: the fix was 19531 x 512 = 9999872."""
    p = tmp_path / "run.sh"
    p.write_text("#!/bin/bash\ntorchrun --nproc_per_node 8 pretrain_gpt.py --num-layers 24 --hidden-size 2048 "
                 "--num-attention-heads 16 --seq-length 4096 --global-batch-size 512 --micro-batch-size 4 "
                 "--lr 3e-4 --min-lr 3e-5 --lr-decay-style cosine --train-samples 10000003 "
                 "--lr-decay-samples 6000000 --lr-warmup-samples 1000000\n")
    _, data = findings(p)
    (f,) = [f for f in data["findings"] if f["rule"] == "decay-horizon-mismatch"]
    assert f["suggestion"] == "set --lr-decay-samples to 10000003 (the run length)"
