"""Bad input to the trainer-config readers: one clear line naming file, line and field; nothing run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpadvisor.errors import DataError, HpAdvisorError, InvalidInputError
from hpadvisor.formats import FORMATS, detect_format, read_config

CORPUS = Path(__file__).parent / "data" / "configs"
MARKER = "hpadvisor_executed.marker"


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def test_nanogpt_code_is_never_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "train_cfg.py"
    shutil.copy(CORPUS / "nanogpt_with_code.py", src)
    monkeypatch.chdir(tmp_path)
    # Sanity: the file really would create the marker if Python ran it (in its own folder).
    probe = tmp_path / "probe"
    probe.mkdir()
    subprocess.run([sys.executable, str(src)], cwd=probe, check=True, capture_output=True)
    assert (probe / MARKER).exists()
    # Now hpadvisor reads it in tmp_path: no marker may appear there.
    cfg = read_config(src)
    assert not (tmp_path / MARKER).exists()
    assert cfg.format == "nanogpt"
    assert cfg.value("lr") == 1e-3 and cfg.get("lr").line == 6
    assert cfg.value("min_lr") == pytest.approx(1e-4)  # learning_rate / 10, from earlier literals
    assert cfg.get("warmup_steps") is None  # a call: unknown, and not replaced by a default
    assert any("line 11" in n and "never run" in n for n in cfg.notes)


def test_missing_file() -> None:
    with pytest.raises(DataError) as e:
        read_config("/nonexistent/dir/train.yaml")
    assert "not found" in one_line(e.value)


def test_binary_file(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_bytes(b"\xff\xfe\x00binary\x80")
    with pytest.raises(DataError) as e:
        read_config(p)
    assert "UTF-8" in one_line(e.value)


@pytest.mark.parametrize("name,cut,where", [
    ("hf_training_args.json", 200, "invalid JSON at line"),
    ("torchtitan_llama3_8b.toml", 260, "invalid TOML"),
    ("neox_1-3B.yml", 600, "invalid YAML"),
    ("llama2_7b_megatron.sh", "--lr $LR \\\n", "ends inside a line continued with"),
    ("llama2_7b_megatron.sh", "--min-lr 3.0e-5 \\\n    --lr-decay-style 'cos", "ends inside an unclosed quote"),
])
def test_truncated_files(tmp_path: Path, name: str, cut: int | str, where: str) -> None:
    p = tmp_path / name
    text = (CORPUS / name).read_text()
    if isinstance(cut, str):  # cut just after this text (a continued line, or an open quote)
        text = text.replace("--lr-decay-style cosine", "--lr-decay-style 'cosine'")
        cut = text.index(cut) + len(cut)
    p.write_text(text[:cut])
    with pytest.raises(DataError) as e:
        read_config(p)
    msg = one_line(e.value)
    assert where in msg and str(p) in msg


def test_truncated_python_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "cfg.py"
    p.write_text("batch_size = 12\nlearning_rate = (6e-4\n")
    with pytest.raises(DataError) as e:
        read_config(p)
    assert f"{p}:2" in one_line(e.value) and "not valid Python" in str(e.value)


def test_undetectable_format(tmp_path: Path) -> None:
    p = tmp_path / "cfg.yaml"
    p.write_text("foo: 1\nbar: [1, 2]\n")
    with pytest.raises(DataError) as e:
        read_config(p)
    msg = one_line(e.value)
    assert "cannot tell which trainer" in msg and "bar, foo" in msg and "megatron" in msg


def test_model_config_given_as_the_training_file() -> None:
    with pytest.raises(DataError, match="model config.json"):
        read_config(CORPUS / "hf_config.json")


@pytest.mark.parametrize("fmt,text,line,field", [
    ("neox", "train_iters: ten\ntrain_micro_batch_size_per_gpu: 4\n", 1, "train_iters"),
    ("neox", 'optimizer: {type: Adam, params: {lr: 1e-4, betas: 0.9}}\n', 1, "optimizer.params.betas"),
    ("megatron", "micro_batch_size: 2\nlr: true\n", 2, "lr"),
    ("megatron", "#!/bin/bash\npython pretrain_gpt.py \\\n  --global-batch-size 12.5\n", 3,
     "--global-batch-size"),
    ("hf", '{\n  "learning_rate": "fast",\n  "per_device_train_batch_size": 4\n}\n', 2, "learning_rate"),
    ("torchtitan", "[training]\nsteps = -5\n", 2, "training.steps"),
    ("nanotron", "tokens:\n  train_steps: 100\n  micro_batch_size: [4]\n", 3, "tokens.micro_batch_size"),
    ("nanogpt", "batch_size = 12\nbeta2 = 1.5\n", 2, "beta2"),
    ("hpadvisor", "data:\n  tokens: 2T\nseq_len: -4\n", 3, "seq_len"),
])
def test_wrong_type_names_file_line_and_field(tmp_path: Path, fmt: str, text: str, line: int,
                                              field: str) -> None:
    ext = {"hf": ".json", "torchtitan": ".toml", "nanogpt": ".py", "megatron": ".sh"}.get(fmt, ".yaml")
    if fmt == "megatron" and not text.startswith("#!"):
        ext = ".yaml"
    p = tmp_path / f"cfg{ext}"
    p.write_text(text)
    with pytest.raises(InvalidInputError) as e:
        read_config(p, format=fmt)
    msg = one_line(e.value)
    assert f"{p}:{line}" in msg and field in msg, msg


def test_unknown_format_name() -> None:
    with pytest.raises(InvalidInputError, match="Did you mean 'neox'"):
        read_config(CORPUS / "neox_1-3B.yml", format="neo")


def test_yaml_object_tags_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.yml"
    p.write_text(f"lr: !!python/object/apply:os.system ['touch {tmp_path / MARKER}']\n")
    with pytest.raises(DataError, match="refused YAML tag"):
        read_config(p, format="neox")
    assert not (tmp_path / MARKER).exists()


# ------------------------------------------------------------------------------------------------
# Arbitrary input: only HpAdvisorError subclasses, one line each, never anything else.

_EXT = {"megatron": ".sh", "neox": ".yml", "hf": ".json", "torchtitan": ".toml", "nanotron": ".yaml",
        "nanogpt": ".py", "hpadvisor": ".yaml"}

# Text that looks like each format, so the fuzzing reaches past the parsers into the readers.
_SNIPPETS = st.sampled_from([
    "lr: 3e-4\n", "--lr 3e-4 \\\n", "learning_rate = 6e-4\n", "[training]\nsteps = 10\n",
    '{"learning_rate": 1e-4, "max_steps": 10}\n', "optimizer:\n  learning_rate_scheduler: {}\n",
    "train_batch_size: 0\n", "global_batch_size: 7\nmicro_batch_size: 2\n", "warmup: 2\n",
    "lr_scheduler_type: warmup_stable_decay\nlr_scheduler_kwargs: {num_stable_steps: x}\n",
    "batch: 12 tokens\n", "x = [1, 2] * 3\n", "n = 2 ** 10000\n", "tokens:\n  dp: -1\n",
    "parallelism:\n  data_parallel_shard_degree: 0\n", "a = b\n", "'\n", "\"unclosed\n",
    "optimizer: {params: [1]}\n", "weight_decay_exclude_named_params: ['(']\n", "--nproc_per_node $X\n",
])
_TEXT = st.one_of(st.text(max_size=300),
                  st.lists(_SNIPPETS, max_size=6).map("".join),
                  st.tuples(st.lists(_SNIPPETS, max_size=4).map("".join), st.text(max_size=40)).map("".join))


def _read(tmp: Path, fmt: str | None, data: bytes | str, ext: str) -> None:
    p = tmp / f"fuzz{ext}"
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    try:
        read_config(p, format=fmt)
    except HpAdvisorError as exc:
        one_line(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT, fmt=st.sampled_from(FORMATS))
def test_fuzz_every_reader_text(tmp_path: Path, text: str, fmt: str) -> None:
    _read(tmp_path, fmt, text, _EXT[fmt])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), fmt=st.sampled_from(FORMATS))
def test_fuzz_every_reader_bytes(tmp_path: Path, data: bytes, fmt: str) -> None:
    _read(tmp_path, fmt, data, _EXT[fmt])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT, ext=st.sampled_from([".yaml", ".yml", ".json", ".toml", ".py", ".sh", ".cfg", ""]))
def test_fuzz_detect_and_read(tmp_path: Path, text: str, ext: str) -> None:
    try:
        detect_format(f"cfg{ext}", text)
    except HpAdvisorError as exc:
        one_line(exc)
    _read(tmp_path, None, text, ext)


# Structured fuzzing: the trainers' own keys with values of every type, at the right nesting.
_KEYS = ["lr", "min_lr", "train_iters", "lr_decay_iters", "lr_warmup_fraction", "lr_warmup_iters",
         "lr_warmup_samples", "train_samples", "global_batch_size", "micro_batch_size", "seq_length",
         "lr_decay_style", "lr_wsd_decay_style", "num_query_groups", "swiglu", "use_mup",
         "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "warmup",
         "lr_decay_fraction", "no_weight_tying", "activation", "optimizer", "learning_rate",
         "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_ratio", "warmup_steps", "max_steps",
         "per_device_train_batch_size", "adam_beta2", "max_seq_length", "tokens", "parallelism",
         "learning_rate_scheduler", "weight_decay_exclude_named_params", "model", "data", "batch",
         "schedule", "seq_len", "nproc_per_node", "tensor_model_parallel_size"]
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12), st.integers(-10**400, 10**400),
                  st.floats(allow_nan=True),
                  st.text(max_size=12), st.sampled_from(["cosine", "WSD", "3e-4", "0.5", "sqrt", "1-sqrt",
                                                          "warmup_stable_decay", "cosine_with_min_lr"]))
_VALUE = st.recursive(_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)), max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(_KEYS), _VALUE, max_size=8),
       fmt=st.sampled_from(["megatron", "neox", "hf", "nanotron", "hpadvisor"]))
def test_fuzz_structured(tmp_path: Path, data: dict, fmt: str) -> None:
    import json

    text = json.dumps(data, allow_nan=True) if fmt == "hf" else __import__("yaml").safe_dump(data)
    _read(tmp_path, fmt, text, ".json" if fmt == "hf" else ".yaml")


def test_an_integer_past_float_range_in_a_trainer_config_is_one_clear_error(tmp_path: Path) -> None:
    text = (Path(__file__).parent / "data" / "configs" / "llama2_7b_megatron.yaml").read_text()
    lines = [f"train_iters: 1{'0' * 400}" if ln.startswith("train_iters:") else ln for ln in text.splitlines()]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError) as err:
        read_config(path)
    assert "train_iters" in str(err.value) and "\n" not in str(err.value)
