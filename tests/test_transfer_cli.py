"""`hpadvisor transfer` from the command line: the JSON contract, the trainers' field names,
warnings, and arbitrary input thrown at every option and at the run file's `proxy:` section."""

from __future__ import annotations

import ast
import json
import re
import string

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpadvisor.errors import HpAdvisorError
from hpadvisor.transfer.plan import GROUPS, JSON_SCHEMA, plan_from_values
from tests.conftest import ROOT

ARGS = ["transfer", "--base-width", "256", "--base-depth", "8", "--lr", "6e-3", "--width", "4096",
        "--depth", "32"]
PARAMS = ["sp", "mup", "u-mup", "completep", "depth-mup", "width-wd"]


@pytest.mark.parametrize("param", PARAMS)
def test_json_output_follows_the_documented_contract(cli, param):
    result = cli(*ARGS, "--param", param, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, JSON_SCHEMA)
    assert [g["group"] for g in data["groups"]] == list(GROUPS)
    assert data["parameterization"] == param
    assert (data["base"]["width"], data["target"]["width"]) == (256, 4096)


def test_the_contract_schema_rejects_a_renamed_key(cli):
    data = json.loads(cli(*ARGS, "--format", "json").stdout)
    data["groups"][0]["learning_rate"] = data["groups"][0].pop("lr")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, JSON_SCHEMA)


def test_sgd_contract(cli):
    data = json.loads(cli(*ARGS, "--optimizer", "sgd", "--format", "json").stdout)
    jsonschema.validate(data, JSON_SCHEMA)
    assert data["parameterization"] == "mup-sgd"


def _conventions_mup_row() -> str:
    """The muP row of docs/formats.md's table of what each trainer calls each setting."""
    text = (ROOT / "docs" / "formats.md").read_text()
    return next(line for line in text.splitlines() if line.startswith("| muP |"))


def _names_for(row: str, trainer: str) -> set[str]:
    part = row.split(f"{trainer}:", 1)[1].split(";", 1)[0]
    return set(re.findall(r"`([^`]+)`", part))


MUP_KEY = re.compile(r"(mup|scale_|embeddings_scale|output_logits_alpha|depth_)")


@pytest.mark.parametrize(("emit", "trainer", "param"), [
    ("megatron", "Megatron", "mup"), ("neox", "NeoX", "mup"), ("cerebras", "Cerebras", "mup"),
    ("nanogpt-mup", "nanoGPT-mup", "completep"),
])
def test_trainer_snippets_use_the_trainers_own_mup_field_names(cli, emit, trainer, param):
    known = _names_for(_conventions_mup_row(), trainer)
    result = cli(*ARGS, "--param", param, "--emit", emit)
    assert result.exit_code == 0, result.stderr
    if emit == "nanogpt-mup":
        keys = {node.targets[0].id for node in ast.parse(result.stdout).body}
    else:
        data = yaml.safe_load(result.stdout)
        keys = set(data) | {k for v in data.values() if isinstance(v, dict) for k in v}
    mup_keys = {k for k in keys if MUP_KEY.search(k)} - {"use_mup", "mup_enabled", "depth_alpha_enabled",
                                                          "save_base_shapes", "base_shapes_file"}
    assert mup_keys and mup_keys <= known, mup_keys - known


def test_nanogpt_mup_snippet_switches_the_depth_rule_on(cli):
    text = cli(*ARGS, "--param", "depth-mup", "--emit", "nanogpt-mup").stdout
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(text).body}
    assert values["depth_alpha_enabled"] is True and values["depth_alpha_exp"] == 0.5
    assert values["depth_multiplier"] == 4.0 and values["mup_width_multiplier"] == 16.0


def test_recipe_lists_every_group_with_final_values(cli):
    data = yaml.safe_load(cli(*ARGS, "--param", "completep", "--emit", "recipe").stdout)
    rows = {r["group"]: r for r in data["groups"]}
    assert set(GROUPS) <= set(rows) and {"final_norm", "readout_bias"} <= set(rows)
    assert rows["mlp_in"]["lr"] == pytest.approx(6e-3 / 16)  # alpha = 1: no depth factor on lr
    assert rows["final_norm"]["lr"] == 6e-3 and data["residual_multiplier"] == pytest.approx(0.25)
    for r in data["groups"]:
        re.compile(r["pattern"])


def test_smaller_target_is_shown_as_a_note_in_the_table(cli):
    result = cli("transfer", "--base-width", "1024", "--base-depth", "8", "--lr", "1e-3", "--width", "256",
                 "--depth", "8")
    assert result.exit_code == 0
    assert "smaller than the proxy" in result.stdout and "x4" in result.stdout


