"""Detection by content, not name (issue 17): lines of --flags are a launch script whatever the file
is called; a file holding two trainers' keys is refused as ambiguous, not read as one of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpadvisor.cli.app import app

runner = CliRunner()
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "configs"


def run(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.mark.parametrize("name", ["megatron.yaml", "args.json", "args.toml", "megatron.yml"])
def test_emitted_megatron_flags_in_a_file_named_as_another_format(tmp_path, name):
    res = run("recommend", "--params", "1.3B", "--tokens", "26B", "--emit", "megatron")
    assert res.exit_code == 0, res.stderr
    p = tmp_path / name
    p.write_text(res.stdout)
    out = run("check", p, "--params", "1.3B", "--tokens", "26B", "-f", "json")
    data = json.loads(out.stdout)
    assert data["format"] == "megatron" and out.exit_code == 0, (out.stdout, out.stderr)
    assert not [f for f in data["findings"] if f["severity"] != "info"], data


def test_a_yaml_mapping_that_quotes_flags_stays_yaml(tmp_path):
    # a Megatron YAML of arguments whose free-text value spans lines starting with --: still YAML
    p = tmp_path / "args.yaml"
    p.write_text("num_layers: 24\nhidden_size: 2048\nnum_attention_heads: 16\nglobal_batch_size: 256\n"
                 "lr: 3e-4\ntrain_iters: 1000\nseq_length: 2048\nnote: |\n  --lr 9 was tried\n")
    data = json.loads(run("check", p, "-f", "json").stdout)
    lr = [f for f in data["findings"] if f["rule"] == "lr-outside-plateau"]
    assert data["format"] == "megatron" and lr and lr[0]["line"] == 5


def test_a_file_mixing_megatron_and_hf_keys_is_ambiguous(tmp_path):
    p = tmp_path / "mixed.yaml"
    p.write_text("lr: 3e-4\nlr_warmup_iters: 100\nglobal_batch_size: 256\nmicro_batch_size: 4\n"
                 "learning_rate: 1e-3\nper_device_train_batch_size: 8\nmax_steps: 1000\n")
    res = run("check", p)
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert err.startswith("Error: ") and "\n" not in err and "ambiguous" in err
    assert "megatron" in err and "hf" in err and "--format-in" in err
    assert run("check", p, "--format-in", "megatron", "-f", "json").exit_code in (0, 1)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml", ".json")))
def test_no_corpus_config_is_ambiguous(name):
    # every real config has at most one marker key of another trainer
    res = run("check", CORPUS / name, "--format", "json", "--allow-incomplete")
    assert "ambiguous" not in res.stderr
