"""`hpadvisor transfer`: invariants of every parameterization, the CLI contract, the emitters,
and a cross-check against microsoft/mup when torch and mup are installed."""

from __future__ import annotations

import ast
import json
import math
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hpadvisor.errors import InvalidInputError
from hpadvisor.laws import REGISTRY
from hpadvisor.laws.transfer import PARAMETERIZATIONS
from hpadvisor.transfer.emit import EMITTERS, SUPPORTED
from hpadvisor.transfer.plan import GROUPS, MATRIX_GROUPS, NAME_PATTERNS, Shape, Tuned, plan

ADAM_PARAMS = [k for k in PARAMETERIZATIONS if k != "mup-sgd"]
widths = st.sampled_from([64, 128, 256, 384, 512, 1024, 2048, 4096, 8192])
depths = st.integers(min_value=1, max_value=128)


def _plan(param, base=(256, 8), target=(4096, 32), optimizer="adamw", **tuned):
    b = Shape.of(*base[:2], head_dim=base[2] if len(base) > 2 else None)
    return plan(param, b, Shape.of(*target), Tuned(lr=6e-3, init_std=0.02, **tuned), optimizer=optimizer)


@pytest.mark.parametrize("param", sorted(PARAMETERIZATIONS))
@given(w=widths, d=depths)
@settings(max_examples=25)
def test_every_multiplier_is_one_at_the_base_shape(param, w, d):
    opt = "sgd" if param == "mup-sgd" else "adamw"
    p = plan(param, Shape.of(w, d), Shape.of(w, d), Tuned(lr=1e-3), optimizer=opt)
    assert [g.group for g in p.recipe_rows] == ["readout_bias", "final_norm"]
    for g in p.groups + p.recipe_rows:
        assert g.lr_multiplier == pytest.approx(1) and g.multiplier == pytest.approx(1)
        assert g.weight_decay_multiplier == pytest.approx(1) and g.adam_eps_multiplier == pytest.approx(1)
        assert g.init_multiplier in (None, pytest.approx(1))
    assert p.residual_multiplier == pytest.approx(1)
    assert p.attention_scale == pytest.approx(1 / math.sqrt(p.base.head_dim))


@given(bw=widths, tw=widths, d=depths, lr=st.floats(min_value=1e-5, max_value=1e-1))
def test_mup_adam_hidden_lr_is_exactly_base_over_width_multiplier(bw, tw, d, lr):
    p = plan("mup", Shape.of(bw, d), Shape.of(tw, d), Tuned(lr=lr))
    m_d = tw / bw
    for name in MATRIX_GROUPS:
        assert p.group(name).lr == pytest.approx(lr / m_d, rel=1e-14)
    for name in ("embedding", "norm", "bias", "readout"):
        assert p.group(name).lr == lr
    assert p.group("readout").multiplier == pytest.approx(1 / m_d)
    assert p.group("attn_qkv").init_std == pytest.approx(0.02 / math.sqrt(m_d))


@pytest.mark.parametrize(("param", "alpha"), [("completep", 1.0), ("depth-mup", 0.5)])
@given(bw=widths, tw=widths, bd=depths, td=depths)
@settings(max_examples=40)
def test_completep_hidden_lr_eps_and_residual(param, alpha, bw, tw, bd, td):
    p = plan(param, Shape.of(bw, bd), Shape.of(tw, td), Tuned(lr=1e-2, adam_eps=1e-8))
    m_d, m_l = tw / bw, td / bd
    for name in MATRIX_GROUPS:
        assert p.group(name).lr == pytest.approx(1e-2 * m_d**-1 * m_l ** (alpha - 1), rel=1e-12)
        assert p.group(name).adam_eps == pytest.approx(1e-8 * m_d**-1 * m_l**-alpha, rel=1e-12)
        assert p.group(name).weight_decay == pytest.approx(0.1 * m_d, rel=1e-12)
    assert p.residual_multiplier == pytest.approx(m_l**-alpha)
    assert p.group("norm").lr == pytest.approx(1e-2 * m_l ** (alpha - 1))
    assert p.group("embedding").lr == 1e-2 and p.group("final_norm").lr == 1e-2
    # eps: inside the blocks m_d^-1 m_L^-alpha, outside (embedding, readout, final norm) m_d^-1
    for name in ("norm", "bias"):
        assert p.group(name).adam_eps == pytest.approx(1e-8 * m_d**-1 * m_l**-alpha, rel=1e-12)
    for name in ("embedding", "readout", "final_norm"):
        assert p.group(name).adam_eps == pytest.approx(1e-8 / m_d, rel=1e-12)


