"""`hpadvisor recommend`, `laws`, `schema` as a user runs them: stdout, stderr and exit codes."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import CONFIGS

EXAMPLES = sorted(CONFIGS.glob("*.yaml"))
REQUIRED = {
    "peak_lr", "batch_tokens", "batch_sequences", "warmup_steps", "min_lr", "weight_decay",
    "adam_beta2", "critical_batch_tokens", "final_loss", "compute_optimal_params",
    "compute_optimal_tokens", "compute_flops", "accelerator_hours",
}
ENTRY_KEYS = {"name", "value", "unit", "law", "alternatives", "extrapolated", "extrapolation_factor"}


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_gives_the_full_documented_shape(cli, path):
    data = _json(cli("recommend", str(path), "--format", "json"))
    names = {r["name"] for r in data["recommendations"]}
    assert REQUIRED <= names, REQUIRED - names
    for rec in data["recommendations"]:
        assert ENTRY_KEYS <= set(rec)
        assert isinstance(rec["extrapolated"], bool)
        assert rec["extrapolated"] == (rec["extrapolation_factor"] > 1)
    for key in ("params", "non_embedding_params", "tokens", "seq_len", "compute_flops"):
        assert data["spec"][key] > 0


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_renders_as_table_markdown_and_yaml(cli, path):
    table = cli("recommend", str(path))
    assert table.exit_code == 0 and "peak_lr" in table.stdout and "steplaw" in table.stdout
    md = cli("recommend", str(path), "--format", "markdown")
    assert md.exit_code == 0 and "| learning rate | peak_lr |" in md.stdout
    ym = cli("recommend", str(path), "--format", "yaml")
    assert yaml.safe_load(ym.stdout)["recommendations"][0]["name"] == "peak_lr"


def test_acceptance_7b_2t_steplaw_lr_and_batch_flagged_beyond_fitted_n(cli):
    data = _json(cli("recommend", "--params", "7B", "--tokens", "2T", "--seq-len", "4096", "--format", "json"))
    recs = {r["name"]: r for r in data["recommendations"]}
    # N = 7e9 taken as non-embedding (no architecture given; said in the assumptions).
    assert data["spec"]["non_embedding_params"] == 7e9 and data["spec"]["tokens"] == 2e12
    assert recs["peak_lr"]["law"] == "steplaw" and recs["batch_tokens"]["law"] == "steplaw"
    assert recs["peak_lr"]["value"] == pytest.approx(1.02e-3, rel=5e-3)
    assert recs["batch_tokens"]["value"] == pytest.approx(6.13e6, rel=5e-3)
    for name in ("peak_lr", "batch_tokens"):
        assert recs[name]["extrapolated"] is True
        assert any("N = 7e+09 is 6.54x above" in n for n in recs[name]["notes"])
    assert set(recs["peak_lr"]["alternatives"]) >= {"deepseek", "porian", "kaplan"}
    assert any("non-embedding" in a for a in data["assumptions"])


def test_issue_example_1_3b(cli):
    data = _json(cli("recommend", "--params", "1.3B", "--tokens", "26B", "--seq-len", "2048", "--format", "json"))
    recs = {r["name"]: r for r in data["recommendations"]}
    assert recs["batch_sequences"]["value"] == round(recs["batch_tokens"]["value"] / 2048)
    assert recs["total_steps"]["value"] >= 26e9 / recs["batch_tokens"]["value"]


def test_planned_batch_rescales_lr_by_the_square_root_rule(cli):
    base = _json(cli("recommend", "--params", "1B", "--tokens", "20B", "--format", "json"))
    b_star = next(r for r in base["recommendations"] if r["name"] == "batch_tokens")["value"]
    lr_star = next(r for r in base["recommendations"] if r["name"] == "peak_lr")["value"]
    planned = _json(cli("recommend", "--params", "1B", "--tokens", "20B", "--batch", f"{4 * b_star} tokens",
                        "--format", "json"))
    lr = next(r for r in planned["recommendations"] if r["name"] == "peak_lr")
    assert lr["value"] == pytest.approx(2 * lr_star, rel=1e-9)
    assert any("sqrt-batch" in n for n in lr["notes"])


def test_a_planned_warmup_longer_than_the_run_is_said(cli):
    out = _json(cli("recommend", "--params", "1B", "--tokens", "20B", "--batch", "1M tokens", "--warmup", "1e300",
                    "--format", "json"))
    warm = next(r for r in out["recommendations"] if r["name"] == "warmup_steps")
    assert any("1e+300 steps, longer than the whole run (20000 steps)" in n for n in warm["notes"])


def test_weight_decay_row_says_what_the_planned_lr_would_need(cli):
    """lambda = B / (eta tau D) is computed with the advised lr; the note gives the value at the
    planned lr (3e-4) and batch.  Power Lines leads: at the planned Llama-2 settings (its batch, 2T
    tokens, 6.74B params) its fit gives 1.24x Llama 2's 0.1 x 4.19M/4M of batch = 0.13."""
    from hpadvisor.laws import REGISTRY

    out = _json(cli("recommend", str(CONFIGS / "llama-7b-2t.yaml"), "--format", "json"))
    rec = {r["name"]: r for r in out["recommendations"]}
    wd, lr = rec["weight_decay"], rec["peak_lr"]["value"]
    assert wd["law"] == "powerlines-wd" and set(wd["alternatives"]) == {"adamw-timescale", "default-wd"}
    note = next(n for n in wd["notes"] if "with the planned lr 3.00e-04" in n)
    needed = float(note.split("timescale needs ")[1].split()[0])
    assert needed == pytest.approx(float(f"{wd['value'] * lr / 3e-4:.3g}"))
    batch = out["spec"]["planned_batch_tokens"]
    at_plan = float(REGISTRY["powerlines-wd"].weight_decay(batch, 3e-4, 2e12, out["spec"]["params"]))
    assert needed == pytest.approx(at_plan, rel=5e-3) and needed == pytest.approx(0.13, abs=0.005)


