"""Trainer-config readers on the corpus: normalised values AND the line each one is set on.

Every expected number below is worked out by hand from the file and the trainer's own rule
(cited in each reader's docstring), e.g. NeoX warmup 0.01 x lr_decay_iters 320000 = 3200 steps.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hpadvisor.errors import HpAdvisorError
from hpadvisor.formats import detect_format, read_config

CORPUS = Path(__file__).parent / "data" / "configs"

# file -> {canonical: (value, line)}; line None = derived or the trainer's default.
EXPECTED: dict[str, dict[str, tuple[object, int | None]]] = {
    "llama2_7b_megatron.sh": {
        "lr": (3e-4, 26), "min_lr": (3e-5, 27), "schedule": ("cosine", 28), "warmup_steps": (2000, 29),
        "train_steps": (476837, 25), "decay_steps": (476837, None), "global_batch_seqs": (1024, 24),
        "micro_batch_seqs": (1, 23), "seq_len": (4096, 18), "weight_decay": (0.1, 30),
        "beta1": (0.9, 31), "beta2": (0.95, 32), "eps": (1e-5, 33), "grad_clip": (1.0, 34),
        "d_model": (4096, 15), "n_layers": (32, 14), "n_heads": (32, 17), "ffn_hidden": (11008, 16),
        "swiglu": (True, 20), "tied_embeddings": (False, 21),
        # 8 GPUs x 64 nodes / (TP 2 x PP 1) = 256; 1024 / (1 x 256) = 4 accumulation steps
        "data_parallel": (256, None), "grad_accum": (4, None),
        "tokens": (476837 * 1024 * 4096, None), "wd_on_embeddings": (True, None),
        "wd_on_norms": (False, None), "use_mup": (False, None),
    },
    "llama2_7b_megatron.yaml": {
        "lr": (3e-4, 21), "min_lr": (3e-5, 22), "schedule": ("cosine", 23), "train_steps": (476837, 19),
        "decay_steps": (430000, 24),
        # lr_warmup_fraction is a fraction of lr_decay_iters: 0.01 x 430000
        "warmup_steps": (4300, 25), "global_batch_seqs": (1024, 18), "micro_batch_seqs": (1, 17),
        "beta2": (0.999, None), "eps": (1e-5, 28), "tied_embeddings": (False, 15), "swiglu": (True, 14),
        "data_parallel": (None, None), "grad_accum": (None, None),
    },
    "neox_1-3B.yml": {
        "lr": (2e-4, 24), "beta1": (0.9, 25), "beta2": (0.95, 25), "eps": (1e-8, 26),
        "min_lr": (2e-5, 29), "global_batch_seqs": (512, 39), "micro_batch_seqs": (8, 40),
        "grad_accum": (2, 41), "data_parallel": (32, None),  # 512 / (8 x 2)
        "train_steps": (320000, 51), "decay_steps": (320000, 52), "schedule": ("cosine", 53),
        "warmup_steps": (3200, 54),  # 0.01 x lr_decay_iters
        "seq_len": (2048, 12), "weight_decay": (0.1, 46), "grad_clip": (1.0, 45),
        "tied_embeddings": (False, 16), "n_layers": (24, 9), "d_model": (2048, 10), "n_heads": (16, 11),
        "tokens": (320000 * 512 * 2048, None), "batch_arithmetic_ok": (None, None),
    },
    "hf_training_args.json": {
        "lr": (4e-4, 6), "schedule": ("cosine", 7), "min_lr": (4e-5, 8),  # min_lr_rate 0.1 x 4e-4
        "warmup_steps": (1000, 9),  # ceil(0.01 x max_steps)
        "train_steps": (100000, 10), "decay_steps": (100000, None), "micro_batch_seqs": (16, 4),
        "grad_accum": (4, 5), "weight_decay": (0.1, 11), "beta2": (0.95, 13), "eps": (1e-8, 14),
        "grad_clip": (1.0, 15), "seq_len": (2048, 20), "global_batch_seqs": (None, None),
        "data_parallel": (None, None), "wd_on_norms": (False, None),
    },
    "torchtitan_llama3_8b.toml": {
        "lr": (3e-4, 12), "eps": (1e-8, 13), "weight_decay": (0.1, 14), "beta2": (0.95, None),
        "warmup_steps": (2000, 17), "schedule": ("wsd", 18), "wsd_decay_style": ("1-sqrt", 19),
        "wsd_decay_steps": (20000, 18),  # round(0.2 x 100000)
        "min_lr": (0.0, 20), "micro_batch_seqs": (2, 23), "global_batch_seqs": (512, 24),
        "seq_len": (8192, 25), "grad_clip": (1.0, 26), "train_steps": (100000, 27),
        "data_parallel": (64, None), "grad_accum": (4, None),  # 512 / (2 x 64)
        "wd_on_embeddings": (True, None), "wd_on_norms": (True, None),
        "tokens": (100000 * 512 * 8192, None),
    },
    "nanotron_360m.yaml": {
        "lr": (0.003, 27), "warmup_steps": (2000, 31), "schedule": ("cosine", 30),
        # decay starts after warmup (2000) and lasts lr_decay_steps 48000: ends at step 50000
        "decay_steps": (50000, 29), "train_steps": (50000, 51),
        # min_decay_lr absent: nanotron uses the peak lr -> no decay
        "min_lr": (0.003, None), "micro_batch_seqs": (4, 49), "grad_accum": (2, 48),
        "data_parallel": (64, 44), "global_batch_seqs": (512, None), "seq_len": (2048, 50),
        "wd_on_embeddings": (False, 40), "wd_on_norms": (True, 40), "n_kv_heads": (5, 19),
        "tied_embeddings": (True, 21), "swiglu": (True, 14), "beta2": (0.95, 35),
    },
    "nanogpt_gpt2_124m.py": {
        "lr": (6e-4, 17), "min_lr": (6e-5, 18), "warmup_steps": (2000, 15), "decay_steps": (600000, 14),
        "train_steps": (600000, 13), "micro_batch_seqs": (12, 8), "seq_len": (1024, 9),
        # gradient_accumulation_steps = 5 * 8 counts all GPUs: global = 12 x 40
        "global_batch_seqs": (480, None), "weight_decay": (0.1, 24), "beta2": (0.95, None),
        "schedule": ("cosine", None), "tied_embeddings": (True, None), "wd_on_embeddings": (True, None),
        "tokens": (600000 * 480 * 1024, None),
    },
    "hpadvisor_llama_7b.yaml": {
        "lr": (3e-4, 15), "beta2": (0.95, 16), "weight_decay": (0.1, 17), "schedule": ("cosine", 19),
        "warmup_steps": (2000, 20), "seq_len": (4096, 12), "tokens": (2 * 10**12, 11),
        "global_batch_seqs": (1024, 13), "train_steps": (math.ceil(2e12 / (1024 * 4096)), None),
        "min_lr": (3e-5, 21), "d_model": (4096, 5),
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_values_and_lines(name: str) -> None:
    model = str(CORPUS / "hf_config.json") if name.startswith("hf_") else None
    cfg = read_config(CORPUS / name, model_config=model)
    for key, (value, line) in EXPECTED[name].items():
        s = cfg.get(key)
        if value is None:
            assert s is None, f"{name}: {key} should be undetermined, got {s}"
            continue
        assert s is not None, f"{name}: {key} missing"
        if isinstance(value, float):
            assert s.value == pytest.approx(value, rel=1e-12), (name, key, s)
        else:
            assert s.value == value and type(s.value) is type(value), (name, key, s)
        assert s.line == line, (name, key, s)


@pytest.mark.parametrize("name,fmt", [
    ("llama2_7b_megatron.sh", "megatron"), ("llama2_7b_megatron.yaml", "megatron"),
    ("neox_1-3B.yml", "neox"), ("hf_training_args.json", "hf"), ("torchtitan_llama3_8b.toml", "torchtitan"),
    ("nanotron_360m.yaml", "nanotron"), ("nanogpt_gpt2_124m.py", "nanogpt"),
    ("nanogpt_with_code.py", "nanogpt"), ("hpadvisor_llama_7b.yaml", "hpadvisor"),
])
def test_detect_format(name: str, fmt: str) -> None:
    path = CORPUS / name
    assert detect_format(str(path), path.read_text()) == fmt
    assert read_config(path).format == fmt


def test_lines_point_at_the_setting() -> None:
    """Every stated setting's line contains its field name (or the flag) in the file."""
    for name in EXPECTED:
        path = CORPUS / name
        text = path.read_text().splitlines()
        for key, s in read_config(path).settings.items():
            if s.line is None:
                continue
            leaf = s.field.split(".")[-1].lstrip("-")
            assert leaf.replace("-", "_") in text[s.line - 1].replace("-", "_"), (name, key, s)