@pytest.mark.parametrize("param", sorted(PARAMETERIZATIONS))
@given(bw=widths, k=st.integers(min_value=1, max_value=8), d=depths, td=depths)
@settings(max_examples=30)
def test_lr_never_grows_with_width_for_matrix_like_groups(param, bw, k, d, td):
    opt = "sgd" if param == "mup-sgd" else "adamw"
    small = plan(param, Shape.of(bw, d), Shape.of(bw * k, td), Tuned(lr=1e-3), optimizer=opt)
    big = plan(param, Shape.of(bw, d), Shape.of(bw * k * 2, td), Tuned(lr=1e-3), optimizer=opt)
    for name in MATRIX_GROUPS:
        assert big.group(name).lr <= small.group(name).lr * (1 + 1e-12)
        if td == d:
            assert small.group(name).lr <= 1e-3 * (1 + 1e-12)


@pytest.mark.parametrize("param", ["mup", "mup-sgd", "u-mup"])
@given(bw=widths, tw=widths, bd=depths, td=depths, wd=st.floats(min_value=0, max_value=1))
@settings(max_examples=30)
def test_decay_per_step_is_kept_where_the_reference_code_keeps_it(param, bw, tw, bd, td, wd):
    # microsoft/mup MuAdam/MuSGD and unit_scaling divide weight_decay by the lr factor.
    opt = "sgd" if param == "mup-sgd" else "adamw"
    p = plan(param, Shape.of(bw, bd), Shape.of(tw, td), Tuned(lr=1e-3, weight_decay=wd), optimizer=opt)
    for g in p.groups + p.recipe_rows:
        assert g.lr * g.weight_decay == pytest.approx(1e-3 * wd, rel=1e-12, abs=1e-300), g.group


def test_mup_sgd_scales_vector_like_lr_up_and_keeps_square_matrices():
    p = _plan("mup", optimizer="sgd")
    assert p.parameterization == "mup-sgd"
    for name in ("embedding", "norm", "bias", "readout"):
        assert p.group(name).lr == pytest.approx(6e-3 * 16)
        assert p.group(name).weight_decay == pytest.approx(0.1 / 16)  # MuSGD: lr x wd kept
    assert p.group("attn_qkv").lr == pytest.approx(6e-3) and p.group("attn_qkv").weight_decay == 0.1


def test_mup_sgd_non_square_matrices_follow_the_fan_ratio():
    # MLP kept at 1024 while the width grows 4x: mlp_in's fan_out is fixed, mlp_out's fan_in is.
    base, target = Shape.of(256, 8, ffn=1024), Shape.of(1024, 8, ffn=1024)
    p = plan("mup-sgd", base, target, Tuned(lr=1e-2), optimizer="sgd")
    assert p.group("mlp_in").lr == pytest.approx(1e-2 / 4) and p.group("mlp_in").weight_decay == pytest.approx(0.4)
    assert p.group("mlp_out").lr == pytest.approx(1e-2 * 4) and p.group("mlp_out").weight_decay == pytest.approx(0.025)


def test_u_mup_moves_the_scale_into_the_forward_pass():
    p = _plan("u-mup")  # width x16, depth x4
    assert p.group("attn_qkv").init_std == 1.0 and p.group("attn_qkv").multiplier == pytest.approx(16**-0.5)
    # unit_scaling.optim.lr_scale_func_adam: fan_in^-1/2 times depth^-1/2 inside the stack.
    assert p.group("attn_qkv").lr == pytest.approx(6e-3 * 16**-0.5 * 4**-0.5)
    assert p.group("embedding").lr == pytest.approx(6e-3 * 16**-0.5)
    assert p.group("norm").lr == pytest.approx(6e-3 * 4**-0.5) and p.group("readout").lr == 6e-3
    for g in p.groups:  # independent weight decay: lr x weight_decay fixed in every group
        assert g.lr * g.weight_decay == pytest.approx(6e-3 * 0.1)
    assert p.group("readout").multiplier == pytest.approx(1 / 16)
    assert p.residual_multiplier == pytest.approx(4**-0.5)