def test_law_choice_flags(cli):
    data = _json(cli("recommend", "--params", "1B", "--tokens", "20B", "--lr-law", "porian",
                     "--batch-law", "deepseek", "--loss-law", "chinchilla", "--format", "json"))
    recs = {r["name"]: r for r in data["recommendations"]}
    assert recs["peak_lr"]["law"] == "porian" and "steplaw" in recs["peak_lr"]["alternatives"]
    assert recs["batch_tokens"]["law"] == "deepseek"
    assert recs["final_loss"]["law"] == "chinchilla" and recs["compute_optimal_params"]["law"] == "chinchilla"


def test_absurd_but_valid_request_is_answered_and_flagged(cli):
    data = _json(cli("recommend", "--params", "1e15", "--tokens", "1e17", "--format", "json"))
    recs = {r["name"]: r for r in data["recommendations"]}
    assert recs["peak_lr"]["extrapolated"] and recs["peak_lr"]["extrapolation_factor"] > 1e5
    assert recs["peak_lr"]["alternatives"]["kaplan"] is None  # Kaplan's lr is undefined there


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["recommend", "missing.yaml"], "run file 'missing.yaml' not found"),
        (["recommend", "--params", "0", "--tokens", "1T"], "must be > 0"),
        (["recommend", "--params", "-7B", "--tokens", "1T"], "must be > 0"),
        (["recommend", "--params", "nan", "--tokens", "1T"], "is not a number"),
        (["recommend", "--params", "seven", "--tokens", "1T"], "is not a number"),
        (["recommend", "--params", "7Q", "--tokens", "1T"], "unknown unit suffix 'Q'"),
        (["recommend", "--params", "7B", "--tokens", "1k", "--seq-len", "4k"], "fewer than one sequence"),
        (["recommend", "--params", "7B", "--tokens", "1T", "--lr-law", "stepla"], "Did you mean 'steplaw'"),
        (["recommend", "--params", "7B", "--tokens", "1T", "--lr-law", "chinchilla"], "does not give peak_lr"),
        (["recommend", "--params", "7B"], "no data size"),
        (["laws", "show", "chinchila"], "Did you mean 'chinchilla'"),
        # command-line usage errors: one line too, naming where help is
        (["recommend", "--bogus", "1"], "No such option: --bogus"),
        (["recommend", "--params"], "Option '--params' requires an argument. See 'hpadvisor recommend --help'"),
        (["recommend", "--format", "xml", "--params", "7B"], "'xml' is not one of"),
        (["predict"], "Missing argument 'LAW...'. See 'hpadvisor predict --help'"),
        (["fit", "curves", "x.csv"], "Missing option '--out'. See 'hpadvisor fit curves --help'"),
        (["nosuch"], "No such command 'nosuch'. See 'hpadvisor --help'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(cli, args, fragment):
    result = cli(*args)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("model:\n  params: 7B\n  tokens: [1, 2\n", "invalid YAML at line 4, column 1: "),
        ("model:\n  params: 7B\n  tokens: [1, 2\n", "(a flow sequence started at line 3, column 11)"),
        ("model:\n  parms: 7B\ndata:\n  tokens: 2T\n", "unknown key 'model.parms'. Did you mean 'model.params'?"),
        ("model:\n  params: 7B\ndata:\n  tokens: 2T\n  tokens: 3T\n", "appears twice"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("", "is empty"),
        ("model:\n  params: .nan\ndata:\n  tokens: 2T\n", "not a finite number"),
        ("model:\n  params: 7B\ndata:\n  tokens: 2T\nbatch: 512\n", "has no unit"),
        ("model:\n  params: 7B\ndata:\n  tokens: 2T\nschedule:\n  warmup: -5\n", "must be a finite number >= 0"),
        ("model:\n  architecture:\n    d_model: 4096.5\n", "whole number"),
        ("name: !!python/object/apply:os.system ['echo pwned']\n", "refused YAML tag !!python/object/apply:os.system"),
    ],
)
def test_bad_run_files(cli, tmp_path, content, fragment):
    run = tmp_path / "run.yaml"
    run.write_text(content)
    result = cli("recommend", str(run))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_out_is_atomic_and_never_overwrites_without_force(cli, tmp_path):
    out = tmp_path / "advice.json"
    first = cli("recommend", "--params", "1B", "--tokens", "20B", "--format", "json", "--out", str(out))
    assert first.exit_code == 0 and json.loads(out.read_text())["recommendations"]
    out.write_text("mine")
    again = cli("recommend", "--params", "1B", "--tokens", "20B", "--format", "json", "--out", str(out))
    assert again.exit_code == 2 and "--force" in again.stderr and out.read_text() == "mine"
    forced = cli("recommend", "--params", "1B", "--tokens", "20B", "--format", "json", "--out", str(out), "--force")
    assert forced.exit_code == 0 and out.read_text().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advice.json"]  # no temp files left


