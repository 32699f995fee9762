"""The run specification: architecture counts, resolution rules, validation, arbitrary input."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hpadvisor import spec
from hpadvisor.errors import DataError, HpAdvisorError, InvalidInputError
from hpadvisor.io import yamlio
from hpadvisor.recommend import api
from hpadvisor.spec import Architecture

LLAMA2_7B = Architecture(d_model=4096, n_layers=32, n_heads=32, ffn_hidden=11008, vocab_size=32000)


def test_llama2_7b_parameter_count():
    # Touvron et al. 2023 report 6.74B parameters for Llama 2 7B.
    counts = LLAMA2_7B.counts()
    assert counts["params"] == pytest.approx(6.738e9, rel=1e-3)
    # Step Law's convention: n_layer (4 h^2 + 3 h ffn), norms and embeddings excluded.
    assert counts["non_embedding_params"] == 32 * (4 * 4096**2 + 3 * 4096 * 11008)


def test_swiglu_default_ffn_matches_llama():
    arch = Architecture(d_model=4096, n_layers=32, n_heads=32, vocab_size=32000)
    assert arch.ffn == 11008


def test_gqa_shrinks_attention_and_moe_counts_active_experts():
    dense = Architecture(d_model=2048, n_layers=16, n_heads=16, vocab_size=50304)
    gqa = Architecture(d_model=2048, n_layers=16, n_heads=16, n_kv_heads=4, vocab_size=50304)
    assert gqa.attention_params() == 2 * 2048 * 2048 + 2 * 2048 * 512
    assert gqa.counts()["params"] < dense.counts()["params"]
    # OLMoE-1B-7B (Muennighoff et al. 2024): 6.9B total, 1.3B active.
    moe = Architecture(d_model=2048, n_layers=16, n_heads=16, vocab_size=50304, n_experts=64, top_k=8,
                       moe_ffn_hidden=1024)
    counts = moe.counts()
    assert counts["params"] == pytest.approx(6.9e9, rel=0.01)
    assert counts["active_params"] == pytest.approx(1.3e9, rel=0.02)


def test_flags_override_the_file(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("model:\n  params: 1B\ndata:\n  tokens: 20B\nseq_len: 2048\n")
    s = api.load_spec(run, {"data.tokens": "40B"})
    assert s.tokens == 40e9 and s.model.params == 1e9


def test_tokens_per_param_and_compute_budget_resolution():
    s = api.spec_from(params="1B", tokens_per_param=20)
    assert s.tokens == 20e9
    s = api.spec_from(params="1B", compute="6e19")
    assert s.compute_flops == pytest.approx(6e19)
    s = api.spec_from(compute="5.76e23")
    # Epoch's allocation at C = 5.76e23: N 7.23e10, D 1.33e12 (LAWS.md section 2).
    assert s.model.params == pytest.approx(7.23e10, rel=5e-3)
    assert s.tokens == pytest.approx(1.33e12, rel=5e-3)
    assert any("compute-optimal" in a for a in s.assumptions)


def test_batch_in_sequences_is_converted_with_the_sequence_length():
    s = api.spec_from(params="1B", tokens="20B", seq_len="4k", batch="512 seqs")
    assert s.batch_tokens == 512 * 4096


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"params": "1B"}, "no data size"),
        ({"tokens": "1T"}, "no model size"),
        ({"params": "1B", "tokens": "1000", "seq_len": 2048}, "fewer than one sequence"),
        ({"params": "1B", "tokens": "1T", "compute": "1e22"}, "give one of"),
        ({"params": "1B", "tokens": "1T", "batch": "512"}, "has no unit"),
        ({"params": "1B", "tokens": "10M", "batch": "1B tokens"}, "larger than the whole run"),
        ({"params": "1B", "tokens": "1T", "schedule": "cosin"}, "Did you mean 'cosine'"),
        ({"params": "1B", "tokens": "1T", "accelerator": "H1000"}, "unknown accelerator"),
        ({"params": "1B", "tokens": "1T", "mfu": "1.5"}, "between 0 and 1"),
        ({"params": "0", "tokens": "1T"}, "must be > 0"),
        ({"params": "1e20", "tokens": "1e15"}, "is above the 1k to 1P parameters"),  # wrong units, not a run
        ({"params": "1e-300", "tokens": "1T"}, "is below the 1k to 1P parameters"),
        ({"params": "1B", "tokens": "1e300"}, "is above the 1k to 100P tokens"),
        ({"params": "1B", "tokens": "1T", "batch": "0.5 seqs"}, "less than one sequence"),
        ({"params": "1B", "tokens": "1T", "warmup": "1.5"}, "give a fraction below 1, or whole steps"),
    ],
)
def test_resolution_errors(kwargs, fragment):
    with pytest.raises(InvalidInputError) as err:
        api.spec_from(**kwargs)
    assert fragment in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("key", ["data.tokens", "model.params", "schedule.warmup", "seq_len", "hardware.mfu"])
def test_an_integer_past_float_range_is_one_clear_error(tmp_path, key):
    values = {"model.params": "7B", "data.tokens": "2T", key: 10**400}
    with pytest.raises(InvalidInputError) as err:
        api.load_spec(None, values)
    msg = str(err.value)
    assert key in msg and "\n" not in msg and len(msg) < 200  # the 401 digits are cut


@pytest.mark.parametrize("text,suggested", [
    ("optimizer:\n  learning_rate: 3e-4\n", "optimizer.lr"),
    ("optimizer:\n  adam_beta2: 0.95\n", "optimizer.beta2"),
    ("model:\n  architecture:\n    hidden_size: 4096\n", "model.architecture.d_model"),
    ("batch_size: 1024 seqs\n", "batch"),
    ("schedule:\n  warmup_steps: 2000\n", "schedule.warmup"),
])
def test_unknown_key_suggests_the_run_files_name_for_a_trainers_name(tmp_path, text, suggested):
    run = tmp_path / "run.yaml"
    run.write_text("model:\n  params: 7B\ndata:\n  tokens: 2T\n" + text if not text.startswith("model") else
                   text + "data:\n  tokens: 2T\n")
    with pytest.raises(InvalidInputError, match=f"Did you mean '{suggested}'"):
        api.load_spec(run)


def test_unknown_key_names_the_line_and_the_closest_key(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("model:\n  parms: 7B\ndata:\n  tokens: 2T\n")
    with pytest.raises(InvalidInputError) as err:
        api.load_spec(run)
    msg = str(err.value)
    assert f"{run}:2:" in msg and "model.parms" in msg and "Did you mean 'model.params'" in msg


def test_architecture_errors():
    with pytest.raises(InvalidInputError, match="does not divide"):
        api.load_spec(None, {"model.architecture.d_model": 1000, "model.architecture.n_layers": 2,
                             "model.architecture.n_heads": 3, "model.architecture.vocab_size": 10,
                             "data.tokens": "1B"})
    with pytest.raises(InvalidInputError, match="needs n_layers"):
        api.load_spec(None, {"model.architecture.d_model": 1024, "data.tokens": "1B"})


def test_schema_lists_every_field_and_validates_the_examples():
    jsonschema = pytest.importorskip("jsonschema")
    schema = spec.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    from tests.conftest import CONFIGS

    for path in sorted(CONFIGS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        jsonschema.validate(data, schema)
    bad = {"model": {"parms": "7B"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# -- arbitrary input: errors, never crashes ------------------------------------------------------

# integers past float range (a YAML int has no size limit) as well as the usual ones
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**400, 10**400),
                         st.floats(), st.text(max_size=12))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8,
)
keys = st.sampled_from(["model", "data", "seq_len", "batch", "optimizer", "schedule", "hardware", "name",
                        "params", "tokens", "architecture", "d_model", "warmup", "mfu", "bogus"])
run_like = st.recursive(
    yaml_scalars,
    lambda children: st.dictionaries(keys, children, max_size=4),
    max_leaves=10,
)


@given(st.text(max_size=200))
@settings(max_examples=200)
def test_arbitrary_text_as_a_run_file_never_crashes(text):
    try:
        data, lines = yamlio.loads(text, source="fuzz.yaml")
        values = spec.parse_raw(data, lines=lines, source="fuzz.yaml")
        spec.build_spec(values, allocate=lambda c: (1e9, 2e10, "test"))
    except HpAdvisorError as exc:
        assert "\n" not in str(exc)


@given(st.one_of(run_like, yaml_values))
@settings(max_examples=300)
def test_arbitrary_structures_never_crash(data):
    try:
        values = spec.parse_raw(data, source="fuzz.yaml")
        spec.build_spec(values, allocate=lambda c: (1e9, 2e10, "test"))
    except HpAdvisorError as exc:
        assert "\n" not in str(exc)


def test_python_tags_are_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    run = tmp_path / "run.yaml"
    run.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(DataError, match="refused YAML tag !!python/object/apply:os.system"):
        api.load_spec(run)
    assert not marker.exists()


def test_billion_laughs_is_cheap():
    lol = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    # refused while loading, wherever it sits (under name:, a free-text field, it hung the reader)
    with pytest.raises(DataError, match="aliases .* expand it to more than 1,000,000"):
        yamlio.loads(lol)
    with pytest.raises(DataError, match="expand it"):
        yamlio.loads("name: " + lol.replace("\n", "\n  ").replace("a: &a", "\n  a: &a", 1))
    # a few aliases of shared defaults stay fine
    data, _ = yamlio.loads("d: &d {lr: 3.0e-4, wd: 0.1}\na: *d\nb: {<<: *d, wd: 0.0}\n")
    assert data["a"] == {"lr": 3e-4, "wd": 0.1} and data["b"] == {"lr": 3e-4, "wd": 0.0}