def test_width_wd_zeroes_vector_decay():
    p = _plan("width-wd")
    assert p.group("norm").weight_decay == 0 and p.group("embedding").weight_decay == 0
    assert p.group("mlp_in").weight_decay == pytest.approx(0.1 * 16)


def test_parameterizations_are_registry_laws_with_provenance():
    for key in PARAMETERIZATIONS:
        assert REGISTRY[key] is PARAMETERIZATIONS[key] and REGISTRY[key].provenance.citation


def test_not_transferred_quotes_the_other_laws():
    p = plan("mup", Shape.of(256, 8), Shape.of(4096, 32),
             Tuned(lr=6e-3, batch_tokens=2**19, tokens=1e10), target_batch_tokens=2**21, target_tokens=1e12)
    items = {i["setting"]: i for i in p.not_transferred}
    assert items["batch size"]["lr_factor"] == pytest.approx(2.0)  # sqrt(4)
    assert items["token horizon"]["lr_factor"] == pytest.approx(100**-0.32)
    assert {"weight decay", "dropout"} <= set(items)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"base": (0, 8)}, "must be > 0"),
        ({"target": (-64, 8)}, "must be > 0"),
        ({"base": (100, 8, 64)}, "does not divide width"),
    ],
)
def test_bad_shapes(kwargs, fragment):
    with pytest.raises(InvalidInputError, match=fragment):
        _plan("mup", **kwargs)


def test_unknown_parameterization_suggests():
    with pytest.raises(InvalidInputError, match="Did you mean 'completep'"):
        _plan("complete-p")


def test_smaller_target_is_allowed_but_flagged():
    p = _plan("mup", base=(1024, 8), target=(256, 8))
    assert p.group("attn_qkv").lr == pytest.approx(6e-3 * 4)
    assert any("smaller than the proxy" in n for n in p.notes)


# -- CLI ----------------------------------------------------------------------------------------

ARGS = ["transfer", "--base-width", "256", "--base-depth", "8", "--lr", "6e-3", "--init-std", "0.02",
        "--width", "4096", "--depth", "32", "--param", "mup", "--optimizer", "adamw"]


def test_cli_json_shape(cli):
    result = cli(*ARGS, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"parameterization", "base", "target", "groups", "residual_multiplier", "attention_scale",
            "not_transferred"} <= set(data)
    assert [g["group"] for g in data["groups"]] == list(GROUPS)
    for g in data["groups"]:
        assert {"group", "lr", "init_std", "multiplier", "weight_decay", "adam_eps"} <= set(g)
    assert data["groups"][1]["lr"] == pytest.approx(6e-3 / 16)


@pytest.mark.parametrize("fmt", EMITTERS)
def test_cli_emitters(cli, fmt):
    result = cli(*ARGS, "--emit", fmt)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    if fmt == "nanogpt-mup":
        values = {}
        for node in ast.parse(text).body:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        assert values["mup_width_multiplier"] == 16.0 and values["learning_rate"] == 6e-3
    elif fmt == "json":
        assert json.loads(text)["parameterization"] == "mup"
    else:
        data = yaml.safe_load(text)
        assert data


def test_recipe_patterns_route_common_names():
    names = {
        "transformer.wte.weight": "embedding", "model.embed_tokens.weight": "embedding",
        "transformer.h.0.attn.c_attn.weight": "attn_qkv", "model.layers.0.self_attn.q_proj.weight": "attn_qkv",
        "model.layers.0.self_attn.o_proj.weight": "attn_out", "transformer.h.0.attn.c_proj.weight": "attn_out",
        "model.layers.0.mlp.gate_proj.weight": "mlp_in", "model.layers.0.mlp.down_proj.weight": "mlp_out",
        "transformer.h.0.mlp.c_proj.weight": "mlp_out", "model.layers.0.input_layernorm.weight": "norm",
        "transformer.ln_f.weight": "final_norm", "model.norm.weight": "final_norm",
        "gpt_neox.final_layer_norm.weight": "final_norm", "embed_out.weight": "readout",
        "gpt_neox.embed_in.weight": "embedding", "lm_head.bias": "readout_bias", "lm_head.weight": "readout", "transformer.h.0.attn.c_attn.bias": "bias",
    }
    for name, group in names.items():
        got = next(g for g, pat in NAME_PATTERNS if re.search(pat, name))
        assert got == group, name