def test_laws_listing_show_and_export_round_trip(cli, tmp_path):
    listing = json.loads(cli("laws", "--format", "json").stdout)
    keys = {row["key"] for row in listing}
    assert {"steplaw", "deepseek", "porian", "kaplan", "chinchilla", "chinchilla-epoch"} <= keys
    shown = json.loads(cli("laws", "show", "steplaw", "--format", "json").stdout)
    assert shown["constants"]["lr_coef"] == 1.79 and shown["inputs"]["N"]["unit"] == "params"
    assert cli("laws", "show", "steplaw").exit_code == 0
    law_file = tmp_path / "mine.yaml"
    exported = cli("laws", "export", "chinchilla-epoch", "--out", str(law_file))
    assert exported.exit_code == 0
    data = yaml.safe_load(law_file.read_text())
    data["name"] = "chinchilla@mine"
    data["constants"]["E"] = 1.5
    law_file.write_text(yaml.safe_dump(data))
    advice = _json(cli("recommend", "--params", "1B", "--tokens", "20B", "--laws", str(law_file), "--format", "json"))
    loss = next(r for r in advice["recommendations"] if r["name"] == "final_loss")
    assert loss["law"] == "chinchilla@mine"
    assert loss["value"] == pytest.approx(loss["alternatives"]["chinchilla-epoch"] - (1.8172 - 1.5))
    assert "notes" not in advice  # the law file was used
    # a law file no row can use (a curve law) is said to be unused, not silently dropped
    curve_file = tmp_path / "curve.yaml"
    assert cli("laws", "export", "mpl-400m", "--out", str(curve_file)).exit_code == 0
    curve_file.write_text(curve_file.read_text().replace("name: mpl-400m", "name: mpl@mine"))
    advice = _json(cli("recommend", "--params", "1B", "--tokens", "20B", "--laws", str(curve_file), "--format", "json"))
    assert advice["notes"] == ["mpl@mine: a multipower law, which gives none of the advised quantities for this run; it was "
                               "not used. It predicts loss curves under a schedule: use `hpadvisor predict` or "
                               "`hpadvisor compare-schedules` with its file."]
    table = cli("recommend", "--params", "1B", "--tokens", "20B", "--laws", str(curve_file))
    assert "mpl@mine: a multipower law, which gives none of the advised" in table.stdout