def test_out_file_is_not_overwritten_without_force(cli, tmp_path):
    out = tmp_path / "plan.json"
    out.write_text("mine")
    result = cli(*ARGS, "--format", "json", "--out", str(out))
    assert result.exit_code == 2 and out.read_text() == "mine"
    assert cli(*ARGS, "--emit", "megatron", "--out", str(out)).exit_code == 2 and out.read_text() == "mine"
    assert cli(*ARGS, "--format", "json", "--out", str(out), "--force").exit_code == 0
    jsonschema.validate(json.loads(out.read_text()), JSON_SCHEMA)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--emit", "megatrom"], "Did you mean 'megatron'"),
    (["--optimizer", "adafactor"], "unknown optimizer"),
    (["--param", "completep", "--optimizer", "sgd"], "stated for Adam"),
    (["--base-batch", "12 parsecs"], "batch"),
    (["--heads", "0"], "must be > 0"),
])
def test_more_bad_input(cli, args, fragment):
    result = cli(*ARGS, *args)
    assert result.exit_code == 2
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- arbitrary input ------------------------------------------------------------------------------

junk = st.one_of(
    st.text(alphabet=string.printable, max_size=12),
    st.sampled_from(["0", "-1", "nan", "inf", "1e400", "4k", "7B", "1.5", "256 seqs", "2M tokens", "", " "]),
    st.integers(min_value=-10**6, max_value=10**12).map(str),
)
OPTIONS = ["--base-width", "--base-depth", "--base-heads", "--base-head-dim", "--base-ffn", "--lr", "--init-std",
           "--weight-decay", "--eps", "--base-batch", "--base-tokens", "--width", "--depth", "--heads",
           "--head-dim", "--ffn", "--batch", "--tokens", "--seq-len", "--param", "--optimizer", "--emit"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(OPTIONS), value=junk)
def test_any_option_value_gives_a_plan_or_one_clear_line(cli, option, value):
    result = cli(*ARGS, option, value, "--format", "json")
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    elif option != "--emit":
        jsonschema.validate(json.loads(result.stdout), JSON_SCHEMA)


values = st.one_of(st.none(), st.booleans(), st.integers(min_value=-5, max_value=10**6),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.lists(st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(base=st.dictionaries(st.sampled_from(["width", "depth", "n_heads", "head_dim", "ffn", "lr", "init_std",
                                             "weight_decay", "eps", "batch_tokens", "tokens"]), values),
       target=st.dictionaries(st.sampled_from(["width", "depth", "n_heads", "head_dim", "ffn", "batch_tokens",
                                               "tokens"]), values),
       param=st.text(max_size=10))
def test_plan_from_values_raises_only_our_errors(base, target, param):
    try:
        plan_from_values(base, target, param=param)
    except HpAdvisorError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(proxy=st.dictionaries(st.sampled_from(["d_model", "n_layers", "n_heads", "head_dim", "ffn_hidden", "lr",
                                              "init_std", "weight_decay", "eps", "batch", "tokens",
                                              "parameterization", "bogus"]),
                             st.one_of(values.filter(lambda v: not isinstance(v, float)), junk), max_size=6))
def test_any_proxy_section_gives_advice_or_one_clear_line(cli, tmp_path_factory, proxy):
    run = tmp_path_factory.mktemp("run") / "run.yaml"
    run.write_text(yaml.safe_dump({
        "model": {"architecture": {"d_model": 2048, "n_layers": 24, "n_heads": 16, "vocab_size": 50304}},
        "data": {"tokens": "100B"}, "batch": "1024 seqs", "seq_len": 2048, "proxy": proxy}))
    for command in ("recommend", "transfer"):
        result = cli(command, str(run), "--format", "json")
        assert result.exit_code in (0, 2), result.output
        if result.exit_code == 2:
            assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("extra,said", [
    (["--base-batch", "1e300 tokens", "--batch", "1e-300 tokens"], "a batch of 1e-300 tokens: it is at least one token"),
    (["--base-batch", "0.5 tokens", "--batch", "1M tokens"], "a batch of 0.5 tokens"),
    (["--base-tokens", "1e-300", "--tokens", "1e300"], "'--base-tokens' = 1e-300 tokens is below the 1k to 100P"),
    (["--base-tokens", "1e3", "--tokens", "1e13"], "the target's token count is 1e+10x the proxy's: beyond the 1e+09x"),
    (["--width", "1e308"], "the target's width is 3.91e+305x the proxy's: beyond the 1e+06x"),
    (["--weight-decay", "-1"], "'--weight-decay' must be >= 0"),
    (["--base-batch", "abc"], "'--base-batch' = 'abc' is not a number"),
])
def test_transfer_refuses_impossible_ratios_and_names_its_own_flags(cli, extra, said):
    """A 1e300 batch ratio raised ZeroDivisionError (exit 3); messages named '--base-lr', '--base-batch-tokens'."""
    base = ["transfer", "--base-width", "256", "--width", "1024", "--base-depth", "8", "--depth", "32", "--lr", "1e-2"]
    args = base + extra
    if "--width" in extra:
        i = base.index("--width")
        args = base[:i] + base[i + 2:] + extra
    res = cli(*args)
    assert res.exit_code == 2 and said in res.stderr and res.stderr.count("\n") == 1, res.stderr