def test_emitters_refuse_what_the_trainer_cannot_express(cli):
    result = cli(*ARGS[:-4], "--param", "completep", "--emit", "megatron")
    assert result.exit_code == 2 and "no fields for completep" in result.stderr
    assert set(SUPPORTED) <= set(EMITTERS)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["transfer", "--base-width", "0", "--base-depth", "8", "--lr", "1e-3", "--width", "512", "--depth", "8"], "must be > 0"),
        (["transfer", "--base-width", "100", "--base-head-dim", "64", "--base-depth", "8", "--lr", "1e-3",
          "--width", "512", "--depth", "8"], "does not divide"),
        (["transfer", "--base-width", "256", "--base-depth", "8", "--lr", "1e-3", "--width", "512", "--depth", "8",
          "--heads", "7"], "do not divide width"),
        (["transfer", "--base-width", "256", "--base-depth", "8", "--lr", "1e-3", "--width", "512", "--depth", "8",
          "--param", "mupp"], "Did you mean 'mup'"),
        (["transfer", "--base-width", "256", "--base-depth", "8", "--width", "512", "--depth", "8"], "learning rate tuned"),
        (["transfer", "--base-width", "256", "--lr", "1e-3", "--width", "512", "--depth", "8"], "proxy: give its depth"),
        (["transfer", "missing.yaml"], "not found"),
    ],
)
def test_cli_bad_input(cli, args, fragment):
    result = cli(*args)
    assert result.exit_code == 2, result.stdout
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_run_file_with_a_proxy_section(cli, tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(
        "model:\n  architecture: {d_model: 2048, n_layers: 24, n_heads: 16, vocab_size: 50304}\n"
        "data:\n  tokens: 100B\nbatch: 1024 seqs\nseq_len: 2048\n"
        "proxy: {d_model: 256, n_layers: 24, n_heads: 4, lr: 1e-2, batch: 256 seqs, tokens: 5B, "
        "parameterization: mup}\n"
    )
    data = json.loads(cli("recommend", str(run), "--format", "json").stdout)
    tr = data["transfer"]
    assert tr["parameterization"] == "mup" and tr["width_multiplier"] == 8
    assert tr["groups"][1]["lr"] == pytest.approx(1e-2 / 8)
    items = {i["setting"]: i for i in tr["not_transferred"]}
    assert items["batch size"]["lr_factor"] == pytest.approx(2.0)
    table = cli("recommend", str(run))
    assert "TRANSFER FROM THE PROXY" in table.stdout
    direct = json.loads(cli("transfer", str(run), "--format", "json").stdout)
    assert direct["groups"] == tr["groups"]


def test_proxy_run_file_to_target_run_file(cli):
    from tests.conftest import CONFIGS

    result = cli("transfer", str(CONFIGS / "proxy-256x8.yaml"), "--to", str(CONFIGS / "llama-7b-2t.yaml"),
                 "--param", "completep", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["width_multiplier"] == 16 and data["depth_multiplier"] == 4
    assert data["residual_multiplier"] == pytest.approx(0.25)
    items = {i["setting"]: i for i in data["not_transferred"]}
    # 128 seqs of 4096 -> 1024 seqs of 4096: sqrt(8); 5B -> 2T tokens: 400^-0.32.
    assert items["batch size"]["lr_factor"] == pytest.approx(math.sqrt(8))
    assert items["token horizon"]["lr_factor"] == pytest.approx(400**-0.32)
    expected_wd = 8 / (math.sqrt(8) * 400**-0.32) / 400
    assert items["weight decay"]["weight_decay_factor"] == pytest.approx(expected_wd)


@pytest.mark.parametrize("name,group", [
    ("transformer.wpe.weight", "embedding"),                               # GPT-2 / nanoGPT position embedding
    ("decoder.layers.0.self_attention.linear_proj.weight", "attn_out"),   # Megatron-core
    ("decoder.layers.0.self_attention.linear_qkv.weight", "attn_qkv"),
    ("decoder.layers.0.mlp.linear_fc1.weight", "mlp_in"),
    ("output_layer.weight", "readout"),
    ("output_layer.bias", "readout_bias"),
])
def test_recipe_patterns_cover_common_parameter_names(name, group):
    import re

    from hpadvisor.transfer.plan import NAME_PATTERNS

    assert next(g for g, p in NAME_PATTERNS if re.search(p, name)) == group
