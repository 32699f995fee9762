"""`hpadvisor transfer` against the reference implementations, where they are installed:
microsoft/mup (set_base_shapes + MuAdam / MuSGD) and graphcore-research/unit-scaling (u-muP).

Every parameter's learning rate and weight decay in the optimizer the reference library builds
must equal this package's plan for the same model.  ``bash .ci/reference`` installs
``torch==2.13.0 mup unit-scaling`` in a fresh venv and runs them; without them (as in .ci/run) these
tests are skipped with the reason."""

from __future__ import annotations

import re

import pytest

from hpadvisor.transfer.emit import recipe
from hpadvisor.transfer.plan import GROUPS, RECIPE_ONLY, Shape, Tuned, plan

LR, WD = 6e-3, 0.1


def _recipe_row(rows, name: str) -> dict:
    """What a user's code does with `--emit recipe`: the first pattern that matches the name."""
    return next(r for r in rows if re.search(r["pattern"], name))


def _tiny_gpt(torch, mup):
    """A nanoGPT-style transformer whose parameter names the recipe's patterns route."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = nn.Module()
            self.attn.c_attn, self.attn.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Module()
            self.mlp.c_fc, self.mlp.c_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    class Tiny(nn.Module):
        def __init__(self, d, layers=2, vocab=96):
            super().__init__()
            self.transformer = nn.Module()
            self.transformer.wte = nn.Embedding(vocab, d)
            self.transformer.h = nn.ModuleList(Block(d) for _ in range(layers))
            self.transformer.ln_f = nn.LayerNorm(d)
            self.lm_head = mup.MuReadout(d, vocab)

    return Tiny


def _by_param(opt):
    lr_of, wd_of = {}, {}
    for group in opt.param_groups:
        for p in group["params"]:
            lr_of[id(p)], wd_of[id(p)] = group["lr"], group["weight_decay"]
    return lr_of, wd_of


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_per_group_lr_and_weight_decay_match_microsoft_mup(optimizer):
    torch = pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0 mup)")
    mup = pytest.importorskip("mup", reason="mup not installed (pip install torch==2.13.0 mup)")
    Tiny = _tiny_gpt(torch, mup)

    base_d, target_d = 32, 128
    model = Tiny(target_d)
    mup.set_base_shapes(model, Tiny(base_d), delta=Tiny(2 * base_d))
    make = mup.MuAdam if optimizer == "adamw" else mup.MuSGD
    lr_of, wd_of = _by_param(make(model.parameters(), lr=LR, weight_decay=WD))

    ours = plan("mup", Shape.of(base_d, 2, head_dim=base_d), Shape.of(target_d, 2, head_dim=target_d),
                Tuned(lr=LR, weight_decay=WD), optimizer=optimizer)
    assert ours.parameterization == ("mup" if optimizer == "adamw" else "mup-sgd")
    rows, seen = recipe(ours)["groups"], set()
    for name, p in model.named_parameters():
        row = _recipe_row(rows, name)
        seen.add(row["group"])
        assert lr_of[id(p)] == pytest.approx(row["lr"], rel=1e-12), name
        assert wd_of[id(p)] == pytest.approx(row["weight_decay"], rel=1e-12), name
        if row["group"] in GROUPS:
            assert row["lr"] == ours.group(row["group"]).lr
    assert seen == set(GROUPS) | set(RECIPE_ONLY)
    # MuReadout divides the logits by the width multiplier.
    assert 1 / model.lm_head.width_mult() == pytest.approx(ours.group("readout").multiplier)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_mlp_growing_faster_than_the_width_matches_microsoft_mup(optimizer):
    # width x4 but MLP x8: MuAdam divides by the fan-in multiplier, MuSGD by fan_in/fan_out.
    torch = pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0 mup)")
    mup = pytest.importorskip("mup", reason="mup not installed (pip install torch==2.13.0 mup)")
    nn = torch.nn

    class MLP(nn.Module):
        def __init__(self, d, ffn):
            super().__init__()
            self.c_fc, self.c_proj = nn.Linear(d, ffn, bias=False), nn.Linear(ffn, d, bias=False)

    model = MLP(128, 512)
    mup.set_base_shapes(model, MLP(32, 64), delta=MLP(64, 128))
    make = mup.MuAdam if optimizer == "adamw" else mup.MuSGD
    lr_of, wd_of = _by_param(make(model.parameters(), lr=LR, weight_decay=WD))
    ours = plan("mup", Shape.of(32, 2, head_dim=32, ffn=64), Shape.of(128, 2, head_dim=128, ffn=512),
                Tuned(lr=LR, weight_decay=WD), optimizer=optimizer)
    for name, group in (("c_fc", "mlp_in"), ("c_proj", "mlp_out")):
        p = getattr(model, name).weight
        assert lr_of[id(p)] == pytest.approx(ours.group(group).lr, rel=1e-12), name
        assert wd_of[id(p)] == pytest.approx(ours.group(group).weight_decay, rel=1e-12), name
    assert {ours.group("mlp_in").lr, ours.group("mlp_out").lr} == (
        {LR / 4, LR / 8} if optimizer == "adamw" else {LR * 2, LR / 2})


#: unit_scaling's TransformerDecoder names -> our groups.
_UU_GROUPS = {"embedding": "embedding", "linear_qkv": "attn_qkv", "linear_o": "attn_out",
              "linear_1": "mlp_in", "linear_gate": "mlp_in", "linear_2": "mlp_out", "projection": "readout"}


def test_u_mup_lr_and_weight_decay_ratios_match_unit_scaling():
    pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0 unit-scaling)")
    uu = pytest.importorskip("unit_scaling", reason="unit-scaling not installed (pip install unit-scaling)")

    def groups(width, layers):
        model = uu.TransformerDecoder(hidden_size=width, vocab_size=64, layers=layers, heads=2)
        opt = uu.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
        names = {id(p): n for n, p in model.named_parameters()}
        return {names[id(p)]: (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}

    def key(name):  # every layer has the same lr; compare layer i of the target with the proxy's
        return re.sub(r"layers\.\d+\.", "layers.", name)

    base = {key(n): v for n, v in groups(32, 2).items()}
    target = groups(128, 8)  # width x4, depth x4
    ours = plan("u-mup", Shape.of(32, 2, n_heads=2), Shape.of(128, 8, n_heads=2), Tuned(lr=LR, weight_decay=WD))
    seen = set()
    for name, (lr, wd) in target.items():
        group = next(g for key, g in _UU_GROUPS.items() if key in name)
        seen.add(group)
        row = ours.group(group)
        # unit_scaling's lrs are absolute (fan_in^-1/2 x depth^-1/2); the plan is relative to the proxy.
        assert lr / base[key(name)][0] == pytest.approx(row.lr_multiplier, rel=1e-12), name
        assert wd / base[key(name)][1] == pytest.approx(row.weight_decay_multiplier, rel=1e-12), name
    assert seen == {"embedding", "attn_qkv", "attn_out", "mlp_in", "mlp_out", "readout"}
