"""Law files: round trip, version guard, validation, and arbitrary input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpadvisor.errors import DataError, HpAdvisorError
from hpadvisor.io import lawfile
from hpadvisor.laws import REGISTRY


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_every_registry_law_round_trips_through_a_law_file(key, tmp_path):
    law = REGISTRY[key]
    path = tmp_path / "law.yaml"
    path.write_text(lawfile.dumps(law))
    back = lawfile.load(path)
    assert type(back) is type(law)
    assert back.constants() == pytest.approx(law.constants())
    assert back.provenance.fitted_range == law.provenance.fitted_range
    assert back.registry_key == law.registry_key


def test_a_newer_format_is_refused_with_a_clear_message(tmp_path):
    data = lawfile.to_dict(REGISTRY["steplaw"])
    data["hpadvisor_law_file"] = lawfile.FORMAT_VERSION + 1
    with pytest.raises(DataError, match="newer than this hpadvisor reads"):
        lawfile.from_dict(data, source="x.yaml")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d.pop("hpadvisor_law_file"), "not an hpadvisor law file"),
        (lambda d: d.update(law="stepla"), "Did you mean 'steplaw'"),
        (lambda d: d["constants"].update(lr_coeff=1.0), "not a constant of steplaw"),
        (lambda d: d["constants"].update(lr_coef="big"), "must be a finite number"),
        (lambda d: d["constants"].update(lr_coef=float("nan")), "must be a finite number"),
        (lambda d: d["provenance"]["fitted_range"].update(N=[5, 1]), "must be [low, high]"),
        (lambda d: d.update(extra=1), "unknown key 'extra'"),
        (lambda d: d["constants"].update(lr_coef=-1.0), "constant 'lr_coef' of steplaw must be >= 0 (default 1.79)"),
        (lambda d: d["constants"].update(lr_coef=1e308), "constant lr_coef = 1e+308, beyond 1e+30: not a law's constant"),
        (lambda d: d["constants"].update(lr_exp_n=-33.7), "constant exponent lr_exp_n = -33.7, beyond +-10"),
    ],
)
def test_bad_law_files(edit, fragment):
    data = lawfile.to_dict(REGISTRY["steplaw"])
    data["name"] = "steplaw@mine"
    edit(data)
    with pytest.raises(DataError) as err:
        lawfile.from_dict(data, source="law.yaml")
    assert fragment in str(err.value)


def test_a_law_files_constants_may_be_written_as_yaml_1_1_text_and_exponents_flip():
    data = lawfile.to_dict(REGISTRY["steplaw"])
    data["name"] = "steplaw@mine"
    data["constants"].update(lr_coef="5e2", lr_exp_d=-0.2)  # PyYAML reads 5e2 as a string
    law = lawfile.from_dict(data, source="law.yaml")
    assert law.lr_coef == 500.0 and law.lr_exp_d == -0.2


def test_two_law_files_of_one_name_are_refused(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        data = lawfile.to_dict(REGISTRY["steplaw"])
        data["name"] = "steplaw-fit@lr-law"
        (tmp_path / d / "lr-law.yaml").write_text(__import__("yaml").safe_dump(data))
    with pytest.raises(DataError, match="name 'steplaw-fit@lr-law' is also .*a/lr-law.yaml's"):
        lawfile.merge(REGISTRY, [str(tmp_path / "a" / "lr-law.yaml"), str(tmp_path / "b" / "lr-law.yaml")])


def test_a_law_file_may_not_shadow_a_published_law(tmp_path):
    path = tmp_path / "law.yaml"
    path.write_text(lawfile.dumps(REGISTRY["steplaw"]))  # name: steplaw
    with pytest.raises(DataError, match="published law's key"):
        lawfile.merge(REGISTRY, [str(path)])


def test_a_plain_yaml_file_is_not_a_law_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  params: 7B\n")
    with pytest.raises(DataError, match="not an hpadvisor law file"):
        lawfile.load(path)


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
    max_leaves=10,
)
law_like = st.fixed_dictionaries(
    {"hpadvisor_law_file": st.one_of(st.just(1), values), "law": st.one_of(st.sampled_from(sorted(lawfile.FORMS)), values)},
    optional={"constants": st.one_of(st.dictionaries(st.sampled_from(["E", "A", "lr_coef", "x"]), values), values),
              "provenance": values, "name": values},
)


@given(st.one_of(law_like, values))
@settings(max_examples=300)
def test_arbitrary_law_file_data_raises_our_error_or_loads(data):
    try:
        law = lawfile.from_dict(data, source="fuzz.yaml")
    except HpAdvisorError as exc:
        assert str(exc)
    else:
        assert law.registry_key


@given(st.text(max_size=300))
@settings(max_examples=200)
def test_arbitrary_text_as_a_law_file(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("lf") / "law.yaml"
    path.write_text(text)
    try:
        lawfile.load(path)
    except HpAdvisorError:
        pass


def test_missing_law_file_is_named_as_a_file(cli, tmp_path):
    missing = tmp_path / "nope.yaml"
    r = cli("predict", str(missing), "--params", "1e9", "--tokens", "2e10", "--format", "json")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "law file" in r.stderr and "not found" in r.stderr and "Valid:" not in r.stderr
    # a bare unknown key still lists the registry
    r2 = cli("predict", "nope", "--params", "1e9", "--tokens", "2e10")
    assert r2.exit_code == 2 and "unknown law 'nope'" in r2.stderr


def test_a_law_file_missing_a_constant_is_refused(tmp_path):
    from hpadvisor.errors import DataError
    from hpadvisor.io import lawfile
    from hpadvisor.laws.curves import MPL_400M

    text = lawfile.dumps(MPL_400M)
    p = tmp_path / "g.yaml"
    p.write_text("\n".join(line for line in text.splitlines() if not line.strip().startswith("gamma:")) + "\n")
    with pytest.raises(DataError, match="constant gamma missing"):
        lawfile.load(p)
    e = tmp_path / "e.yaml"
    e.write_text("hpadvisor_law_file: 1\nlaw: multipower\nname: x\nconstants: {}\n")
    with pytest.raises(DataError, match="constants L0, A, alpha, B, C, beta, gamma missing"):
        lawfile.load(e)


def test_a_curve_law_with_a_negative_constant_and_a_bogus_param_count_are_refused(tmp_path):
    """C = -2 made every predicted loss NaN (exit 0); fit.param_count 'bogus' was printed as is."""
    import yaml

    data = lawfile.to_dict(REGISTRY["mpl-400m"])
    data["name"] = "multipower@edited"
    data["constants"]["C"] = -2.0
    with pytest.raises(DataError, match="constant 'C' of multipower must be >= 0"):
        lawfile.from_dict(data, source="law.yaml")
    data["constants"]["C"] = 2.0
    data["fit"] = {"param_count": "bogus"}
    path = tmp_path / "law.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DataError, match="fit.param_count must be total or non-embedding, not 'bogus'"):
        lawfile.load_document(path)


def test_every_law_form_a_fit_writes_can_be_predicted_from():
    """kaplan-fit was added to the fit forms and not to predict's handlers: its law files were refused."""
    from hpadvisor.cli.predict_cmd import HANDLERS
    from hpadvisor.laws.curves import FORMS as CURVE_FORMS
    from hpadvisor.laws.fitted_forms import FORMS as FIT_FORMS

    missing = [cls.key for cls in (*FIT_FORMS, *CURVE_FORMS) if cls.key not in HANDLERS]
    assert missing == []


@pytest.mark.parametrize(("edit", "fragment"), [
    ({"gamma": 1.0}, "constant 'gamma' of noise-convolution must be > 1 (at or below 1 the noise of a constant lr "
                     "grows without bound); got 1."),
    ({"eta_ref": 0.0}, "constant 'eta_ref' of noise-convolution must be > 0 (the clock's reference lr)"),
    ({"c": -1e-3}, "constant 'c' of noise-convolution must be >= 0 (default 0.00157)"),
])
def test_noise_convolution_law_files_keep_its_domain(edit, fragment):
    from hpadvisor.laws.curves import NoiseConvolutionLaw

    data = lawfile.to_dict(NoiseConvolutionLaw(name="nc@mine"))
    back = lawfile.from_dict(data)
    assert back.constants() == pytest.approx(NoiseConvolutionLaw().constants())
    data["constants"].update(edit)
    with pytest.raises(DataError) as exc:
        lawfile.from_dict(data, source="x.yaml")
    assert fragment in str(exc.value)