def test_derived_values_name_their_sources() -> None:
    cfg = read_config(CORPUS / "neox_1-3B.yml")
    assert cfg.get("warmup_steps").derived_from == ("warmup", "lr_decay_iters")
    assert cfg.get("warmup_steps").raw == 0.01
    cfg = read_config(CORPUS / "hf_training_args.json")
    assert cfg.get("min_lr").derived_from == ("lr_scheduler_kwargs.min_lr_rate", "learning_rate")


def test_hf_devices_override_gives_the_global_batch() -> None:
    cfg = read_config(CORPUS / "hf_training_args.json", model_config=CORPUS / "hf_config.json",
                      overrides={"data_parallel": 8})
    assert cfg.value("global_batch_seqs") == 16 * 4 * 8
    assert cfg.value("tokens") == 100000 * 512 * 2048
    assert cfg.value("n_kv_heads") == 4 and cfg.value("swiglu") is True
    assert cfg.value("tied_embeddings") is False


def test_trainer_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    # Megatron: lr_decay_style linear, min_lr 0, beta2 0.999; NeoX: warmup 0.01 of the horizon.
    p = tmp_path / "m.yaml"
    p.write_text("micro_batch_size: 2\nglobal_batch_size: 64\ntrain_iters: 1000\nlr: 1.0e-3\n")
    cfg = read_config(p)
    assert (cfg.value("schedule"), cfg.value("min_lr"), cfg.value("beta2")) == ("linear", 0.0, 0.999)
    assert cfg.get("schedule").line is None and cfg.value("warmup_steps") == 0
    p = tmp_path / "n.yml"
    p.write_text("train_micro_batch_size_per_gpu: 4\ntrain_iters: 5000\nlr_decay_fraction: 0.8\n"
                 "optimizer: {type: Adam, params: {lr: 6.0e-4}}\n")
    cfg = read_config(p)
    assert cfg.value("decay_steps") == 4000  # floor(5000 x 0.8)
    assert cfg.value("warmup_steps") == 40  # default 0.01 x 4000
    assert cfg.value("beta2") == 0.999