def test_schema_command_prints_valid_json_schema(cli):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(cli("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "model" in schema["properties"]


def test_help_and_version(cli):
    assert cli("--help").exit_code == 0
    bare = cli("fit")  # a group without its command shows its help, not a one-line error
    assert "Commands:" in bare.stdout + bare.stderr and "curves" in bare.stdout + bare.stderr
    assert "recommend" in cli("--help").stdout
    assert cli("--version").stdout.startswith("hpadvisor ")


def test_an_lr_law_without_a_batch_of_its_own_is_not_rescaled(cli):
    """Kaplan's eq. D.1 has no batch: it was rescaled from Step Law's batch (an arbitrary reference)."""
    import math

    out = _json(cli("recommend", str(CONFIGS / "llama-7b-2t.yaml"), "--format", "json"))
    lr = next(r for r in out["recommendations"] if r["name"] == "peak_lr")
    n = out["spec"]["non_embedding_params"]
    assert lr["alternatives"]["kaplan"] == pytest.approx(0.003239 - 0.0001395 * math.log(n), rel=1e-9)
    assert "kaplan gives no batch of its own: its lr is not rescaled to the planned batch." in lr["notes"]


@pytest.mark.parametrize(("name", "trainer"), [
    ("llama2_7b_megatron.sh", "Megatron-LM"), ("llama2_7b_megatron.yaml", "Megatron-LM"),
    ("neox_1-3B.yml", "GPT-NeoX"), ("hf_training_args.json", "Hugging Face"),
    ("torchtitan_llama3_8b.toml", "torchtitan"), ("nanotron_360m.yaml", "nanotron"),
    ("nanogpt_gpt2_124m.py", "nanoGPT"),
])
def test_a_trainer_config_given_as_a_run_file_names_the_commands_that_read_it(cli, name, trainer):
    path = str(CONFIGS.parent / "tests" / "data" / "configs" / name)
    for args in (["recommend", path], ["schedule", path]):
        result = cli(*args)
        assert result.exit_code == 2 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert line == (f"Error: {path} looks like a {trainer} config, not an hpadvisor run file: `hpadvisor check "
                        f"{path}` compares it with the advice, and `hpadvisor schedule --config {path}` writes the lr "
                        "it runs with.")


def test_a_broken_run_file_with_a_stray_trainer_key_is_not_called_a_trainer_config(cli, tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("model:\n  params: 7B\ndata:\n  tokens: 2T\nglobal_batch_size: 512\n")
    result = cli("recommend", str(run))
    assert result.exit_code == 2 and "unknown key 'global_batch_size'" in result.stderr
    assert "looks like" not in result.stderr
