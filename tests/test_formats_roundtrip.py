"""dump_snippet -> file -> read_config gives back the same values, for every trainer."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hpadvisor.errors import InvalidInputError
from hpadvisor.formats import FORMATS, dump_snippet, read_config

EXT = {"megatron": ".sh", "neox": ".yml", "hf": ".json", "torchtitan": ".toml", "nanotron": ".yaml",
       "nanogpt": ".py", "hpadvisor": ".yaml"}

BASE = dict(lr=3e-4, min_lr=3e-5, schedule="cosine", warmup_steps=2000, train_steps=100000,
            decay_steps=100000, global_batch_seqs=512, micro_batch_seqs=4, grad_accum=2,
            data_parallel=64, seq_len=4096, weight_decay=0.1, beta1=0.9, beta2=0.95, eps=1e-8,
            grad_clip=1.0, d_model=2048, n_layers=24, n_heads=16, n_kv_heads=4, ffn_hidden=5632,
            vocab_size=32000, swiglu=True, tied_embeddings=False, tokens=100000 * 512 * 4096)
WSD = dict(BASE, schedule="wsd", wsd_decay_style="1-sqrt", wsd_decay_steps=20000, min_lr=0.0)


def roundtrip(fmt: str, values: dict, tmp: Path) -> dict:
    """Values read back from the snippet, for the keys the format can state."""
    p = tmp / f"snippet{EXT[fmt]}"
    p.write_text(dump_snippet(fmt, values))
    # TrainingArguments do not hold the device count: the check supplies it, as here.
    overrides = {"data_parallel": values["data_parallel"]} if fmt == "hf" else None
    cfg = read_config(p, overrides=overrides)
    assert cfg.format == fmt
    writes = importlib.import_module(f"hpadvisor.formats.{fmt}").WRITES
    return {k: cfg.value(k) for k in values if k in writes}


def same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
    return a == b


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("values", [BASE, WSD], ids=["cosine", "wsd"])
def test_roundtrip(tmp_path: Path, fmt: str, values: dict) -> None:
    if fmt in ("nanogpt", "neox") and values["schedule"] == "wsd":  # no WSD in these trainers
        with pytest.raises(InvalidInputError, match="cannot express schedule = 'wsd'"):
            dump_snippet(fmt, values)
        return
    back = roundtrip(fmt, values, tmp_path)
    assert len(back) >= 12, back  # every format states most of the run
    bad = {k: (values[k], v) for k, v in back.items() if not same(values[k], v)}
    assert not bad, bad


@pytest.mark.parametrize("fmt", FORMATS)
def test_snippet_line_numbers_are_exact(tmp_path: Path, fmt: str) -> None:
    p = tmp_path / f"s{EXT[fmt]}"
    p.write_text(dump_snippet(fmt, dict(lr=1e-3, train_steps=5000, warmup_steps=100,
                                        decay_steps=5000, schedule="cosine")))
    lines = p.read_text().splitlines()
    s = read_config(p).get("lr")
    assert s is not None and s.line is not None
    assert "0.001" in lines[s.line - 1]


def test_unknown_canonical_key() -> None:
    with pytest.raises(InvalidInputError, match="Did you mean 'warmup_steps'"):
        dump_snippet("neox", {"warmup_step": 10})


@pytest.mark.parametrize("fmt,values,match", [
    ("neox", {"schedule": "wsd"}, "lr_decay_style"),
    ("torchtitan", {"schedule": "constant"}, "decay_type"),
    ("hf", {"schedule": "cosine", "train_steps": 100, "decay_steps": 80}, "max_steps"),
    ("megatron", {"warmup_steps": 10.5}, "whole number"),
    ("nanotron", {"global_batch_seqs": 64, "micro_batch_seqs": 3, "data_parallel": 4}, "whole multiple"),
])
def test_writer_refuses_what_the_trainer_cannot_say(fmt: str, values: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        dump_snippet(fmt, values)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(FORMATS), lr=st.floats(1e-6, 1e-1), ratio=st.floats(0.0, 1.0),
       warm=st.integers(0, 5000), steps=st.integers(5001, 10**7), micro=st.integers(1, 64),
       accum=st.integers(1, 64), dp=st.integers(1, 4096), seq=st.sampled_from([512, 2048, 4096, 8192]),
       beta2=st.floats(0.5, 0.9999))
@example(fmt="nanogpt", lr=0.0625, ratio=1.0, warm=0, steps=5001, micro=1, accum=1, dp=1, seq=512, beta2=0.5)
def test_roundtrip_property(tmp_path: Path, fmt: str, lr: float, ratio: float, warm: int, steps: int,
                            micro: int, accum: int, dp: int, seq: int, beta2: float) -> None:
    values = dict(lr=lr, min_lr=lr * ratio, schedule="cosine", warmup_steps=warm, train_steps=steps,
                  decay_steps=steps, micro_batch_seqs=micro, grad_accum=accum, data_parallel=dp,
                  global_batch_seqs=micro * accum * dp, seq_len=seq, beta2=beta2)
    back = roundtrip(fmt, values, tmp_path)
    if values["min_lr"] == lr and back.get("schedule") == "constant":
        # a cosine from the lr to itself is a constant lr after the warmup; nanoGPT's reader says so
        # (its min_lr = learning_rate is how a constant lr with warmup is written)
        back["schedule"] = "cosine"
    bad = {k: (values[k], v) for k, v in back.items() if not same(values[k], v)}
    assert not bad, bad


def test_nanotron_snippet_always_states_the_warmup_style_its_config_requires():
    from hpadvisor.formats import nanotron

    text = nanotron.dump({"lr": 1e-3, "schedule": "cosine", "train_steps": 100})
    assert "lr_warmup_style: linear" in text and "lr_decay_style: cosine" in text


def test_nanogpt_constant_lr_after_a_warmup_is_written_so_train_py_warms_up(tmp_path):
    """decay_lr = False skips the warmup too; get_lr from learning_rate to min_lr = learning_rate keeps it."""
    from hpadvisor import schedules
    from hpadvisor.formats.registry import dump_snippet

    text = dump_snippet("nanogpt", {"lr": 1e-3, "min_lr": 1e-3, "schedule": "constant", "warmup_steps": 100,
                                    "train_steps": 1000})
    assert "decay_lr" not in text and "min_lr = 0.001" in text
    path = tmp_path / "c.py"
    path.write_text(text)
    cfg = read_config(path, format="nanogpt")
    assert cfg.value("schedule") == "constant"
    eta, _, _ = schedules.from_trainer(cfg)
    assert eta[0] == pytest.approx(1e-3 / 101) and eta[100] == pytest.approx(1e-3) and eta[-1] == pytest.approx(1e-3)