def test_megatron_samples_become_steps(tmp_path: Path) -> None:
    p = tmp_path / "s.sh"
    p.write_text("#!/bin/bash\npython pretrain_gpt.py --global-batch-size 256 --train-samples 2560000 "
                 "\\\n  --lr-decay-samples 2048000 --lr-warmup-samples 25600 --lr 2e-4\n")
    cfg = read_config(p)
    assert cfg.value("train_steps") == 10000 and cfg.value("decay_steps") == 8000
    assert cfg.value("warmup_steps") == 100
    assert cfg.get("warmup_steps").line == 3 and cfg.get("train_steps").line == 2


def test_torchtitan_tokens_per_step_and_nanotron_wsd(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("optimizer:\n  learning_rate_scheduler:\n    learning_rate: 1.0e-3\n"
                 "    lr_warmup_steps: 100\n    lr_decay_starting_step: 8000\n    lr_decay_steps: 2000\n"
                 "    lr_decay_style: linear\n    min_decay_lr: 0\ntokens:\n  train_steps: 10000\n"
                 "  micro_batch_size: 8\n  batch_accumulation_per_replica: 1\nparallelism:\n  dp: 4\n")
    cfg = read_config(p, format="nanotron")
    assert cfg.value("schedule") == "wsd" and cfg.value("wsd_decay_style") == "linear"
    assert cfg.value("wsd_decay_steps") == 2000 and cfg.value("decay_steps") == 10000
    assert cfg.get("schedule").line == 5 and cfg.value("global_batch_seqs") == 32


def test_inconsistent_batch_arithmetic(tmp_path: Path) -> None:
    p = tmp_path / "n.yml"
    p.write_text('{"train_batch_size": 500, "train_micro_batch_size_per_gpu": 8,\n'
                 ' "gradient_accumulation_steps": 2}\n')
    cfg = read_config(p, format="neox")
    assert cfg.value("batch_arithmetic_ok") is False and cfg.get("batch_arithmetic_ok").line == 1
    cfg = read_config(CORPUS / "neox_1-3B.yml", overrides={"data_parallel": 16})
    assert cfg.value("batch_arithmetic_ok") is False  # 8 x 2 x 16 = 256 != 512


def test_bash_comment_inside_continued_command_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "run.sh"
    p.write_text("torchrun pretrain_gpt.py \\\n  --lr 1e-4 \\\n  # --min-lr 1e-5 \\\n  --train-iters 10\n")
    cfg = read_config(p)
    assert any("ends the command" in n for n in cfg.notes)
    assert cfg.get("lr").line == 2 and cfg.get("train_steps") is None  # bash does not pass --train-iters


def test_unresolved_shell_variable_is_unknown_not_an_error(tmp_path: Path) -> None:
    p = tmp_path / "run.sh"
    p.write_text("#!/bin/bash\nMIN=1e-5\ntorchrun pretrain_gpt.py --lr $LR --min-lr ${MIN} $EXTRA "
                 "--train-iters 100\n")
    cfg = read_config(p)
    assert cfg.get("lr") is None and any("--lr $LR" in n for n in cfg.notes)
    assert cfg.value("min_lr") == 1e-5 and cfg.get("min_lr").raw == "1e-5"
    assert cfg.value("train_steps") == 100 and cfg.get("train_steps").line == 3


@pytest.mark.parametrize("model_type,tied", [("llama", False), ("qwen2", False), ("olmo2", False),
                                             ("gemma", True), ("gpt2", True), ("somethingnew", True)])
def test_hf_model_config_without_tie_word_embeddings_takes_its_model_types_default(tmp_path, model_type, tied):
    """transformers' LlamaConfig, Qwen2Config, Olmo2Config... default to untied; PretrainedConfig to tied."""
    import json

    data = json.loads((CORPUS / "hf_config.json").read_text())
    del data["tie_word_embeddings"]
    data["model_type"] = model_type
    model = tmp_path / "config.json"
    model.write_text(json.dumps(data))
    cfg = read_config(CORPUS / "hf_training_args.json", model_config=model)
    assert cfg.value("tied_embeddings") is tied
    assert any("not known here: assumed tied" in n for n in cfg.notes) == (model_type == "somethingnew")


@pytest.mark.parametrize("extra,ffn", [
    ({"intermediate_size": 32768, "activation": "swiglu"}, 11008),  # NeoX's configs/llama2/7B.yml
    ({"intermediate_size": 86016, "activation": "swiglu"}, 28672),  # configs/llama2/70B.yml: 3 x 28672
    ({"activation": "swiglu"}, 5632),  # no intermediate_size: 2/3 of 4h, halved, to a multiple of 256
    ({"intermediate_size": 16384, "activation": "gelu"}, 16384),
    ({"activation": "gelu"}, 16384),
])
def test_neox_mlp_width_is_parallel_mlps(tmp_path, extra, ffn):
    """GPT-NeoX's ParallelMLP: a gated MLP's matrices are ceil256(int(2 I / 3) // 2) wide."""
    import yaml as _yaml

    cfg = {"hidden_size": 4096, "num_layers": 32, "num_attention_heads": 32, "seq_length": 4096, **extra}
    path = tmp_path / "model.yml"
    path.write_text(_yaml.safe_dump(cfg))
    got = read_config(path, format="neox")
    assert got.value("ffn_hidden") == ffn


def test_neox_snippet_writes_three_times_the_gated_width_and_reads_it_back(tmp_path):
    from hpadvisor.formats.registry import dump_snippet

    text = dump_snippet("neox", {"d_model": 4096, "n_layers": 32, "n_heads": 32, "ffn_hidden": 11008, "swiglu": True})
    assert "intermediate_size: 33024" in text
    path = tmp_path / "snippet.yml"
    path.write_text(text)
    assert read_config(path, format="neox").value("ffn_hidden") == 11008
    with pytest.raises(HpAdvisorError, match="multiple of 256"):
        dump_snippet("neox", {"ffn_hidden": 11000, "swiglu": True})


def test_hf_moe_config_counts_experts_of_their_own_width(tmp_path):
    """Qwen1.5-MoE-A2.7B's config.json: 60 experts of moe_intermediate_size 1408, top-4, and a shared
    expert 5632 wide (= 4 experts); its intermediate_size (5632) is the dense MLP's. 14.3B / 2.7B."""
    import json

    from hpadvisor.check.rules import build_context

    model = tmp_path / "config.json"
    model.write_text(json.dumps({
        "model_type": "qwen2_moe", "hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 16,
        "num_key_value_heads": 16, "intermediate_size": 5632, "moe_intermediate_size": 1408,
        "shared_expert_intermediate_size": 5632, "num_experts": 60, "num_experts_per_tok": 4,
        "vocab_size": 151936, "tie_word_embeddings": False}))
    cfg = read_config(CORPUS / "hf_training_args.json", model_config=model, overrides={"data_parallel": 32})
    assert (cfg.value("moe_ffn_hidden"), cfg.value("n_shared_experts")) == (1408, 4)
    spec = build_context(cfg)[0].advice.spec
    assert spec.model.params == pytest.approx(14.316e9, rel=1e-3)
    assert spec.model.active_params == pytest.approx(2.689e9, rel=1e-3)


def test_megatron_moe_expert_width_and_shared_experts_round_trip(tmp_path):
    from hpadvisor.formats.registry import dump_snippet

    path = tmp_path / "moe.yaml"
    path.write_text("num_layers: 16\nhidden_size: 2048\nffn_hidden_size: 8192\nmoe_ffn_hidden_size: 1024\n"
                    "moe_shared_expert_intermediate_size: 2048\nnum_attention_heads: 16\nnum_experts: 64\n"
                    "moe_router_topk: 8\nswiglu: true\n")
    cfg = read_config(path, format="megatron")
    assert (cfg.value("ffn_hidden"), cfg.value("moe_ffn_hidden"), cfg.value("n_shared_experts")) == (8192, 1024, 2)
    text = dump_snippet("megatron", {"ffn_hidden": 8192, "moe_ffn_hidden": 1024, "n_shared_experts": 2, "n_experts": 64})
    assert "--moe-ffn-hidden-size 1024" in text and "--moe-shared-expert-intermediate-size 2048" in text


def test_nanogpt_model_defaults_are_train_pys_and_vocab_size_lines_are_not_read(tmp_path):
    """train.py's GPT-2 small (12 x 768, 12 heads) and its vocabulary 50304 (no meta.pkl): the
    canonical GPT-2 124M override file states no architecture at all."""
    cfg = read_config(CORPUS / "nanogpt_gpt2_124m.py")
    assert (cfg.value("n_layers"), cfg.value("d_model"), cfg.value("n_heads"), cfg.value("vocab_size")) == (
        12, 768, 12, 50304)
    path = tmp_path / "override.py"
    path.write_text("n_layer = 6\nvocab_size = 65\n")
    cfg = read_config(path, format="nanogpt")
    assert cfg.value("n_layers") == 6 and cfg.value("vocab_size") == 50304
    assert any("vocab_size (line 2) is not read by train.py" in n for n in cfg.notes)


def test_a_run_file_read_as_a_config_keeps_moe_width_cooldown_shape_and_size(tmp_path):
    """The run-file format dropped moe_ffn_hidden (35.9B for OLMoE's 6.92B), decay_shape (a 1-sqrt
    cooldown read as linear) and model.params (check said 'no model size')."""
    run = tmp_path / "run.yaml"
    run.write_text("model:\n  params: 125M\n  architecture: {d_model: 2048, n_layers: 16, n_heads: 16, vocab_size: 50304,\n"
                   "    n_experts: 64, top_k: 8, moe_ffn_hidden: 1024, n_shared_experts: 1}\n"
                   "data: {tokens: 2.5B}\nbatch: 256 seqs\nschedule: {shape: wsd, decay_shape: minus_sqrt}\n")
    cfg = read_config(run, format="hpadvisor")
    assert (cfg.value("moe_ffn_hidden"), cfg.value("n_shared_experts"), cfg.value("wsd_decay_style"),
            cfg.value("params")) == (1024, 1, "1-sqrt", 125e6)


def test_a_model_config_json_replaces_a_trainers_default_architecture_only(tmp_path):
    """nanoGPT's 12 x 768 defaults gave way to nothing: --model config.json was ignored (161M hybrid)."""
    import json

    cfg = read_config(CORPUS / "nanogpt_gpt2_124m.py", model_config=CORPUS / "hf_config.json")
    assert (cfg.value("d_model"), cfg.value("n_layers"), cfg.value("vocab_size")) == (2048, 22, 32000)
    model = tmp_path / "config.json"
    model.write_text(json.dumps({**json.loads((CORPUS / "hf_config.json").read_text()), "model_type": ["llama"]}))
    del_tie = json.loads(model.read_text())
    del_tie.pop("tie_word_embeddings")
    model.write_text(json.dumps(del_tie))
    cfg = read_config(CORPUS / "hf_training_args.json", model_config=model)  # a list model_type: no crash
    assert cfg.value("tied_embeddings") is True


def test_flags_after_a_comment_that_ends_a_continued_command_are_not_read(tmp_path):
    """bash ends the command at the comment line: the flags below run as a command of their own."""
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/bash\ntorchrun pretrain_gpt.py \\\n  --lr 1e-3 \\\n  # a comment\n"
                      "  --train-iters 100 \\\n  --global-batch-size 8\n")
    cfg = read_config(script, format="megatron")
    assert cfg.value("lr") == 1e-3 and cfg.value("train_steps") is None and cfg.value("global_batch_seqs") is None
    assert any("line 4: a comment line inside a command" in n for n in cfg.notes)


@pytest.mark.parametrize("after", ["  # --lr-warmup-iters 50 \\\n  --train-iters 100 \\\n  --global-batch-size 8\n",
                                   "  # a comment\n  $EXTRA --train-iters 100\n"])
def test_a_commented_out_flag_line_ends_the_command_in_bash(tmp_path, after):
    """A backslash at the end of a comment is part of the comment: the lines below are another command."""
    script = tmp_path / "train.sh"
    script.write_text("torchrun pretrain_gpt.py \\\n  --lr 1e-3 \\\n" + after)
    cfg = read_config(script, format="megatron")
    assert cfg.value("lr") == 1e-3 and cfg.value("train_steps") is None
